"""Races on real PostgreSQL with real threads: two sweeps, two relays, at the same instant."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from grants.models import Application, Role
from notifications import outbox, reminders
from notifications.models import Notification, Reminder
from tests.concurrency import race
from tests.factories import World
from workflows.models import Task, TaskKind

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "enqueue", lambda ids: 0)


def test_two_sweeps_at_the_same_instant_send_each_step_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    app = world.advance(world.draft(), Application.State.SUBMITTED)
    due = timezone.now() + dt.timedelta(days=5)
    Task.objects.bulk_create(
        Task(
            kind=TaskKind.GIVE_OPINION,
            application=app,
            queue_role=Role.EMBASSY,
            scope_country_id="SN",
            due_at=due + dt.timedelta(minutes=i),
            created_at=timezone.now() - dt.timedelta(days=30),
        )
        for i in range(40)
    )
    # Both sweeps plan before either writes: they collide on the unique (task, step) rows.
    both_planned = threading.Barrier(2)
    insert = reminders._insert_steps

    def insert_together(*args: Any, **kwargs: Any) -> Any:
        both_planned.wait(timeout=30)
        return insert(*args, **kwargs)

    monkeypatch.setattr(reminders, "_insert_steps", insert_together)
    at = timezone.now()
    results = race([lambda: reminders.sweep(at=at), lambda: reminders.sweep(at=at)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(results) == [0, 40]
    assert Reminder.objects.filter(outcome=Reminder.Outcome.SENT).count() == 40
    assert Notification.objects.filter(recipient=world.embassy_sn, message="task_reminder").count() == 40


def test_two_relays_at_once_send_each_e_mail_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(4):
        world.advance(world.draft(), Application.State.SUBMITTED)
    pending = Notification.objects.filter(email_state=Notification.EmailState.PENDING).count()
    assert pending == 8  # a receipt and an instructor's notice per submission
    original = EmailBackend.send_messages

    def slow_send(self: EmailBackend, messages: Any) -> int:
        time.sleep(0.05)  # an SMTP round trip: the other relay runs meanwhile
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", slow_send)
    results = race([outbox.relay, outbox.relay, outbox.relay])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 8
    assert len(mail.outbox) == 8
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}
