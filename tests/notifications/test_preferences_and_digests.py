"""Preferences per user and category, the daily digest, and the legal notices that can be
neither muted nor delayed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from grants.models import Application
from notifications import digests, outbox, services
from notifications.models import Category, Digest, Mode, Notification, Preference
from notifications.reminders import PARIS
from tests.factories import World
from workflows.engine import Invalid

E = Notification.EmailState
S = Application.State
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "enqueue", lambda ids: 0)


def prefer(user: Any, *, language: str = "fr", hour: int = 8, **modes: str) -> None:
    services.preferences_update(user=user, language=language, digest_hour=hour, modes=modes)


def paris(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=PARIS)


def test_digest_mode_sends_one_e_mail_with_every_item_at_the_set_hour(world: World) -> None:
    prefer(world.instructor, instruction=Mode.DIGEST, opinions=Mode.DIGEST, committee=Mode.DIGEST)
    apps = [world.advance(world.draft(), S.SUBMITTED) for _ in range(3)]
    items = Notification.objects.filter(recipient=world.instructor)
    assert items.count() == 3
    assert set(items.values_list("email_state", flat=True)) == {E.DIGEST}
    assert outbox.relay() == 3  # the applicant's receipts go out at once
    mail.outbox.clear()

    tomorrow = max(n.created_at for n in items).astimezone(PARIS).date() + dt.timedelta(days=1)
    assert digests.send_digests(now=paris(tomorrow, 7, 59)) == 0  # not before 8:00
    assert digests.send_digests(now=paris(tomorrow, 8, 0)) == 1
    (email,) = mail.outbox
    assert email.to == ["instructor@example.org"]
    assert "3" in email.subject
    for app in apps:
        assert app.reference in email.body
    assert digests.send_digests(now=paris(tomorrow, 9, 0)) == 0  # one per day
    assert set(items.values_list("email_state", flat=True)) == {E.SENT}
    assert Digest.objects.get(user=world.instructor).items == 3


def test_a_missed_digest_hour_is_caught_up_and_later_items_wait_for_tomorrow(world: World) -> None:
    prefer(world.instructor, hour=7, instruction=Mode.DIGEST)
    world.advance(world.draft(), S.SUBMITTED)
    first = Notification.objects.get(recipient=world.instructor)
    day = first.created_at.astimezone(PARIS).date() + dt.timedelta(days=1)
    late = Notification.objects.create(
        recipient=world.instructor,
        event="submitted",
        message="submitted_staff",
        category=Category.INSTRUCTION,
        params=first.params,
        dedupe_key="late-item",
        email_state=E.DIGEST,
        created_at=paris(day, 9, 30),
    )
    assert digests.send_digests(now=paris(day, 11, 0)) == 1  # the 7:00 check was missed
    late.refresh_from_db()
    assert late.email_state == E.DIGEST  # arrived after 7:00: tomorrow's digest
    assert digests.send_digests(now=paris(day + dt.timedelta(days=1), 7, 0)) == 1
    assert len(mail.outbox) == 2


def test_the_digest_is_written_in_the_recipient_s_language(world: World) -> None:
    prefer(world.instructor, language="en", instruction=Mode.DIGEST)
    world.advance(world.draft(), S.SUBMITTED)
    day = Notification.objects.get(recipient=world.instructor).created_at.astimezone(PARIS).date()
    digests.send_digests(now=paris(day + dt.timedelta(days=1), 8))
    (email,) = mail.outbox
    assert email.body.startswith("Hello,")


def test_immediate_e_mails_follow_the_recipient_s_language(world: World) -> None:
    prefer(world.applicant, language="en")
    world.advance(world.draft(), S.SUBMITTED)
    receipt = Notification.objects.get(message="receipt")
    outbox.deliver(receipt.pk)
    (email,) = mail.outbox
    assert email.body.startswith("Hello,")
    assert "Dossier" not in email.subject


def test_off_keeps_the_in_app_notice_and_sends_no_e_mail(world: World) -> None:
    prefer(world.instructor, instruction=Mode.OFF)
    world.advance(world.draft(), S.SUBMITTED)
    notice = Notification.objects.get(recipient=world.instructor)
    assert notice.email_state == E.SKIPPED
    assert services.unread_count(world.instructor) == 1


def test_legal_notices_cannot_be_switched_off_or_delayed(world: World) -> None:
    with pytest.raises(Invalid) as refused:
        prefer(world.applicant, legal=Mode.DIGEST, status=Mode.DIGEST)
    assert "délai légal" in refused.value.errors["legal"][0]
    assert not Preference.objects.filter(user=world.applicant).exists()  # nothing half-saved
    prefer(world.applicant, status=Mode.OFF)
    app = world.advance(world.draft(), S.SUBMITTED)
    world.fire(app, "request_completion", world.instructor, message="Joindre le budget détaillé.")
    assert Notification.objects.get(message="receipt").email_state == E.SKIPPED
    completion = Notification.objects.get(message="completion_requested")
    assert (completion.category, completion.email_state) == (Category.LEGAL, E.PENDING)


def test_the_database_refuses_a_muted_legal_category_whatever_writes_it(world: World) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Preference.objects.create(user=world.applicant, category=Category.LEGAL, mode=Mode.OFF)


def test_preferences_reject_unknown_values_in_the_user_s_language(world: World) -> None:
    from django.utils import translation

    with translation.override("en"), pytest.raises(Invalid) as refused:
        services.preferences_update(user=world.applicant, language="de", digest_hour=24, modes={"status": "weekly"})
    (message,) = refused.value.errors["language"]
    assert "English" in message and "Choisissez" not in message
    assert "digest_hour" in refused.value.errors
    assert "status" in refused.value.errors
