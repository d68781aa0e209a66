"""The pages of a grant's life after the commitment, as each role uses them: the
applicant files a report (the gaps recomputed on the server), is told what to redo,
asks for an amendment, renounces; the instructor checks a report and decides an
amendment; finance pays, records a reimbursement, exports; other authorities get 404."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from grants import services
from grants.models import Application, Decision, Document
from grants.postaward import Amendment, Payment, Report
from tests.factories import PDF_BYTES, World
from workflows.models import Task, TaskKind

pytestmark = pytest.mark.django_db

S = Application.State


def plain(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2212", "-")


def recorded(world: World, user: Any = None, **overrides: Any) -> Decision:
    """An approved grant of 25 000,00 € (budget 100 000,00 €, Senegal), signed, delivered
    and committed: 12 500 payable, 10 000 on the interim report, 2 500 on the final one."""
    app = world.advance(world.draft(user, **overrides), S.APPROVED, owner=user)
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    services.decision_deliver(decision_id=decision.pk)
    return services.decision_record(decision_id=decision.pk, user=world.finance, commitment_number="EJ-2026-1")


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def report_of(decision: Decision, kind: str = Report.Kind.INTERIM) -> Report:
    return Report.objects.get(decision=decision, kind=kind)


def payment(decision: Decision, number: int) -> Payment:
    return Payment.objects.get(decision=decision, number=number)


def report_url(decision: Decision, report: Report) -> str:
    return reverse("applicant-report", args=[decision.application_id, report.pk])


def pdf(name: str = "compte-rendu.pdf", content: bytes = PDF_BYTES) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def file_interim(world: World, decision: Decision, amount: str = "41 000,00") -> Any:
    report = report_of(decision)
    return client_for(world.applicant).post(
        report_url(decision, report),
        {"action": "submit", "exp-staff-1": amount, "exp-equipment-2": "9 000", "narrative": pdf()},
    )


def pay(world: World, *payments: Payment, reference: str = "DP-2026-001", **extra: Any) -> Any:
    data = {"payment": [str(p.pk) for p in payments], "paid_on": timezone.localdate().isoformat()}
    data["payment_reference"] = reference
    data.update(extra)
    return client_for(world.finance).post(reverse("payments-pay"), data)


# --- the applicant ------------------------------------------------------------------------------------


def test_the_applicant_sees_the_schedule_the_reports_and_what_is_due_next(world: World) -> None:
    decision = recorded(world)
    client = client_for(world.applicant)
    page = plain(client.get(reverse("applicant-application", args=[decision.application_id])).content.decode())
    assert "Suivi de la subvention" in page
    assert "12 500,00 €" in page and "10 000,00 €" in page and "2 500,00 €" in page
    assert "À payer" in page and "Prévu" in page  # the first tranche payable, the others scheduled
    assert "Rapport intermédiaire n° 1 attendu le 29/02/2028" in page
    assert reverse("applicant-amendment-new", args=[decision.application_id]) in page
    assert "Prochaine étape : Rapport à déposer avant le 29/02/2028" in page
    home = plain(client.get(reverse("home")).content.decode())
    assert "Rapports à déposer" in home and "attendu le 29/02/2028" in home
    assert "Rapport à déposer avant le 29/02/2028" in home  # the table's next step too


def test_recalculating_shows_the_gaps_computed_on_the_server_and_files_nothing(world: World) -> None:
    decision = recorded(world)
    report = report_of(decision)
    response = client_for(world.applicant).post(
        report_url(decision, report), {"action": "recalculate", "exp-staff-1": "41 000,00", "exp-equipment-2": "50000"}
    )
    assert response.status_code == 200
    page = plain(response.content.decode())
    # Staff year 1: budget 50 000, spent 41 000: -9 000 (-18 %); equipment on budget: 0.
    assert "-9 000,00 €" in page and "-18 %" in page
    assert 'value="41 000,00"' in page  # what was typed, kept as typed
    assert "Écarts recalculés" in page
    report.refresh_from_db()
    assert report.state == Report.State.DUE


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("-500", "Le montant ne peut pas être négatif."),
        ("12,5.3", "Montant invalide"),
        ("1000.123", "au plus deux décimales"),
        ("douze", "Montant invalide"),
    ],
)
def test_a_bad_amount_is_refused_on_its_field_and_kept_as_typed(world: World, typed: str, message: str) -> None:
    decision = recorded(world)
    report = report_of(decision)
    response = client_for(world.applicant).post(
        report_url(decision, report), {"action": "submit", "exp-staff-1": typed, "narrative": pdf()}
    )
    assert response.status_code == 400
    page = plain(response.content.decode())
    assert message in page
    assert "Personnel, année 1 :" in page  # the summary names the field
    assert 'id="exp-staff-1"' in page and f'value="{typed}"' in page
    assert 'aria-invalid="true"' in page
    report.refresh_from_db()
    assert report.state == Report.State.DUE


def test_an_unknown_category_and_a_missing_narrative_are_refused(world: World) -> None:
    decision = recorded(world)
    report = report_of(decision)
    client = client_for(world.applicant)
    response = client.post(
        report_url(decision, report),
        {"action": "submit", "exp-staff-1": "1000", "extra_category": "yachts", "extra_year": "1", "extra_amount": "5"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Catégorie inconnue" in page
    assert "Joignez le compte rendu technique" in page


def test_a_narrative_that_is_not_a_document_is_refused_by_its_content(world: World) -> None:
    decision = recorded(world)
    report = report_of(decision)
    response = client_for(world.applicant).post(
        report_url(decision, report),
        {"action": "submit", "exp-staff-1": "1000", "narrative": pdf("rapport.pdf", b"<script>alert(1)</script>")},
    )
    assert response.status_code == 400
    assert "Format refusé" in response.content.decode() or "refus" in response.content.decode()
    report.refresh_from_db()
    assert report.state == Report.State.DUE and not report.narrative


def test_filing_twice_files_once(world: World) -> None:
    decision = recorded(world)
    first = file_interim(world, decision)
    assert first.status_code == 302
    assert first["Location"].endswith("#suivi")
    report = report_of(decision)
    assert report.state == Report.State.SUBMITTED
    assert report.expenses == [
        {"category": "staff", "year": 1, "amount": "41000.00"},
        {"category": "equipment", "year": 2, "amount": "9000.00"},
    ]
    second = file_interim(world, decision, "50 000")
    assert second.status_code == 409
    report.refresh_from_db()
    assert report.expenses[0]["amount"] == "41000.00"  # the second click changed nothing
    assert (
        Task.objects.filter(kind=TaskKind.CHECK_REPORT, state=Task.State.OPEN, application=decision.application).count()
        == 1
    )
    # Filed: the page reads it, no form.
    page = client_for(world.applicant).get(report_url(decision, report)).content.decode()
    assert 'name="action"' not in page and "compte-rendu.pdf" in page


def test_another_authority_gets_404_on_every_post_award_page(world: World) -> None:
    decision = recorded(world)
    report = report_of(decision)
    other = client_for(world.applicant2)
    pk = decision.application_id
    for url in (
        report_url(decision, report),
        reverse("applicant-amendment-new", args=[pk]),
        reverse("applicant-renounce", args=[pk]),
    ):
        assert other.get(url).status_code == 404, url
        assert other.post(url, {"action": "submit", "reason": "x", "confirm": "yes"}).status_code == 404, url
    assert Decision.objects.get(pk=decision.pk).state == Decision.State.RECORDED
    # Staff get no portal page.
    assert client_for(world.instructor).get(report_url(decision, report)).status_code == 404


# --- the instructor --------------------------------------------------------------------------------------


def test_the_instructor_returns_a_report_and_the_applicant_refiles_it(world: World) -> None:
    decision = recorded(world)
    file_interim(world, decision)
    report = report_of(decision)
    instructor = client_for(world.instructor)
    page_url = reverse("staff-report", args=[decision.application_id, report.pk])
    page = plain(instructor.get(page_url).content.decode())
    assert "-9 000,00 €" in page and "-18 %" in page
    download = instructor.get(reverse("staff-report-narrative", args=[decision.application_id, report.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    action = reverse("staff-report-action", args=[decision.application_id, report.pk, "return"])
    # The message is required: 400 on its field, nothing changes.
    refused = instructor.post(action, {"return-message": "", "return-due_date": ""})
    assert refused.status_code == 400
    assert "Ce champ est obligatoire." in refused.content.decode()
    new_due = timezone.localdate() + dt.timedelta(days=20)
    done = instructor.post(
        action, {"return-message": "Joindre les justificatifs de mission.", "return-due_date": new_due.isoformat()}
    )
    assert done.status_code == 302
    report.refresh_from_db()
    assert (report.state, report.due_on) == (Report.State.RETURNED, new_due)
    applicant = client_for(world.applicant)
    page = applicant.get(report_url(decision, report)).content.decode()
    assert "Joindre les justificatifs de mission." in page and "Redéposer le rapport" in page
    assert file_interim(world, decision, "40 000").status_code == 302
    report.refresh_from_db()
    assert report.state == Report.State.SUBMITTED
    accept = reverse("staff-report-action", args=[decision.application_id, report.pk, "accept"])
    assert instructor.post(accept).status_code == 302
    assert payment(decision, 2).state == Payment.State.PAYABLE
    # The staff application page follows the grant.
    staff_page = plain(instructor.get(reverse("staff-application", args=[decision.application_id])).content.decode())
    assert "Suivi de la subvention" in staff_page and "Accepté" in staff_page


def test_the_instructor_decides_an_amendment(world: World) -> None:
    decision = recorded(world)
    applicant = client_for(world.applicant)
    url = reverse("applicant-amendment-new", args=[decision.application_id])
    too_long = applicant.post(url, {"kind": "extension", "months": "30", "reason": "Saison des pluies."})
    assert too_long.status_code == 400
    assert "Au plus 12 mois" in plain(too_long.content.decode())
    assert 'value="30"' in too_long.content.decode()
    assert applicant.post(url, {"kind": "extension", "months": "3", "reason": "Saison des pluies."}).status_code == 302
    amendment = Amendment.objects.get(decision=decision)
    instructor = client_for(world.instructor)
    page = instructor.get(reverse("staff-amendment", args=[decision.application_id, amendment.pk])).content.decode()
    assert "Saison des pluies." in page and "31/12/2028" in page and "31/03/2029" in page
    refuse = reverse("staff-amendment-action", args=[decision.application_id, amendment.pk, "refuse"])
    assert instructor.post(refuse, {"refuse-reason": ""}).status_code == 400
    accept = reverse("staff-amendment-action", args=[decision.application_id, amendment.pk, "accept"])
    assert instructor.post(accept, {"accept-reason": "Justifié."}).status_code == 302
    amendment.refresh_from_db()
    assert amendment.state == Amendment.State.ACCEPTED
    assert report_of(decision, Report.Kind.FINAL).due_on == dt.date(2029, 9, 30)
    # A second decision on the same amendment is refused with the reason.
    again = instructor.post(accept, {})
    assert again.status_code == 409


# --- finance --------------------------------------------------------------------------------------------


def test_finance_pays_payable_tranches_first_and_once(world: World) -> None:
    decision = recorded(world)
    other = recorded(world, world.applicant2, country="MA")
    finance = client_for(world.finance)
    page = plain(finance.get(reverse("payments")).content.decode())
    assert page.index(f'id="payment-{payment(decision, 1).pk}"') > 0
    assert "12 500,00 €" in page
    assert f'id="payment-{payment(decision, 2).pk}"' not in page  # scheduled: not in the default "payable" view
    # A bad reference: 400 on the field, nothing paid.
    bad = pay(world, payment(decision, 1), reference="=HYPERLINK(1)")
    assert bad.status_code == 400
    assert "Référence invalide" in bad.content.decode()
    assert payment(decision, 1).state == Payment.State.PAYABLE
    # Two at once, one reference for the batch, one with its own.
    own = {f"ref-{payment(other, 1).pk}": "DP-2026-002"}
    done = pay(world, payment(decision, 1), payment(other, 1), **own)
    assert done.status_code == 302
    assert (payment(decision, 1).state, payment(decision, 1).payment_reference) == (Payment.State.PAID, "DP-2026-001")
    assert payment(other, 1).payment_reference == "DP-2026-002"
    # Paying again: 409 with the reason, still one payment.
    again = pay(world, payment(decision, 1))
    assert again.status_code == 409
    assert "Versement" in again.content.decode()
    totals = plain(finance.get(reverse("payments") + "?etat=all").content.decode())
    assert "25 000,00 €" in totals  # paid on the call
    assert not Task.objects.filter(
        kind=TaskKind.PAY_TRANCHE, state=Task.State.OPEN, subject_id=str(payment(decision, 1).pk)
    ).exists()


def test_only_finance_pays(world: World) -> None:
    decision = recorded(world)
    response = client_for(world.instructor).post(
        reverse("payments-pay"),
        {"payment": [payment(decision, 1).pk], "paid_on": "2026-01-01", "payment_reference": "X1"},
    )
    assert response.status_code == 403
    assert client_for(world.applicant).get(reverse("payments")).status_code == 403
    assert payment(decision, 1).state == Payment.State.PAYABLE


def test_the_payments_export_carries_exact_amounts(world: World) -> None:
    decision = recorded(world)
    pay(world, payment(decision, 1))
    response = client_for(world.finance).get(reverse("payments-export", args=["csv"]) + "?etat=all")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "Référence"
    amounts = {(row[4], row[8], row[12]) for row in rows[1:]}
    assert ("1", "12500.00", "DP-2026-001") in amounts and ("2", "10000.00", "") in amounts
    for fmt in ("xlsx", "ods"):
        assert client_for(world.finance).get(reverse("payments-export", args=[fmt])).status_code == 200
    assert client_for(world.finance).get(reverse("payments-export", args=["pdf"])).status_code == 404


def test_a_renunciation_states_its_consequences_and_finance_records_the_reimbursement(world: World) -> None:
    decision = recorded(world)
    pay(world, payment(decision, 1))
    applicant = client_for(world.applicant)
    url = reverse("applicant-renounce", args=[decision.application_id])
    page = plain(applicant.get(url).content.decode())
    assert "(12 500,00 €) sont annulées" in page and "(12 500,00 €) devra être reversé" in page
    unconfirmed = applicant.post(url, {"reason": "Partenaire dissous."})
    assert unconfirmed.status_code == 400
    assert "Cochez la case" in unconfirmed.content.decode() and "Partenaire dissous." in unconfirmed.content.decode()
    assert applicant.post(url, {"reason": "Partenaire dissous.", "confirm": "yes"}).status_code == 302
    decision.refresh_from_db()
    assert decision.state == Decision.State.RENOUNCED
    # Read-only from now on.
    app_page = applicant.get(reverse("applicant-application", args=[decision.application_id])).content.decode()
    assert "Vous avez renoncé à ce projet" in app_page and "Projet abandonné" in app_page
    assert reverse("applicant-amendment-new", args=[decision.application_id]) not in app_page
    assert 'name="reason"' not in applicant.get(url).content.decode()
    # Finance sees the recovery and records it as reimbursed.
    recovery = Payment.objects.get(decision=decision, kind=Payment.Kind.RECOVERY)
    finance_page = plain(client_for(world.finance).get(reverse("payments")).content.decode())
    assert "Reversements (titres de recettes)" in finance_page and "12 500,00 €" in finance_page
    assert pay(world, recovery, reference="TR-2026-7").status_code == 302
    recovery.refresh_from_db()
    assert recovery.state == Payment.State.PAID


def test_the_call_dashboard_and_the_inbox_follow_the_payments(world: World) -> None:
    decision = recorded(world)
    pay(world, payment(decision, 1))
    page = plain(client_for(world.instructor).get(reverse("call-dashboard", args=[world.call.code])).content.decode())
    assert "Versé : 12 500,00 € sur 25 000,00 € engagés." in page
    other = recorded(world)
    task = Task.objects.get(kind=TaskKind.PAY_TRANCHE, state=Task.State.OPEN, application=other.application)
    inbox = client_for(world.finance).get(reverse("tasks")).content.decode()
    assert reverse("payments") + f"?etat=payable#payment-{task.subject_id}" in inbox


def _close(world: World, decision: Decision, final_total: str) -> None:
    """Interim filed and accepted, second tranche paid, final report accepted, balance paid."""
    pdf_payload = {"narrative": PDF_BYTES, "narrative_name": "cr.pdf"}
    interim = report_of(decision)
    expenses = [{"category": "staff", "year": 1, "amount": "50000.00"}]
    services.report_transition(
        report_id=interim.pk, name="submit", user=world.applicant, payload={**pdf_payload, "expenses": expenses}
    )
    services.report_transition(report_id=interim.pk, name="accept", user=world.instructor)
    for number in (1, 2):
        services.payment_pay(
            payment_id=payment(decision, number).pk,
            user=world.finance,
            paid_on=timezone.localdate(),
            payment_reference=f"DP-{number}",
        )
    final = report_of(decision, Report.Kind.FINAL)
    expenses = [
        {"category": "staff", "year": 1, "amount": final_total},
        {"category": "equipment", "year": 2, "amount": "0"},
    ]
    services.report_transition(
        report_id=final.pk, name="submit", user=world.applicant, payload={**pdf_payload, "expenses": expenses}
    )
    services.report_transition(report_id=final.pk, name="accept", user=world.instructor)


def test_a_closed_grant_is_read_only_and_shows_its_balance_in_words(world: World) -> None:
    decision = recorded(world)
    _close(world, decision, "100000.00")
    balance = Payment.objects.get(decision=decision, kind=Payment.Kind.BALANCE)
    assert balance.state == Payment.State.PAYABLE
    finance_page = plain(client_for(world.finance).get(reverse("payments")).content.decode())
    assert "Dépenses réalisées 100 000,00 €" in finance_page  # the computation, in words
    pay(world, balance)
    decision.refresh_from_db()
    assert decision.state == Decision.State.CLOSED
    applicant = client_for(world.applicant)
    page = plain(applicant.get(reverse("applicant-application", args=[decision.application_id])).content.decode())
    assert "Subvention soldée" in page and "Demander un avenant" not in page
    final = report_of(decision, Report.Kind.FINAL)
    report_page = applicant.get(report_url(decision, final)).content.decode()
    assert 'name="action"' not in report_page
    url = reverse("applicant-amendment-new", args=[decision.application_id])
    assert applicant.post(url, {"kind": "other", "text": "x", "reason": "y"}).status_code == 409
    assert not Amendment.objects.filter(decision=decision).exists()
    assert applicant.post(reverse("applicant-renounce", args=[decision.application_id]), {}).status_code == 409
    staff = plain(
        client_for(world.instructor).get(reverse("staff-application", args=[decision.application_id])).content.decode()
    )
    assert "Calcul du solde : Dépenses réalisées 100 000,00 €" in staff


def test_a_budget_change_shows_the_budget_in_force_beside_the_new_one(world: World) -> None:
    decision = recorded(world)
    applicant = client_for(world.applicant)
    url = reverse("applicant-amendment-new", args=[decision.application_id])
    # Moving 10 % is below the call's 20 % threshold: refused with the reason, what was typed kept.
    small = applicant.post(url, {"kind": "budget_change", "line-0": "40 000", "line-1": "60 000", "reason": "Prix."})
    assert small.status_code == 400
    assert "ne demande pas d&#x27;avenant" in small.content.decode() and 'value="40 000"' in small.content.decode()
    bad = applicant.post(url, {"kind": "budget_change", "line-0": "-1", "line-1": "60 000", "reason": "Prix."})
    assert bad.status_code == 400 and "ne peut pas être négatif" in bad.content.decode()
    done = applicant.post(url, {"kind": "budget_change", "line-0": "20 000", "line-1": "80 000", "reason": "Prix."})
    assert done.status_code == 302
    amendment = Amendment.objects.get(decision=decision)
    page = plain(
        client_for(world.instructor)
        .get(reverse("staff-amendment", args=[decision.application_id, amendment.pk]))
        .content.decode()
    )
    assert "Part du budget déplacée entre catégories : 30 %" in page
    assert "50 000,00 €" in page and "80 000,00 €" in page and "+30 000,00 €" in page


def test_an_accepted_amendment_is_downloadable_as_its_avenant(world: World) -> None:
    from grants.documents.amendments import issue_amendment

    decision = recorded(world)
    amendment = services.amendment_request(
        decision_id=decision.pk, user=world.applicant, payload={"kind": "extension", "months": 2, "reason": "Pluies."}
    )
    services.amendment_decide(amendment_id=amendment.pk, name="accept", user=world.instructor)
    pdf_url = reverse("staff-amendment-pdf", args=[decision.application_id, amendment.pk])
    assert client_for(world.instructor).get(pdf_url).status_code == 404  # not rendered yet
    issue_amendment(amendment.pk)  # the pdf worker's step
    response = client_for(world.instructor).get(pdf_url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    page = client_for(world.instructor).get(reverse("staff-amendment", args=[decision.application_id, amendment.pk]))
    assert pdf_url in page.content.decode()
    applicant_page = client_for(world.applicant).get(reverse("applicant-application", args=[decision.application_id]))
    text = applicant_page.content.decode()
    avenant = Document.objects.get(application_id=decision.application_id, kind=Document.Kind.AMENDMENT)
    assert reverse("applicant-document", args=[decision.application_id, avenant.pk]) in text
    assert (
        client_for(world.applicant)
        .get(reverse("applicant-document", args=[decision.application_id, avenant.pk]))
        .status_code
        == 200
    )
    assert client_for(world.embassy_sn).get(pdf_url).status_code == 403
