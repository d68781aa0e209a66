"""Reviewer assignment that helps: each candidate's load (open reviews, next due date,
overdue), its known conflicts, and the call's minimum of reviews met or not; on the
instructor's form and in the API, in a constant number of queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from grants import evaluation, services
from grants.models import Application, Call, Region, Review, Role
from tests.factories import UserFactory, World, grant
from workflows.models import Task, TaskKind

S = Application.State


def _by_username(candidates: evaluation.Candidates) -> dict[str, evaluation.Candidate]:
    return {c.username: c for c in candidates.reviewers}


def test_the_load_counts_open_reviews_the_next_due_date_and_the_overdue_ones(world: World) -> None:
    busy = [world.advance(world.draft(title=f"Projet {i}"), S.UNDER_REVIEW) for i in range(2)]
    for app in busy:
        services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    late = Task.objects.get(kind=TaskKind.REVIEW, application=busy[0], assignee=world.reviewer2)
    late.due_at = timezone.now() - dt.timedelta(days=3)
    late.save(update_fields=["due_at"])
    upcoming = Task.objects.get(kind=TaskKind.REVIEW, application=busy[1], assignee=world.reviewer2)

    target = world.advance(world.draft(title="À évaluer"), S.SUBMITTED)
    found = _by_username(evaluation.reviewer_candidates(target))

    assert found["reviewer2"].open_reviews == 2
    assert found["reviewer2"].overdue == 1
    assert found["reviewer2"].next_due_at == upcoming.due_at
    assert found["reviewer1"].open_reviews == 2 and found["reviewer1"].overdue == 0


def test_known_conflicts_declared_same_authority_and_same_region_when_the_call_says_so(world: World) -> None:
    # reviewer2 declared a conflict on another application of Ville de Lyon
    other = world.advance(world.draft(title="Autre projet lyonnais"), S.UNDER_REVIEW)
    review = services.review_assign(application_id=other.pk, reviewer_username="reviewer2", user=world.instructor)
    services.review_declare(review_id=review.pk, user=world.reviewer2, conflict=True, details="Ancien agent.")
    # reviewer3 works for Ville de Lyon; reviewer4 sits in Auvergne-Rhône-Alpes (Lyon's region); reviewer5 is clear
    grant(UserFactory(username="reviewer3"), Role.REVIEWER, organisation=world.lyon)
    grant(UserFactory(username="reviewer4"), Role.REVIEWER, region=Region.objects.get(code="84"))
    grant(UserFactory(username="reviewer5"), Role.REVIEWER, region=Region.objects.get(code="53"))
    target = world.advance(world.draft(), S.SUBMITTED)

    found = _by_username(evaluation.reviewer_candidates(target))
    assert found["reviewer2"].conflicts == ["declared"]
    assert found["reviewer3"].conflicts == ["organisation"]
    assert found["reviewer4"].conflicts == []  # the call does not ask for the region rule
    assert found["reviewer5"].conflicts == []

    Call.objects.filter(pk=world.call.pk).update(conflict_same_region=True)
    target = Application.objects.select_related("call", "organisation").get(pk=target.pk)
    found = _by_username(evaluation.reviewer_candidates(target))
    assert found["reviewer4"].conflicts == ["region"]
    assert found["reviewer3"].conflicts == ["organisation", "region"]  # Lyon is in region 84 too
    assert found["reviewer5"].conflicts == []
    # a Rennes application: the Lyon conflict and the Lyon member do not count
    rennes = world.advance(world.draft(world.applicant2), S.SUBMITTED, owner=world.applicant2)
    found = _by_username(evaluation.reviewer_candidates(rennes))
    assert found["reviewer2"].conflicts == [] and found["reviewer3"].conflicts == []
    assert found["reviewer5"].conflicts == ["region"]


def test_the_minimum_of_reviews_is_shown_met_or_not(world: World) -> None:
    Call.objects.filter(pk=world.call.pk).update(min_reviews=2)
    world.call.refresh_from_db()
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    candidates = evaluation.reviewer_candidates(app)
    assert (candidates.submitted, candidates.min_reviews, candidates.met, candidates.in_progress) == (0, 2, False, 1)
    review = Review.objects.get(application=app, reviewer=world.reviewer1)
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={"scores": {c["code"]: 4 for c in world.call.scoring_criteria}, "recommendation": "yes"},
    )
    Call.objects.filter(pk=world.call.pk).update(min_reviews=1)
    app = Application.objects.select_related("call", "organisation").get(pk=app.pk)
    candidates = evaluation.reviewer_candidates(app)
    assert (candidates.submitted, candidates.met, candidates.in_progress) == (1, True, 0)


def _queries(app: Application) -> int:
    app = Application.objects.select_related("call", "organisation").get(pk=app.pk)
    with CaptureQueriesContext(connection) as context:
        evaluation.reviewer_candidates(app)
    return len(context.captured_queries)


def test_the_candidates_cost_the_same_queries_for_3_and_13_reviewers(world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    few = _queries(app)
    for i in range(10):
        user = UserFactory(username=f"extra-reviewer-{i}")
        grant(user, Role.REVIEWER, organisation=world.lyon if i % 2 else None)
    assert len(evaluation.reviewer_candidates(app).reviewers) == 12
    assert _queries(app) == few <= 8


def test_the_instructor_s_form_shows_load_conflicts_and_the_minimum(world: World, client: Any) -> None:
    grant(
        UserFactory(username="reviewer3", first_name="Inès", last_name="Membre"), Role.REVIEWER, organisation=world.lyon
    )
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    client.force_login(world.instructor)
    html = client.get(reverse("staff-application", kwargs={"application_id": app.pk})).content.decode()
    table = html[html.index('id="reviewer-candidates"') :]
    row = table[table.index('id="candidate-reviewer3"') :]
    row = row[: row.index("</tr>")]
    assert "Inès Membre" in row and "membre d&#x27;une collectivité du dossier" in row
    assert 'id="candidate-reviewer1"' not in table  # already assigned
    badge = html[html.index('id="min-reviews"') :]
    badge = badge[: badge.index("</p>")]
    assert "non atteint" in badge and "0 rendue(s) sur 1" in badge, badge
    # the select's options carry the same facts
    option = html[html.index('<option value="reviewer3"') :]
    option = option[: option.index("</option>")]
    assert "Inès Membre (reviewer3) — évaluations en cours : 0 — conflit : membre d" in option, option


def test_the_form_reads_in_english(world: World, client: Any) -> None:
    grant(UserFactory(username="reviewer3"), Role.REVIEWER, organisation=world.lyon)
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    html = client.get(
        reverse("staff-application", kwargs={"application_id": app.pk}), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "member of an authority of the application" in html
    assert "Minimum of reviews not reached: 0 submitted of 1" in html


def test_the_api_lists_the_candidates_for_the_instructor_only(world: World) -> None:
    grant(UserFactory(username="reviewer3"), Role.REVIEWER, organisation=world.lyon)
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    api = APIClient()
    api.force_authenticate(world.instructor)
    body = api.get(f"/api/v1/applications/{app.pk}/reviewers/").json()
    assert (body["min_reviews"], body["submitted"], body["met"]) == (1, 0, False)
    rows = {c["username"]: c for c in body["candidates"]}
    assert set(rows) == {"reviewer2", "reviewer3"}
    assert rows["reviewer3"]["conflicts"] == ["organisation"] and rows["reviewer2"]["open_reviews"] == 0
    api.force_authenticate(world.secretary)
    refused = api.get(f"/api/v1/applications/{app.pk}/reviewers/")
    assert refused.status_code == 403
    api.force_authenticate(world.applicant2)
    assert api.get(f"/api/v1/applications/{app.pk}/reviewers/").status_code == 404
