"""The call editor in a real browser (issue 15): the instructor creates a call, sees why
it cannot be published yet, sets its envelope and a question, previews it as an
applicant would, and publishes it; the preview read at 390 px and in English.

Screenshots: with UPDATE_SCREENSHOTS=1 they go to docs/screenshots/calleditor-<screen>.png.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from grants.models import Call
from tests.e2e.conftest import check_page
from tests.factories import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page: Any, folder: Path, name: str) -> None:
    check_page(page, f"calleditor-{name}")
    page.screenshot(path=str(folder / f"calleditor-{name}.png"), full_page=True)


def sign_in(page: Any, base: str, username: str) -> None:
    from playwright.sync_api import expect

    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Identifiant", exact=True).fill(username)
    page.get_by_label("Mot de passe", exact=True).fill("pw")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_an_instructor_creates_previews_and_publishes_a_call(live_server: Any, browser_page: Any, shots: Path) -> None:
    from playwright.sync_api import expect

    World()
    page, base = browser_page, live_server.url
    sign_in(page, base, "instructor")
    page.get_by_role("navigation", name="Espaces agents").get_by_role(
        "link", name="Appels à projets", exact=True
    ).click()
    expect(page.get_by_role("heading", level=1, name="Appels à projets")).to_be_visible()
    shot(page, shots, "list")
    page.get_by_role("link", name="Créer un appel").click()
    page.locator("#id_code").fill("AAP-2027-NAV")
    page.locator("#id_title").fill("Appel 2027 — villes durables")
    opens = timezone.localtime() + dt.timedelta(days=1)
    page.locator("#id_opens_at").fill(opens.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#id_closes_at").fill((opens + dt.timedelta(days=60)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Créer l'appel").click()

    # A new call is a draft whose envelope is still zero: publishing says so.
    expect(page.locator("#call-state")).to_have_text("Brouillon")
    expect(page.locator("#unmet-publish")).to_contain_text("L'enveloppe doit être supérieure à zéro.")
    page.locator("#id_envelope").fill("1 200 000")
    page.locator("#id_rate_pma").fill("80")
    page.locator("#q-0-code").fill("secteur")
    page.locator("#q-0-label").fill("Secteur principal du projet")
    page.locator("#q-0-label_en").fill("Main sector of the project")
    page.locator("#q-0-type").select_option("choice")
    page.locator("#q-0-choices").fill("Eau et assainissement | Water and sanitation\nSanté | Health")
    page.locator('label[for="q-0-required"]').click()  # DSFR: the label takes the click
    shot(page, shots, "editor")
    page.get_by_role("button", name="Enregistrer les réglages").click()
    expect(page.get_by_text("Les réglages de l'appel sont enregistrés.")).to_be_visible()
    expect(page.locator("#unmet-publish")).to_have_count(0)

    page.get_by_role("link", name="Aperçu côté porteur").click()
    expect(page.locator("#preview-rules")).to_contain_text("Pays les moins avancés (PMA) : 80 %")
    expect(page.locator("#preview-questions")).to_contain_text("Secteur principal du projet *")
    shot(page, shots, "preview")
    page.get_by_role("link", name="Retour aux réglages").click()

    page.get_by_role("button", name="Publier l'appel").click()
    expect(page.locator("#call-state")).to_have_text("Publié")
    expect(page.locator("#frozen-reason")).to_contain_text("seule la date de clôture peut être reportée")
    expect(page.locator("#id_envelope")).to_be_disabled()
    expect(page.locator("#id_closes_at")).to_be_enabled()
    shot(page, shots, "published")
    call = Call.objects.get(code="AAP-2027-NAV")
    assert call.state == Call.State.PUBLISHED and str(call.rate_pma) == "0.8000"
    assert list(call.questions.values_list("label_en", flat=True)) == ["Main sector of the project"]

    # The preview on a phone, then in English.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/appels/AAP-2027-NAV/apercu/")
    shot(page, shots, "preview-390")
    page.goto(f"{base}/appels/AAP-2027-NAV/reglages/")
    shot(page, shots, "published-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/appels/AAP-2027-NAV/apercu/")
    page.get_by_role("button", name="EN — English").click()  # the language switch
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#preview-questions")).to_contain_text("Main sector of the project *")
    expect(page.locator("#preview-questions")).to_contain_text("Water and sanitation")
    shot(page, shots, "preview-en")


def test_an_applicant_answers_the_calls_questions_and_staff_read_them(
    live_server: Any, browser_page: Any, shots: Path
) -> None:
    from playwright.sync_api import expect

    from grants.models import Application, CallQuestion

    world = World()
    CallQuestion.objects.create(
        call=world.call, code="emplois", label="Emplois créés sur place", type="number", max_value=500, position=0
    )
    CallQuestion.objects.create(
        call=world.call,
        code="public",
        label="Public bénéficiaire principal",
        label_en="Main beneficiaries",
        type="choice",
        choices=[{"value": "jeunes", "label": "Jeunes"}, {"value": "femmes", "label": "Femmes"}],
        required=True,
        position=1,
    )
    page, base = browser_page, live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, base, "applicant")
    page.locator(f'a[href="/mes-dossiers/nouveau/{world.call.code}/"]').click()
    page.locator("#id_title").fill("Jumelage Lyon – Saint-Louis")
    page.get_by_role("button", name="Créer le brouillon").click()
    expect(page.locator("#section-answers")).to_contain_text("Public bénéficiaire principal *")
    page.locator("#id_answer_emplois").fill("900")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    expect(page.locator("#id_answer_emplois_error")).to_contain_text("Le nombre doit être au plus 500.")
    expect(page.locator("#error-summary")).to_contain_text("Emplois créés sur place")
    shot(page, shots, "answers-error-390")
    page.locator("#id_answer_emplois").fill("12")
    page.locator("#id_answer_public").select_option("jeunes")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    app = Application.objects.get(title="Jumelage Lyon – Saint-Louis")
    assert app.answers == {"emplois": "12", "public": "jeunes"}

    submitted = world.advance(world.draft(answers={"emplois": "7", "public": "femmes"}), Application.State.SUBMITTED)
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, "instructor")
    page.goto(f"{base}/dossiers/{submitted.pk}/instruction/")
    expect(page.locator("#reponses")).to_contain_text("Public bénéficiaire principal")
    expect(page.locator("#reponses")).to_contain_text("Femmes")
    shot(page, shots, "staff-answers")
