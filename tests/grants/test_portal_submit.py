"""The review page (every unmet condition before the submit button), submission,
resubmission after a completion request, and the confirmation with the reference."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from grants import services
from grants.models import Application, Call
from tests.factories import World

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
SWORN = {"confirm": "1"}  # the sworn statement, ticked
S = Application.State


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def applicant(client: Client, world: World) -> Client:
    client.force_login(world.applicant)
    return client


def close_call(call: Call) -> None:
    Call.objects.filter(pk=call.pk).update(closes_at=timezone.now() - dt.timedelta(minutes=5))


def test_the_review_page_of_a_complete_draft_offers_the_submit_button(applicant: Client, world: World) -> None:
    app = world.draft()
    response = applicant.get(f"/mes-dossiers/{app.pk}/verification/")
    assert response.status_code == 200
    body = text(response)
    assert "Étape 5 sur 5" in body
    assert "Toutes les conditions de dépôt sont remplies" in body
    assert "Gestion des déchets à Saint-Louis" in body and "Commune de Saint-Louis" in body
    assert "partnership_agreement.pdf" in body
    assert f'action="/mes-dossiers/{app.pk}/deposer/"' in body
    assert "Déposer le dossier" in body
    assert " disabled " not in body.split("portal-submit", 1)[1]


def test_the_review_page_lists_every_unmet_condition(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False, duration_months=48, summary="")
    body = text(applicant.get(f"/mes-dossiers/{app.pk}/verification/"))
    expected = services.submission_unmet(app, now=timezone.now())
    assert len(expected) == 4  # summary, duration, two attachments
    for reason in expected:
        assert f"<li>{reason}</li>" in body
    assert "4 conditions ne sont pas remplies" in body
    assert 'disabled aria-describedby="unmet"' in body


def test_it_submits_and_confirms_with_the_reference(applicant: Client, world: World) -> None:
    app = world.draft()
    response = applicant.post(f"/mes-dossiers/{app.pk}/deposer/", SWORN)
    assert response.status_code == 302
    assert response["Location"] == f"/mes-dossiers/{app.pk}/confirmation/"
    app.refresh_from_db()
    assert app.state == S.SUBMITTED
    assert app.reference == f"{world.call.code}-00001"
    body = text(applicant.get(response["Location"]))
    assert "Votre dossier a été déposé" in body
    assert f'id="reference">{app.reference}<' in body
    assert "Recevabilité en cours d'examen" in body


def test_submit_is_a_post(applicant: Client, world: World) -> None:
    app = world.draft()
    assert applicant.get(f"/mes-dossiers/{app.pk}/deposer/").status_code == 405
    app.refresh_from_db()
    assert app.state == S.DRAFT


def test_it_refuses_to_submit_after_the_closing_date_and_says_why(applicant: Client, world: World) -> None:
    app = world.draft()
    close_call(world.call)
    body = text(applicant.get(f"/mes-dossiers/{app.pk}/verification/"))
    assert "L'appel à projets est clos depuis le" in body
    response = applicant.post(f"/mes-dossiers/{app.pk}/deposer/", SWORN)
    assert response.status_code == 409
    assert "L'appel à projets est clos depuis le" in text(response)
    app.refresh_from_db()
    assert app.state == S.DRAFT
    assert app.reference is None
    assert not app.snapshots.exists()


def test_it_refuses_to_submit_an_incomplete_draft_and_lists_the_reasons(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False)
    response = applicant.post(f"/mes-dossiers/{app.pk}/deposer/", SWORN)
    assert response.status_code == 409
    body = text(response)
    assert "Pièce obligatoire manquante : Convention de partenariat." in body
    assert "Pièce obligatoire manquante : Délibération." in body
    app.refresh_from_db()
    assert app.state == S.DRAFT


def test_a_second_submit_changes_nothing(applicant: Client, world: World) -> None:
    app = world.draft()
    applicant.post(f"/mes-dossiers/{app.pk}/deposer/", SWORN)
    response = applicant.post(f"/mes-dossiers/{app.pk}/deposer/", SWORN)
    assert response.status_code == 302
    assert response["Location"] == f"/mes-dossiers/{app.pk}/"
    assert "Ce dossier a déjà été déposé." in text(applicant.get(response["Location"]))
    assert app.snapshots.count() == 1


def test_the_confirmation_of_a_draft_leads_to_the_application_page(applicant: Client, world: World) -> None:
    app = world.draft()
    response = applicant.get(f"/mes-dossiers/{app.pk}/confirmation/")
    assert response.status_code == 302
    assert response["Location"] == f"/mes-dossiers/{app.pk}/"


def test_it_answers_a_completion_request_and_resubmits(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    world.fire(app, "request_completion", world.instructor, message="Merci de joindre la délibération signée.")
    body = text(applicant.get(f"/mes-dossiers/{app.pk}/verification/"))
    assert "Merci de joindre la délibération signée." in body
    assert "Redéposer le dossier" in body
    # The closing date does not apply to a resubmission.
    close_call(world.call)
    response = applicant.post(f"/mes-dossiers/{app.pk}/deposer/", SWORN)
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.state == S.SUBMITTED
    assert app.snapshots.count() == 2
    assert "Vos compléments ont été transmis" in text(applicant.get(response["Location"]))


def test_the_review_page_of_a_submitted_application_is_read_only(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    body = text(applicant.get(f"/mes-dossiers/{app.pk}/verification/"))
    assert "Contenu du dossier" in body
    assert "/deposer/" not in body
    assert "/saisie/" not in body.split('id="content"', 1)[1]


@pytest.mark.parametrize("path", ["verification/", "confirmation/"])
def test_the_review_and_confirmation_pages_render_in_english(applicant: Client, world: World, path: str) -> None:
    app = world.draft()
    if path == "confirmation/":
        world.advance(app, S.SUBMITTED)
    response = applicant.get(f"/mes-dossiers/{app.pk}/{path}", **EN)
    assert response.status_code == 200
    assert '<html lang="en"' in response.content.decode()


def test_the_refused_submission_renders_in_english(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False)
    assert applicant.post(f"/mes-dossiers/{app.pk}/deposer/", SWORN, **EN).status_code == 409
