"""Celery tasks of the domain. They take IDs, re-check state, lock, and skip work
already done. Enqueued only after commit (``enqueue_*``)."""

from __future__ import annotations

from typing import Any


def enqueue_receipt(snapshot_id: int) -> None:
    return None


def enqueue_ineligibility_notice(application_id: str, log_id: Any) -> None:
    return None


def enqueue_decision_render(decision_id: int) -> None:
    return None
