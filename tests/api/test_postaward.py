"""The grant's life after the commitment, through the API: tranches paid, reports filed,
returned and accepted, the balance recomputed, amendments, renunciation and closure."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from grants import services
from grants.models import Application, BudgetLine, Decision
from grants.postaward import Payment, Report
from tests.api.helpers import approved_decision, body, english, url
from tests.factories import PDF_BYTES, World
from workflows.models import Task, TaskKind

Api = Callable[..., APIClient]


def plain(text: str) -> str:
    """French typography's (narrow) no-break spaces as plain spaces."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def recorded(world: World, api: Api) -> int:
    """An approved application of 25 000,00 € (100 000,00 € budget, Senegal: 70 % cap),
    signed, delivered and committed by finance through the API."""
    decision = approved_decision(world)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    services.decision_deliver(decision_id=decision.pk)
    data = body(
        api(world.finance).post(url(f"decisions/{decision.pk}/record/"), {"commitment_number": "EJ-1"}, format="json"),
        200,
    )
    assert data["state"] == "recorded"
    return decision.pk


def narrative(name: str = "compte-rendu.pdf", content: bytes = PDF_BYTES) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def file_report(client: APIClient, report_id: int, expenses: Any, *, action: str = "submit", **extra: Any) -> Any:
    data = {"narrative": extra.pop("file", None) or narrative(), "expenses": json.dumps(expenses)}
    return client.post(url(f"reports/{report_id}/{action}/"), data, format="multipart")


def today() -> str:
    return timezone.localdate().isoformat()


def payments(client: APIClient, decision_id: int) -> list[dict[str, Any]]:
    return body(client.get(url(f"decisions/{decision_id}/")), 200)["payments"]


