"""The partner government of a joint fund in a real browser (Playwright + Debian's
chromium): partner-sn finds its project to validate in its inbox, opens the validation
form and validates, at 1280 px and 390 px, in French and in English; every page passes
check_page (axe-core, no horizontal scrolling).

Screenshots: with UPDATE_SCREENSHOTS=1 they go to docs/screenshots/variants-<screen>.png,
else to the test's temporary directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grants.models import Application, OpinionRequest
from tests.e2e.conftest import check_page
from tests.grants.test_variants_joint_fund import JointWorld

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page: Any, base: str, username: str) -> None:
    from playwright.sync_api import expect

    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Identifiant", exact=True).fill(username)
    page.get_by_label("Mot de passe", exact=True).fill("pw")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def _english(page: Any, base: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])


def test_the_partner_validates_its_project_in_the_browser(live_server: Any, browser_page: Any, shots: Path) -> None:
    from playwright.sync_api import expect

    world = JointWorld()
    app = world.after_embassies()
    request = OpinionRequest.objects.get(application=app, authority="partner", state="requested")
    base = live_server.url
    page = browser_page
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        _sign_in(page, base, "partner-sn")
        page.goto(f"{base}/tasks/")
        expect(page.get_by_text(app.reference or "", exact=False).first).to_be_visible()
        check_page(page, f"partner inbox {width}")
        page.screenshot(path=str(shots / f"variants-partner-inbox-fr-{width}.png"), full_page=True)
        page.goto(f"{base}/avis/")
        expect(page.get_by_role("heading", name="Projets à valider")).to_be_visible()
        check_page(page, f"partner list {width}")
        page.goto(f"{base}/avis/{request.pk}/")
        expect(page.get_by_role("heading", name="Validation du gouvernement partenaire : Sénégal")).to_be_visible()
        check_page(page, f"partner form {width}")
        page.screenshot(path=str(shots / f"variants-partner-validation-fr-{width}.png"), full_page=True)
        _english(page, base)
        page.goto(f"{base}/tasks/")
        check_page(page, f"partner inbox en {width}")
        page.screenshot(path=str(shots / f"variants-partner-inbox-en-{width}.png"), full_page=True)
        page.goto(f"{base}/avis/{request.pk}/")
        expect(page.get_by_role("heading", name="Partner government's validation: Senegal")).to_be_visible()
        check_page(page, f"partner form en {width}")
        page.screenshot(path=str(shots / f"variants-partner-validation-en-{width}.png"), full_page=True)
    # Validate (in English, 390 px): the project moves on to review.
    page.locator('label[for="id_verdict_0"]').click()
    page.get_by_role("button", name="Record the validation").click()
    expect(page.locator(".fr-alert--success")).to_contain_text("Your validation is recorded")
    request.refresh_from_db()
    assert (request.state, request.verdict) == ("given", "favorable")
    assert Application.objects.get(pk=app.pk).state == Application.State.UNDER_REVIEW
