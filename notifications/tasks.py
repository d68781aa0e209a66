"""Celery tasks of the notifications. They take IDs (JSON only), lock, re-check state and
skip what is already done, so a redelivered or duplicated message is harmless.

No countdown or ETA anywhere: a retry's time is ``Notification.next_attempt_at`` in the
database and the relay (every minute) acts on it; a long ETA on Redis would outlive the
visibility timeout and be delivered twice.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils.dateparse import parse_datetime

from notifications import digests, outbox, reminders


def _at(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not an ISO-8601 datetime: {value!r}")
    return parsed


@shared_task(name="notifications.send", acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def send_notification(notification_id: int) -> str:
    """E-mail one notification (after the commit that wrote it)."""
    return outbox.deliver(int(notification_id))


@shared_task(name="notifications.send_batch", acks_late=True, ignore_result=True, soft_time_limit=240, time_limit=300)
def send_notifications(notification_ids: list[int]) -> int:
    """E-mail a batch (a sweep's reminders), one row lock each."""
    return outbox.deliver_many(int(i) for i in notification_ids)


@shared_task(name="notifications.relay", ignore_result=True, soft_time_limit=55, time_limit=90)
def relay_outbox() -> int:
    """Beat, every minute: send what is pending and due (lost messages, retries)."""
    return outbox.relay()


@shared_task(name="notifications.sweep", ignore_result=True, soft_time_limit=240, time_limit=300)
def sweep_deadlines(at: str | None = None) -> int:
    """Beat, every minute: reminders, escalations, draft reminders, opinion expiry."""
    return reminders.sweep(at=_at(at))


@shared_task(name="notifications.digests", ignore_result=True, soft_time_limit=240, time_limit=300)
def send_digests(at: str | None = None) -> int:
    """Beat, hourly: the daily digests due now."""
    return digests.send_digests(now=_at(at))
