"""Opinions (embassy, prefecture) and reviews (reviewer)."""

from __future__ import annotations

from collections.abc import Callable

from rest_framework.test import APIClient

from grants.models import Application, OpinionRequest, Review
from tests.api.helpers import body, opinion_of, review_of, url
from tests.factories import World

S = Application.State


def _awaiting(world: World, country: str = "SN") -> Application:
    return world.advance(world.draft(country=country), S.AWAITING_OPINIONS)


# --- opinions -------------------------------------------------------------------------------------


def test_an_embassy_lists_the_requests_of_its_countries(world: World, api: Callable[..., APIClient]) -> None:
    app = _awaiting(world)
    _awaiting(world, "MA")
    (item,) = body(api(world.embassy_sn).get(url("opinions/")), 200)["results"]
    assert item["application"] == str(app.pk)
    assert item["reference"] == app.reference
    assert (item["country"], item["state"], item["verdict"]) == ("SN", "requested", None)
    assert item["due_at"]
    assert body(api(world.embassy_sn).get(url("opinions/"), {"state": "given"}), 200)["results"] == []
    assert body(api(world.embassy_sn).get(url("opinions/"), {"application": str(app.pk)}), 200)["results"]
    assert list(body(api(world.embassy_sn).get(url("opinions/"), {"application": "x"}), 400)["errors"]) == [
        "application"
    ]
    assert body(api(world.applicant).get(url("opinions/")), 200)["results"] == []
    assert len(body(api(world.instructor).get(url("opinions/")), 200)["results"]) == 2


def test_an_embassy_gives_its_opinion(world: World, api: Callable[..., APIClient]) -> None:
    app = _awaiting(world)
    opinion = opinion_of(app)
    data = body(
        api(world.embassy_sn).post(
            url(f"opinions/{opinion.pk}/give/"),
            {"verdict": "reserved", "comment": "Capacités à renforcer."},
            format="json",
        ),
        200,
    )
    assert (data["state"], data["verdict"], data["comment"]) == ("given", "reserved", "Capacités à renforcer.")
    assert data["given_at"]
    assert Application.objects.get(pk=app.pk).state == S.UNDER_REVIEW
    assert body(api(world.embassy_sn).get(url(f"opinions/{opinion.pk}/")), 200)["state"] == "given"


def test_an_opinion_needs_a_verdict_and_a_reason_unless_favorable(world: World, api: Callable[..., APIClient]) -> None:
    opinion = opinion_of(_awaiting(world))
    client = api(world.embassy_sn)
    assert list(body(client.post(url(f"opinions/{opinion.pk}/give/"), {}, format="json"), 400)["errors"]) == ["verdict"]
    errors = body(client.post(url(f"opinions/{opinion.pk}/give/"), {"verdict": "unfavorable"}, format="json"), 400)
    assert errors == {"errors": {"comment": ["Ce champ est obligatoire."]}}


def test_another_countrys_embassy_does_not_see_the_request(world: World, api: Callable[..., APIClient]) -> None:
    opinion = opinion_of(_awaiting(world))
    response = api(world.embassy_ma).post(url(f"opinions/{opinion.pk}/give/"), {"verdict": "favorable"}, format="json")
    assert body(response, 404) == {"detail": "Introuvable."}
    assert body(api(world.embassy_ma).get(url(f"opinions/{opinion.pk}/")), 404)


def test_the_delegation_sees_a_request_but_cannot_give_it(world: World, api: Callable[..., APIClient]) -> None:
    opinion = opinion_of(_awaiting(world))
    response = api(world.instructor).post(url(f"opinions/{opinion.pk}/give/"), {"verdict": "favorable"}, format="json")
    assert body(response, 403)["detail"]


def test_an_opinion_is_given_once(world: World, api: Callable[..., APIClient]) -> None:
    opinion = opinion_of(_awaiting(world))
    client = api(world.embassy_sn)
    body(client.post(url(f"opinions/{opinion.pk}/give/"), {"verdict": "favorable"}, format="json"), 200)
    again = body(client.post(url(f"opinions/{opinion.pk}/give/"), {"verdict": "favorable"}, format="json"), 409)
    assert again["unmet"]
    assert OpinionRequest.objects.get(pk=opinion.pk).verdict == "favorable"


# --- reviews --------------------------------------------------------------------------------------


def _under_review(world: World) -> Application:
    return world.advance(world.draft(), S.UNDER_REVIEW)