@pytest.mark.django_db
def test_one_grant_end_to_end_from_commitment_to_closure(world: World, api: Api) -> None:
    decision_id = recorded(world, api)
    finance, applicant, instructor = api(world.finance), api(world.applicant), api(world.instructor)

    # The schedule: 12 500 on commitment, 10 000 on the interim report, 2 500 balance on the final one.
    detail = body(finance.get(url(f"decisions/{decision_id}/")), 200)
    assert [(p["number"], p["kind"], p["amount"], p["condition"], p["state"]) for p in detail["payments"]] == [
        (1, "tranche", "12500.00", "signature", "payable"),
        (2, "tranche", "10000.00", "interim_report", "scheduled"),
        (3, "balance", "2500.00", "final_report", "scheduled"),
    ]
    assert [(r["kind"], r["state"], r["due_on"]) for r in detail["reports"]] == [
        ("interim", "due", "2028-02-29"),  # year 1 ends 2027-12-31, + 60 days
        ("final", "due", "2029-06-30"),  # the project ends 2028-12-31, + 6 months
    ]
    assert (detail["paid_total"], detail["remaining"]) == ("0.00", "25000.00")
    first = detail["payments"][0]["id"]
    assert Task.objects.filter(kind=TaskKind.PAY_TRANCHE, state="open", subject_id=str(first)).exists()

    # Finance pays the first tranche; its task is done.
    paid = body(
        finance.post(
            url(f"payments/{first}/pay/"), {"paid_on": today(), "payment_reference": "DP-2026-001"}, format="json"
        ),
        200,
    )
    assert (paid["state"], paid["paid_on"], paid["payment_reference"]) == ("paid", today(), "DP-2026-001")
    assert not Task.objects.filter(kind=TaskKind.PAY_TRANCHE, state="open", subject_id=str(first)).exists()

    # The applicant files the interim report; the instructor returns it with a new due date.
    reports = body(applicant.get(url("reports/")), 200)["results"]
    interim = next(r for r in reports if r["kind"] == "interim")
    final = next(r for r in reports if r["kind"] == "final")
    filed = body(file_report(applicant, interim["id"], [{"category": "staff", "year": 1, "amount": "41 000,00"}]), 200)
    assert filed["state"] == "submitted"
    assert filed["narrative"] == "compte-rendu.pdf"
    staff = next(row for row in filed["statement"] if row["category"] == "staff")
    assert (staff["budget"], staff["actual"], staff["gap"]) == ("50000.00", "41000.00", "-9000.00")
    assert plain(staff["gap_label"]) == "-18 %"
    new_due = (timezone.localdate() + dt.timedelta(days=20)).isoformat()
    returned = body(
        instructor.post(
            url(f"reports/{interim['id']}/return/"),
            {"message": "Joindre les justificatifs de mission.", "due_date": new_due},
            format="json",
        ),
        200,
    )
    assert (returned["state"], returned["due_on"], returned["return_message"]) == (
        "returned",
        new_due,
        "Joindre les justificatifs de mission.",
    )
    # Returned is not accepted: the second tranche still waits.
    assert payments(finance, decision_id)[1]["state"] == "scheduled"
    body(file_report(applicant, interim["id"], [{"category": "staff", "year": 1, "amount": "40000.00"}]), 409)
    resubmitted = body(
        file_report(
            applicant, interim["id"], [{"category": "staff", "year": 1, "amount": "40000.00"}], action="resubmit"
        ),
        200,
    )
    assert resubmitted["state"] == "submitted"
    assert body(instructor.post(url(f"reports/{interim['id']}/accept/")), 200)["state"] == "accepted"

    # The accepted interim report makes the second tranche payable; finance pays it.
    second = payments(finance, decision_id)[1]
    assert second["state"] == "payable"
    body(
        finance.post(
            url(f"payments/{second['id']}/pay/"),
            {"paid_on": today(), "payment_reference": "DP-2026-002"},
            format="json",
        ),
        200,
    )

    # An extension of 6 months, accepted: the final report is due 6 months later.
    amendment = body(
        applicant.post(
            url(f"decisions/{decision_id}/amendments/"),
            {"kind": "extension", "months": 6, "reason": "Saison des pluies."},
            format="json",
        ),
        201,
    )
    assert amendment["state"] == "requested"
    assert body(instructor.post(url(f"amendments/{amendment['id']}/accept/"), {}, format="json"), 200)["state"] == (
        "accepted"
    )
    assert body(applicant.get(url(f"reports/{final['id']}/")), 200)["due_on"] == "2029-12-31"

    # The final report spent less than planned: 33 000 × 70 % = 23 100, 22 500 already paid: 600 left.
    body(
        file_report(
            applicant,
            final["id"],
            [
                {"category": "staff", "year": 1, "amount": "20000.00"},
                {"category": "equipment", "year": 2, "amount": "13000"},
            ],
        ),
        200,
    )
    body(instructor.post(url(f"reports/{final['id']}/accept/")), 200)
    balance = payments(finance, decision_id)[2]
    assert (balance["kind"], balance["state"], balance["amount"]) == ("balance", "payable", "600.00")
    assert plain(balance["explanation"]) == (
        "Dépenses réalisées 33 000,00 € × 70 % = 23 100,00 € ; déjà versé 22 500,00 € ; solde 600,00 €."
    )
    assert Decision.objects.get(pk=decision_id).state == Decision.State.RECORDED
    body(
        finance.post(
            url(f"payments/{balance['id']}/pay/"),
            {"paid_on": today(), "payment_reference": "DP-2026-003"},
            format="json",
        ),
        200,
    )

    # Paid in full: the grant closes by itself and is read-only.
    detail = body(applicant.get(url(f"decisions/{decision_id}/")), 200)
    assert (detail["state"], detail["paid_total"], detail["remaining"]) == ("closed", "23100.00", "0.00")
    refused = body(
        applicant.post(
            url(f"decisions/{decision_id}/amendments/"),
            {"kind": "other", "text": "Changer de partenaire.", "reason": "Élections."},
            format="json",
        ),
        409,
    )
    assert "Soldée" in refused["unmet"][0]
    # The applicant's history tells the story in its words, staff by role.
    app = body(applicant.get(url(f"applications/{detail['application']}/")), 200)
    steps = [(h["subject"], h["transition"]) for h in app["history"]]
    assert ("report", "return") in steps and ("payment", "pay") in steps and ("decision", "close") in steps


