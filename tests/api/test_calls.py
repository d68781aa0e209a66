"""GET /calls/ and /calls/{code}/."""

from __future__ import annotations

from collections.abc import Callable

from rest_framework.test import APIClient

from tests.api.helpers import body, english, url
from tests.factories import CallFactory, World


def test_it_lists_calls_with_their_rule_settings(world: World, api: Callable[..., APIClient]) -> None:
    calls = body(api(world.applicant).get(url("calls/")), 200)["results"]
    call = next(c for c in calls if c["code"] == world.call.code)
    assert call["state"] == "published"
    assert call["accepting"] is True
    assert call["rate_pma"] == "0.7000"
    assert call["min_own_contribution"] == "0.1000"
    assert call["envelope"] == "2000000.00"
    assert call["min_reviews"] == 1
    assert call["required_attachments"] == ["partnership_agreement", "council_resolution"]
    assert {
        "code": "sdg",
        "label": "Pertinence au regard des ODD",
        "label_en": "Relevance to the SDGs",
        "weight": 2,
    } in call["scoring_criteria"]


def test_it_shows_one_call_by_code(world: World, api: Callable[..., APIClient]) -> None:
    call = body(api(world.reviewer1).get(url(f"calls/{world.call.code}/")), 200)
    assert call["code"] == world.call.code
    assert call["state_label"] == "Publié"


def test_it_labels_in_the_callers_language(world: World, api: Callable[..., APIClient]) -> None:
    call = body(api(world.reviewer1, language="en").get(url(f"calls/{world.call.code}/")), 200)
    assert (call["kind"], call["state_label"]) == ("generalist", english("Publié"))


def test_a_draft_call_is_hidden_from_applicants_but_not_from_the_delegation(
    world: World, api: Callable[..., APIClient]
) -> None:
    draft = CallFactory(published=False)
    assert body(api(world.applicant).get(url(f"calls/{draft.code}/")), 404) == {"detail": "Introuvable."}
    assert draft.code not in [c["code"] for c in body(api(world.applicant).get(url("calls/")), 200)["results"]]
    assert body(api(world.instructor).get(url(f"calls/{draft.code}/")), 200)["state"] == "draft"


def test_it_answers_404_for_an_unknown_code(world: World, api: Callable[..., APIClient]) -> None:
    assert body(api(world.applicant).get(url("calls/NOPE/")), 404)["detail"]


def test_it_filters_by_state_and_rejects_an_unknown_state(world: World, api: Callable[..., APIClient]) -> None:
    client = api(world.admin)
    CallFactory(published=False)
    states = {c["state"] for c in body(client.get(url("calls/"), {"state": "draft"}), 200)["results"]}
    assert states == {"draft"}
    errors = body(client.get(url("calls/"), {"state": "open"}), 400)["errors"]
    assert list(errors) == ["state"]


def test_it_requires_authentication(world: World) -> None:
    assert APIClient().get(url("calls/")).status_code == 401
