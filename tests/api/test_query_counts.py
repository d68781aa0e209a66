"""Lists cost a constant number of queries whatever the page size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from grants import services
from grants.models import Application, OpinionRequest, Review
from grants.writes import drafts
from tests.factories import World, complete_data


def _queries(client: APIClient, path: str, page_size: int, **params: Any) -> tuple[int, int]:
    """(queries, rows) of one page; the client's first request warms the token lookup."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, {"page_size": page_size, **params})
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), len(response.json()["results"])


@pytest.fixture
def hundred(world: World) -> list[Application]:
    """100 submitted applications, spread over two project countries."""
    world.call.required_attachments = []
    world.call.save()
    apps = []
    for index in range(100):
        app = drafts.application_create(
            user=world.applicant, data=complete_data(world.call, "SN" if index % 2 else "MA")
        )
        apps.append(world.fire(app, "submit", world.applicant))
    return apps


def test_the_applications_list_costs_the_same_at_10_and_100_rows(
    world: World, api: Callable[..., APIClient], hundred: list[Application]
) -> None:
    for user in (world.applicant, world.instructor):
        client = api(user)
        small, rows_small = _queries(client, "/api/v1/applications/", 10)
        large, rows_large = _queries(client, "/api/v1/applications/", 100)
        assert (rows_small, rows_large) == (10, 100)
        assert small == large <= 8


def test_the_inbox_costs_the_same_at_10_and_100_rows(
    world: World, api: Callable[..., APIClient], hundred: list[Application]
) -> None:
    client = api(world.instructor)
    small, rows_small = _queries(client, "/api/v1/tasks/", 10)
    large, rows_large = _queries(client, "/api/v1/tasks/", 100)
    assert (rows_small, rows_large) == (10, 100)
    assert small == large <= 8


def test_the_opinion_review_and_decision_lists_cost_the_same_whatever_their_size(
    world: World, api: Callable[..., APIClient], hundred: list[Application]
) -> None:
    for app in hundred[:12]:
        services.review_assign(application_id=app.pk, reviewer_username="reviewer1", user=world.instructor)
        world.fire(app, "declare_eligible", world.instructor)
    for request in OpinionRequest.objects.filter(country_id="SN", state="requested")[:4]:
        services.opinion_give(opinion_id=request.pk, user=world.embassy_sn, verdict="favorable")
    for review in Review.objects.filter(application__state="under_review")[:2]:
        services.review_declare(review_id=review.pk, user=world.reviewer1, conflict=False)
        services.review_submit(
            review_id=review.pk,
            user=world.reviewer1,
            payload={"scores": {c["code"]: 3 for c in world.call.scoring_criteria}, "recommendation": "yes"},
        )
        services.consensus_record(application_id=review.application_id, user=world.instructor)
        world.fire(review.application, "schedule", world.secretary, session=world.session.pk)
        world.open_session()
        world.fire(review.application, "approve", world.secretary, amount="20000.00")
    cases = [
        (world.embassy_sn, "/api/v1/opinions/", 6),
        (world.instructor, "/api/v1/opinions/", 12),
        (world.reviewer1, "/api/v1/reviews/", 12),
        (world.signatory, "/api/v1/decisions/", 2),
    ]
    for user, path, total in cases:
        client = api(user)
        one, rows_one = _queries(client, path, 1)
        every, rows_every = _queries(client, path, 100)
        assert (rows_one, rows_every) == (1, total), path
        assert one == every <= 8, path
