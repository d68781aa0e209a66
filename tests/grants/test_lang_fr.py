"""French user data in the English interface is marked lang="fr" (WCAG 3.1.2): titles,
authority names and summaries on the inboxes and the application pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from grants.models import Application
from tests.factories import World

pytestmark = pytest.mark.django_db
S = Application.State


@pytest.fixture
def world() -> World:
    return World()


def english(client: Client, user: Any) -> Client:
    client.force_login(user)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    return client


def test_the_applicant_s_home_marks_titles_as_french(world: World, client: Client) -> None:
    world.draft(title="Eau potable à Podor")
    html = english(client, world.applicant).get("/").content.decode()
    assert 'lang="fr">Eau potable à Podor</a>' in html


def test_the_staff_inbox_and_application_page_mark_user_text_as_french(world: World, client: Client) -> None:
    app = world.advance(world.draft(title="Eau potable à Podor"), S.SUBMITTED)
    client = english(client, world.instructor)
    inbox = client.get("/").content.decode()
    assert '<span lang="fr">Eau potable à Podor</span>' in inbox
    assert '<span class="staff-muted" lang="fr">Ville de Lyon</span>' in inbox
    page = client.get(f"/dossiers/{app.pk}/instruction/").content.decode()
    assert '<span lang="fr">Eau potable à Podor</span></h1>' in page
    assert '<span lang="fr">Ville de Lyon</span>' in page
