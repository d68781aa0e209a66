"""Notifications: the entry point the workflow calls inside a transition's transaction.

``emit`` turns a workflow event into outbox rows for its recipients (resolved here from
the event and the application) and arranges for them to be sent after commit.
"""

from __future__ import annotations

from typing import Any


def emit(
    event: str, *, application: Any, subject: Any = None, actor: Any = None, extra: dict[str, Any] | None = None
) -> None:
    """Record the notifications of ``event`` (called inside the transition's transaction)."""
    from notifications import outbox

    outbox.record_event(event, application=application, subject=subject, actor=actor, extra=extra or {})
