"""The pages issue 13 changed, in the browser at 1280 and 390 px, French and English: the
applicant's home in pages of 20 with its counts, and a spreadsheet export asked from
/dossiers/, followed on its page and downloaded. Each page is checked like the journeys'
(axe-core, no horizontal scrolling).

Screenshots: with UPDATE_SCREENSHOTS=1 they go to docs/screenshots/perf-<page>.png, else
to the test's temporary directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grants.export_jobs import ExportJob
from grants.models import Application
from grants.web.staff import export_jobs
from tests.e2e.conftest import check_page
from tests.factories import World
from tests.grants.test_staff_performance import bulk_applications

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

S = Application.State
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=sorted(WIDTHS))
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    return WIDTHS[request.param]


def shot(page: Any, folder: Path, name: str) -> None:
    check_page(page, f"perf-{name}")
    page.screenshot(path=str(folder / f"perf-{name}.png"), full_page=True)


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Identifiant", exact=True).fill(username)
    page.get_by_label("Mot de passe", exact=True).fill("pw")
    page.get_by_role("button", name="Se connecter").click()


def _english(page: Any, base: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])


def test_the_applicant_pages_through_its_applications(
    live_server: Any, browser_page: Any, shots: Path, viewport: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    world = World()
    for i in range(23):
        world.draft(title=f"Projet de coopération numéro {i:02d}", attachments=False)
    page = browser_page
    base = live_server.url
    size = "phone" if viewport["width"] < 600 else "desktop"
    _sign_in(page, base, "applicant")
    expect(page.locator("#state-counts")).to_contain_text("23 dossiers :")
    expect(page.locator("td.portal-title")).to_have_count(20)
    shot(page, shots, f"home-{size}")
    page.get_by_role("link", name="Plus anciens", exact=True).click()
    expect(page.locator("td.portal-title")).to_have_count(3)
    expect(page.get_by_role("link", name="Plus récents", exact=True)).to_be_visible()
    check_page(page, f"perf-home-older-{size}")
    _english(page, base)
    page.goto(f"{base}/")
    expect(page.locator("#state-counts")).to_contain_text("23 applications:")
    expect(page.get_by_role("link", name="Older", exact=True)).to_be_visible()
    shot(page, shots, f"home-{size}-en")


def test_an_instructor_asks_for_the_spreadsheet_and_downloads_it(
    live_server: Any, browser_page: Any, shots: Path, viewport: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    world = World()
    bulk_applications(world, 30, S.SUBMITTED)
    page = browser_page
    base = live_server.url
    size = "phone" if viewport["width"] < 600 else "desktop"
    _sign_in(page, base, "instructor")
    page.goto(f"{base}/dossiers/?state=submitted")
    page.get_by_role("button", name="XLSX").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Export XLSX des dossiers")
    expect(page.locator("#export-state")).to_contain_text("Export en préparation")
    shot(page, shots, f"export-waiting-{size}")
    # No worker runs beside the live server: the job is built here, as a worker would.
    job = ExportJob.objects.get()
    assert job.query == "state=submitted"
    assert export_jobs.build(job.pk) == ExportJob.State.DONE
    page.get_by_role("link", name="Actualiser").click()
    expect(page.locator("#export-state")).to_contain_text("Votre fichier est prêt")
    shot(page, shots, f"export-ready-{size}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger le fichier XLSX").click()
    assert download.value.suggested_filename.startswith("dossiers-")
    assert download.value.suggested_filename.endswith(".xlsx")
    _english(page, base)
    page.reload()
    expect(page.locator("#export-state")).to_contain_text("Your file is ready")
    shot(page, shots, f"export-ready-{size}-en")
