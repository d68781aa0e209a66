"""The applicant's home: its organisation's applications with their status and next step,
and the open calls with their rules."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grants.models import Application, Call
from tests.factories import CallFactory, World

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
S = Application.State


class Page:
    """A signed-in client whose pages read as text (entities unescaped)."""

    def __init__(self, client: Client, user: object) -> None:
        client.force_login(user)  # type: ignore[arg-type]
        self.client = client

    def get(self, path: str, **extra: str) -> Any:
        return self.client.get(path, **extra)

    def text(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200
        return html.unescape(response.content.decode())


def signed_in(client: Client, user: object) -> Page:
    return Page(client, user)


def test_it_lists_the_organisations_applications_with_reference_call_title_and_status(
    client: Client, world: World
) -> None:
    draft = world.draft(title="Eau potable à Dakar")
    submitted = world.advance(world.draft(title="Déchets à Saint-Louis"), S.SUBMITTED)
    html = signed_in(client, world.applicant).text("/")
    assert "Eau potable à Dakar" in html
    assert "Déchets à Saint-Louis" in html
    assert submitted.reference in html
    assert world.call.code in html
    assert "Brouillon" in html and "Déposé" in html
    assert "fr-badge--info" in html  # the submitted badge colour
    assert f"/mes-dossiers/{draft.pk}/" in html


def test_it_does_not_list_another_authoritys_applications(client: Client, world: World) -> None:
    world.draft(user=world.applicant2, title="Projet de Rennes")
    html = signed_in(client, world.applicant).text("/")
    assert "Projet de Rennes" not in html
    assert "Vous n'avez pas encore de dossier" in html


def test_it_shows_the_next_step_and_its_date(client: Client, world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    world.fire(app, "request_completion", world.instructor, message="Joindre la délibération.", due_date="2099-12-12")
    draft = world.draft(title="Un brouillon")
    html = signed_in(client, world.applicant).text("/")
    assert "Compléter avant le 12/12/2099" in html
    closes = timezone.localtime(world.call.closes_at).strftime("%d/%m/%Y")
    assert f"À déposer avant le {closes}" in html
    assert draft.title in html


def test_it_shows_the_eligibility_check_and_opinion_phases(client: Client, world: World) -> None:
    world.advance(world.draft(title="En recevabilité"), S.SUBMITTED)
    world.advance(world.draft(title="En avis"), S.AWAITING_OPINIONS)
    html = signed_in(client, world.applicant).text("/")
    assert "Recevabilité en cours d'examen" in html
    assert "Avis en cours" in html


def test_it_lists_the_open_calls_with_their_rules_and_time_left(client: Client, world: World) -> None:
    html = signed_in(client, world.applicant).text("/")
    assert world.call.title in html
    assert "70\u00a0%" in html and "50\u00a0%" in html and "30\u00a0%" in html  # rates by tier
    assert "10\u00a0% du budget total" in html  # own contribution
    assert "au plus 50\u00a0% de l'apport" in html  # in-kind cap
    assert "de 12 à 36 mois" in html
    assert "Convention de partenariat, Délibération" in html
    assert "encore" in html and "semaine" in html  # 30 days left
    assert f"/mes-dossiers/nouveau/{world.call.code}/" in html


def test_it_hides_calls_that_are_not_accepting(client: Client, world: World) -> None:
    CallFactory(
        code="AAP-CLOS",
        closes_at=timezone.now() - dt.timedelta(minutes=1),
        opens_at=timezone.now() - dt.timedelta(days=40),
    )
    CallFactory(
        code="AAP-FUTUR",
        opens_at=timezone.now() + dt.timedelta(days=2),
        closes_at=timezone.now() + dt.timedelta(days=40),
    )
    CallFactory(code="AAP-NON-PUBLIE", published=False)
    html = signed_in(client, world.applicant).text("/")
    assert "AAP-CLOS" not in html and "AAP-FUTUR" not in html and "AAP-NON-PUBLIE" not in html


def test_it_tells_a_user_without_role_what_to_do(client: Client, world: World) -> None:
    from tests.factories import UserFactory

    html = signed_in(client, UserFactory(username="nobody")).text("/")
    assert "Votre compte n'est rattaché à aucune collectivité" in html


def test_it_renders_the_home_page_in_english(client: Client, world: World) -> None:
    world.draft()
    assert signed_in(client, world.applicant).get("/", **EN).status_code == 200


def _home_queries(client: Page) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/")
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _make(world: World, n: int) -> None:
    # A mix of states, so every branch of "next step" is exercised.
    world.advance(world.draft(), S.SUBMITTED)
    world.advance(world.draft(), S.INCOMPLETE)
    for _ in range(n - 2):
        world.draft(attachments=False)


def test_the_home_page_query_count_does_not_grow_with_the_applications(client: Client, world: World) -> None:
    page = signed_in(client, world.applicant)
    _make(world, 2)
    with_two = _home_queries(page)
    for _ in range(28):
        world.draft(attachments=False)
    assert Application.objects.filter(organisation=world.lyon).count() == 30
    with_thirty = _home_queries(page)
    assert with_thirty == with_two


def test_the_calls_query_count_does_not_grow_with_the_calls(client: Client, world: World) -> None:
    page = signed_in(client, world.applicant)
    one = _home_queries(page)
    for n in range(5):
        CallFactory(code=f"AAP-EXTRA-{n}")
    assert Call.objects.count() == 6
    assert _home_queries(page) == one