def _scores(world: World, value: int = 4) -> dict[str, int]:
    return {c["code"]: value for c in world.call.scoring_criteria}


def test_a_reviewer_lists_its_own_reviews(world: World, api: Callable[..., APIClient]) -> None:
    app = _under_review(world)
    (item,) = body(api(world.reviewer1).get(url("reviews/")), 200)["results"]
    assert (item["application"], item["reviewer"], item["state"]) == (str(app.pk), "reviewer1", "assigned")
    assert [c["code"] for c in item["criteria"]] == [c["code"] for c in world.call.scoring_criteria]
    assert item["recommendation"] is None
    assert body(api(world.reviewer2).get(url("reviews/")), 200)["results"] == []
    assert body(api(world.reviewer1).get(url("reviews/"), {"state": "submitted"}), 200)["results"] == []


def test_a_reviewer_submits_its_review(world: World, api: Callable[..., APIClient]) -> None:
    review = review_of(_under_review(world), world)
    data = body(
        api(world.reviewer1).post(
            url(f"reviews/{review.pk}/submit/"),
            {"scores": _scores(world, 5), "recommendation": "yes", "comment": "Très bon dossier."},
            format="json",
        ),
        200,
    )
    assert (data["state"], data["recommendation"], data["scores"]["sdg"]) == ("submitted", "yes", 5)
    assert data["completed_at"]


def test_a_review_must_score_every_criterion_from_0_to_5(world: World, api: Callable[..., APIClient]) -> None:
    review = review_of(_under_review(world), world)
    client = api(world.reviewer1)
    partial = {"scores": {"sdg": 3}, "recommendation": "yes"}
    errors = body(client.post(url(f"reviews/{review.pk}/submit/"), partial, format="json"), 400)["errors"]
    assert "Critères non notés" in errors["scores"][0]
    too_high = {"scores": _scores(world, 6), "recommendation": "yes"}
    assert (
        "scores.sdg" in body(client.post(url(f"reviews/{review.pk}/submit/"), too_high, format="json"), 400)["errors"]
    )
    assert Review.objects.get(pk=review.pk).state == Review.State.ASSIGNED


def test_another_reviewer_does_not_see_the_review(world: World, api: Callable[..., APIClient]) -> None:
    review = review_of(_under_review(world), world)
    payload = {"scores": _scores(world), "recommendation": "no"}
    assert body(api(world.reviewer2).post(url(f"reviews/{review.pk}/submit/"), payload, format="json"), 404)
    assert body(api(world.reviewer2).get(url(f"reviews/{review.pk}/")), 404)


def test_the_delegation_sees_a_review_but_cannot_submit_it(world: World, api: Callable[..., APIClient]) -> None:
    review = review_of(_under_review(world), world)
    payload = {"scores": _scores(world), "recommendation": "no"}
    assert body(api(world.instructor).post(url(f"reviews/{review.pk}/submit/"), payload, format="json"), 403)
    assert body(api(world.instructor).get(url(f"reviews/{review.pk}/")), 200)["reviewer"] == "reviewer1"


def test_a_review_is_submitted_once(world: World, api: Callable[..., APIClient]) -> None:
    review = review_of(_under_review(world), world)
    client = api(world.reviewer1)
    payload = {"scores": _scores(world), "recommendation": "maybe"}
    body(client.post(url(f"reviews/{review.pk}/submit/"), payload, format="json"), 200)
    assert body(client.post(url(f"reviews/{review.pk}/submit/"), payload, format="json"), 409)["unmet"]
    assert body(client.post(url(f"reviews/{review.pk}/decline/"), {"reason": "x"}, format="json"), 409)


def test_a_reviewer_declines_with_a_reason(world: World, api: Callable[..., APIClient]) -> None:
    review = review_of(_under_review(world), world)
    client = api(world.reviewer1)
    assert body(client.post(url(f"reviews/{review.pk}/decline/"), {}, format="json"), 400) == {
        "errors": {"reason": ["Ce champ est obligatoire."]}
    }
    data = body(
        client.post(url(f"reviews/{review.pk}/decline/"), {"reason": "Conflit d'intérêts."}, format="json"), 200
    )
    assert (data["state"], data["decline_reason"]) == ("declined", "Conflit d'intérêts.")
    assert body(api(world.instructor).post(url(f"reviews/{review.pk}/decline/"), {"reason": "x"}, format="json"), 403)
