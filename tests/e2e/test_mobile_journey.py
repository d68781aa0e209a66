"""The applicant's journey on a phone-sized window (390 px wide): home, a new draft, every
section of the form (the budget's live panel included), the review page and the
submission, each page checked like the desktop journeys' (axe-core, no horizontal
scrolling).

Screenshots: with UPDATE_SCREENSHOTS=1 they go to docs/screenshots/mobile-<page>.png,
else to the test's temporary directory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from grants.models import Application
from tests.e2e.conftest import check_page
from tests.factories import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 390, "height": 844}


def shot(page: Any, folder: Path, name: str) -> None:
    check_page(page, f"mobile-{name}")
    page.screenshot(path=str(folder / f"mobile-{name}.png"), full_page=True)


def test_an_applicant_drafts_and_submits_on_a_phone(live_server: Any, browser_page: Any, shots: Path) -> None:
    from playwright.sync_api import expect

    world = World()
    ready = world.draft(title="Eau potable dans la commune de Podor")  # complete, attachments joined
    page = browser_page
    base = live_server.url

    page.goto(f"{base}/accounts/login/")
    check_page(page, "mobile-login")
    page.get_by_label("Identifiant", exact=True).fill("applicant")
    page.get_by_label("Mot de passe", exact=True).fill("pw")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes dossiers")
    shot(page, shots, "home")

    # A new draft: the start form, then the first section.
    page.locator(f'a[href="/mes-dossiers/nouveau/{world.call.code}/"]').click()
    check_page(page, "mobile-start")
    page.locator("#id_title").fill("Jumelage Lyon – Saint-Louis : gestion des déchets")
    page.get_by_role("button", name="Créer le brouillon").click()
    expect(page.locator(".fr-stepper__title")).to_contain_text("Le projet")
    shot(page, shots, "form-project")
    new = Application.objects.get(title__startswith="Jumelage Lyon")
    page.goto(f"{base}/mes-dossiers/{new.pk}/saisie/partenaires/")
    expect(page.locator(".fr-stepper__title")).to_contain_text("Partenaires et pays")
    check_page(page, "mobile-form-partners")

    # The complete draft: its budget (the live panel recomputes), attachments, review, submit.
    page.goto(f"{base}/mes-dossiers/{ready.pk}/saisie/budget/")
    expect(page.locator(".fr-stepper__title")).to_contain_text("Budget et financements")
    page.locator("#id_requested").fill("1 000 000")
    expect(page.locator('[data-rule="balance"]')).to_have_class(re.compile("portal-rule--ko"))
    shot(page, shots, "form-budget")
    page.goto(f"{base}/mes-dossiers/{ready.pk}/saisie/pieces/")
    expect(page.locator(".fr-stepper__title")).to_contain_text("Pièces justificatives")
    check_page(page, "mobile-form-attachments")
    page.get_by_role("link", name="Vérifier le dossier").click()
    expect(page.locator("#ready")).to_contain_text("Toutes les conditions de dépôt sont remplies")
    shot(page, shots, "review")
    page.locator("label[for=confirm]").click()  # the sworn statement
    page.get_by_role("button", name="Déposer le dossier").click()
    expect(page.locator("#reference")).to_be_visible()
    shot(page, shots, "confirmation")
    page.goto(f"{base}/mes-dossiers/{ready.pk}/")
    shot(page, shots, "application")
    # The footer's public pages.
    for name in ("accessibilite", "mentions-legales", "donnees-personnelles"):
        page.goto(f"{base}/{name}/")
        check_page(page, f"mobile-{name}")
