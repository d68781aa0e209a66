"""With a real Celery worker on real Redis: the after-commit send, and a submission made
while the broker is unreachable, delivered by the relay once the broker is back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.conf import settings
from kombu.exceptions import OperationalError as BrokerDown

from grants.models import Application
from notifications import outbox, tasks
from notifications.models import Notification
from tests.factories import World
from tests.reliability.infra import wait_until

E = Notification.EmailState
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def all_sent() -> bool:
    states = set(Notification.objects.values_list("email_state", flat=True))
    return states == {E.SENT}


def test_the_worker_sends_the_receipt_after_the_submission_commits(celery_worker_process: Any) -> None:
    world = World()
    world.advance(world.draft(), Application.State.SUBMITTED)
    wait_until(all_sent, timeout=30, what="the worker to send the receipt and the instructor's notice")
    assert list(Notification.objects.values_list("attempts", flat=True)) == [1, 1]


def test_a_submission_while_the_broker_is_down_is_delivered_by_the_relay_once(
    celery_worker_process: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World()
    draft = world.draft()

    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise BrokerDown(f"Error 111 connecting to {settings.CELERY_BROKER_URL}: Connection refused.")

    monkeypatch.setattr(tasks.send_notifications, "apply_async", unreachable)
    world.fire(draft, "submit", world.applicant)  # commits; the after-commit enqueue fails quietly
    assert Application.objects.get(pk=draft.pk).state == Application.State.SUBMITTED
    receipt = Notification.objects.get(message="receipt")
    time.sleep(1)  # the worker is up: nothing reached it
    receipt.refresh_from_db()
    assert (receipt.email_state, receipt.attempts) == (E.PENDING, 0)

    monkeypatch.undo()  # the broker is back; beat's next relay runs on the worker
    tasks.relay_outbox.delay()
    wait_until(all_sent, timeout=30, what="the relay to send the pending rows")
    receipt.refresh_from_db()
    sent_at = receipt.sent_at

    tasks.relay_outbox.delay()  # a second beat, and a late duplicate of the original task
    tasks.send_notification.delay(receipt.pk)
    time.sleep(2)
    receipt.refresh_from_db()
    assert (receipt.email_state, receipt.attempts, receipt.sent_at) == (E.SENT, 1, sent_at)
    assert outbox.deliver(receipt.pk) == "skipped"