@pytest.mark.django_db
def test_renunciation_cancels_what_is_unpaid_and_recovers_what_was_paid(world: World, api: Api) -> None:
    decision_id = recorded(world, api)
    finance, applicant = api(world.finance), api(world.applicant)
    first = payments(finance, decision_id)[0]
    body(
        finance.post(
            url(f"payments/{first['id']}/pay/"), {"paid_on": today(), "payment_reference": "DP-1"}, format="json"
        ),
        200,
    )
    assert body(applicant.post(url(f"decisions/{decision_id}/renounce/"), {}, format="json"), 400)["errors"]["reason"]
    detail = body(
        applicant.post(
            url(f"decisions/{decision_id}/renounce/"), {"reason": "Le partenaire s'est retiré."}, format="json"
        ),
        200,
    )
    assert detail["state"] == "renounced"
    assert [(p["kind"], p["amount"], p["state"]) for p in detail["payments"]] == [
        ("tranche", "12500.00", "paid"),
        ("tranche", "10000.00", "cancelled"),
        ("balance", "2500.00", "cancelled"),
        ("recovery", "-12500.00", "payable"),
    ]
    assert {r["state"] for r in detail["reports"]} == {"cancelled"}
    assert not Task.objects.filter(kind=TaskKind.SUBMIT_REPORT, state="open").exists()
    recovery = detail["payments"][3]
    assert plain(recovery["explanation"]) == "Projet non réalisé : déjà versé 12 500,00 € ; à reverser 12 500,00 €."
    # A cancelled tranche cannot be paid; the recovery is recorded as reimbursed.
    cancelled = body(
        finance.post(
            url(f"payments/{detail['payments'][1]['id']}/pay/"),
            {"paid_on": today(), "payment_reference": "DP-2"},
            format="json",
        ),
        409,
    )
    assert cancelled["unmet"] == ["Ce versement ne peut pas être payé : il est « Annulé »."]
    reimbursed = body(
        finance.post(
            url(f"payments/{recovery['id']}/pay/"),
            {"paid_on": today(), "payment_reference": "TR-2026-7"},
            format="json",
        ),
        200,
    )
    assert reimbursed["state"] == "paid"
    detail = body(applicant.get(url(f"decisions/{decision_id}/")), 200)
    assert (detail["state"], detail["paid_total"], detail["remaining"]) == ("renounced", "0.00", "0.00")
    body(applicant.post(url(f"decisions/{decision_id}/renounce/"), {"reason": "Encore."}, format="json"), 409)


@pytest.mark.django_db
def test_a_final_report_below_what_was_paid_issues_a_recovery_then_closes(world: World, api: Api) -> None:
    decision_id = recorded(world, api)
    finance, applicant, instructor = api(world.finance), api(world.applicant), api(world.instructor)
    first = payments(finance, decision_id)[0]
    body(
        finance.post(
            url(f"payments/{first['id']}/pay/"), {"paid_on": today(), "payment_reference": "DP-1"}, format="json"
        ),
        200,
    )
    final = next(r for r in body(applicant.get(url("reports/")), 200)["results"] if r["kind"] == "final")
    body(file_report(applicant, final["id"], [{"category": "staff", "year": 1, "amount": "15000.00"}]), 200)
    body(instructor.post(url(f"reports/{final['id']}/accept/")), 200)
    # The interim report, never filed, is moot once the final one is accepted.
    assert Report.objects.get(decision_id=decision_id, kind="interim").state == "cancelled"
    # 15 000 × 70 % = 10 500 due, 12 500 paid: the unpaid tranche folds into the balance, 2 000 come back.
    rows = payments(finance, decision_id)
    assert [(p["kind"], p["amount"], p["state"]) for p in rows] == [
        ("tranche", "12500.00", "paid"),
        ("tranche", "10000.00", "cancelled"),
        ("balance", "2500.00", "cancelled"),
        ("recovery", "-2000.00", "payable"),
    ]
    assert plain(rows[3]["explanation"]) == (
        "Dépenses réalisées 15 000,00 € × 70 % = 10 500,00 € ; déjà versé 12 500,00 € ; à reverser 2 000,00 €."
    )
    with_english = body(api(world.finance, language="en").get(url(f"decisions/{decision_id}/")), 200)["payments"][3]
    assert "€" in with_english["explanation"] and "Dépenses" not in with_english["explanation"]
    body(
        finance.post(
            url(f"payments/{rows[3]['id']}/pay/"), {"paid_on": today(), "payment_reference": "TR-1"}, format="json"
        ),
        200,
    )
    assert body(finance.get(url(f"decisions/{decision_id}/")), 200)["state"] == "closed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("expenses", "reason"),
    [
        ([{"category": "staff", "year": 1, "amount": 12000.5}], "Montant invalide"),
        ([{"category": "staff", "year": 1, "amount": "-5"}], "négatif"),
        ([{"category": "staff", "year": 1, "amount": "douze mille"}], "Montant invalide"),
        ([{"category": "catering", "year": 1, "amount": "100"}], "catégorie inconnue"),
        ([{"category": "staff", "year": 7, "amount": "100"}], "l'année du projet va de 1 à 2"),
        ([], "au moins une ligne"),
        ("pas du JSON", "liste JSON"),
    ],
)
def test_a_financial_statement_is_checked_line_by_line(world: World, api: Api, expenses: Any, reason: str) -> None:
    decision_id = recorded(world, api)
    report = Report.objects.filter(decision_id=decision_id, kind="interim").get()
    client = api(world.applicant)
    data = {"narrative": narrative(), "expenses": expenses if isinstance(expenses, str) else json.dumps(expenses)}
    errors = body(client.post(url(f"reports/{report.pk}/submit/"), data, format="multipart"), 400)["errors"]
    assert list(errors) == ["expenses"]
    assert reason in errors["expenses"][0]
    assert Report.objects.get(pk=report.pk).state == "due"


