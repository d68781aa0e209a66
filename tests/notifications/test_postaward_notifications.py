"""Who hears of the grant's life after the commitment, and what they read (FR/EN)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from grants import services
from grants.models import Decision
from grants.postaward import Payment, Report
from notifications import outbox, rendering
from notifications.models import Notification
from tests.api.helpers import approved_decision
from tests.factories import PDF_BYTES, World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "enqueue", lambda ids: 0)


def received(user: Any) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("pk").values_list("message", flat=True))


def text(notice: Notification, language: str) -> str:
    rendered = rendering.render(notice.message, notice.params, language=language)
    return (rendered.subject + " " + rendered.text).replace("\u00a0", " ").replace("\u202f", " ")


def recorded(world: World) -> Decision:
    decision = approved_decision(world)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    services.decision_deliver(decision_id=decision.pk)
    services.decision_record(decision_id=decision.pk, user=world.finance, commitment_number="EJ-1")
    return decision


def test_finance_hears_a_tranche_is_payable_and_the_applicant_that_it_is_paid(world: World) -> None:
    decision = recorded(world)
    assert received(world.finance)[-1] == "payment_payable"
    notice = Notification.objects.filter(recipient=world.finance, message="payment_payable").get()
    assert "Le versement n° 1 (12 500,00 €)" in text(notice, "fr")
    assert "Payment no. 1 (€12,500.00)" in text(notice, "en")
    first = Payment.objects.get(decision=decision, number=1)
    services.payment_pay(
        payment_id=first.pk, user=world.finance, paid_on=timezone.localdate(), payment_reference="DP-1"
    )
    paid = Notification.objects.filter(recipient=world.applicant, message="payment_paid").get()
    assert "Un versement de 12 500,00 € a été effectué le" in text(paid, "fr")
    assert received(world.applicant2) == []  # another authority


def test_a_returned_report_reaches_the_applicant_with_the_message_and_the_new_date(world: World) -> None:
    decision = recorded(world)
    report = Report.objects.get(decision=decision, kind="interim")
    lines = [{"category": "staff", "year": 1, "amount": "100.00"}]
    services.report_transition(
        report_id=report.pk,
        name="submit",
        user=world.applicant,
        payload={"narrative": PDF_BYTES, "narrative_name": "cr.pdf", "expenses": lines},
    )
    assert received(world.instructor)[-1] == "report_submitted"
    due = timezone.localdate() + dt.timedelta(days=15)
    services.report_transition(
        report_id=report.pk,
        name="return",
        user=world.instructor,
        payload={"message": "Joindre <b>les</b> factures.", "due_date": due.isoformat()},
    )
    notice = Notification.objects.get(recipient=world.applicant, message="report_returned")
    english = text(notice, "en")
    assert "returns interim report no. 1" in english
    assert f"File it again before {due.strftime('%d/%m/%Y')}" in english or "File it again before" in english
    html = rendering.render(notice.message, notice.params, language="fr").html
    assert "<b>les</b>" not in html and "&lt;b&gt;" in html  # the instructor's text is escaped


def test_a_renunciation_tells_the_delegation_and_asks_the_applicant_to_reimburse(world: World) -> None:
    decision = recorded(world)
    first = Payment.objects.get(decision=decision, number=1)
    services.payment_pay(
        payment_id=first.pk, user=world.finance, paid_on=timezone.localdate(), payment_reference="DP-1"
    )
    services.decision_renounce(decision_id=decision.pk, user=world.applicant, reason="Le partenaire s'est retiré.")
    renounced = Notification.objects.get(recipient=world.instructor, message="decision_renounced")
    assert "Le partenaire s'est retiré." in text(renounced, "fr")
    assert "decision_renounced" in received(world.finance)
    recovery = Notification.objects.get(recipient=world.applicant, message="recovery_issued")
    assert "reverser 12 500,00 €" in text(recovery, "fr")
    assert "reimburse €12,500.00" in text(recovery, "en")


def test_a_due_report_is_reminded_to_the_applicant_then_its_delay_is_escalated(world: World) -> None:
    from notifications.reminders import step_instant, sweep
    from workflows.models import Task, TaskKind

    supervisor = world.applicant2  # another authority: never told
    decision = recorded(world)
    final = Report.objects.get(decision=decision, kind="final")
    task = Task.objects.get(kind=TaskKind.SUBMIT_REPORT, subject_id=str(final.pk), state="open")
    assert sweep(at=step_instant(task.due_at, -7)) >= 1
    reminder = Notification.objects.filter(recipient=world.applicant, message="task_reminder").latest("pk")
    assert "Rapport à déposer" in text(reminder, "fr")
    assert "Report to file" in text(reminder, "en")
    assert reminder.category == "legal"  # a legal obligation: cannot be muted
    assert sweep(at=step_instant(task.due_at, 3)) >= 1
    assert Notification.objects.filter(recipient=world.applicant, message="task_overdue").exists()
    assert not Notification.objects.filter(recipient=supervisor).exists()
    # Filed, its task is done: no more reminders.
    services.report_transition(
        report_id=final.pk,
        name="submit",
        user=world.applicant,
        payload={"narrative": PDF_BYTES, "expenses": [{"category": "staff", "year": 1, "amount": "1000"}]},
    )
    assert not Task.objects.filter(kind=TaskKind.SUBMIT_REPORT, subject_id=str(final.pk), state="open").exists()
