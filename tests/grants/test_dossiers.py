"""The staff list of applications at /dossiers/: scoping, filters, search, sort, keyset
pagination both ways, exports and bulk actions."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
import zipfile
from decimal import Decimal
from html import escape as escape_text
from typing import Any
from xml.etree import ElementTree

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grants import search
from grants.models import (
    Application,
    ApplicationPartner,
    Country,
    Decision,
    OpinionRequest,
    Organisation,
    Region,
    Review,
    Role,
)
from grants.web.staff import common, dossiers
from tests.factories import CallFactory, UserFactory, World, grant, organisation
from workflows.models import Task, TaskKind

S = Application.State
_numbers = itertools.count(1)
URL = "/dossiers/"


def make(
    world: World,
    *,
    state: str = S.SUBMITTED,
    title: str = "Projet",
    summary: str = "Résumé.",
    objectives: str = "",
    lead: Organisation | None = None,
    countries: tuple[str, ...] = ("SN",),
    partners: tuple[str, ...] = ("Commune de Thiès",),
    co_applicants: tuple[Organisation, ...] = (),
    requested: str = "25000.00",
    submitted_at: dt.datetime | None = None,
    call: Any = None,
    granted: str | None = None,
    decided_at: dt.datetime | None = None,
    embassy: str | None = None,
) -> Application:
    """One application written as the lists read it (no transition: the list only reads)."""
    number = next(_numbers)
    call = call or world.call
    app = Application(
        call=call,
        organisation=lead or world.lyon,
        state=state,
        reference=None if state == S.DRAFT else f"{call.code}-{number:05d}",
        reference_number=None if state == S.DRAFT else 50000 + number,
        title=title,
        summary=summary,
        objectives=objectives,
        requested_amount=Decimal(requested),
        submitted_at=None if state == S.DRAFT else (submitted_at or timezone.now() - dt.timedelta(minutes=number)),
    )
    app.save()
    app.countries.set(countries)
    for position, name in enumerate(partners):
        ApplicationPartner.objects.create(application=app, name=name, country_id=countries[0], position=position)
    app.co_applicants.set(co_applicants)
    app.save()  # the search document now holds the partners and co-applicants
    if granted is not None or decided_at is not None:
        Decision.objects.create(
            application=app,
            call_id=app.call_id,
            outcome=Decision.Outcome.APPROVED if granted else Decision.Outcome.REJECTED,
            amount=Decimal(granted or "0"),
            decided_at=decided_at or timezone.now(),
        )
    if embassy:
        OpinionRequest.objects.create(
            application=app,
            call_id=app.call_id,
            authority=OpinionRequest.Authority.EMBASSY,
            country_id=embassy,
            due_at=timezone.now() + dt.timedelta(days=10),
        )
    return app


def ids(html: str) -> list[str]:
    return re.findall(r'<tr id="dossier-([0-9a-f-]{36})"', html)


def listed(client: Client, **params: Any) -> list[str]:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content.decode()[:3000]
    return ids(response.content.decode())


def pk(*apps: Application) -> list[str]:
    return [str(a.pk) for a in apps]


# --- who sees what -----------------------------------------------------------------------------


def test_an_applicant_is_refused_and_an_anonymous_visitor_sent_to_sign_in(world: World, client: Client) -> None:
    assert client.get(URL).status_code == 302
    client.force_login(world.applicant)
    assert client.get(URL).status_code == 403
    assert client.get(reverse("dossiers-export", args=["csv"])).status_code == 403
    assert client.post(reverse("dossiers-bulk"), {"action": "declare_eligible"}).status_code == 403


def test_the_staff_menu_leads_to_the_list(world: World, client: Client) -> None:
    client.force_login(world.embassy_sn)
    html = client.get(reverse("tasks")).content.decode()
    assert f'href="{URL}"' in html and ">Dossiers<" in html


def test_staff_never_see_a_draft_not_even_an_admin(world: World, client: Client) -> None:
    draft = make(world, state=S.DRAFT)
    sent = make(world)
    for user in (world.instructor, world.admin):
        client.force_login(user)
        assert listed(client) == pk(sent)
    assert str(draft.pk) not in listed(client, state=S.DRAFT)


def test_an_embassy_sees_only_the_applications_of_its_countries(world: World, client: Client) -> None:
    sn = make(world, state=S.AWAITING_OPINIONS, embassy="SN")
    ma = make(world, state=S.AWAITING_OPINIONS, countries=("MA",), embassy="MA")
    make(world)  # no opinion asked yet: no embassy sees it
    client.force_login(world.embassy_sn)
    assert listed(client) == pk(sn)
    assert listed(client, q=ma.reference) == []
    client.force_login(world.embassy_ma)
    assert listed(client) == pk(ma)


def test_an_embassy_never_learns_a_decision_it_may_not_read(world: World, client: Client) -> None:
    app = make(world, state=S.APPROVED, embassy="SN", granted="20000.00")
    client.force_login(world.embassy_sn)
    response = client.get(URL)
    assert ids(response.content.decode()) == pk(app)
    assert "20 000,00" not in response.content.decode()
    assert listed(client, granted_min="1") == []
    client.force_login(world.instructor)
    assert listed(client, granted_min="1") == pk(app)


# --- filters -----------------------------------------------------------------------------------


def test_it_filters_by_call_state_country_region_and_authority(world: World, client: Client) -> None:
    other_call = CallFactory()
    marseille = organisation("Ville de Marseille", "211300553", "93")
    a = make(world)
    b = make(world, state=S.INCOMPLETE, countries=("MA",), lead=world.rennes)
    c = make(world, call=other_call, lead=marseille, co_applicants=(world.rennes,))
    client.force_login(world.instructor)
    assert listed(client, call=other_call.code) == pk(c)
    assert listed(client, state=S.INCOMPLETE) == pk(b)
    assert listed(client, country="MA") == pk(b)
    assert listed(client, country="ma") == pk(b)
    assert listed(client, region="84") == pk(a)
    assert listed(client, region="93") == pk(c)
    # An authority, lead or co-applicant, by its id or its SIREN.
    assert set(listed(client, organisation=world.rennes.pk)) == set(pk(b, c))
    assert set(listed(client, organisation=world.rennes.siren)) == set(pk(b, c))
    assert listed(client, organisation=marseille.pk, state=S.SUBMITTED) == pk(c)


def test_it_filters_by_amounts_dates_and_overdue_tasks(world: World, client: Client) -> None:
    now = timezone.now()
    small = make(world, requested="10000.00", submitted_at=now - dt.timedelta(days=40))
    big = make(
        world,
        state=S.APPROVED,
        requested="90000.50",
        granted="80000.00",
        submitted_at=now - dt.timedelta(days=5),
        decided_at=now - dt.timedelta(days=1),
    )
    late = make(world, requested="30000.00", submitted_at=now - dt.timedelta(days=5))
    Task.objects.create(
        kind=TaskKind.CHECK_ELIGIBILITY, application=late, queue_role=Role.INSTRUCTOR, due_at=now - dt.timedelta(days=2)
    )
    Task.objects.create(  # not late
        kind=TaskKind.CHECK_ELIGIBILITY,
        application=small,
        queue_role=Role.INSTRUCTOR,
        due_at=now + dt.timedelta(days=2),
    )
    client.force_login(world.instructor)
    assert set(listed(client, requested_min="30 000", requested_max="90000,50")) == set(pk(big, late))
    assert listed(client, requested_max="10000") == pk(small)
    assert listed(client, granted_min="80000", granted_max="80000") == pk(big)
    assert listed(client, granted_max="79999.99") == []
    today = timezone.localdate()
    assert set(listed(client, submitted_from=(today - dt.timedelta(days=10)).isoformat())) == set(pk(big, late))
    assert listed(client, submitted_to=(today - dt.timedelta(days=10)).isoformat()) == pk(small)
    assert listed(client, decided_from=(today - dt.timedelta(days=1)).isoformat(), decided_to=today.isoformat()) == pk(
        big
    )
    assert listed(client, overdue="1") == pk(late)
    html = client.get(URL, {"overdue": "1"}).content.decode()
    assert "En retard" in html


def test_the_filters_stay_in_the_url_of_every_link(
    world: World, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        make(world, countries=("MA",))
    monkeypatch.setattr(common, "PAGE_SIZE", 2)
    client.force_login(world.instructor)
    html = client.get(URL, {"country": "MA", "q": "projet"}).content.decode()
    assert 'href="/dossiers/export/csv/?q=projet&amp;country=MA"' in html
    assert re.search(r'href="\?q=projet&amp;country=MA&amp;cursor=[^"]+" rel="next"', html)
    assert 'href="?q=projet&amp;country=MA&amp;ordering=reference"' in html
    assert 'name="back" value="q=projet&amp;country=MA"' in html


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"country": "S1"}, "country"),
        ({"state": "sent"}, "state"),
        ({"requested_min": "beaucoup"}, "requested_min"),
        ({"submitted_from": "2026-13-01"}, "submitted_from"),
        ({"requested_min": "20", "requested_max": "10"}, "requested_max"),
        ({"organisation": "Lyon"}, "organisation"),
        ({"ordering": "prix"}, "ordering"),
        ({"overdue": "peut-être"}, "overdue"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_a_bad_filter_value_is_a_400_saying_which_filter(
    world: World, client: Client, params: dict[str, str], field: str
) -> None:
    make(world)
    client.force_login(world.instructor)
    response = client.get(URL, params)
    assert response.status_code == 400
    html = response.content.decode()
    if field == "ordering":  # not a form field: said above the form
        assert "Tri inconnu" in html
    else:
        assert f'id="{field}-errors"' in html or (field == "overdue" and "fr-error-text" in html)
    assert ids(html) == []


def test_a_well_formed_value_no_option_has_is_said_on_its_select_and_lists_nothing(
    world: World, client: Client
) -> None:
    """The select filters check their options as a ChoiceField did (same message), with
    the same status: grants.search accepts the value, the list is empty."""
    make(world)
    client.force_login(world.instructor)
    for params in ({"organisation": "999999"}, {"state": "draft"}, {"country": "sn"}, {"call": "NOPE"}):
        response = client.get(URL, params)
        assert response.status_code == 200
        html = response.content.decode()
        field, value = next(iter(params.items()))
        assert f'id="{field}-errors"' in html
        assert f"Sélectionnez un choix valide. {value} n’en fait pas partie." in html
    response = client.get(URL, {"organisation": str(world.lyon.pk), "state": S.SUBMITTED, "country": "SN"})
    html = response.content.decode()
    assert "fr-error-text" not in html and len(ids(html)) == 1
    assert f'<option value="{world.lyon.pk}" selected>Ville de Lyon</option>' in html


def test_every_value_a_row_shows_is_escaped(world: World, client: Client) -> None:
    """The rows are rendered in Python (dossiers.render_rows): every text read from the
    database is escaped there, as the template did."""
    hostile = '<script>alert("x")</script>'
    lead = organisation(hostile + " Ville", "2169<b>01", "84")
    Region.objects.filter(pk=lead.region_id).update(name=hostile + " Région")
    Country.objects.filter(iso2="SN").update(name_fr=hostile + " Sénégal")
    app = make(world, title=hostile + " Titre", lead=lead)
    Application.objects.filter(pk=app.pk).update(reference=hostile + "-00001")
    client.force_login(world.instructor)
    html = client.get(URL).content.decode()
    assert "<script>" not in html and "<b>" not in html
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    for text in (" Titre", " Ville", " Région", "-00001"):
        assert escaped + text in html
    assert '<abbr title="' + escaped + ' Sénégal">SN</abbr>' in html
    assert "2169&lt;b&gt;01" in html
    # The bulk checkbox's label names the reference, escaped inside the translated text.
    assert '<span class="fr-sr-only">Sélectionner ' + escaped + "-00001</span>" in html
    assert f'href="/dossiers/{app.pk}/instruction/"' in html
    # The authority filter's options, escaped in one pass (dossiers._escape_all).
    assert f'<option value="{lead.pk}">{escaped} Ville</option>' in html


def test_the_options_escape_in_one_pass_as_one_by_one() -> None:
    texts = ['<b>"A"</b>', "l'Île & co", "", "a\x00<i>"]
    assert dossiers._escape_all(texts) == [escape_text(t) for t in texts]
    assert dossiers._escape_all(texts[:3]) == [escape_text(t) for t in texts[:3]]
    assert dossiers._escape_all([]) == []


# --- search ------------------------------------------------------------------------------------


def test_the_search_ignores_accents_and_case_everywhere_it_looks(world: World, client: Client) -> None:
    waste = make(world, title="Gestion des DÉCHETS ménagers", summary="Collecte à Saint-Louis.")
    water = make(world, title="Eau potable", objectives="Forages et château d'eau", partners=("Commune de Ziguinchor",))
    coop = make(world, title="Santé", co_applicants=(world.rennes,))
    client.force_login(world.instructor)
    assert listed(client, q="dechets") == pk(waste)
    assert listed(client, q="Déchets MÉNAGERS") == pk(waste)
    assert listed(client, q="saint-louis") == pk(waste)
    assert listed(client, q="CHATEAU") == pk(water)  # objectives
    assert listed(client, q="ziguinchor") == pk(water)  # a partner
    assert listed(client, q="rennes metropole") == pk(coop)  # a co-applicant authority
    assert listed(client, q="lyon eau") == pk(water)  # every word must match
    assert listed(client, q="inexistant") == []


def test_a_reference_or_a_siren_typed_whole_comes_first(world: World, client: Client) -> None:
    older = make(world, title="Projet jumeau", submitted_at=timezone.now() - dt.timedelta(days=30))
    # Newer applications mentioning the other's reference and the SIREN in their texts.
    make(world, summary=f"Suite du dossier {older.reference}.")
    make(world, summary=f"Partenariat avec le SIREN {world.rennes.siren}.")
    rennes = make(world, lead=world.rennes, submitted_at=timezone.now() - dt.timedelta(days=60))
    client.force_login(world.instructor)
    found = listed(client, q=older.reference)
    assert len(found) == 2 and found[0] == str(older.pk)
    found = listed(client, q=older.reference.lower())
    assert found[0] == str(older.pk)
    found = listed(client, q=world.rennes.siren)
    assert len(found) == 2 and found[0] == str(rennes.pk)
    assert listed(client, q="216 901 231")[0] != str(rennes.pk)  # Lyon's SIREN, spaced: Lyon's first
    assert set(listed(client, q=older.reference[:-2])) >= {str(older.pk)}  # a partial reference


@pytest.mark.skipif(connection.vendor != "postgresql", reason="French stemming is PostgreSQL's")
def test_on_postgresql_a_word_finds_its_other_forms(world: World, client: Client) -> None:
    app = make(world, title="Valorisation des déchets")
    client.force_login(world.instructor)
    assert listed(client, q="valoriser") == pk(app)


def test_the_fallback_path_finds_the_same_without_the_full_text_engine(
    world: World, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the embedded SQLite runs, here on PostgreSQL: substrings of the normalised
    column, no stemming, no rank — accents, case, references and SIRENs alike."""
    monkeypatch.setattr(search, "uses_postgres_search", lambda: False)
    waste = make(world, title="Gestion des DÉCHETS", partners=("Municipalité de Kaolack",))
    other = make(world, summary=f"Voir {waste.reference}.", lead=world.rennes)
    client.force_login(world.instructor)
    with CaptureQueriesContext(connection) as queries:
        assert listed(client, q="dechets kaolack") == pk(waste)
    assert not any("to_tsvector" in q["sql"] for q in queries.captured_queries)
    assert listed(client, q=waste.reference) == pk(waste, other)
    assert listed(client, q=world.rennes.siren) == pk(other)
    assert listed(client, q="valoriser") == []


