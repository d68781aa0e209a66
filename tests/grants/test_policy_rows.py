"""A transition answers "may this user see the application?" from the row it has just
locked when the read policy's own-row branches decide it (grants.policy.rows evaluates
the policy's Q objects): the answer never differs from the database's."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grants import policy
from grants.models import Application
from grants.policy.applications import can_view, visible_from_row
from tests.factories import World

pytestmark = pytest.mark.django_db
S = Application.State


def _loaded(app: Application) -> Application:
    return Application.objects.select_related("call", "organisation").get(pk=app.pk)


def test_the_row_answer_agrees_with_the_database_for_every_user_and_state(world: World) -> None:
    co = world.draft()
    co.co_applicants.add(world.rennes)
    apps = {
        "draft": world.draft(),
        "co_applicant_draft": co,
        "submitted": world.advance(world.draft(), S.SUBMITTED),
        "incomplete": world.advance(world.draft(), S.INCOMPLETE),
        "ineligible": world.advance(world.draft(), S.INELIGIBLE),
        "awaiting_opinions": world.advance(world.draft(), S.AWAITING_OPINIONS),
        "rennes_draft": world.draft(world.applicant2),
    }
    users = [
        world.applicant,
        world.applicant2,
        world.instructor,
        world.embassy_sn,
        world.embassy_ma,
        world.prefecture_ara,
        world.reviewer1,
        world.reviewer2,
        world.secretary,
        world.signatory,
        world.finance,
        world.admin,
    ]
    decided = set()
    for name, app in apps.items():
        row = _loaded(app)
        for user in users:
            policy.forget(user)
            in_sql = can_view(user, row)
            from_row = visible_from_row(user, row)
            assert not from_row or in_sql, (name, user.username)
            assert can_view(user, row, current_row=True) == in_sql, (name, user.username)
            if from_row:
                decided.add((name, user.username))
    # The lead authority's staff, the delegation past the draft, the prefecture of the
    # lead authority's region once eligible, the administrator: decided from the row.
    assert {("draft", "applicant"), ("submitted", "instructor"), ("incomplete", "secretary")} <= decided
    assert {("awaiting_opinions", "prefecture-ara"), ("draft", "admin")} <= decided
    # A draft is not the delegation's; a co-applicant and an embassy are decided in SQL.
    assert ("draft", "instructor") not in decided and ("co_applicant_draft", "applicant2") not in decided
    assert ("awaiting_opinions", "embassy-sn") not in decided


def test_the_row_answer_asks_no_query(world: World) -> None:
    row = _loaded(world.draft())
    policy.forget(world.applicant)
    policy.scopes(world.applicant)
    with CaptureQueriesContext(connection) as captured:
        assert can_view(world.applicant, row, current_row=True)
    assert len(captured) == 0
    with CaptureQueriesContext(connection) as captured:
        assert not can_view(world.applicant2, row, current_row=True)  # not decided: asked
    assert len(captured) >= 1