@pytest.mark.django_db
def test_a_narrative_must_be_a_document_by_its_content(world: World, api: Api) -> None:
    decision_id = recorded(world, api)
    report = Report.objects.filter(decision_id=decision_id, kind="interim").get()
    client = api(world.applicant, language="en")
    lines = [{"category": "staff", "year": 1, "amount": "100.00"}]
    for fake in (b"<html><script>alert(1)</script></html>", b"just some text, named .pdf", b"%PDF-1.4 <script>x"):
        response = file_report(client, report.pk, lines, file=narrative("rapport.pdf", fake))
        assert list(body(response, 400)["errors"]) == ["narrative"]
    missing = client.post(url(f"reports/{report.pk}/submit/"), {"expenses": json.dumps(lines)}, format="multipart")
    assert body(missing, 400)["errors"]["narrative"] == [english("Joignez le compte rendu technique (un document).")]


@pytest.mark.django_db
def test_who_may_pay_file_and_check(world: World, api: Api) -> None:
    decision_id = recorded(world, api)
    first = Payment.objects.get(decision_id=decision_id, number=1)
    report = Report.objects.filter(decision_id=decision_id, kind="interim").get()
    pay = {"paid_on": today(), "payment_reference": "DP-1"}
    # Only finance pays; another authority does not even see the grant.
    assert body(api(world.applicant).post(url(f"payments/{first.pk}/pay/"), pay, format="json"), 403)
    assert body(api(world.instructor).post(url(f"payments/{first.pk}/pay/"), pay, format="json"), 403)
    assert body(api(world.applicant2).post(url(f"payments/{first.pk}/pay/"), pay, format="json"), 404)
    assert body(api(world.applicant2).get(url("payments/")), 200)["results"] == []
    assert body(api(world.embassy_sn).get(url("reports/")), 200)["results"] == []
    assert body(api(world.applicant2).get(url(f"reports/{report.pk}/")), 404)
    # Only the lead applicant files; only the instructor accepts.
    body(file_report(api(world.finance), report.pk, [{"category": "staff", "year": 1, "amount": "1"}]), 403)
    body(api(world.applicant).post(url(f"reports/{report.pk}/accept/")), 403)
    # Bad payment input: a future date, a malformed reference, more than the tranche.
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    errors = body(
        api(world.finance).post(
            url(f"payments/{first.pk}/pay/"), {"paid_on": future, "payment_reference": "../x"}, format="json"
        ),
        400,
    )["errors"]
    assert set(errors) == {"paid_on", "payment_reference"}
    too_much = body(
        api(world.finance).post(url(f"payments/{first.pk}/pay/"), {**pay, "amount": "12500.01"}, format="json"), 400
    )
    assert "dépasse" in too_much["errors"]["amount"][0]
    assert body(api(world.finance).post(url(f"payments/{first.pk}/pay/"), pay, format="json"), 200)["state"] == "paid"
    again = body(api(world.finance).post(url(f"payments/{first.pk}/pay/"), pay, format="json"), 409)
    assert again["unmet"] == ["Ce versement ne peut pas être payé : il est « Payé »."]
    # The list filters.
    listed = body(api(world.finance).get(url("payments/"), {"state": "paid", "call": world.call.code}), 200)
    assert [p["id"] for p in listed["results"]] == [first.pk]
    body(api(world.finance).get(url("payments/"), {"state": "lost"}), 400)


