"""The Django admin: every setting of a call editable, workflow records read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import World

PAGES = [
    "/admin/grants/call/",
    "/admin/grants/country/",
    "/admin/grants/organisation/",
    "/admin/grants/rolegrant/",
    "/admin/auth/user/",
    "/admin/grants/application/",
    "/admin/workflows/transitionlog/",
    "/admin/workflows/task/",
]


@pytest.fixture
def admin_client_(world: World) -> Client:
    client = Client()
    client.force_login(world.admin)
    return client


@pytest.mark.parametrize("url", PAGES)
def test_the_admin_lists_open(admin_client_: Client, world: World, url: str) -> None:
    world.advance(world.draft(), "submitted")
    assert admin_client_.get(url).status_code == 200


def test_a_call_shows_every_rule_setting(admin_client_: Client, world: World) -> None:
    page = admin_client_.get(f"/admin/grants/call/{world.call.pk}/change/").content.decode()
    for field in (
        "rate_pma",
        "rate_apd",
        "rate_non_apd",
        "multi_country_rule",
        "min_own_contribution",
        "max_in_kind_share",
        "opinion_deadline_days",
        "prefecture_opinion_required",
        "min_reviews",
        "scoring_criteria",
        "required_attachments",
        "reminder_steps",
        "envelope",
    ):
        assert f'name="{field}"' in page, field


def test_the_transition_log_cannot_be_changed_from_the_admin(admin_client_: Client, world: World) -> None:
    from workflows.models import TransitionLog

    world.advance(world.draft(), "submitted")
    entry = TransitionLog.objects.first()
    assert entry is not None
    response = admin_client_.post(f"/admin/workflows/transitionlog/{entry.pk}/change/", {"comment": "rewritten"})
    assert response.status_code in (403, 200)
    assert TransitionLog.objects.get(pk=entry.pk).comment == entry.comment
    assert admin_client_.post(f"/admin/workflows/transitionlog/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
