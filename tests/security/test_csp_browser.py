"""The strict Content-Security-Policy in a real browser (Playwright + Debian's chromium):
the pages load, their scripts run, and the browser reports no violation and no console
error — sign-in, the applicant's home, the signatory's page (its "select all" box is a
static script now), a committee session with its gauge, and the API's Swagger UI."""

from __future__ import annotations

from typing import Any

import pytest

from grants.models import Application
from tests.e2e.conftest import browser_page, viewport  # noqa: F401  (the browser fixtures)
from tests.factories import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " +
    (e.sourceFile || location.pathname) + ":" + e.lineNumber);
});
"""


def watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.add_init_script(LISTEN)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def violations(page: Any) -> list[str]:
    return page.evaluate("window.__violations || []")  # type: ignore[no-any-return]


def sign_in(page: Any, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Identifiant", exact=True).fill(username)
    page.get_by_label("Mot de passe", exact=True).fill("pw")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state("networkidle")


def test_the_pages_run_under_the_policy_without_a_violation(live_server: Any, browser_page: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    world = World()
    world.advance(world.draft(title="Jumelage"), Application.State.APPROVED)  # a decision to sign
    page = browser_page
    errors = watch(page)
    base = live_server.url
    seen: list[str] = []

    page.goto(f"{base}/accounts/login/")
    page.wait_for_load_state("networkidle")
    seen += violations(page)
    # DSFR's script ran (it marks the document as enhanced).
    expect(page.locator("html")).to_have_attribute("data-fr-js", "true")

    sign_in(page, base, "applicant")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    seen += violations(page)

    sign_in(page, base, "signatory")
    page.goto(f"{base}/signature/")
    page.wait_for_load_state("networkidle")
    boxes = page.locator('input[name="decision"]')
    assert boxes.count() >= 1
    page.locator('label[for="sign-all"]').click()
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    seen += violations(page)

    sign_in(page, base, "secretary")
    page.goto(f"{base}/comites/{world.session.pk}/")
    page.wait_for_load_state("networkidle")
    seen += violations(page)

    page.goto(f"{base}/api/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible(timeout=20_000)
    page.wait_for_load_state("networkidle")
    seen += violations(page)

    assert seen == []
    assert [e for e in errors if "Content Security Policy" in e or "Refused" in e] == []
    assert errors == []
