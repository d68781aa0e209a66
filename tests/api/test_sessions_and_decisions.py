"""Committee sessions and decisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.test import APIClient

from grants import services
from grants.models import Application, CommitteeSession, Decision, Document
from tests.api.helpers import approved_decision, body, url
from tests.factories import PDF_BYTES, CallFactory, World

S = Application.State


# --- sessions -------------------------------------------------------------------------------------


def _day(days: int = 30) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def test_the_secretary_plans_a_session(world: World, api: Callable[..., APIClient]) -> None:
    data = body(
        api(world.secretary).post(
            url("sessions/"), {"call": world.call.code, "date": _day(), "title": "Comité de printemps"}, format="json"
        ),
        201,
    )
    assert (data["call"], data["date"], data["state"], data["applications_count"]) == (
        world.call.code,
        _day(),
        "planned",
        0,
    )
    listed = body(api(world.secretary).get(url("sessions/")), 200)["results"]
    assert data["id"] in [s["id"] for s in listed]
    assert body(api(world.secretary).get(url(f"sessions/{data['id']}/")), 200)["title"] == "Comité de printemps"


def test_planning_a_session_is_the_secretarys_job(world: World, api: Callable[..., APIClient]) -> None:
    payload = {"call": world.call.code, "date": _day()}
    assert body(api(world.applicant).post(url("sessions/"), payload, format="json"), 403)["detail"]
    assert body(api(world.instructor).post(url("sessions/"), payload, format="json"), 403)
    assert body(api(world.applicant).get(url("sessions/")), 200)["results"] == []
    assert body(api(world.applicant).get(url(f"sessions/{world.session.pk}/")), 404)


def test_a_session_needs_a_known_call_and_a_date(world: World, api: Callable[..., APIClient]) -> None:
    client = api(world.secretary)
    assert list(
        body(client.post(url("sessions/"), {"call": "NOPE", "date": _day()}, format="json"), 400)["errors"]
    ) == ["call"]
    errors = body(client.post(url("sessions/"), {"call": world.call.code, "date": "demain"}, format="json"), 400)
    assert list(errors["errors"]) == ["date"]


def test_a_session_opens_and_closes_once_everything_is_decided(world: World, api: Callable[..., APIClient]) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    client = api(world.secretary)
    assert body(client.post(url(f"sessions/{world.session.pk}/open/")), 200)["state"] == "open"
    assert body(client.post(url(f"sessions/{world.session.pk}/open/")), 409)
    blocked = body(client.post(url(f"sessions/{world.session.pk}/close/")), 409)
    assert blocked["unmet"] == [f"Des dossiers inscrits n'ont pas encore de décision : {app.reference}."]
    world.fire(app, "reject", world.secretary, reasons="Hors priorités.")
    assert body(client.post(url(f"sessions/{world.session.pk}/close/")), 200)["state"] == "closed"
    assert CommitteeSession.objects.get(pk=world.session.pk).state == "closed"


def test_sessions_filter_by_call_and_state(world: World, api: Callable[..., APIClient]) -> None:
    other = CallFactory()
    CommitteeSession.objects.create(call=other, date=timezone.localdate())
    client = api(world.secretary)
    assert [s["call"] for s in body(client.get(url("sessions/"), {"call": other.code}), 200)["results"]] == [other.code]
    assert body(client.get(url("sessions/"), {"state": "closed"}), 200)["results"] == []


# --- decisions ------------------------------------------------------------------------------------


def test_the_signatory_lists_and_signs_a_decision(world: World, api: Callable[..., APIClient]) -> None:
    decision = approved_decision(world)
    client = api(world.signatory)
    (item,) = body(client.get(url("decisions/")), 200)["results"]
    assert (item["id"], item["state"], item["outcome"], item["amount"]) == (
        decision.pk,
        "draft",
        "approved",
        "25000.00",
    )
    assert item["application"] == str(decision.application_id)
    assert item["reference"] == decision.application.reference
    assert sum(Decimal(t["amount"]) for t in item["tranches"]) == Decimal("25000.00")
    signed = body(client.post(url(f"decisions/{decision.pk}/sign/")), 200)
    assert signed["state"] in ("signed", "delivered")
    assert signed["signed_at"]
    assert body(client.post(url(f"decisions/{decision.pk}/sign/")), 409)["unmet"]


def test_finance_sees_only_delivered_decisions(world: World, api: Callable[..., APIClient]) -> None:
    decision = approved_decision(world)
    assert body(api(world.finance).get(url("decisions/")), 200)["results"] == []
    assert body(api(world.finance).get(url(f"decisions/{decision.pk}/")), 404) == {"detail": "Introuvable."}
    assert body(api(world.finance).post(url(f"decisions/{decision.pk}/sign/")), 404)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    if Decision.objects.get(pk=decision.pk).state == Decision.State.SIGNED:
        services.decision_deliver(decision_id=decision.pk)
    assert body(api(world.finance).get(url(f"decisions/{decision.pk}/")), 200)["state"] == "delivered"
    assert body(api(world.finance).post(url(f"decisions/{decision.pk}/sign/")), 403)["detail"]


def _delivered(world: World) -> Decision:
    decision = approved_decision(world)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    if Decision.objects.get(pk=decision.pk).state == Decision.State.SIGNED:
        services.decision_deliver(decision_id=decision.pk)
    return Decision.objects.get(pk=decision.pk)


def test_finance_records_the_commitment(world: World, api: Callable[..., APIClient]) -> None:
    decision = _delivered(world)
    client = api(world.finance)
    errors = body(
        client.post(url(f"decisions/{decision.pk}/record/"), {"commitment_number": "EJ 12"}, format="json"), 400
    )
    assert list(errors["errors"]) == ["commitment_number"]
    assert list(body(client.post(url(f"decisions/{decision.pk}/record/"), {}, format="json"), 400)["errors"]) == [
        "commitment_number"
    ]
    data = body(
        client.post(url(f"decisions/{decision.pk}/record/"), {"commitment_number": "EJ-12"}, format="json"), 200
    )
    assert (data["state"], data["commitment_number"]) == ("recorded", "EJ-12")
    assert data["recorded_at"]
    assert body(
        client.post(url(f"decisions/{decision.pk}/record/"), {"commitment_number": "EJ-13"}, format="json"), 409
    )
    forbidden = api(world.signatory).post(
        url(f"decisions/{decision.pk}/record/"), {"commitment_number": "X"}, format="json"
    )
    assert body(forbidden, 403)


def test_an_applicant_sees_its_own_decision_once_delivered(world: World, api: Callable[..., APIClient]) -> None:
    decision = approved_decision(world)
    assert body(api(world.applicant).get(url(f"decisions/{decision.pk}/")), 404)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    if Decision.objects.get(pk=decision.pk).state == Decision.State.SIGNED:
        services.decision_deliver(decision_id=decision.pk)
    assert body(api(world.applicant).get(url(f"decisions/{decision.pk}/")), 200)["state"] == "delivered"
    assert body(api(world.applicant2).get(url(f"decisions/{decision.pk}/")), 404)
    assert body(api(world.applicant).get(url("decisions/"), {"state": "recorded"}), 200)["results"] == []
    assert body(api(world.applicant).get(url(f"applications/{decision.application_id}/")), 200)["decision"]["id"] == (
        decision.pk
    )


def test_the_letter_is_a_404_until_rendered_then_a_pdf(world: World, api: Callable[..., APIClient]) -> None:
    decision = _delivered(world)
    Document.objects.filter(decision=decision).delete()
    client = api(world.applicant)
    assert body(client.get(url(f"decisions/{decision.pk}/pdf/")), 404)["detail"]
    document = Document(
        kind=Document.Kind.APPROVAL_LETTER,
        application=decision.application,
        decision=decision,
        reference=decision.application.reference or "",
        sha256="0" * 64,
        size=len(PDF_BYTES),
        pages=1,
        template_version="test",
        verification_code="TESTCODE1234",
    )
    document.file.save("letter.pdf", ContentFile(PDF_BYTES), save=False)
    document.save()
    response = client.get(url(f"decisions/{decision.pk}/pdf/"), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert decision.application.reference in response["Content-Disposition"]
    app = body(client.get(url(f"applications/{decision.application_id}/")), 200)
    letter = next(d for d in app["documents"] if d["kind"] == "approval_letter")
    assert letter["verification_code"] == "TESTCODE1234"
    assert letter["url"] == f"/api/v1/decisions/{decision.pk}/pdf/"
    assert letter["verify_url"] == "/verify/TESTCODE1234/"
    assert body(api(world.applicant2).get(url(f"decisions/{decision.pk}/pdf/")), 404)
