"""The staff's part of the lifecycle in a real browser (Playwright + Debian's chromium):
the instructor assigns a reviewer and declares the application eligible, the embassy
gives its opinion, the reviewer scores it, the secretary schedules it and records the
outcome (the envelope updates as the amount is typed), the signatory signs, finance
records the commitment; the instructor reads the call's dashboard.

Screenshots: with UPDATE_SCREENSHOTS=1 they go to docs/screenshots/staff-<screen>.png
(the ones the documentation shows), else to the test's temporary directory.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from grants.documents import issuing
from grants.models import Application, CommitteeSession, Consensus, Decision, OpinionRequest, Review
from tests.e2e.conftest import check_page
from tests.factories import World
from workflows.models import Task, TaskKind

S = Application.State

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1360, "height": 900}


def shot(page: Any, folder: Path, name: str) -> None:
    """Check the page (axe-core, no horizontal scrolling), then take its screenshot."""
    check_page(page, f"staff-{name}")
    page.screenshot(path=str(folder / f"staff-{name}.png"), full_page=True)


def sign_in(page: Any, base: str, username: str) -> None:
    from playwright.sync_api import expect

    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    check_page(page, "login")
    page.get_by_label("Identifiant", exact=True).fill(username)
    page.get_by_label("Mot de passe", exact=True).fill("pw")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check_page(page, f"home of {username}")


def deliver(decision: Decision) -> None:
    """The pdf worker's step between sign and record: the real letter, rendered and delivered."""
    issuing.issue_decision_letter(decision.pk)


