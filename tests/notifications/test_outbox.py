"""The outbox: rows written in the transition's transaction, e-mailed after commit, the
relay for whatever was left, retries with backoff in the database, marked once."""

from __future__ import annotations

import datetime as dt
import json
import smtplib
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from grants.models import Application, Role
from notifications import outbox, services, tasks
from notifications.models import Mode, Notification
from notifications.services import emit
from tests.factories import UserFactory, World, grant

E = Notification.EmailState
pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Capture what would be handed to Celery after commit (no broker in these tests)."""
    ids: list[int] = []

    def capture(batch: list[int]) -> int:
        ids.extend(batch)
        return len(batch)

    monkeypatch.setattr(outbox, "enqueue", capture)
    return ids


def smtp_failing(monkeypatch: pytest.MonkeyPatch, failures: list[BaseException]) -> list[int]:
    """The e-mail backend raises the given errors, in turn, then works."""
    calls: list[int] = []
    original: Callable[..., int] = EmailBackend.send_messages

    def send_messages(self: EmailBackend, messages: Any) -> int:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", send_messages)
    return calls


def test_a_submission_writes_the_receipt_in_its_own_transaction_and_sends_it_after_commit(
    world: World, enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    draft = world.draft()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        world.fire(draft, "submit", world.applicant)
        receipt = Notification.objects.get(message="receipt")
        assert receipt.recipient == world.applicant
        assert receipt.email_state == E.PENDING
        assert enqueued == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert receipt.pk in enqueued
    assert Notification.objects.get(message="submitted_staff").recipient == world.instructor


def test_a_rolled_back_transition_leaves_no_notification(world: World, enqueued: list[int]) -> None:
    draft = world.draft()
    with pytest.raises(RuntimeError), transaction.atomic():
        world.fire(draft, "submit", world.applicant)
        assert Notification.objects.filter(message="receipt").exists()
        raise RuntimeError("the request failed after the transition")
    assert not Notification.objects.exists()
    assert Application.objects.get(pk=draft.pk).state == Application.State.DRAFT


def test_a_replayed_emit_of_the_same_occurrence_writes_nothing_more(world: World, enqueued: list[int]) -> None:
    app = world.advance(world.draft(), Application.State.SUBMITTED)
    before = Notification.objects.count()
    with transaction.atomic():
        emit("submitted", application=Application.objects.select_related("call").get(pk=app.pk), actor=world.applicant)
    assert Notification.objects.count() == before


def test_the_task_arguments_survive_a_json_round_trip(
    world: World, enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        world.advance(world.draft(), Application.State.SUBMITTED)
    notification_id = json.loads(json.dumps(enqueued))[0]
    assert tasks.send_notification.run(notification_id) == "sent"
    assert len(mail.outbox) == 1


def test_it_sends_one_e_mail_however_many_times_the_task_runs(world: World, enqueued: list[int]) -> None:
    world.advance(world.draft(), Application.State.SUBMITTED)
    receipt = Notification.objects.get(message="receipt")
    assert outbox.deliver(receipt.pk) == "sent"
    assert outbox.deliver(receipt.pk) == "skipped"
    assert outbox.relay() == 1  # the instructor's notice; the receipt is not sent again
    sent = [m for m in mail.outbox if m.to == ["applicant@example.org"]]
    assert len(sent) == 1
    assert sent[0].subject.startswith("Dossier AAP-TEST-")
    receipt.refresh_from_db()
    assert (receipt.email_state, receipt.attempts) == (E.SENT, 1)


def test_the_relay_sends_what_the_broker_never_got_once(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    monkeypatch.setattr(tasks.send_notifications, "apply_async", broker_down)
    draft = world.draft()
    with django_capture_on_commit_callbacks(execute=True):
        world.fire(draft, "submit", world.applicant)  # the submission does not fail
    assert Application.objects.get(pk=draft.pk).state == Application.State.SUBMITTED
    assert set(Notification.objects.values_list("email_state", flat=True)) == {E.PENDING}
    assert mail.outbox == []
    assert outbox.relay() == 2
    assert outbox.relay() == 0
    assert sorted(m.to[0] for m in mail.outbox) == ["applicant@example.org", "instructor@example.org"]


def test_a_transaction_hands_all_its_rows_to_celery_in_one_message(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    messages: list[tuple[str, Any]] = []

    def publish(task: str) -> Callable[..., None]:
        return lambda args, **kwargs: messages.append((task, json.loads(json.dumps(args))))

    monkeypatch.setattr(tasks.send_notifications, "apply_async", publish("batch"))
    monkeypatch.setattr(tasks.send_notification, "apply_async", publish("single"))
    # A colleague of the applicant reading in English; a second instructor on the daily
    # digest (its row is not e-mailed now, so not in the message).
    colleague = UserFactory(username="colleague")
    grant(colleague, Role.APPLICANT, organisation=world.lyon)
    services.preferences_update(user=colleague, language="en", digest_hour=8, modes={})
    digest_reader = UserFactory(username="instructor2")
    grant(digest_reader, Role.INSTRUCTOR)
    services.preferences_update(user=digest_reader, language="fr", digest_hour=8, modes={"instruction": Mode.DIGEST})
    draft = world.draft()
    with django_capture_on_commit_callbacks(execute=True):
        world.fire(draft, "submit", world.applicant)
    rows = Notification.objects.filter(application=draft)
    assert dict(rows.values_list("recipient__username", "email_state")) == {
        "applicant": E.PENDING,
        "colleague": E.PENDING,
        "instructor": E.PENDING,
        "instructor2": E.DIGEST,
    }
    pending = sorted(rows.filter(email_state=E.PENDING).values_list("pk", flat=True))
    assert messages == [("batch", [pending])]
    # The worker runs the message: each row e-mailed once, in its recipient's language.
    assert tasks.send_notifications.run(*messages[0][1]) == 3
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert sorted(subjects) == ["applicant@example.org", "colleague@example.org", "instructor@example.org"]
    assert subjects["applicant@example.org"].startswith("Dossier AAP-TEST-")
    assert subjects["colleague@example.org"].startswith("Application AAP-TEST-")
    assert tasks.send_notifications.run(*messages[0][1]) == 0  # redelivered: nothing sent twice
    assert len(mail.outbox) == 3


def test_one_row_failing_in_a_batch_does_not_hold_the_others(
    world: World, enqueued: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.advance(world.draft(), Application.State.SUBMITTED)
    receipt = Notification.objects.get(message="receipt")
    notice = Notification.objects.get(message="submitted_staff")
    deliver = outbox.deliver

    def broken_for_the_receipt(notification_id: int, **kwargs: Any) -> str:
        if notification_id == receipt.pk:
            raise RuntimeError("connection reset while locking the row")
        return deliver(notification_id, **kwargs)

    monkeypatch.setattr(outbox, "deliver", broken_for_the_receipt)
    assert tasks.send_notifications.run([receipt.pk, notice.pk]) == 1
    assert [m.to for m in mail.outbox] == [["instructor@example.org"]]
    receipt.refresh_from_db()
    assert (receipt.email_state, receipt.attempts) == (E.PENDING, 0)  # left to the relay
    monkeypatch.undo()
    assert outbox.relay() == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["applicant@example.org", "instructor@example.org"]


def test_smtp_failing_twice_then_working_delivers_once(
    world: World, enqueued: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.advance(world.draft(), Application.State.SUBMITTED)
    receipt = Notification.objects.get(message="receipt")
    Notification.objects.exclude(pk=receipt.pk).update(email_state=E.SKIPPED)
    calls = smtp_failing(monkeypatch, [smtplib.SMTPServerDisconnected("gone"), ConnectionRefusedError(111, "refused")])
    t0 = timezone.now()

    assert outbox.deliver(receipt.pk, now=t0) == "retry"
    receipt.refresh_from_db()
    assert receipt.attempts == 1
    assert receipt.next_attempt_at == t0 + dt.timedelta(minutes=1)
    assert "SMTPServerDisconnected" in receipt.last_error
    assert outbox.relay(now=t0 + dt.timedelta(seconds=30)) == 0  # backoff not over: not even tried
    assert len(calls) == 1
    assert outbox.relay(now=t0 + dt.timedelta(minutes=1)) == 0  # second failure
    receipt.refresh_from_db()
    assert receipt.next_attempt_at == t0 + dt.timedelta(minutes=5)
    assert outbox.relay(now=t0 + dt.timedelta(minutes=5)) == 1
    assert outbox.relay(now=t0 + dt.timedelta(hours=1)) == 0
    receipt.refresh_from_db()
    assert (receipt.email_state, receipt.attempts, receipt.last_error) == (E.SENT, 3, "")
    assert len(mail.outbox) == 1


def test_a_refused_address_fails_at_once_and_stays_visible(
    world: World, enqueued: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.advance(world.draft(), Application.State.SUBMITTED)
    receipt = Notification.objects.get(message="receipt")
    smtp_failing(monkeypatch, [smtplib.SMTPRecipientsRefused({"applicant@example.org": (550, b"no such user")})])
    assert outbox.deliver(receipt.pk) == "failed"
    receipt.refresh_from_db()
    assert receipt.email_state == E.FAILED
    assert "SMTPRecipientsRefused" in receipt.last_error
    assert outbox.deliver(receipt.pk) == "skipped"


def test_it_gives_up_after_the_last_attempt_and_keeps_the_error(
    world: World, enqueued: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.advance(world.draft(), Application.State.SUBMITTED)
    receipt = Notification.objects.get(message="receipt")
    smtp_failing(monkeypatch, [OSError(101, "Network is unreachable") for _ in range(outbox.MAX_ATTEMPTS)])
    now = timezone.now()
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.deliver(receipt.pk, now=now)
        now += dt.timedelta(hours=5)
    receipt.refresh_from_db()
    assert (receipt.email_state, receipt.attempts) == (E.FAILED, outbox.MAX_ATTEMPTS)
    assert "Network is unreachable" in receipt.last_error
    assert outbox.retry_failed([receipt.pk]) == 1  # the operator's "resend" once the network is back
    assert outbox.deliver(receipt.pk, now=now) == "sent"


def test_a_user_without_an_e_mail_address_gets_the_in_app_notice_only(world: World, enqueued: list[int]) -> None:
    world.applicant.email = ""
    world.applicant.save()
    world.advance(world.draft(), Application.State.SUBMITTED)
    receipt = Notification.objects.get(message="receipt")
    assert receipt.email_state == E.SKIPPED
    assert receipt.read_at is None


def test_the_finance_e_mail_carries_the_signed_letter(world: World, enqueued: list[int], settings: Any) -> None:
    from django.core.files.base import ContentFile

    from grants import services
    from grants.models import Decision, Document
    from tests.factories import PDF_BYTES

    app = world.advance(world.draft(), Application.State.APPROVED)
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    if not Document.objects.filter(decision=decision).exists():
        document = Document(
            kind=Document.Kind.APPROVAL_LETTER,
            application=app,
            decision=decision,
            reference=app.reference,
            sha256="0" * 64,
            size=len(PDF_BYTES),
            pages=1,
            template_version="test",
            verification_code="TEST-CODE-0001",
        )
        document.file.save("letter.pdf", ContentFile(PDF_BYTES), save=False)
        document.save()
    if Decision.objects.get(pk=decision.pk).state == Decision.State.SIGNED:
        services.decision_deliver(decision_id=decision.pk)
    mail.outbox.clear()
    finance = Notification.objects.get(message="decision_delivered_finance")
    assert outbox.deliver(finance.pk) == "sent"
    (email,) = mail.outbox
    assert email.to == ["finance@example.org"]
    assert [(name, kind) for name, _content, kind in email.attachments] == [(f"{app.reference}.pdf", "application/pdf")]
    assert "jointe" in email.body
    applicant = Notification.objects.get(message="decision_delivered_approved")
    assert applicant.category == "legal"
    assert outbox.target_path(applicant).startswith("/mes-dossiers/")
