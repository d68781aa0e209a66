"""The evaluation in a real browser (Playwright + Debian's chromium), at 1280 px and 390 px,
in French and in English: the instructor's assignment form with each reviewer's load and
known conflicts, the secretary's closed session with its frozen ranking, the applicant's
page with the evaluation summary to download.

Screenshots: with UPDATE_SCREENSHOTS=1 they go to docs/screenshots/evaluation-<screen>.png,
else to the test's temporary directory.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from grants import services
from grants.documents import issuing
from grants.models import Application, Decision, Role
from tests.e2e.conftest import check_page
from tests.factories import UserFactory, World, grant
from workflows.models import Task, TaskKind

S = Application.State
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page: Any, folder: Path, name: str) -> None:
    check_page(page, f"evaluation-{name}")
    page.screenshot(path=str(folder / f"evaluation-{name}.png"), full_page=True)


def sign_in(page: Any, base: str, username: str, language: str = "fr") -> None:
    from playwright.sync_api import expect

    page.context.clear_cookies()
    size = page.viewport_size
    page.set_viewport_size(DESKTOP)  # the language switch sits in the desktop header
    page.goto(f"{base}/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill("pw")
    page.locator("input[name=password]").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    if language == "en":
        page.get_by_role("button", name="EN — English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    if size:
        page.set_viewport_size(size)


def test_the_evaluation_screens_in_the_browser(live_server: Any, browser_page: Any, shots: Path) -> None:
    from playwright.sync_api import expect

    world = World()
    for user, (first, last) in ((world.reviewer1, ("Claire", "Dumas")), (world.reviewer2, ("Karim", "Benali"))):
        user.first_name, user.last_name = first, last
        user.save()
    member = UserFactory(username="reviewer3", first_name="Inès", last_name="Morel")
    grant(member, Role.REVIEWER, organisation=world.lyon)
    # reviewer2 is busy: two reviews in progress, one of them overdue
    for title in ("Eau potable à Podor", "Marchés ruraux de Kaolack"):
        busy = world.advance(world.draft(title=title), S.UNDER_REVIEW)
        services.review_assign(application_id=busy.pk, reviewer_username="reviewer2", user=world.instructor)
    Task.objects.filter(kind=TaskKind.REVIEW, assignee=world.reviewer2).order_by("pk").filter(
        pk=Task.objects.filter(kind=TaskKind.REVIEW, assignee=world.reviewer2).order_by("pk").values("pk")[:1]
    ).update(due_at=timezone.now() - dt.timedelta(days=2))
    target = world.advance(world.draft(title="Jumelage Lyon – Saint-Louis : gestion des déchets"), S.SUBMITTED)
    reviewed = world.advance(world.draft(title="Assainissement à Guédiawaye"), S.UNDER_REVIEW)

    # Decided and closed: two projects, the letters delivered with their summaries.
    first = world.advance(world.draft(title="Formation des élus de Saint-Louis"), S.IN_COMMITTEE)
    second = world.advance(world.draft(title="Tourisme solidaire à Ndar"), S.IN_COMMITTEE)
    services.consensus_record(
        application_id=first.pk,
        user=world.instructor,
        scores={c["code"]: 5 for c in world.call.scoring_criteria},
        comment="Partenariat exemplaire ; le suivi est précis.",
    )
    world.open_session()
    world.fire(first, "approve", world.secretary, amount="25000.00")
    world.fire(second, "reject", world.secretary, reasons="Le partenaire étranger est peu associé.")
    services.session_transition(session_id=world.session.pk, name="close", user=world.secretary)
    for decision in Decision.objects.filter(application__in=[first, second]):
        services.decision_sign(decision_id=decision.pk, user=world.signatory)
        assert issuing.issue_decision_letter(decision.pk) == issuing.ISSUED

    page, base = browser_page, live_server.url

    # The instructor's assignment form, desktop then phone, French then English.
    sign_in(page, base, "instructor")
    page.goto(f"{base}/dossiers/{target.pk}/instruction/#evaluations")
    candidates = page.locator("#reviewer-candidates")
    expect(candidates.locator("#candidate-reviewer3")).to_contain_text("membre d'une collectivité du dossier")
    expect(candidates.locator("#candidate-reviewer2")).to_contain_text("2")
    expect(page.locator("#min-reviews")).to_contain_text("0 rendue(s) sur 1")
    page.locator("#assign-reviewer").scroll_into_view_if_needed()
    shot(page, shots, "assignment")
    # On a phone, an application under review (reviewer1 assigned and declared).
    page.set_viewport_size(MOBILE)
    page.goto(f"{base}/dossiers/{reviewed.pk}/instruction/#evaluations")
    expect(page.locator("#candidate-reviewer1")).to_have_count(0)
    shot(page, shots, "assignment-mobile")
    sign_in(page, base, "instructor", "en")
    page.goto(f"{base}/dossiers/{reviewed.pk}/instruction/")
    expect(page.locator("#reviewer-candidates")).to_contain_text("member of an authority of the application")
    shot(page, shots, "assignment-mobile-en")
    page.set_viewport_size(DESKTOP)

    # The secretary's closed session: the frozen ranking.
    sign_in(page, base, "secretary")
    page.goto(f"{base}/comites/{world.session.pk}/")
    expect(page.locator("#ranking-frozen")).to_contain_text("Classement figé à la clôture")
    shot(page, shots, "frozen-ranking")

    # The applicant's page: the summary to download, in French and in English, desktop and phone.
    sign_in(page, base, "applicant")
    page.goto(f"{base}/mes-dossiers/{first.pk}/")
    link = page.locator("#evaluation-summary")
    expect(link).to_contain_text("Télécharger la synthèse de l'évaluation")
    shot(page, shots, "applicant-summary")
    with page.expect_download() as download:
        link.click()
    path = download.value.path()
    assert path is not None and Path(path).read_bytes().startswith(b"%PDF-")
    page.set_viewport_size(MOBILE)
    sign_in(page, base, "applicant", "en")
    page.goto(f"{base}/mes-dossiers/{first.pk}/")
    expect(page.locator("#evaluation-summary")).to_contain_text("Download the evaluation summary")
    shot(page, shots, "applicant-summary-mobile-en")