def test_each_staff_role_does_its_part_in_the_browser(live_server: Any, browser_page: Any, shots: Path) -> None:
    from playwright.sync_api import expect

    world = World()
    world.session.title = "Comité de sélection de printemps"
    world.session.save()
    app = world.advance(world.draft(title="Jumelage Lyon – Saint-Louis : gestion des déchets"), S.SUBMITTED)
    # Other work in the queues, so the screens look like real ones.
    late = world.advance(world.draft(title="Eau potable à Podor", country="SN"), S.SUBMITTED)
    Task.objects.filter(application=late).update(due_at=timezone.now() - dt.timedelta(days=4))
    world.advance(world.draft(title="Formation des élus de Rabat", country="MA"), S.SUBMITTED)
    kaolack = world.advance(world.draft(title="Marchés ruraux de Kaolack"), S.AWAITING_OPINIONS)
    overdue = timezone.now() - dt.timedelta(days=3)
    OpinionRequest.objects.filter(application=kaolack).update(due_at=overdue)
    Task.objects.filter(application=kaolack, kind=TaskKind.GIVE_OPINION).update(due_at=overdue)
    other = world.advance(world.draft(title="Tourisme solidaire à Essaouira", country="MA"), S.IN_COMMITTEE)
    world.open_session()
    world.fire(other, "approve", world.secretary, amount="20000.00")
    page = browser_page
    base = live_server.url

    # --- instructor: inbox, application page, reviewer, eligibility ----------------------
    sign_in(page, base, "instructor")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes tâches")
    # At 1360 px the header's tools never squeeze the "République française" block.
    row_width, logo_width = page.evaluate(
        "[document.querySelector('.fr-header__brand-top').getBoundingClientRect().width,"
        " document.querySelector('.fr-logo').getBoundingClientRect().width]"
    )
    assert row_width >= logo_width
    task = Task.objects.get(application=app, kind=TaskKind.CHECK_ELIGIBILITY, state=Task.State.OPEN)
    expect(page.locator(f"#task-{Task.objects.get(application=late, state='open').pk}")).to_have_class("staff-overdue")
    page.locator(f"#task-{task.pk} button", has_text="Prendre en charge").click()
    expect(page.locator(f"#task-{task.pk}")).to_contain_text("Vous")
    shot(page, shots, "inbox")
    page.locator(f"#task-{task.pk} a.fr-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(app.reference)
    page.locator("#id_assign_reviewer-reviewer").select_option("reviewer1")
    page.get_by_role("button", name="Assigner").click()
    expect(page.locator(".fr-alert--success")).to_contain_text("reviewer1 est assigné")
    page.locator("#action-declare_eligible summary").click()
    shot(page, shots, "application")
    page.locator("label[for=confirm-declare_eligible]").click()  # the confirmation an irreversible act asks
    page.locator("#action-declare_eligible button[type=submit]").click()
    expect(page.locator(".fr-alert--success")).to_contain_text("Déclarer recevable")
    expect(page.locator("#app-state")).to_have_text("Avis en cours")
    check_page(page)

    # --- embassy: the opinion --------------------------------------------------------------
    sign_in(page, base, "embassy-sn")
    page.get_by_role("link", name="Avis", exact=True).click()
    check_page(page)
    opinion = OpinionRequest.objects.get(application=app)
    page.locator(f"#opinion-{opinion.pk} a.fr-btn").click()
    page.locator('label[for="id_verdict_0"]').click()
    page.get_by_label("Commentaire").fill("Partenariat ancien et actif ; la commune a les moyens de suivre le projet.")
    shot(page, shots, "opinion")
    page.get_by_role("button", name="Rendre l'avis").click()
    expect(page.locator(".fr-alert--success")).to_contain_text("Votre avis est enregistré")
    check_page(page)
    opinion.refresh_from_db()
    assert opinion.verdict == "favorable"
    app.refresh_from_db()
    assert app.state == S.UNDER_REVIEW  # the last opinion closes the phase by itself

    # --- reviewer: the scoring grid -------------------------------------------------------
    sign_in(page, base, "reviewer1")
    page.get_by_role("link", name="Évaluations", exact=True).click()
    check_page(page)
    review = Review.objects.get(application=app, reviewer=world.reviewer1)
    page.locator(f"#review-{review.pk} a.fr-btn").click()
    # Before reading: the declaration of no conflict of interest (dated, logged).
    check_page(page)
    page.locator('label[for="id_declaration-conflict_0"]').click()
    page.get_by_role("button", name="Enregistrer ma déclaration").click()
    check_page(page)
    for criterion, score in zip(world.call.scoring_criteria, (4, 5, 3, 4, 3, 4), strict=True):
        page.locator(f'label[for="id_score-score_{criterion["code"]}_{score}"]').click()
    page.locator('label[for="id_score-recommendation_0"]').click()
    page.locator("#id_score-comment").fill("Projet pertinent, partenariat solide ; indicateurs de suivi à préciser.")
    shot(page, shots, "scoring")
    page.get_by_role("button", name="Rendre l'évaluation").click()
    expect(page.locator(".fr-alert--success")).to_contain_text("Votre évaluation est enregistrée")
    check_page(page)
    review.refresh_from_db()
    assert review.state == Review.State.SUBMITTED

    # --- instructor: the consensus of the reviews ----------------------------------------
    sign_in(page, base, "instructor")
    page.goto(f"{base}/dossiers/{app.pk}/instruction/")
    page.locator("#consensus-link").click()
    check_page(page)
    page.get_by_role("button", name="Enregistrer le consensus").click()
    check_page(page)
    assert Consensus.objects.filter(application=app).exists()

    # --- secretary: schedule, then record the outcome of the agenda ---------------------
    sign_in(page, base, "secretary")
    page.get_by_role("link", name="Comités", exact=True).click()
    check_page(page)
    page.get_by_role("link", name="Comité de sélection de printemps").click()
    check_page(page)
    page.locator(f'label[for="schedule-{app.pk}"]').click()
    page.get_by_role("button", name="Inscrire à l'ordre du jour").click()
    expect(page.locator(".fr-alert--success")).to_contain_text("1 dossier inscrit")
    check_page(page)
    page.locator(f"#id_{app.pk}-outcome").select_option("approve")
    page.locator(f"#id_{app.pk}-amount").fill("24 000")
    page.locator(f"#id_{app.pk}-text").fill("Projet retenu ; suivi des indicateurs demandé.")
    # The envelope panel is recomputed by the server as the amount is typed (htmx).
    expect(page.locator("#envelope-entered")).to_have_text("24\u202f000,00\u00a0€")
    expect(page.locator("#envelope-remaining")).to_have_text("1\u202f956\u202f000,00\u00a0€")
    page.locator(f"#id_{app.pk}-amount").fill("2 500 000")
    expect(page.locator("#envelope-exceeded")).to_be_visible()
    expect(page.locator("#outcomes-submit")).to_be_disabled()
    page.locator(f"#id_{app.pk}-amount").fill("24 000")
    expect(page.locator("#outcomes-submit")).to_be_enabled()
    # At 1360 px the agenda's decision column is on screen, not scrolled away.
    assert page.evaluate(
        "(() => { const c = document.querySelector('#outcomes-form .fr-table__container');"
        " return c.scrollWidth <= c.clientWidth; })()"
    )
    shot(page, shots, "committee-agenda")
    page.locator("#outcomes-submit").click()
    expect(page.locator(".fr-alert--success")).to_contain_text("1 décision enregistrée")
    check_page(page)
    app.refresh_from_db()
    assert app.state == S.APPROVED
    decision = Decision.objects.get(application=app)
    assert decision.amount == 24000

    # --- signatory: sign, follow the letter's rendering ---------------------------------
    sign_in(page, base, "signatory")
    page.get_by_role("link", name="Signature", exact=True).click()
    check_page(page)
    # The letter's preview before signing: the PDF as it will read, watermarked "PROJET".
    preview = page.request.get(base + page.locator(f"#preview-{decision.pk}").get_attribute("href"))
    assert preview.status == 200 and preview.headers["content-type"] == "application/pdf"
    assert preview.body().startswith(b"%PDF-")
    page.locator(f'label[for="sign-{decision.pk}"]').click()
    page.locator(f'label[for="sign-{Decision.objects.get(application=other).pk}"]').click()
    page.get_by_role("button", name="Signer les décisions cochées").click()  # not confirmed: nothing signed
    expect(page.locator("#sign-confirm-error")).to_contain_text("Cette confirmation est requise pour continuer.")
    expect(page.locator(f"#sign-{decision.pk}")).to_be_checked()  # the ticked rows stay ticked
    check_page(page, "signatory (confirmation missing)")
    assert Decision.objects.get(pk=decision.pk).state == Decision.State.DRAFT
    page.locator('label[for="sign-confirm"]').click()
    shot(page, shots, "signatory")
    page.get_by_role("button", name="Signer les décisions cochées").click()
    expect(page.locator(".fr-alert--success")).to_contain_text("2 décisions signées")
    check_page(page)
    decision.refresh_from_db()
    assert decision.state in (Decision.State.SIGNED, Decision.State.DELIVERED)
    deliver(decision)
    # The progress panel polls the server every few seconds: the delivery shows up.
    expect(page.locator(f"#progress-{decision.pk}")).to_contain_text("Notifiée", timeout=10_000)
    shot(page, shots, "signatory-progress")

    # --- finance: the letter and the commitment -------------------------------------------
    sign_in(page, base, "finance")
    page.get_by_role("link", name="Finances", exact=True).click()
    check_page(page)
    row = page.locator(f"#decision-{decision.pk}")
    expect(row.get_by_role("link", name="Lettre PDF")).to_be_visible()
    row.locator(f"#id_d{decision.pk}-commitment_number").fill("EJ-2026-000123")
    shot(page, shots, "finance")
    with page.expect_download() as download:
        page.get_by_role("link", name="Tableur ODS").click()
    assert download.value.suggested_filename.endswith(".ods")
    row.get_by_role("button", name="Enregistrer").click()
    expect(page.locator(".fr-alert--success")).to_contain_text("Engagement EJ-2026-000123 enregistré")
    check_page(page)
    decision.refresh_from_db()
    assert (decision.state, decision.commitment_number) == (Decision.State.RECORDED, "EJ-2026-000123")

    # --- instructor: the call's dashboard --------------------------------------------------
    sign_in(page, base, "instructor")
    page.get_by_role("link", name="Tableaux de bord", exact=True).click()
    check_page(page)
    page.get_by_role("link", name=world.call.code).click()
    expect(page.locator("#dashboard-committed")).to_contain_text("44\u202f000,00\u00a0€")
    expect(page.locator("#state-approved")).to_contain_text("2")
    expect(page.get_by_role("cell", name="Sénégal")).to_be_visible()  # the overdue opinion
    shot(page, shots, "dashboard")
    assert CommitteeSession.objects.get(pk=world.session.pk).applications.count() == 2
