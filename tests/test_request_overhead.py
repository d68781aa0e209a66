"""The fixed cost of a signed-in request: the queries every page pays whatever its data
(session, account, roles, second factor, notifications badge), pinned on a minimal staff
page and on the applicant's home, so that a middleware, a context processor or the base
template cannot add one unnoticed. The DSFR site configuration is read once per process,
not per page, and an edit in the admin is shown on the next page."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from dsfr.models import DsfrConfig

from tests.factories import World


def _tables(client: Client, path: str) -> list[str]:
    """The first table each query of one (warm) request reads."""
    assert client.get(path).status_code == 200  # warms the process-wide caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return [
        q["sql"].split(' FROM "', 1)[1].split('"', 1)[0] if ' FROM "' in q["sql"] else q["sql"]
        for q in ctx.captured_queries
    ]


FIXED = ["django_session", "auth_user", "grants_rolegrant"]


def test_the_staff_api_pays_four_fixed_queries(world: World, client: Client) -> None:
    client.force_login(world.instructor)
    tables = _tables(client, "/api/v1/tasks/")
    # session, account, roles and scopes (once), whether the account has a second factor; then the list.
    assert tables[:4] == [*FIXED, "otp_totp_totpdevice"]
    assert len(tables) == 5


def test_a_staff_page_adds_only_the_badge_to_the_fixed_queries(world: World, client: Client) -> None:
    client.force_login(world.instructor)
    tables = _tables(client, "/tasks/")
    assert tables[:4] == [*FIXED, "otp_totp_totpdevice"]
    assert "dsfr_dsfrconfig" not in tables
    assert tables.count("notifications_notification") == 1
    assert len(tables) == 9


def test_the_applicant_home_pays_three_fixed_queries_and_the_badge(world: World, client: Client) -> None:
    client.force_login(world.applicant)
    tables = _tables(client, "/")
    assert tables[:3] == FIXED  # no second factor for an applicant
    assert "otp_totp_totpdevice" not in tables and "dsfr_dsfrconfig" not in tables
    assert tables.count("notifications_notification") == 1
    # The home's own: the counts per state of its led and co-applied branches (one statement)
    # and the open calls; an authority with no application reads no window, no open task and
    # no report due (tests/grants/test_perf_pages.py).
    assert len(tables) == 6


def test_a_site_notice_saved_in_the_admin_shows_on_the_next_page(world: World, client: Client) -> None:
    client.force_login(world.applicant)
    assert "Maintenance prévue" not in client.get("/").content.decode()
    config = DsfrConfig.objects.create(language="fr", notice_title="Maintenance prévue ce soir")
    assert "Maintenance prévue ce soir" in client.get("/").content.decode()
    config.notice_title = "Maintenance reportée"
    config.save()
    page = client.get("/").content.decode()
    assert "Maintenance reportée" in page and "Maintenance prévue" not in page
    config.delete()
    assert "Maintenance reportée" not in client.get("/").content.decode()


def test_the_english_configuration_is_chosen_in_english_else_the_first(world: World, client: Client) -> None:
    DsfrConfig.objects.create(language="fr", notice_title="Avis en français")
    client.force_login(world.applicant)
    client.cookies["django_language"] = "en"
    assert "Avis en français" in client.get("/").content.decode()  # no English row: the first
    DsfrConfig.objects.create(language="en", notice_title="Notice in English")
    page = client.get("/").content.decode()
    assert "Notice in English" in page and "Avis en français" not in page
