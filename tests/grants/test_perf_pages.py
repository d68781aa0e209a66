"""Pages whose cost must not grow with the database (issue 13): the applicant's home in
keyset pages with its per-state counts, the call dashboard's time in each state kept in
the cache until an application of the call moves."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grants.models import Application
from tests.factories import World

pytestmark = pytest.mark.django_db

S = Application.State
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _older_link(page: str) -> str | None:
    found = re.search(r'href="(\?cursor=[^"#]+)#applications" rel="next"', page)
    return html.unescape(found.group(1)) if found else None


def _newer_link(page: str) -> str | None:
    found = re.search(r'href="(\?cursor=[^"#]+)#applications" rel="prev"', page)
    return html.unescape(found.group(1)) if found else None


def test_the_applicant_home_lists_20_applications_a_page_newest_first_both_ways(client, world: World) -> None:
    apps = [world.draft(title=f"Projet numéro {i:02d}", attachments=i == 0) for i in range(25)]
    world.advance(apps[0], S.SUBMITTED)  # the oldest one, submitted
    client.force_login(world.applicant)
    first = html.unescape(client.get("/").content.decode())
    # Newest first: 24 … 05 on the first page, never the five oldest.
    assert "Projet numéro 24" in first and "Projet numéro 05" in first
    assert "Projet numéro 04" not in first and "Projet numéro 00" not in first
    assert first.index("Projet numéro 24") < first.index("Projet numéro 05")
    # The counts cover every application, not only the page's.
    assert "25 dossiers :" in first
    assert "Brouillon : 24" in first and "Déposé : 1" in first
    older = _older_link(first)
    assert older is not None and _newer_link(first) is None
    second_response = client.get("/" + older)
    assert second_response.status_code == 200
    second = html.unescape(second_response.content.decode())
    assert "Projet numéro 04" in second and "Projet numéro 00" in second
    assert "Projet numéro 05" not in second
    assert _older_link(second) is None
    newer = _newer_link(second)
    assert newer is not None
    back = html.unescape(client.get("/" + newer).content.decode())
    assert "Projet numéro 05" in back and "Projet numéro 24" in back and "Projet numéro 04" not in back


def test_a_forged_page_link_is_refused_with_the_newest_page_and_why(client, world: World) -> None:
    world.draft(title="Eau potable", attachments=False)
    client.force_login(world.applicant)
    response = client.get("/", {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert "Lien de page invalide" in page
    assert "Eau potable" in page
    response = client.get("/", {"cursor": "not-a-cursor"}, **EN)
    assert response.status_code == 400
    assert "Invalid page link" in html.unescape(response.content.decode())


def test_the_applicant_home_pager_and_counts_read_in_english(client, world: World) -> None:
    for i in range(21):
        world.draft(title=f"Projet {i}", attachments=False)
    client.force_login(world.applicant)
    page = html.unescape(client.get("/", **EN).content.decode())
    assert "21 applications:" in page
    assert "Older" in page and "Newer" in page


def test_the_home_of_a_busy_authority_costs_the_same_as_a_small_ones(client, world: World) -> None:
    client.force_login(world.applicant)
    for _ in range(3):
        world.draft(attachments=False)
    client.get("/")
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for _ in range(30):
        world.draft(attachments=False)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/").content.decode()
    assert len(many) == len(few)
    assert page.count('class="portal-title"') == 20


def _stays_computed(client, url: str) -> tuple[bool, str]:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    computed = any("LEAD(" in q["sql"] for q in context.captured_queries)
    return computed, response.content.decode()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[dt.datetime], None]:
    def set_to(when: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: when)

    return set_to


def test_the_dashboard_keeps_its_medians_until_an_application_of_the_call_moves(
    client, world: World, clock, django_capture_on_commit_callbacks
) -> None:
    base = timezone.now()
    clock(base)
    with django_capture_on_commit_callbacks(execute=True):
        app = world.fire(world.draft(), "submit", world.applicant)
        clock(base + dt.timedelta(days=2))
        world.fire(app, "declare_eligible", world.instructor)
    client.force_login(world.instructor)
    url = reverse("call-dashboard", args=[world.call.code])
    computed, page = _stays_computed(client, url)
    assert computed
    assert "2 jours" in page
    # Read again: from the cache, the same figures.
    computed, again = _stays_computed(client, url)
    assert not computed
    assert "2 jours" in again
    # Another application of the call leaves "submitted" after 4 days: forgotten on commit,
    # computed again, the median is now 3 days.
    clock(base)
    with django_capture_on_commit_callbacks(execute=True):
        other = world.fire(world.draft(), "submit", world.applicant)
        clock(base + dt.timedelta(days=4))
        world.fire(other, "declare_eligible", world.instructor)
    computed, after = _stays_computed(client, url)
    assert computed
    assert "3 jours" in after


def test_the_dashboard_computes_its_medians_when_the_cache_is_down(client, world: World, monkeypatch) -> None:
    from django.core.cache import cache

    def down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    world.advance(world.draft(), S.AWAITING_OPINIONS)
    client.force_login(world.instructor)
    computed, page = _stays_computed(client, reverse("call-dashboard", args=[world.call.code]))
    assert computed
    assert 'id="state-submitted"' in page


def _titles(page: str) -> list[str]:
    # Each title shows more than once in its row: the titles in the order of their rows.
    return list(dict.fromkeys(re.findall(r"Dossier \d\d", page)))


def test_the_home_pages_mix_led_and_co_applied_applications_newest_first_each_once(client, world: World) -> None:
    for i in range(24):
        if i % 3 == 0:
            # Led by Rennes, Lyon co-applies: on Lyon's home too.
            app = world.draft(user=world.applicant2, title=f"Dossier {i:02d}", attachments=False)
            app.co_applicants.add(world.lyon)
        else:
            app = world.draft(title=f"Dossier {i:02d}", attachments=False)
    world.draft(user=world.applicant2, title="Rennes seule", attachments=False)
    client.force_login(world.applicant)
    first = html.unescape(client.get("/").content.decode())
    assert "24 dossiers :" in first and "Brouillon : 24" in first
    assert "Rennes seule" not in first
    shown = _titles(first)
    assert shown == [f"Dossier {i:02d}" for i in range(23, 3, -1)]
    older = _older_link(first)
    assert older is not None
    second = html.unescape(client.get("/" + older).content.decode())
    assert _titles(second) == ["Dossier 03", "Dossier 02", "Dossier 01", "Dossier 00"]
    newer = _newer_link(second)
    assert newer is not None
    back = html.unescape(client.get("/" + newer).content.decode())
    assert _titles(back) == shown


def test_the_home_costs_the_same_with_more_co_applications(client, world: World) -> None:
    def co_apply(n: int) -> None:
        for _ in range(n):
            world.draft(user=world.applicant2, attachments=False).co_applicants.add(world.lyon)

    client.force_login(world.applicant)
    world.draft(attachments=False)
    co_apply(2)
    client.get("/")
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    co_apply(22)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/").content.decode()
    assert len(many) == len(few)
    assert page.count('class="portal-title"') == 20


def _home_reads(client) -> list[str]:
    with CaptureQueriesContext(connection) as context:
        assert client.get("/").status_code == 200
    return [q["sql"] for q in context.captured_queries]


def test_the_home_counts_both_branches_in_one_statement_and_reads_only_a_branch_with_applications(
    client, world: World
) -> None:
    client.force_login(world.applicant)
    world.draft(title="Dossier 00", attachments=False)
    counts = [sql for sql in _home_reads(client) if "COUNT(" in sql and "grants_application" in sql]
    assert len(counts) == 1 and "UNION ALL" in counts[0]
    # Lyon co-applies to nothing yet: its co-applied branch is counted, not read for the page.
    before = [sql for sql in _home_reads(client) if 'FROM "grants_application"' in sql and "COUNT(" not in sql]
    co = world.draft(user=world.applicant2, title="Dossier 01", attachments=False)
    co.co_applicants.add(world.lyon)
    page = html.unescape(client.get("/").content.decode())
    after = [sql for sql in _home_reads(client) if 'FROM "grants_application"' in sql and "COUNT(" not in sql]
    assert len(after) == len(before) + 1
    assert _titles(page) == ["Dossier 01", "Dossier 00"] and "2 dossiers :" in page


def test_the_home_looks_for_reports_due_only_once_an_application_is_approved(client, world: World) -> None:
    client.force_login(world.applicant)
    world.draft(attachments=False)
    assert not any("grants_report" in sql for sql in _home_reads(client))
    world.advance(world.draft(), S.APPROVED)
    assert any("grants_report" in sql for sql in _home_reads(client))
