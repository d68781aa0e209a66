"""Embassies and prefectures give opinions; reviewers score with the call's grid."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from grants.models import Application, OpinionRequest, Review
from tests.factories import World

S = Application.State


def _opinion(app: Application, country: str = "SN") -> OpinionRequest:
    return OpinionRequest.objects.get(application=app, country_id=country)


# --- opinions -------------------------------------------------------------------------------


def test_an_embassy_lists_the_requests_of_its_countries_with_overdue_ones_flagged(world: World, client) -> None:
    late = world.advance(world.draft(), S.AWAITING_OPINIONS)
    fresh = world.advance(world.draft(), S.AWAITING_OPINIONS)
    OpinionRequest.objects.filter(application=late).update(due_at=timezone.now() - dt.timedelta(days=2))
    client.force_login(world.embassy_sn)
    html = client.get(reverse("opinions")).content.decode()
    assert html.index(late.reference) < html.index(fresh.reference)
    assert f'<tr class="staff-overdue" id="opinion-{_opinion(late).pk}">' in html
    assert f'<tr class="" id="opinion-{_opinion(fresh).pk}">' in html


def test_an_embassy_never_sees_another_country_s_request(world: World, client) -> None:
    sn = world.advance(world.draft(), S.AWAITING_OPINIONS)
    ma = world.advance(world.draft(country="MA"), S.AWAITING_OPINIONS)
    client.force_login(world.embassy_ma)
    html = client.get(reverse("opinions"), {"etat": "all"}).content.decode()
    assert ma.reference in html
    assert sn.reference not in html
    assert client.get(reverse("opinion", args=[_opinion(sn).pk])).status_code == 404
    response = client.post(reverse("opinion", args=[_opinion(sn).pk]), {"verdict": "favorable"})
    assert response.status_code == 404
    assert _opinion(sn).state == OpinionRequest.State.REQUESTED


def test_the_embassy_gives_a_favorable_opinion_and_the_phase_closes_by_itself(world: World, client) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    client.force_login(world.embassy_sn)
    page = client.get(reverse("opinion", args=[_opinion(app).pk]))
    assert page.status_code == 200
    assert "Gestion des déchets à Saint-Louis" in page.content.decode()
    response = client.post(reverse("opinion", args=[_opinion(app).pk]), {"verdict": "favorable", "comment": ""})
    assert response.status_code == 302
    assert response["Location"] == reverse("opinions")
    opinion = _opinion(app)
    assert (opinion.state, opinion.verdict, opinion.given_by) == (
        OpinionRequest.State.GIVEN,
        "favorable",
        world.embassy_sn,
    )
    app.refresh_from_db()
    assert app.state == S.UNDER_REVIEW


def test_a_reserved_opinion_without_comment_is_400_with_the_reason(world: World, client) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    client.force_login(world.embassy_sn)
    response = client.post(reverse("opinion", args=[_opinion(app).pk]), {"verdict": "reserved", "comment": ""})
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in response.content.decode()
    response = client.post(reverse("opinion", args=[_opinion(app).pk]), {"comment": "Sans avis"})
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["verdict"]
    assert _opinion(app).state == OpinionRequest.State.REQUESTED


def test_an_opinion_already_given_cannot_be_given_again(world: World, client) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    client.force_login(world.embassy_sn)
    client.post(reverse("opinion", args=[_opinion(app).pk]), {"verdict": "unfavorable", "comment": "Contexte."})
    page = client.get(reverse("opinion", args=[_opinion(app).pk])).content.decode()
    assert "Défavorable" in page
    assert "Rendre l&#x27;avis</button>" not in page
    response = client.post(reverse("opinion", args=[_opinion(app).pk]), {"verdict": "favorable"})
    assert response.status_code == 409
    assert _opinion(app).verdict == "unfavorable"


def test_a_prefecture_lists_and_gives_the_opinions_of_its_region(db: None, client) -> None:
    world = World(prefecture_opinion_required=True)
    lyon = world.advance(world.draft(), S.AWAITING_OPINIONS)  # Lyon is in region 84
    rennes = world.advance(world.draft(user=world.applicant2), S.AWAITING_OPINIONS, owner=world.applicant2)
    client.force_login(world.prefecture_ara)
    html = client.get(reverse("opinions")).content.decode()
    assert lyon.reference in html
    assert rennes.reference not in html
    request = OpinionRequest.objects.get(application=lyon, authority=OpinionRequest.Authority.PREFECTURE)
    response = client.post(reverse("opinion", args=[request.pk]), {"verdict": "favorable"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == OpinionRequest.State.GIVEN


def test_the_opinion_screens_are_refused_to_other_roles(world: World, client) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    for user in (world.applicant, world.reviewer1, world.finance, world.instructor):
        client.force_login(user)
        assert client.get(reverse("opinions")).status_code == 403
        assert client.get(reverse("opinion", args=[_opinion(app).pk])).status_code == 403


# --- reviews --------------------------------------------------------------------------------


def _review(app: Application, world: World) -> Review:
    return Review.objects.get(application=app, reviewer=world.reviewer1)


def _scores(world: World, value: int = 4, **overrides: str) -> dict[str, str]:
    data = {f"score-score_{c['code']}": str(value) for c in world.call.scoring_criteria}
    data.update({"score-recommendation": "yes", "score-comment": "Projet solide."})
    data.update(overrides)
    return data


def test_a_reviewer_lists_its_assigned_applications_only(world: World, client) -> None:
    mine = world.advance(world.draft(), S.UNDER_REVIEW)
    client.force_login(world.reviewer2)
    assert mine.reference not in client.get(reverse("reviews"), {"etat": "all"}).content.decode()
    assert client.get(reverse("review", args=[_review(mine, world).pk])).status_code == 404
    client.force_login(world.reviewer1)
    assert mine.reference in client.get(reverse("reviews")).content.decode()


def test_the_scoring_form_is_built_from_the_call_s_grid(world: World, client) -> None:
    world.call.scoring_criteria = [
        {"code": "impact", "label": "Impact territorial", "weight": 3},
        {"code": "budget", "label": "Sincérité du budget", "weight": 1},
    ]
    world.call.save()
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    client.force_login(world.reviewer1)
    html = client.get(reverse("review", args=[_review(app, world).pk])).content.decode()
    assert "Impact territorial" in html
    assert "Pondération : 3" in html
    assert 'name="score-score_impact" value="5"' in html
    assert "Pertinence au regard des ODD" not in html


def test_the_reviewer_submits_its_scores(world: World, client) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    client.force_login(world.reviewer1)
    response = client.post(reverse("review", args=[_review(app, world).pk]), _scores(world, 4))
    assert response.status_code == 302
    review = _review(app, world)
    assert review.state == Review.State.SUBMITTED
    assert set(review.scores.values()) == {4}
    assert review.recommendation == "yes"
    assert review.comment == "Projet solide."
    html = client.get(reverse("reviews"), {"etat": "all"}).content.decode()
    assert "4/5 — Favorable" in html


def test_a_missing_score_is_400_naming_the_criterion(world: World, client) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    client.force_login(world.reviewer1)
    data = _scores(world)
    del data["score-score_gender"]
    response = client.post(reverse("review", args=[_review(app, world).pk]), data)
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["score_gender"]  # the criterion's own field
    response = client.post(reverse("review", args=[_review(app, world).pk]), _scores(world, 9))
    assert response.status_code == 400  # 9 is not one of the 0–5 choices
    assert _review(app, world).state == Review.State.ASSIGNED


def test_the_reviewer_declines_for_a_conflict_of_interest(world: World, client) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    client.force_login(world.reviewer1)
    url = reverse("review-decline", args=[_review(app, world).pk])
    response = client.post(url, {"decline-reason": ""})
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in response.content.decode()
    response = client.post(url, {"decline-reason": "Conflit d'intérêts : élu de la collectivité."})
    assert response.status_code == 302
    review = _review(app, world)
    assert review.state == Review.State.DECLINED
    assert review.decline_reason == "Conflit d'intérêts : élu de la collectivité."
    # Declined: the application is no longer the reviewer's to see.
    assert client.get(reverse("staff-application", args=[app.pk])).status_code == 404


def test_the_review_screens_are_refused_to_other_roles(world: World, client) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    for user in (world.applicant, world.embassy_sn, world.instructor, world.secretary):
        client.force_login(user)
        assert client.get(reverse("reviews")).status_code == 403
        assert client.get(reverse("review", args=[_review(app, world).pk])).status_code == 403
        assert client.post(reverse("review-decline", args=[_review(app, world).pk]), {}).status_code == 403
