"""POST /applications/{id}/transitions/{name}/: every status it can answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from grants import services
from grants.models import Application
from tests.api.helpers import body, english, submitted, url
from tests.factories import World

S = Application.State


def fire(client: APIClient, app: Application, name: str, payload: object = None) -> object:
    return client.post(url(f"applications/{app.pk}/transitions/{name}/"), payload or {}, format="json")


def test_submitting_a_complete_draft_returns_the_application(world: World, api: Callable[..., APIClient]) -> None:
    app = world.draft()
    data = body(fire(api(world.applicant), app, "submit"), 200)
    assert (data["state"], data["state_label"]) == ("submitted", "Déposé")
    assert data["reference"] == f"{world.call.code}-00001"
    assert data["available_transitions"] == ["withdraw"]


def test_the_state_label_follows_the_callers_language(world: World, api: Callable[..., APIClient]) -> None:
    app = world.draft()
    data = body(fire(api(world.applicant, language="en"), app, "submit"), 200)
    assert (data["state"], data["state_label"]) == ("submitted", english("Déposé"))


def test_an_incomplete_draft_gets_a_409_listing_every_unmet_condition(
    world: World, api: Callable[..., APIClient]
) -> None:
    app = world.draft(attachments=False, duration_months=48)
    data = body(fire(api(world.applicant), app, "submit"), 409)
    assert data["detail"] == "Conditions non remplies."
    assert "La durée du projet (48 mois) doit être comprise entre 12 et 36 mois." in data["unmet"]
    assert "Pièce obligatoire manquante : Délibération." in data["unmet"]
    assert Application.objects.get(pk=app.pk).state == S.DRAFT


def test_a_transition_not_possible_in_this_state_is_a_409(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    data = body(fire(api(world.applicant), app, "submit"), 409)
    assert "Déposé" in data["detail"]
    assert data["unmet"] == [data["detail"]]


def test_a_missing_payload_field_is_a_400_on_that_field(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    client = api(world.instructor)
    assert body(fire(client, app, "request_completion"), 400) == {"errors": {"message": ["Ce champ est obligatoire."]}}
    assert body(fire(client, app, "declare_ineligible", {"reason": "   "}), 400)["errors"] == {
        "reason": ["Ce champ est obligatoire."]
    }
    past = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    errors = body(fire(client, app, "request_completion", {"message": "Joindre le budget.", "due_date": past}), 400)
    assert list(errors["errors"]) == ["due_date"]
    assert body(fire(client, app, "request_completion", {"message": 12}), 400)["errors"]["message"]
    assert Application.objects.get(pk=app.pk).state == S.SUBMITTED


def test_the_payload_is_applied(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    due = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    data = body(
        fire(api(world.instructor), app, "request_completion", {"message": "Joindre le budget.", "due_date": due}), 200
    )
    assert data["state"] == "incomplete"
    assert data["completion"] == {"message": "Joindre le budget.", "due_date": due}
    applicant_view = body(api(world.applicant).get(url(f"applications/{app.pk}/")), 200)
    assert applicant_view["available_transitions"] == ["resubmit", "withdraw"]
    assert applicant_view["history"][-1]["comment"] == "Joindre le budget."


def test_a_visible_application_and_a_forbidden_transition_is_a_403(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    data = body(fire(api(world.applicant), app, "declare_eligible"), 403)
    assert data == {"detail": "Vous n'avez pas le droit de faire cette action."}
    assert body(fire(api(world.applicant, language="en"), app, "declare_eligible"), 403) == {
        "detail": english("Vous n'avez pas le droit de faire cette action.")
    }


def test_an_invisible_application_is_a_404_whatever_the_transition(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    assert body(fire(api(world.applicant2), app, "withdraw"), 404) == {"detail": "Introuvable."}
    assert body(fire(api(world.embassy_sn), app, "declare_eligible"), 404)


def test_an_unknown_transition_is_a_404(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    assert body(fire(api(world.instructor), app, "publish"), 404)["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "amount"), ({"amount": "abc"}, "amount"), ({"amount": "30000.00", "tranches": ["10000.00"]}, "tranches")],
)
def test_approving_needs_a_valid_amount(
    world: World, api: Callable[..., APIClient], payload: dict[str, object], field: str
) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    assert field in body(fire(api(world.secretary), app, "approve", payload), 400)["errors"]


def test_approving_above_the_request_is_a_409_with_the_reason(world: World, api: Callable[..., APIClient]) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    data = body(fire(api(world.secretary), app, "approve", {"amount": "30000.00"}), 409)
    assert any("dépasse le montant demandé" in reason for reason in data["unmet"])


def test_approving_with_tranches_creates_the_schedule(world: World, api: Callable[..., APIClient]) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    data = body(
        fire(
            api(world.secretary),
            app,
            "approve",
            {"amount": "25000.00", "tranches": [{"amount": "15000.00"}, "10000.00"]},
        ),
        200,
    )
    tranches = data["decision"]["tranches"]
    assert tranches[0]["amount"] == "15000.00"
    assert sum(Decimal(t["amount"]) for t in tranches) == Decimal("25000.00")
    assert data["decision"]["state"] == "draft"
    # The applicant learns the decision only once it is delivered.
    assert body(api(world.applicant).get(url(f"applications/{app.pk}/")), 200)["decision"] is None


def test_scheduling_needs_an_existing_session_of_the_call(world: World, api: Callable[..., APIClient]) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    client = api(world.secretary)
    unmet = body(fire(client, app, "schedule", {"session": world.session.pk}), 409)["unmet"]
    assert unmet == ["Évaluations rendues : 0 sur les 1 requises avant le comité."]
    review = app.reviews.get()
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={"scores": {c["code"]: 3 for c in world.call.scoring_criteria}, "recommendation": "maybe"},
    )
    services.consensus_record(application_id=app.pk, user=world.instructor)
    assert list(body(fire(client, app, "schedule"), 400)["errors"]) == ["session"]
    assert list(body(fire(client, app, "schedule", {"session": 10**12}), 400)["errors"]) == ["session"]
    assert body(fire(client, app, "schedule", {"session": world.session.pk}), 200)["session"]["id"] == world.session.pk


def test_an_early_close_of_opinions_needs_a_comment(world: World, api: Callable[..., APIClient]) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    client = api(world.instructor)
    assert list(body(fire(client, app, "close_opinions"), 400)["errors"]) == ["comment"]
    assert body(fire(client, app, "close_opinions", {"comment": "Avis trop tardif."}), 200)["state"] == "under_review"


def test_rejecting_needs_reasons_and_withdrawing_takes_a_comment(world: World, api: Callable[..., APIClient]) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    assert list(body(fire(api(world.secretary), app, "reject"), 400)["errors"]) == ["reasons"]
    assert body(fire(api(world.secretary), app, "reject", {"reasons": "Budget fragile."}), 200)["state"] == "rejected"
    other = submitted(world)
    data = body(fire(api(world.applicant), other, "withdraw", {"comment": "Projet reporté."}), 200)
    assert (data["state"], data["history"][-1]["comment"]) == ("withdrawn", "Projet reporté.")


def test_only_an_admin_reinstates(world: World, api: Callable[..., APIClient]) -> None:
    app = world.advance(world.draft(), S.WITHDRAWN)
    assert body(fire(api(world.instructor), app, "reinstate", {"reason": "Erreur."}), 403)
    assert list(body(fire(api(world.admin), app, "reinstate"), 400)["errors"]) == ["reason"]
    assert (
        body(fire(api(world.admin), app, "reinstate", {"reason": "Retrait par erreur."}), 200)["state"] == "submitted"
    )


def test_a_text_with_a_nul_character_is_a_400_not_a_crash(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    errors = body(fire(api(world.instructor), app, "declare_ineligible", {"reason": "Hors\x00champ"}), 400)["errors"]
    assert list(errors) == ["reason"]
