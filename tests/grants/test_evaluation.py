"""The evaluation: the reviewer's declaration on conflict of interest before reading."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from grants import policy, services
from grants.models import Application, Call, Consensus, Review, Role
from notifications.models import Notification
from tests.factories import UserFactory, World, grant
from workflows.engine import Conflict
from workflows.models import Task, TaskKind, TransitionLog

S = Application.State
REASON = "Déclarez d'abord l'absence de conflit d'intérêts"


def _fresh(world: World) -> tuple[Application, Review]:
    """An application under review with a second reviewer that has not declared yet."""
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    review = services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    return app, review


# --- the read rule (policy) -------------------------------------------------------------------


def test_an_undeclared_reviewer_is_a_restricted_reader_until_it_declares(world: World) -> None:
    app, review = _fresh(world)
    assert policy.can_view(world.reviewer2, app)
    assert policy.restricted_reader(world.reviewer2, app)
    assert policy.read_refusal(world.reviewer2, app) == REASON
    assert not policy.restricted_reader(world.reviewer1, app)  # declared by World.advance
    assert not policy.restricted_reader(world.instructor, app)
    assert not policy.visible_opinion_requests(world.reviewer2).filter(application=app).exists()
    services.review_declare(review_id=review.pk, user=world.reviewer2, conflict=False)
    assert not policy.restricted_reader(world.reviewer2, app)
    assert policy.visible_opinion_requests(world.reviewer2).filter(application=app).exists()


def test_the_declaration_is_dated_and_logged_and_unlocks_the_submission(world: World) -> None:
    _app, review = _fresh(world)
    payload = {"scores": {c["code"]: 3 for c in world.call.scoring_criteria}, "recommendation": "maybe"}
    with pytest.raises(Conflict) as refused:
        services.review_submit(review_id=review.pk, user=world.reviewer2, payload=payload)
    assert REASON in refused.value.unmet
    services.review_declare(review_id=review.pk, user=world.reviewer2, conflict=False)
    review.refresh_from_db()
    assert review.declared_at is not None and review.state == Review.State.ASSIGNED
    entry = TransitionLog.objects.filter(subject_id=str(review.pk), transition="declare").get()
    assert entry.payload == {"conflict": False} and entry.actor == world.reviewer2
    with pytest.raises(Conflict):
        services.review_declare(review_id=review.pk, user=world.reviewer2, conflict=False)
    services.review_submit(review_id=review.pk, user=world.reviewer2, payload=payload)


def test_a_conflict_declines_the_review_tells_the_instructors_and_reopens_the_assignment(world: World) -> None:
    app, review = _fresh(world)
    services.review_declare(
        review_id=review.pk, user=world.reviewer2, conflict=True, details="Ancien salarié du porteur."
    )
    review.refresh_from_db()
    assert review.state == Review.State.DECLINED and review.decline_reason == "Ancien salarié du porteur."
    transitions = list(
        TransitionLog.objects.filter(subject_id=str(review.pk), subject_type="grants.review").values_list(
            "transition", flat=True
        )
    )
    assert transitions == ["assign", "declare", "decline"]
    assert Notification.objects.filter(recipient=world.instructor, message="review_conflict").exists()
    assert not policy.can_view(world.reviewer2, app)
    app.refresh_from_db()
    assert app.state == S.UNDER_REVIEW
    grant(UserFactory(username="reviewer3"), Role.REVIEWER)
    other = services.review_assign(application_id=app.pk, reviewer_username="reviewer3", user=world.instructor)
    assert other.state == Review.State.ASSIGNED  # the assignment is open again


# --- the web ----------------------------------------------------------------------------------


def test_the_review_page_shows_the_declaration_first_then_the_grid(world: World, client: Any) -> None:
    app, review = _fresh(world)
    client.force_login(world.reviewer2)
    html = client.get(reverse("review", args=[review.pk])).content.decode()
    assert 'id="declaration-form"' in html and 'id="review-form"' not in html
    assert app.reference in html and app.organisation.name in html and "Commune de Saint-Louis" in html
    assert app.summary not in html
    page = client.get(reverse("staff-application", args=[app.pk]))
    assert page.status_code == 403 and REASON in page.content.decode().replace("&#x27;", "'")
    attachment = app.attachments.first()
    assert attachment is not None
    assert client.get(reverse("staff-attachment", args=[app.pk, attachment.pk])).status_code == 403
    response = client.post(reverse("review", args=[review.pk]), {"declaration-conflict": "false"})
    assert response.status_code == 302
    html = client.get(reverse("review", args=[review.pk])).content.decode()
    assert 'id="review-form"' in html and app.summary in html
    assert client.get(reverse("staff-application", args=[app.pk])).status_code == 200


def test_the_web_conflict_without_details_is_refused_then_declines(world: World, client: Any) -> None:
    _app, review = _fresh(world)
    client.force_login(world.reviewer2)
    assert client.post(reverse("review", args=[review.pk]), {"declaration-conflict": "true"}).status_code == 400
    response = client.post(
        reverse("review", args=[review.pk]), {"declaration-conflict": "true", "declaration-details": "Lien familial."}
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.state == Review.State.DECLINED


# --- the reviewer's dashboard -------------------------------------------------------------------


def test_the_dashboard_sorts_the_reviews_by_section_overdue_first(world: World, client: Any) -> None:
    late = world.advance(world.draft(), S.UNDER_REVIEW)
    fresh = world.advance(world.draft(), S.UNDER_REVIEW)
    done = world.advance(world.draft(), S.IN_COMMITTEE)
    Task.objects.filter(application=late, kind=TaskKind.REVIEW).update(due_at=timezone.now() - dt.timedelta(days=1))
    undeclared, _review = _fresh(world)
    client.force_login(world.reviewer1)
    html = client.get(reverse("reviews")).content.decode()
    progress, submitted = html.index('id="section-progress"'), html.index('id="section-submitted"')
    assert progress < html.index(late.reference) < html.index(fresh.reference) < submitted < html.index(done.reference)
    late_review = Review.objects.get(application=late, reviewer=world.reviewer1)
    assert f'<tr id="review-{late_review.pk}" class="staff-overdue">' in html
    client.force_login(world.reviewer2)
    html = client.get(reverse("reviews")).content.decode()
    assert html.index('id="section-declare"') < html.index(undeclared.reference) < html.index('id="section-progress"')


# --- the consensus (web) ------------------------------------------------------------------------


def test_the_consensus_form_offers_the_means_and_flags_a_spread_above_two(world: World, client: Any) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    other = services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    services.review_declare(review_id=other.pk, user=world.reviewer2, conflict=False)
    codes = [c["code"] for c in world.call.scoring_criteria]
    for reviewer, value in ((world.reviewer1, 1), (world.reviewer2, 4)):
        review = Review.objects.get(application=app, reviewer=reviewer)
        services.review_submit(
            review_id=review.pk,
            user=reviewer,
            payload={"scores": dict.fromkeys(codes, value), "recommendation": "yes"},
        )
    client.force_login(world.instructor)
    assert 'id="consensus-link"' in client.get(reverse("staff-application", args=[app.pk])).content.decode()
    html = client.get(reverse("staff-consensus", args=[app.pk])).content.decode()
    assert f'id="spread-{codes[0]}"' in html  # 1 and 4: 3 points apart
    assert '<option value="3" selected>' in html  # mean 2.5, half up
    data = {f"consensus-score_{code}": "3" for code in codes}
    data["consensus-comment"] = "Projet pertinent."
    assert client.post(reverse("staff-consensus", args=[app.pk]), data).status_code == 302
    consensus = Consensus.objects.get(application=app)
    assert consensus.scores == dict.fromkeys(codes, 3) and consensus.comment_for_applicant == "Projet pertinent."
    assert consensus.recorded_by == world.instructor


# --- the ranking on the agenda ------------------------------------------------------------------


def test_the_agenda_ranks_with_the_envelope_line_after_the_last_project_that_fits(world: World, client: Any) -> None:
    apps = [world.advance(world.draft(), S.IN_COMMITTEE) for _ in range(3)]  # 25 000 € requested each
    codes = [c["code"] for c in world.call.scoring_criteria]
    for app, value in zip(apps, (2, 5, 4), strict=True):
        Consensus.objects.filter(application=app).update(scores=dict.fromkeys(codes, value))
    Call.objects.filter(pk=world.call.pk).update(envelope="50000.00")  # exactly two
    client.force_login(world.secretary)
    html = client.get(reverse("session", args=[world.session.pk])).content.decode()
    ranking = html[html.index('id="ranking"') :]
    best, second, last = (ranking.index(f'id="rank-{a.pk}"') for a in (apps[1], apps[2], apps[0]))
    assert best < second < ranking.index('id="envelope-line"') < last


def test_each_dashboard_section_shows_one_page_and_pages_through_every_review_once(world: World, client: Any) -> None:
    """A reviewer of every call holds thousands of reviews after a few years: each section
    shows one keyset page, its full count in the heading, and its own pager walks every
    review of the section exactly once, newest first."""
    import re

    from grants.web.staff import opinions
    from tests.grants.test_staff_performance import bulk_applications

    apps = bulk_applications(world, opinions.REVIEW_SECTION_SIZE * 2 + 5, Application.State.IN_COMMITTEE)
    mine = Review.objects.filter(application__in=apps, reviewer=world.reviewer1)
    expected = list(mine.order_by("-assigned_at", "-pk").values_list("pk", flat=True))
    client.force_login(world.reviewer1)
    html = client.get(reverse("reviews")).content.decode()
    assert f"{len(expected)}</span></h2>" in html  # the section's whole count

    def submitted_rows(page: str) -> list[int]:
        section = page[page.index('id="section-submitted"') : page.index('id="section-declined"')]
        return [int(pk) for pk in re.findall(r'<tr id="review-(\d+)"', section)]

    seen: list[int] = []
    page = html
    for _ in range(5):
        rows = submitted_rows(page)
        assert len(rows) <= opinions.REVIEW_SECTION_SIZE
        seen += rows
        following = re.search(r'href="\?section=submitted&amp;cursor=([^"]+)" rel="next"', page)
        if not following:
            break
        from html import unescape

        page = client.get(
            reverse("reviews") + "?section=submitted&cursor=" + unescape(following.group(1))
        ).content.decode()
        assert "Retour au début" in page
    assert seen == expected
    # The other sections keep their first page while one section is paged.
    assert 'id="section-progress"' in page
