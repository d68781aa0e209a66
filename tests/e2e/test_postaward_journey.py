"""The grant's life after the commitment in a real browser (Playwright + Debian's
chromium): the applicant files its interim report (a bad amount refused on its field,
the gaps recomputed by the server, the narrative attached), the instructor reads it,
finance pays a tranche; at 1280 px and 390 px, in French and in English, every page
checked (axe-core, no horizontal scrolling).

Screenshots: with UPDATE_SCREENSHOTS=1 they go to docs/screenshots/postaward-<page>.png,
else to the test's temporary directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grants.postaward import Payment, Report
from tests.e2e.conftest import check_page
from tests.factories import PDF_BYTES, World
from tests.grants.test_postaward_pages import recorded

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def shot(page: Any, folder: Path, name: str) -> None:
    check_page(page, f"postaward-{name}")
    page.screenshot(path=str(folder / f"postaward-{name}.png"), full_page=True)


def sign_in(page: Any, base: str, username: str) -> None:
    from playwright.sync_api import expect

    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Identifiant", exact=True).fill(username)
    page.get_by_label("Mot de passe", exact=True).fill("pw")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def english(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="EN — English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def french(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="FR — Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def test_the_applicant_files_its_interim_report(
    live_server: Any, browser_page: Any, shots: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    world = World()
    decision = recorded(world, title="Gestion des déchets à Saint-Louis")
    report = Report.objects.get(decision=decision, kind=Report.Kind.INTERIM)
    page, base = browser_page, live_server.url

    sign_in(page, base, "applicant")
    expect(page.locator("#reports-due")).to_contain_text("Rapport intermédiaire n° 1")
    check_page(page, "postaward-home")
    page.locator("#reports-due a").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rapport intermédiaire n° 1")
    shot(page, shots, "applicant-report")

    # A negative amount: refused on its field, what was typed kept.
    page.locator("#exp-staff-1").fill("-500")
    page.locator("#exp-equipment-2").fill("12 000")
    page.get_by_role("button", name="Recalculer les écarts").click()
    expect(page.locator("#error-summary")).to_contain_text("Le montant ne peut pas être négatif.")
    expect(page.locator("#exp-staff-1")).to_have_value("-500")
    expect(page.locator("#exp-equipment-2")).to_have_value("12 000")
    check_page(page, "postaward-report-error")

    # Corrected: the server recomputes the gaps.
    page.locator("#exp-staff-1").fill("41 000,00")
    page.get_by_role("button", name="Recalculer les écarts").click()
    expect(page.locator('[data-gap="exp-staff-1"]')).to_have_text("\u22129\u202f000,00\u00a0€")
    expect(page.locator("#statement-actual-total")).to_have_text("53\u202f000,00\u00a0€")
    shot(page, shots, "applicant-report-gaps")

    narrative = tmp_path / "compte-rendu.pdf"
    narrative.write_bytes(PDF_BYTES)
    page.locator("#narrative").set_input_files(str(narrative))
    page.get_by_role("button", name="Déposer le rapport").click()
    expect(page.locator(".fr-alert--success, .fr-notice, [role=status]").first).to_contain_text("déposé")
    expect(page.locator("#postaward-reports")).to_contain_text("Déposé")
    shot(page, shots, "applicant-application")
    report.refresh_from_db()
    assert report.state == Report.State.SUBMITTED
    assert report.expenses == [
        {"category": "staff", "year": 1, "amount": "41000.00"},
        {"category": "equipment", "year": 2, "amount": "12000.00"},
    ]

    # In English, and on a phone.
    english(page)
    page.goto(f"{base}/mes-dossiers/{decision.application_id}/rapports/{report.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Interim report no. 1")
    shot(page, shots, "applicant-report-en")
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/mes-dossiers/{decision.application_id}/")
    shot(page, shots, "applicant-application-390-en")
    page.set_viewport_size({"width": 1280, "height": 900})  # the language switch sits in the header
    french(page)
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/mes-dossiers/{decision.application_id}/rapports/{report.pk}/")
    shot(page, shots, "applicant-report-390")

    # The instructor reads the statement and the narrative.
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, "instructor")
    page.goto(f"{base}/dossiers/{decision.application_id}/instruction/rapports/{report.pk}/")
    expect(page.locator('[data-gap="exp-staff-1"]')).to_have_text("\u22129\u202f000,00\u00a0€")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger le compte rendu").click()
    assert Path(download_info.value.path()).read_bytes().startswith(b"%PDF")
    shot(page, shots, "instructor-report")
    page.get_by_role("link", name="Retour au dossier").click()
    expect(page.locator("#suivi")).to_contain_text("Rapport intermédiaire n° 1")
    shot(page, shots, "instructor-followup")


def test_finance_pays_a_tranche(live_server: Any, browser_page: Any, shots: Path) -> None:
    from playwright.sync_api import expect

    world = World()
    decision = recorded(world, title="Gestion des déchets à Saint-Louis")
    recorded(world, world.applicant2, country="MA", title="Formation des élus de Rabat")
    first = Payment.objects.get(decision=decision, number=1)
    page, base = browser_page, live_server.url

    sign_in(page, base, "finance")
    expect(page.locator("#main-nav")).to_contain_text("Versements")
    page.get_by_role("link", name="Versements").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Versements")
    expect(page.locator(f"#payment-{first.pk}")).to_contain_text("12\u202f500,00\u00a0€")
    shot(page, shots, "finance-payments")

    # A reference a spreadsheet would read as a formula: refused, nothing paid.
    page.locator(f'label[for="pay-{first.pk}"]').click()  # DSFR's checkbox: its label takes the click
    page.locator("#payment_reference").fill("=SUM(A1)")
    page.get_by_role("button", name="Enregistrer le paiement").click()
    expect(page.locator("#payment_reference_error")).to_contain_text("Référence invalide")
    check_page(page, "postaward-finance-refused")
    first.refresh_from_db()
    assert first.state == Payment.State.PAYABLE

    expect(page.locator(f"#pay-{first.pk}")).to_be_checked()  # the tick is kept
    expect(page.locator("#payment_reference")).to_have_value("=SUM(A1)")
    page.locator("#payment_reference").fill("DP-2026-0042")
    page.get_by_role("button", name="Enregistrer le paiement").click()
    expect(page.locator("body")).to_contain_text("1 versement enregistré comme payé.")
    first.refresh_from_db()
    assert (first.state, first.payment_reference) == (Payment.State.PAID, "DP-2026-0042")
    page.goto(f"{base}/finances/versements/?etat=all")
    expect(page.locator(f"#payment-{first.pk}")).to_contain_text("DP-2026-0042")
    shot(page, shots, "finance-payments-paid")

    english(page)
    page.goto(f"{base}/finances/versements/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payments")
    shot(page, shots, "finance-payments-en")
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/finances/versements/?etat=all")
    shot(page, shots, "finance-payments-390-en")
    page.set_viewport_size({"width": 1280, "height": 900})
    french(page)
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/finances/versements/")
    shot(page, shots, "finance-payments-390")