@pytest.mark.django_db
def test_amendments_within_the_calls_limits(world: World, api: Api) -> None:
    decision_id = recorded(world, api)
    applicant, instructor = api(world.applicant), api(world.instructor)
    path = url(f"decisions/{decision_id}/amendments/")
    too_long = body(applicant.post(path, {"kind": "extension", "months": 13, "reason": "Retard."}, format="json"), 400)
    assert "Au plus 12 mois" in too_long["errors"]["months"][0]
    assert list(body(applicant.post(path, {"kind": "extension", "months": 3}, format="json"), 400)["errors"]) == [
        "reason"
    ]
    body(applicant.post(path, {"kind": "merger", "reason": "x"}, format="json"), 400)
    # A small move between categories needs no amendment: it is declared with the report.
    small = [
        {"year": 1, "category": "staff", "label": "Expertise", "amount": "45000.00"},
        {"year": 1, "category": "travel", "label": "Missions", "amount": "5000.00"},
        {"year": 2, "category": "equipment", "label": "Équipements", "amount": "50000.00"},
    ]
    refused = body(applicant.post(path, {"kind": "budget_change", "lines": small, "reason": "x"}, format="json"), 400)
    assert "ne demande pas d'avenant" in refused["errors"]["lines"][0]
    big = [
        {"year": 1, "category": "staff", "label": "Expertise", "amount": "25000.00"},
        {"year": 1, "category": "training", "label": "Formations", "amount": "25000.00"},
        {"year": 2, "category": "equipment", "label": "Équipements", "amount": "50000.00"},
    ]
    change = body(
        applicant.post(path, {"kind": "budget_change", "lines": big, "reason": "Besoins."}, format="json"), 201
    )
    assert change["moved_share"] == "0.2500"
    assert body(instructor.post(url(f"amendments/{change['id']}/refuse/"), {}, format="json"), 400)["errors"]["reason"]
    assert body(applicant.post(url(f"amendments/{change['id']}/accept/"), {}, format="json"), 403)
    body(instructor.post(url(f"amendments/{change['id']}/accept/"), {"reason": "Justifié."}, format="json"), 200)
    # The new budget is in force; the signed one is kept.
    detail = body(applicant.get(url(f"decisions/{decision_id}/")), 200)
    assert sorted(line["category"] for line in detail["budget"]) == ["equipment", "staff", "training"]
    assert BudgetLine.objects.filter(application_id=detail["application"]).count() == 2
    other = body(
        applicant.post(path, {"kind": "other", "text": "Nouveau partenaire.", "reason": "x"}, format="json"), 201
    )
    refused = body(instructor.post(url(f"amendments/{other['id']}/refuse/"), {"reason": "Non."}, format="json"), 200)
    assert (refused["state"], refused["decision_reason"]) == ("refused", "Non.")
    body(instructor.post(url(f"amendments/{other['id']}/accept/"), {}, format="json"), 409)


@pytest.mark.django_db
def test_an_overdue_final_report_blocks_a_new_submission_when_the_call_says_so(world: World, api: Api) -> None:
    decision_id = recorded(world, api)
    final = Report.objects.get(decision_id=decision_id, kind="final")
    Report.objects.filter(pk=final.pk).update(due_on=timezone.localdate() - dt.timedelta(days=1))
    draft = world.draft()
    world.call.block_overdue_reports = True
    world.call.save(update_fields=["block_overdue_reports"])
    blocked = body(api(world.applicant).post(url(f"applications/{draft.pk}/transitions/submit/")), 409)
    due = (timezone.localdate() - dt.timedelta(days=1)).strftime("%d/%m/%Y")
    reference = Application.objects.get(decision__pk=decision_id).reference
    assert f"Le rapport final du dossier {reference} était attendu le {due}" in " ".join(blocked["unmet"])
    # Another authority is not blocked; without the setting nobody is.
    assert body(
        api(world.applicant2).post(url(f"applications/{world.draft(world.applicant2).pk}/transitions/submit/")), 200
    )
    world.call.block_overdue_reports = False
    world.call.save(update_fields=["block_overdue_reports"])
    assert body(api(world.applicant).post(url(f"applications/{draft.pk}/transitions/submit/")), 200)["state"] == (
        "submitted"
    )


@pytest.mark.django_db
def test_a_page_of_reports_costs_the_same_queries_whatever_its_size(
    world: World, api: Api, django_assert_max_num_queries: Any
) -> None:
    recorded(world, api)
    client = api(world.instructor)
    client.get(url("reports/"))  # warm the caller's scopes
    with django_assert_max_num_queries(12):
        one = body(client.get(url("reports/")), 200)["results"]
    recorded(world, api)
    recorded(world, api)
    with django_assert_max_num_queries(12):
        three = body(client.get(url("reports/")), 200)["results"]
    assert (len(one), len(three)) == (2, 6)
    assert "statement" not in three[0]
