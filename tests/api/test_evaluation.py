"""The evaluation in the API: the reviewer's declaration on conflict of interest."""

from __future__ import annotations

from typing import Any

from grants import services
from grants.models import Application, Call, Consensus, Review
from tests.api.helpers import body, english, url
from tests.factories import World

S = Application.State
REASON = "Déclarez d'abord l'absence de conflit d'intérêts"


def _fresh(world: World) -> tuple[Application, Review]:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    review = services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    return app, review


# --- the API ----------------------------------------------------------------------------------


def test_the_api_answers_403_with_the_reason_before_the_declaration(world: World, api: Any) -> None:
    app, review = _fresh(world)
    client = api(world.reviewer2)
    assert body(client.get(url(f"applications/{app.pk}/")), 403)["detail"] == REASON
    attachment = app.attachments.first()
    assert attachment is not None
    assert body(client.get(url(f"applications/{app.pk}/attachments/{attachment.pk}/file/")), 403)["detail"] == REASON
    assert body(api(world.reviewer2, language="en").get(url(f"applications/{app.pk}/")), 403)["detail"] == english(
        REASON
    )
    # Its own review (reference, title, the grid) stays readable.
    assert body(client.get(url(f"reviews/{review.pk}/")), 200)["declared_at"] is None
    assert "conflict" in body(client.post(url(f"reviews/{review.pk}/declare/"), {}, format="json"), 400)["errors"]
    declared = body(client.post(url(f"reviews/{review.pk}/declare/"), {"conflict": False}, format="json"), 200)
    assert declared["declared_at"] is not None
    assert body(client.get(url(f"applications/{app.pk}/")), 200)["reference"] == app.reference


def test_the_api_conflict_needs_details_and_declines(world: World, api: Any) -> None:
    _app, review = _fresh(world)
    client = api(world.reviewer2)
    assert (
        "details"
        in body(client.post(url(f"reviews/{review.pk}/declare/"), {"conflict": True}, format="json"), 400)["errors"]
    )
    done = body(
        client.post(
            url(f"reviews/{review.pk}/declare/"), {"conflict": True, "details": "Élu du conseil."}, format="json"
        ),
        200,
    )
    assert done["state"] == "declined" and done["decline_reason"] == "Élu du conseil."
    assert body(
        client.post(url(f"reviews/{review.pk}/declare/"), {"conflict": False}, format="json"), 404
    )  # declined: no longer its to read


# --- the consensus ------------------------------------------------------------------------------


def _two_reviews(world: World, first: int, second: int) -> Application:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    other = services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    services.review_declare(review_id=other.pk, user=world.reviewer2, conflict=False)
    for reviewer, value in ((world.reviewer1, first), (world.reviewer2, second)):
        review = Review.objects.get(application=app, reviewer=reviewer)
        services.review_submit(
            review_id=review.pk,
            user=reviewer,
            payload={"scores": {c["code"]: value for c in world.call.scoring_criteria}, "recommendation": "yes"},
        )
    return app


def test_the_consensus_defaults_to_the_reviewers_means_and_unlocks_schedule(world: World, api: Any) -> None:
    app = _two_reviews(world, 2, 5)  # mean 3.5 → 4; spread 3
    instructor = api(world.instructor)
    schedule = url(f"applications/{app.pk}/transitions/schedule/")
    refused = body(api(world.secretary).post(schedule, {"session": world.session.pk}, format="json"), 409)
    assert "Le consensus des évaluations n'est pas enregistré (il est requis avant le comité)." in refused["unmet"]
    done = body(instructor.post(url(f"applications/{app.pk}/consensus/"), {"comment": "Solide."}, format="json"), 200)
    codes = [c["code"] for c in world.call.scoring_criteria]
    assert done["scores"] == dict.fromkeys(codes, 4)
    assert done["weighted_score"] == "4.0" and done["spreads"] == dict.fromkeys(codes, 3)
    assert done["comment"] == "Solide."
    body(api(world.secretary).post(schedule, {"session": world.session.pk}, format="json"), 200)


def test_the_consensus_waits_for_the_minimum_of_reviews_and_checks_its_scores(world: World, api: Any) -> None:
    world.call.min_reviews = 2
    world.call.save()
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    instructor = api(world.instructor)
    refused = body(instructor.post(url(f"applications/{app.pk}/consensus/"), {}, format="json"), 409)
    assert refused["unmet"] == ["Évaluations rendues : 0 sur les 2 requises avant le consensus."]
    world.call.min_reviews = 0
    world.call.save()
    bad = body(instructor.post(url(f"applications/{app.pk}/consensus/"), {"scores": {"x": 9}}, format="json"), 400)
    assert "scores" in bad["errors"]
    assert body(api(world.reviewer1).post(url(f"applications/{app.pk}/consensus/"), {}, format="json"), 403)


def test_without_consensus_required_schedule_needs_none(world: World, api: Any) -> None:
    world.call.consensus_required = False
    world.call.save()
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    assert Application.objects.get(pk=app.pk).state == S.IN_COMMITTEE
    assert not Consensus.objects.filter(application=app).exists()


# --- the ranking --------------------------------------------------------------------------------


def test_the_session_ranks_by_consensus_score_with_the_envelope_line_on_its_boundary(world: World, api: Any) -> None:
    apps = [world.advance(world.draft(), S.IN_COMMITTEE) for _ in range(3)]  # 25 000 requested each
    codes = [c["code"] for c in world.call.scoring_criteria]
    for app, value in zip(apps, (3, 5, 3), strict=True):
        Consensus.objects.filter(application=app).update(scores=dict.fromkeys(codes, value))
    # Same score for apps[0] and apps[2]: the lower request first.
    Application.objects.filter(pk=apps[0].pk).update(requested_amount="24000.00")
    Call.objects.filter(pk=world.call.pk).update(envelope="49000.00")  # exactly the first two
    ranking = body(api(world.secretary).get(url(f"sessions/{world.session.pk}/")), 200)["ranking"]
    assert [r["reference"] for r in ranking] == [apps[1].reference, apps[0].reference, apps[2].reference]
    assert [r["weighted_score"] for r in ranking] == ["5.0", "3.0", "3.0"]
    assert [r["cumulative_requested"] for r in ranking] == ["25000.00", "49000.00", "74000.00"]
    assert [r["within_envelope"] for r in ranking] == [True, True, False]
