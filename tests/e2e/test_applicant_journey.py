"""The applicant's journey in a real browser (Playwright + Debian's chromium): sign in,
start a draft, fill the four sections (the budget panel updates live), upload the
required attachments (a refused file first), submit and read the reference; answer a
completion request and resubmit; download the decision letter once delivered.

Screenshots of every page are taken; with UPDATE_SCREENSHOTS=1 they are written to
docs/screenshots/applicant-<page>.png (the ones the documentation shows), else to the
test's temporary directory so a normal run leaves the working tree untouched.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from grants import services
from grants.documents import issuing
from grants.models import Application, Decision, OpinionRequest, Review
from tests.e2e.conftest import check_page
from tests.factories import PDF_BYTES, World

S = Application.State

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page: Any, folder: Path, name: str) -> None:
    """Check the page (axe-core, no horizontal scrolling), then take its screenshot."""
    check_page(page, f"applicant-{name}")
    page.screenshot(path=str(folder / f"applicant-{name}.png"), full_page=True)


def deliver(decision: Decision, app: Application) -> None:
    """The pdf worker's step between sign and download: the real letter, rendered and delivered."""
    issuing.issue_decision_letter(decision.pk)


def test_an_applicant_goes_from_an_empty_draft_to_its_decision(
    live_server: Any, browser_page: Any, shots: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    world = World()
    # A few other applications, so the home page looks like a real one.
    world.draft(title="Formation des agents municipaux de Thiès", attachments=False)
    world.advance(world.draft(title="Eau potable dans la commune de Podor"), S.SUBMITTED)
    world.advance(world.draft(title="Gestion des déchets à Kaolack"), S.AWAITING_OPINIONS)
    page = browser_page
    base = live_server.url

    # --- sign in ------------------------------------------------------------------------
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    check_page(page, "login (signed out)")
    page.get_by_label("Identifiant", exact=True).fill("applicant")
    page.get_by_label("Mot de passe", exact=True).fill("mauvais")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("#login-error")).to_contain_text("Identifiant ou mot de passe incorrect.")
    shot(page, shots, "login")
    page.get_by_label("Mot de passe", exact=True).fill("pw")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes dossiers")
    expect(page.locator("#appels")).to_be_visible()
    check_page(page, "home (empty)")

    # --- start a draft --------------------------------------------------------------------
    page.locator(f'a[href="/mes-dossiers/nouveau/{world.call.code}/"]').click()
    check_page(page, "start")
    page.locator("#id_title").fill("Jumelage Lyon – Saint-Louis : gestion des déchets")
    page.get_by_role("button", name="Créer le brouillon").click()
    expect(page.locator(".fr-stepper__title")).to_contain_text("Le projet")
    app = Application.objects.get(title__startswith="Jumelage Lyon")

    # --- 1. the project -----------------------------------------------------------------
    page.locator("#id_summary").fill(
        "Appui à la commune de Saint-Louis pour la collecte et la valorisation des déchets ménagers."
    )
    page.get_by_label("Objectifs", exact=True).fill(
        "Former 40 agents ; équiper deux quartiers pilotes ; valoriser 30 % des déchets."
    )
    page.locator("#id_themes").fill("déchets, gouvernance locale")
    page.locator("#id_sdg_targets").fill("11.6, 12.5")
    page.locator('label[for="id_gender_marker_1"]').click()  # DSFR radios: the label is what one clicks
    expect(page.locator("#id_gender_marker_1")).to_be_checked()
    page.locator("#id_start_date").fill("2027-01-01")
    page.locator("#id_duration_months").fill("24")
    shot(page, shots, "form-project")
    page.get_by_role("button", name="Enregistrer et continuer").click()

    # --- 2. partners and countries -------------------------------------------------------------
    expect(page.locator(".fr-stepper__title")).to_contain_text("Partenaires et pays")
    page.locator("#id_partners-0-name").fill("Commune de Saint-Louis")
    page.locator("#id_partners-0-country").select_option("SN")
    shot(page, shots, "form-partners")
    page.get_by_role("button", name="Enregistrer et continuer").click()

    # --- 3. budget: the panel is refreshed by htmx from the server's rules ----------------
    expect(page.locator(".fr-stepper__title")).to_contain_text("Budget et financements")
    page.locator("#id_lines-0-year").select_option("1")
    page.locator("#id_lines-0-category").select_option("staff")
    page.locator("#id_lines-0-label").fill("Expertise technique des agents lyonnais")
    page.locator("#id_lines-0-amount").fill("50 000")
    page.locator("#id_lines-1-year").select_option("2")
    page.locator("#id_lines-1-category").select_option("equipment")
    page.locator("#id_lines-1-label").fill("Bennes et conteneurs")
    page.locator("#id_lines-1-amount").fill("50 000")
    page.locator("#id_own_cash").fill("15 000")
    page.locator("#id_own_in_kind").fill("5 000")
    page.get_by_label("Apport des partenaires étrangers", exact=True).fill("10 000")
    page.get_by_label("Autres cofinancements", exact=True).fill("45 000")
    page.locator("#id_requested").fill("80 000")
    expect(page.locator('[data-rule="rate_cap"]')).to_have_class(re.compile("portal-rule--ko"))
    expect(page.locator('[data-rule="balance"]')).to_have_class(re.compile("portal-rule--ko"))
    expect(page.locator("#budget-rate")).to_have_text("80\u00a0%")
    shot(page, shots, "form-budget-rules-unmet")
    page.locator("#id_requested").fill("25 000")
    expect(page.locator('[data-rule="balance"]')).to_have_class(re.compile("portal-rule--ok"))
    expect(page.locator('[data-rule="rate_cap"]')).to_have_class(re.compile("portal-rule--ok"))
    expect(page.locator("#budget-total")).to_have_text("100\u202f000,00\u00a0€")
    expect(page.locator("#budget-rate")).to_have_text("25\u00a0%")
    # Nothing saved by the live panel: the preview works on an unsaved copy.
    assert not app.budget_lines.exists()
    shot(page, shots, "form-budget")
    page.get_by_role("button", name="Enregistrer et continuer").click()
    assert app.budget_lines.count() == 2

    # --- 4. attachments: a refused file, then the two required ones -----------------------
    expect(page.locator(".fr-stepper__title")).to_contain_text("Pièces justificatives")
    fake = tmp_path / "convention.pdf"
    fake.write_bytes(b"this is not a PDF, whatever its name says")
    pdf = tmp_path / "Convention de partenariat signée.pdf"
    pdf.write_bytes(PDF_BYTES)
    resolution = tmp_path / "Délibération du conseil municipal.pdf"
    resolution.write_bytes(PDF_BYTES)
    page.locator("#id_partnership_agreement-file").set_input_files(str(fake))
    page.locator("#piece-partnership_agreement .portal-upload-btn").click()
    expect(page.locator("#id_partnership_agreement-file_error")).to_contain_text("Format refusé")
    expect(page.locator("#error-summary")).to_be_visible()
    shot(page, shots, "form-attachments-refused")
    page.locator("#id_partnership_agreement-file").set_input_files(str(pdf))
    page.locator("#piece-partnership_agreement .portal-upload-btn").click()
    expect(page.locator("#piece-partnership_agreement")).to_contain_text("Convention de partenariat signée.pdf")
    page.locator("#id_council_resolution-file").set_input_files(str(resolution))
    page.locator("#piece-council_resolution .portal-upload-btn").click()
    expect(page.locator("#piece-council_resolution")).to_contain_text("Délibération du conseil municipal.pdf")
    shot(page, shots, "form-attachments")

    # --- review and submit ---------------------------------------------------------------------
    page.get_by_role("link", name="Vérifier le dossier").click()
    expect(page.locator("#ready")).to_contain_text("Toutes les conditions de dépôt sont remplies")
    shot(page, shots, "review")
    # The sworn statement is required: without it, nothing is submitted and the page says so.
    page.get_by_role("button", name="Déposer le dossier").click()
    expect(page.locator("#confirm-error")).to_contain_text("Cette confirmation est requise pour continuer.")
    expect(page.locator("#error-summary")).to_contain_text("Déclaration sur l'honneur")
    check_page(page, "review (sworn statement missing)")
    app.refresh_from_db()
    assert app.state == S.DRAFT
    page.locator("label[for=confirm]").click()
    page.get_by_role("button", name="Déposer le dossier").click()
    app.refresh_from_db()
    assert app.state == S.SUBMITTED
    expect(page.locator("#reference")).to_have_text(app.reference or "")
    assert app.reference == f"{world.call.code}-00003"
    shot(page, shots, "confirmation")

    # --- a completion request: answer it and resubmit ------------------------------------------
    due = timezone.localdate() + dt.timedelta(days=10)
    world.fire(
        app,
        "request_completion",
        world.instructor,
        message="Merci de joindre la délibération signée par le maire (la version jointe n'est pas signée).",
        due_date=due.isoformat(),
    )
    page.goto(f"{base}/mes-dossiers/{app.pk}/")
    expect(page.locator("#completion-request")).to_contain_text("la délibération signée par le maire")
    expect(page.locator("#completion-request")).to_contain_text(f"avant le {due:%d/%m/%Y}")
    shot(page, shots, "completion-request")
    page.get_by_role("link", name="Modifier le dossier", exact=True).click()
    page.locator("#sidemenu-wrapper").get_by_role("link", name="4. Pièces justificatives").click()
    check_page(page, "attachments (completion)")
    signed = tmp_path / "Délibération signée.pdf"
    signed.write_bytes(PDF_BYTES)
    page.locator("#id_council_resolution-file").set_input_files(str(signed))
    page.locator("#piece-council_resolution .portal-upload-btn").click()
    expect(page.locator("#piece-council_resolution")).to_contain_text("Délibération signée.pdf")
    page.get_by_role("link", name="Vérifier le dossier").click()
    check_page(page, "review (completion)")
    page.locator("label[for=confirm]").click()
    page.get_by_role("button", name="Redéposer le dossier").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vos compléments ont été transmis")
    check_page(page, "confirmation (completion)")
    app.refresh_from_db()
    assert app.state == S.SUBMITTED

    # --- instruction, opinions, committee and decision (staff, through the services) ----------
    services.review_assign(application_id=app.pk, reviewer_username="reviewer1", user=world.instructor)
    world.fire(app, "declare_eligible", world.instructor)
    request = OpinionRequest.objects.get(application=app, country_id="SN")
    services.opinion_give(opinion_id=request.pk, user=world.embassy_sn, verdict="favorable", comment="AVIS-SECRET")
    review = Review.objects.get(application=app, reviewer=world.reviewer1)
    services.review_declare(review_id=review.pk, user=world.reviewer1, conflict=False)
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={"scores": {c["code"]: 4 for c in world.call.scoring_criteria}, "recommendation": "yes"},
    )
    services.consensus_record(application_id=app.pk, user=world.instructor)
    world.fire(app, "schedule", world.secretary, session=world.session.pk)
    world.open_session()
    world.fire(app, "approve", world.secretary, amount="25000.00")
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    deliver(decision, app)

    # --- the application page: timeline, decision, letter -------------------------------------
    page.goto(f"{base}/mes-dossiers/{app.pk}/")
    timeline = page.locator("#timeline")
    for label in (
        "Brouillon créé",
        "Dossier déposé",
        "Compléments demandés",
        "Compléments transmis, dossier redéposé",
        "Dossier recevable",
        "Dossier en évaluation",
        "Dossier transmis au comité",
        "Dossier retenu par le comité",
        "Décision notifiée",
    ):
        expect(timeline).to_contain_text(label)
    expect(page.locator("body")).not_to_contain_text("AVIS-SECRET")
    expect(page.locator("#decision")).to_contain_text("Votre projet est retenu")
    shot(page, shots, "application")
    with page.expect_download() as download_info:
        page.locator("#decision-letter").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    assert Path(download.path()).read_bytes().startswith(b"%PDF")

    page.goto(f"{base}/")
    expect(page.locator("#applications")).to_contain_text(app.reference or "")
    shot(page, shots, "home")
    # The language switch, both ways.
    page.get_by_role("button", name="EN — English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    check_page(page, "home (English)")
    page.get_by_role("button", name="FR — Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    check_page(page, "login (signed out)")
