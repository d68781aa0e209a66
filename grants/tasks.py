"""Celery tasks of the domain. They take IDs, re-check state, lock, and skip work
already done. Enqueued only after commit (``enqueue_*``).

Queues (config/settings.py routes ``grants.tasks.render_*`` and ``grants.tasks.build_*``
to ``pdf``): `render_decision`, `render_english_copy`, `render_receipt`, `render_ineligibility_notice` and
`build_committee_booklet` run on ``pdf``; `sweep_documents` on ``default``.

Every PDF task is ``acks_late``: a worker killed in the middle of a render leaves its
message unacknowledged, so the broker delivers it again (at once when only the pool
child died: ``task_reject_on_worker_lost``; after the visibility timeout when the whole
worker died) and the idempotent ``grants.documents.issuing.issue_*`` stores one document.
Transient errors (file system, database connection) are retried with exponential
backoff; a decision whose letter still cannot be rendered shows the failure
(`Decision.render_error`) on the staff screens, never stays silently ``signed``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError
from django.utils import translation
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerUnavailable

from grants.documents import issuing
from workflows import registry

logger = logging.getLogger(__name__)

#: Errors worth retrying: a full or flaky disk, a dropped database connection.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OSError, OperationalError, InterfaceError)
MAX_RETRIES = 5
#: Backoff 2, 4, 8, 16, 32 s: short countdowns only (a long one would outlive the Redis
#: visibility timeout and be delivered twice).
BACKOFF_BASE_SECONDS = 2
BACKOFF_MAX_SECONDS = 60
#: The sweep re-enqueues work older than this (a render never takes that long: hard limit 300 s).
SWEEP_AFTER = dt.timedelta(minutes=10)
SWEEP_RECEIPTS_WITHIN = dt.timedelta(days=7)


def backoff_seconds(retries: int) -> int:
    return int(min(BACKOFF_BASE_SECONDS * 2**retries, BACKOFF_MAX_SECONDS))


def _failure_message(exc: BaseException, attempts: int) -> str:
    with translation.override("fr"):
        return _("Échec de la génération du PDF après %(n)s tentative(s) : %(error)s") % {
            "n": attempts,
            "error": f"{type(exc).__name__}: {exc}"[:500],
        }


def _retry_or_raise(task: Task, exc: Exception) -> None:
    """Retry a transient error with backoff; re-raise once the retries are spent."""
    if isinstance(exc, TRANSIENT_ERRORS) and task.request.retries < MAX_RETRIES:
        countdown = backoff_seconds(task.request.retries)
        logger.warning("%s: transient error, retry in %ss: %r", task.name, countdown, exc)
        raise task.retry(exc=exc, countdown=countdown, max_retries=MAX_RETRIES)
    raise exc


PDF_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "max_retries": MAX_RETRIES,
}


@shared_task(name="grants.tasks.render_decision", **PDF_TASK_OPTIONS)
def render_decision(self: Task, decision_id: int) -> str:
    """Render, store and deliver a signed decision's letter (idempotent; see grants.documents.issuing)."""
    try:
        return issuing.issue_decision_letter(int(decision_id))
    except Exception as exc:
        transient = isinstance(exc, TRANSIENT_ERRORS)
        if transient and self.request.retries < MAX_RETRIES:
            _retry_or_raise(self, exc)
        # Retries spent, or an error retrying cannot fix (a template or data bug): show it.
        issuing.record_render_failure(int(decision_id), _failure_message(exc, self.request.retries + 1))
        logger.exception("decision %s: the letter could not be rendered", decision_id)
        raise


@shared_task(name="grants.tasks.render_english_copy", **PDF_TASK_OPTIONS)
def render_english_copy(self: Task, decision_id: int) -> str | None:
    """The English courtesy copy of a delivered approval letter (idempotent)."""
    try:
        return issuing.issue_english_copy(int(decision_id))
    except Exception as exc:
        _retry_or_raise(self, exc)
        raise


@shared_task(name="grants.tasks.render_evaluation_summary", **PDF_TASK_OPTIONS)
def render_evaluation_summary(self: Task, decision_id: int) -> str:
    """The evaluation summary of a decision delivered without one (idempotent); a letter
    issued by `render_decision` carries its summary already."""
    try:
        return issuing.issue_evaluation_summary(int(decision_id))
    except Exception as exc:
        _retry_or_raise(self, exc)
        raise


@shared_task(name="grants.tasks.render_receipt", **PDF_TASK_OPTIONS)
def render_receipt(self: Task, snapshot_id: int) -> str:
    """The deposit receipt of one submission (idempotent)."""
    try:
        return issuing.issue_receipt(int(snapshot_id))
    except Exception as exc:
        _retry_or_raise(self, exc)
        raise


