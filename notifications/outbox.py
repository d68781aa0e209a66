"""Outbox rows for workflow events (filled in by the notifications work)."""

from __future__ import annotations

from typing import Any


def record_event(event: str, *, application: Any, subject: Any, actor: Any, extra: dict[str, Any]) -> None:
    return None