def test_the_search_document_follows_edits_and_transitions(world: World) -> None:
    app = world.draft(title="Forages au Sénégal")
    assert "forages au senegal" in Application.objects.get(pk=app.pk).search_text
    app = world.advance(app, S.SUBMITTED)
    stored = Application.objects.get(pk=app.pk).search_text
    assert app.reference.lower() in stored and "commune de saint-louis" in stored and world.lyon.siren in stored
    assert search.refresh() == Application.objects.count()
    assert Application.objects.get(pk=app.pk).search_text == stored


def test_normalise_lowers_strips_accents_and_ligatures() -> None:
    assert search.normalise("  Île-de-France   CŒUR Łódź Straße ") == "ile-de-france coeur lodz strasse"


# --- sort and pagination -------------------------------------------------------------------------


def _walk(client: Client, params: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Every page forward from the first, then every page backward from the last."""
    forward: list[str] = []
    html = client.get(URL, params).content.decode()
    pages = [ids(html)]
    while (found := re.search(r'href="\?([^"]*cursor=[^"&]+)" rel="next"', html)) is not None:
        html = client.get(URL + "?" + found.group(1).replace("&amp;", "&")).content.decode()
        pages.append(ids(html))
    forward = [i for page in pages for i in page]
    backward_pages = [ids(html)]
    while (found := re.search(r'href="\?([^"]*cursor=[^"&]+)" rel="prev"', html)) is not None:
        html = client.get(URL + "?" + found.group(1).replace("&amp;", "&")).content.decode()
        backward_pages.append(ids(html))
    backward = [i for page in reversed(backward_pages) for i in page]
    return forward, backward, [p[0] for p in pages if p]


def test_keyset_pages_go_forward_and_back_without_offset_nor_count(
    world: World, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = [make(world, requested=f"{1000 * (i % 3)}.00") for i in range(7)]
    monkeypatch.setattr(common, "PAGE_SIZE", 2)
    client.force_login(world.instructor)
    with CaptureQueriesContext(connection) as queries:
        forward, backward, _firsts = _walk(client, {"ordering": "requested_amount"})
    expected = [str(a.pk) for a in sorted(apps, key=lambda a: (a.requested_amount, str(a.pk)))]
    assert forward == expected
    assert backward == expected
    sql = [q["sql"].upper() for q in queries.captured_queries if '"grants_application"' in q["sql"]]
    assert sql and not any(" OFFSET " in s for s in sql)
    assert not any("COUNT(" in s for s in sql)


def _sort_key(app: Application, name: str) -> Any:
    app.refresh_from_db()
    decision = Decision.objects.filter(application=app).first()
    values = {
        "reference": app.reference,
        "title": app.title,
        "call": app.call.code,
        "organisation": app.organisation.name,
        "country": min(c.iso2 for c in app.countries.all()),
        "state": search.STATE_ORDER.index(app.state),
        "requested_amount": app.requested_amount,
        "granted_amount": decision.amount if decision and decision.outcome == "approved" else None,
        "submitted_at": app.submitted_at,
        "decided_at": decision.decided_at if decision else None,
    }
    return values[name]


@pytest.mark.parametrize("column", [name for name, _label in dossiers.COLUMNS])
def test_every_column_sorts_both_ways_nulls_as_the_largest(
    world: World, client: Client, monkeypatch: pytest.MonkeyPatch, column: str
) -> None:
    now = timezone.now()
    other_call = CallFactory(code="AAA-FIRST")
    apps = [
        make(
            world,
            title="Zèbre",
            countries=("MA",),
            requested="500.00",
            granted="400.00",
            state=S.APPROVED,
            decided_at=now - dt.timedelta(days=3),
        ),
        make(world, title="abeille", lead=world.rennes, call=other_call, requested="900.00"),
        make(world, title="Mouette", state=S.INCOMPLETE, countries=("SN", "BF"), requested="500.00"),
        make(world, title="Baleine", state=S.REJECTED, decided_at=now - dt.timedelta(days=9)),
    ]
    monkeypatch.setattr(common, "PAGE_SIZE", 3)
    client.force_login(world.instructor)
    for descending in (False, True):
        ordering = f"-{column}" if descending else column
        forward, backward, _ = _walk(client, {"ordering": ordering})
        rows = [(_sort_key(a, column), str(a.pk)) for a in apps]
        nulls = sorted((r for r in rows if r[0] is None), key=lambda r: r[1], reverse=descending)
        values = sorted((r for r in rows if r[0] is not None), reverse=descending)
        if column in ("title", "organisation", "call", "reference"):
            # The database's collation decides letter case; compare with what it says.
            expected_values = list(
                Application.objects.filter(pk__in=[r[1] for r in values])
                .order_by(
                    ("-" if descending else "") + search.ORDERINGS[column].keys[0].name, "-id" if descending else "id"
                )
                .values_list("pk", flat=True)
            )
            values = [(None, str(v)) for v in expected_values]
        expected = [r[1] for r in (nulls + values if descending else values + nulls)]
        assert forward == expected, ordering
        assert backward == expected, ordering


def test_a_header_says_how_the_list_is_sorted(world: World, client: Client) -> None:
    make(world)
    client.force_login(world.instructor)
    html = client.get(URL, {"ordering": "-requested_amount"}).content.decode()
    assert re.search(
        r'<th scope="col" aria-sort="descending">\s*<div class="fr-cell--sort">\s*'
        r'<span class="fr-cell__title">Demandé</span>',
        html,
    )
    assert 'href="?ordering=requested_amount"' in html


def test_a_tampered_or_foreign_cursor_shows_the_first_page(world: World, client: Client) -> None:
    app = make(world)
    client.force_login(world.instructor)
    other = search.encode_cursor("title", False, ["a", str(app.pk)])
    for cursor in ("garbage", "eyJvIjoxfQ", other):
        assert listed(client, cursor=cursor) == pk(app)


def test_the_table_scrolls_in_a_focusable_named_region_and_breaks_long_words(world: World, client: Client) -> None:
    make(world, title="Intercommunalité" * 8)
    client.force_login(world.instructor)
    html = client.get(URL).content.decode()
    assert '<div class="fr-table__container" tabindex="0" role="region" aria-labelledby="dossiers-caption">' in html
    assert '<caption id="dossiers-caption">' in html
    assert '<span class="dossiers-break">' + "Intercommunalité" * 8 in html
    assert "grants/dossiers.css" in html
    assert 'data-check-all="ids"' in html


def test_the_list_renders_in_english(world: World, client: Client) -> None:
    make(world)
    client.force_login(world.instructor)
    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in html
    assert "Applications" in html and "Export this list" in html


def test_the_list_runs_a_constant_number_of_queries(
    world: World, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "PAGE_SIZE", 200)
    client.force_login(world.instructor)

    def count(params: dict[str, str]) -> int:
        client.get(URL, params)  # warm the caches (sessions, content types)
        with CaptureQueriesContext(connection) as context:
            response = client.get(URL, params)
        assert response.status_code == 200
        return len(context.captured_queries)

    for n in (10, 90):
        CallFactory()  # more calls in the filter's choices too
        for i in range(n):
            make(
                world,
                granted="1000.00" if i % 2 else None,
                state=S.APPROVED if i % 2 else S.SUBMITTED,
                co_applicants=(world.rennes,),
            )
        if n == 10:
            plain, searched = count({}), count({"q": "projet", "ordering": "-granted_amount"})
    assert Application.objects.count() == 100
    assert plain > 5 and searched > 5  # really measured (the page, its choices, the user…)
    assert count({}) == plain
    assert count({"q": "projet", "ordering": "-granted_amount"}) == searched


# --- exports -----------------------------------------------------------------------------------


def _export(client: Client, fmt: str, **params: Any) -> tuple[Any, bytes]:
    response = client.get(reverse("dossiers-export", args=[fmt]), params)
    assert response.status_code == 200, response
    content = b"".join(response.streaming_content)
    return response, content


def test_the_csv_export_streams_the_filtered_list_with_exact_amounts_and_no_formula(
    world: World, client: Client
) -> None:
    app = make(world, title="=cmd|' /C calc'!A0", requested="12345.67", countries=("MA",))
    make(world, countries=("SN",))
    client.force_login(world.instructor)
    response, content = _export(client, "csv", country="MA")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert re.match(r'attachment; filename="dossiers-\d{8}-\d{4}\.csv"', response["Content-Disposition"])
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["Référence", "Titre du projet", "Appel à projets"]
    assert len(rows) == 2
    assert rows[1][0] == app.reference
    assert rows[1][1] == "'=cmd|' /C calc'!A0"
    assert rows[1][8] == "12345.67"


def test_the_exports_read_rows_in_bounded_chunks(world: World, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(7):
        make(world)
    monkeypatch.setattr(dossiers, "CHUNK", 3)
    client.force_login(world.instructor)
    for fmt in ("csv", "xlsx", "ods"):
        with CaptureQueriesContext(connection) as queries:
            _export(client, fmt)
        country_reads = [q for q in queries.captured_queries if 'FROM "grants_application_countries"' in q["sql"]]
        assert len(country_reads) == 3, fmt  # one read per chunk of 3: 7 rows never read at once
    response, content = _export(client, "csv")
    assert isinstance(response, StreamingHttpResponse)
    assert len(list(csv.reader(io.StringIO(content.decode().lstrip("\ufeff"))))) == 8


def test_the_xlsx_export_keeps_exact_decimals_and_neutralises_formulas(world: World, client: Client) -> None:
    from openpyxl import load_workbook

    app = make(world, state=S.APPROVED, title='=HYPERLINK("http://x")', requested="12345.67", granted="10000.01")
    client.force_login(world.instructor)
    response, content = _export(client, "xlsx")
    assert response["Content-Type"] == dossiers.FORMATS["xlsx"][0]
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<v>12345.67</v>" in sheet and "<v>10000.01</v>" in sheet
    assert "<f>" not in sheet
    workbook = load_workbook(io.BytesIO(content))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[1][0] == app.reference
    assert rows[1][1] == '\'=HYPERLINK("http://x")'
    assert rows[1][12] is None  # no overdue task


def test_the_ods_export_is_a_valid_spreadsheet_with_exact_decimals_and_string_cells(
    world: World, client: Client
) -> None:
    from odf.opendocument import load

    make(
        world, state=S.APPROVED, title="@SUM(1+1)*cmd", requested="0.10", granted="0.10", partners=("Bad \x0b control",)
    )
    client.force_login(world.instructor)
    response, content = _export(client, "ods")
    assert response["Content-Type"] == dossiers.FORMATS["ods"][0]
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.namelist()[0] == "mimetype"
        assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
        xml = archive.read("content.xml")
    root = ElementTree.fromstring(xml)
    office = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
    table = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
    cells = root.findall(f".//{table}table-row")[1].findall(f"{table}table-cell")
    assert cells[1].get(f"{office}value-type") == "string"
    assert cells[1].get(f"{table}formula") is None
    assert "".join(cells[1].itertext()) == "'@SUM(1+1)*cmd"
    assert cells[8].get(f"{office}value-type") == "currency" and cells[8].get(f"{office}value") == "0.10"
    assert cells[9].get(f"{office}value") == "0.10"
    load(io.BytesIO(content))  # odfpy reads it back


# --- bulk actions ------------------------------------------------------------------------------


def _results(html: str) -> dict[str, str]:
    return dict(re.findall(r'<tr id="result-([^"]+)" class="dossiers-(done|refused)"', html))


def test_a_bulk_action_fires_each_application_through_the_engine_with_a_result_per_row(
    world: World, client: Client
) -> None:
    ready = world.advance(world.draft(), S.SUBMITTED)
    incomplete = world.advance(world.draft(), S.INCOMPLETE)
    theirs = world.draft(world.applicant2)
    client.force_login(world.instructor)
    html = client.get(URL).content.decode()
    assert 'id="bulk-form"' in html and f'value="{ready.pk}" form="bulk-form"' in html
    response = client.post(
        reverse("dossiers-bulk"),
        {"action": "declare_eligible", "ids": [ready.pk, incomplete.pk, theirs.pk, "not-an-id"], "back": "q=x"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert _results(html) == {
        str(ready.pk): "done",
        str(incomplete.pk): "refused",
        str(theirs.pk): "refused",
        "not-an-id": "refused",
    }
    assert "n&#x27;est pas possible dans l&#x27;état « À compléter »" in html
    assert "Introuvable." in html
    assert "1 dossier traité" in html and "3 refusés" in html
    assert 'href="/dossiers/?q=x"' in html
    assert Application.objects.get(pk=ready.pk).state == S.AWAITING_OPINIONS
    assert Application.objects.get(pk=incomplete.pk).state == S.INCOMPLETE


def test_request_completion_sends_one_message_and_reports_a_missing_one(world: World, client: Client) -> None:
    a = world.advance(world.draft(), S.SUBMITTED)
    b = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    html = client.post(reverse("dossiers-bulk"), {"action": "request_completion", "ids": [a.pk]}).content.decode()
    assert _results(html) == {str(a.pk): "refused"}
    assert "Ce champ est obligatoire." in html
    html = client.post(
        reverse("dossiers-bulk"),
        {"action": "request_completion", "ids": [a.pk, b.pk], "message": "Joindre la délibération."},
    ).content.decode()
    assert _results(html) == {str(a.pk): "done", str(b.pk): "done"}
    assert set(Application.objects.filter(pk__in=[a.pk, b.pk]).values_list("completion_message", flat=True)) == {
        "Joindre la délibération."
    }


def test_assigning_a_reviewer_in_bulk_refuses_where_it_is_already_assigned(world: World, client: Client) -> None:
    a = world.advance(world.draft(), S.SUBMITTED)
    b = world.advance(world.draft(), S.AWAITING_OPINIONS)  # reviewer1 assigned on the way
    client.force_login(world.instructor)
    html = client.post(
        reverse("dossiers-bulk"), {"action": "assign_reviewer", "ids": [a.pk, b.pk], "reviewer": "reviewer1"}
    ).content.decode()
    assert _results(html) == {str(a.pk): "done", str(b.pk): "refused"}
    assert "déjà assigné" in html
    assert Review.objects.filter(application=a, reviewer=world.reviewer1).exists()


def test_the_engine_refuses_a_role_that_may_not_act_and_says_why_in_english(world: World, client: Client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    opinion_holder = world.advance(world.draft(), S.AWAITING_OPINIONS)
    client.force_login(world.embassy_sn)
    assert "bulk-form" not in client.get(URL).content.decode()  # nothing the engine offers it
    response = client.post(
        reverse("dossiers-bulk"),
        {"action": "declare_eligible", "ids": [opinion_holder.pk, app.pk]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    assert _results(html) == {str(opinion_holder.pk): "refused", str(app.pk): "refused"}
    assert "You are not allowed to do this" in html or "not allowed" in html
    assert Application.objects.get(pk=app.pk).state == S.SUBMITTED


def test_a_bulk_post_without_action_or_selection_does_nothing(world: World, client: Client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    response = client.post(reverse("dossiers-bulk"), {"action": "declare_eligible"})
    assert response.status_code == 400 and "Sélectionnez au moins un dossier." in response.content.decode()
    response = client.post(reverse("dossiers-bulk"), {"action": "approve", "ids": [app.pk]})
    assert response.status_code == 400 and "Choisissez une action." in response.content.decode()
    assert client.get(reverse("dossiers-bulk")).status_code == 405
    assert Application.objects.get(pk=app.pk).state == S.SUBMITTED


def test_bulk_actions_need_the_csrf_token(world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.instructor)
    response = client.post(reverse("dossiers-bulk"), {"action": "declare_eligible", "ids": [app.pk]})
    assert response.status_code == 403
    assert Application.objects.get(pk=app.pk).state == S.SUBMITTED
    html = client.get(URL).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token is not None
    response = client.post(
        reverse("dossiers-bulk"),
        {"action": "declare_eligible", "ids": [app.pk], "csrfmiddlewaretoken": token.group(1)},
    )
    assert _results(response.content.decode()) == {str(app.pk): "done"}


def test_a_user_both_applicant_and_instructor_never_sees_its_drafts_here(world: World, client: Client) -> None:
    both = UserFactory(username="both")
    grant(both, Role.APPLICANT, organisation=world.lyon)
    grant(both, Role.INSTRUCTOR)
    make(world, state=S.DRAFT)
    sent = make(world)
    client.force_login(both)
    assert listed(client) == pk(sent)
    assert Country.objects.filter(iso2="SN").exists()