@shared_task(name="grants.tasks.render_ineligibility_notice", **PDF_TASK_OPTIONS)
def render_ineligibility_notice(self: Task, application_id: str, log_id: int | None) -> str:
    """The ineligibility notice of one `declare_ineligible` (idempotent)."""
    try:
        return issuing.issue_ineligibility_notice(application_id, log_id)
    except Exception as exc:
        _retry_or_raise(self, exc)
        raise


@shared_task(name="grants.tasks.build_committee_booklet", **PDF_TASK_OPTIONS)
def build_committee_booklet(self: Task, session_id: int) -> int | None:
    """A new booklet of a committee session's agenda; returns the Document id."""
    try:
        document = issuing.issue_committee_booklet(int(session_id))
    except Exception as exc:
        _retry_or_raise(self, exc)
        raise
    return document.pk if document is not None else None


@shared_task(name="grants.tasks.sweep_documents", acks_late=True)
def sweep_documents() -> dict[str, int]:
    """Re-enqueue renders that were never enqueued or whose message was lost.

    An ``enqueue_*`` runs after commit; if the broker is down at that moment the work is
    only logged. This sweep (periodic, on the ``default`` queue) finds signed decisions
    without a letter nor a recorded failure, and recent submissions without a receipt,
    older than SWEEP_AFTER, and enqueues them again (the tasks are idempotent).
    """
    decisions = list(issuing.decisions_awaiting_render(older_than=SWEEP_AFTER).values_list("pk", flat=True)[:500])
    for decision_id in decisions:
        enqueue_decision_render(decision_id)
    snapshots = list(
        issuing.snapshots_awaiting_receipt(older_than=SWEEP_AFTER, within=SWEEP_RECEIPTS_WITHIN).values_list(
            "pk", flat=True
        )[:500]
    )
    for snapshot_id in snapshots:
        enqueue_receipt(snapshot_id)
    copies = list(issuing.decisions_awaiting_english_copy(older_than=SWEEP_AFTER).values_list("pk", flat=True)[:500])
    for decision_id in copies:
        enqueue_english_copy(decision_id)
    from grants.documents.amendments import amendments_awaiting_document

    amendments = amendments_awaiting_document(older_than=SWEEP_AFTER, within=SWEEP_RECEIPTS_WITHIN)
    for amendment_id in amendments:
        enqueue_amendment(amendment_id)
    summaries = list(issuing.decisions_awaiting_summary(older_than=SWEEP_AFTER).values_list("pk", flat=True)[:500])
    for decision_id in summaries:
        enqueue_evaluation_summary(decision_id)
    return {
        "decisions": len(decisions),
        "receipts": len(snapshots),
        "english_copies": len(copies),
        "amendments": len(amendments),
        "evaluation_summaries": len(summaries),
    }


# --- enqueueing (called after commit) -----------------------------------------------------


def _send(task: Task, *args: Any) -> None:
    try:
        task.apply_async(args=args)
    except BrokerUnavailable:
        # The transaction is committed: do not fail the user's request. `sweep_documents`
        # enqueues the work again once the broker answers.
        logger.exception("broker unavailable: %s%r not enqueued (the sweep will retry)", task.name, args)


def enqueue_receipt(snapshot_id: int) -> None:
    _send(render_receipt, snapshot_id)


def enqueue_ineligibility_notice(application_id: str, log_id: Any) -> None:
    _send(render_ineligibility_notice, str(application_id), log_id)


def enqueue_decision_render(decision_id: int) -> None:
    _send(render_decision, decision_id)


def enqueue_english_copy(decision_id: int) -> None:
    _send(render_english_copy, decision_id)


@shared_task(name="grants.tasks.render_amendment", **PDF_TASK_OPTIONS)
def render_amendment(self: Task, amendment_id: int) -> str:
    """The avenant of one accepted amendment (idempotent)."""
    from grants.documents.amendments import issue_amendment

    try:
        return issue_amendment(int(amendment_id))
    except Exception as exc:
        _retry_or_raise(self, exc)
        raise


def enqueue_amendment(amendment_id: int) -> None:
    _send(render_amendment, amendment_id)


def enqueue_evaluation_summary(decision_id: int) -> None:
    _send(render_evaluation_summary, decision_id)


def enqueue_committee_booklet(session_id: int) -> None:
    _send(build_committee_booklet, session_id)


# The jobs the machines' effects ask for (``Context.enqueue``), sent after commit.
registry.register_job("deposit_receipt", enqueue_receipt)
registry.register_job("ineligibility_notice", enqueue_ineligibility_notice)
registry.register_job("decision_letter", enqueue_decision_render)
registry.register_job("english_copy", enqueue_english_copy)
registry.register_job("amendment_document", enqueue_amendment)
