"""GET /api/v1/applications/ with the staff list's filters, search and orderings
(grants.search): same meaning as /dossiers/, cursor pagination both ways, 400 on a bad
filter value, documented in the OpenAPI schema."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from grants import search
from grants.models import Application
from tests.api.helpers import body, url
from tests.factories import CallFactory, World, organisation
from tests.grants.test_dossiers import make

S = Application.State
LIST = url("applications/")


def results(client: APIClient, **params: Any) -> list[str]:
    return [a["id"] for a in body(client.get(LIST, params), 200)["results"]]


def web(client: Client, **params: Any) -> list[str]:
    response = client.get("/dossiers/", params)
    assert response.status_code == 200
    return re.findall(r'<tr id="dossier-([0-9a-f-]{36})"', response.content.decode())


@pytest.fixture
def varied(world: World) -> list[Application]:
    now = timezone.now()
    marseille = organisation("Ville de Marseille", "211300553", "93")
    other_call = CallFactory()
    return [
        make(world, title="Gestion des déchets", requested="40000.00", submitted_at=now - dt.timedelta(days=3)),
        make(world, title="Eau potable", countries=("MA",), lead=world.rennes, state=S.INCOMPLETE),
        make(world, title="Forages et déchets", lead=marseille, call=other_call, co_applicants=(world.rennes,)),
        make(
            world,
            title="Santé",
            state=S.APPROVED,
            granted="9000.00",
            requested="12000.00",
            decided_at=now - dt.timedelta(days=1),
        ),
        make(world, title="Culture", countries=("MA", "SN"), submitted_at=now - dt.timedelta(days=90)),
    ]


PARITY = [
    {},
    {"q": "dechets"},
    {"q": "DÉCHETS forages"},
    {"state": S.INCOMPLETE},
    {"country": "MA"},
    {"region": "84"},
    {"region": "93", "q": "forages"},
    {"organisation": "243500139"},
    {"requested_min": "15000", "ordering": "-requested_amount"},
    {"granted_min": "1"},
    {"ordering": "title"},
    {"ordering": "-submitted_at"},
    {"ordering": "state"},
    {"ordering": "country"},
    {"ordering": "-granted_amount"},
]


@pytest.mark.parametrize("params", PARITY, ids=[str(p) for p in PARITY])
def test_the_api_and_the_staff_list_find_the_same_applications_in_the_same_order(
    world: World, varied: list[Application], api: Callable[..., APIClient], client: Client, params: dict[str, str]
) -> None:
    client.force_login(world.instructor)
    # The two lists' defaults differ (the API: newest created first): compare one ordering.
    params = {"ordering": "-submitted_at", **params} if "q" not in params else params
    found = results(api(world.instructor), **params, page_size=100)
    assert found  # every case finds something
    assert found == web(client, **params)


def test_the_call_filter_and_the_default_order_are_kept(world: World, varied: list[Application], api: Any) -> None:
    client = api(world.instructor)
    assert results(client, call=varied[2].call.code) == [str(varied[2].pk)]
    newest_created_first = [str(a.pk) for a in reversed(varied)]
    assert results(client) == newest_created_first


def test_a_reference_or_a_siren_typed_whole_comes_first(world: World, varied: list[Application], api: Any) -> None:
    client = api(world.instructor)
    make(world, summary=f"Voir {varied[3].reference} et {world.rennes.siren}.")
    assert results(client, q=varied[3].reference)[0] == str(varied[3].pk)
    found = results(client, q=world.rennes.siren)
    assert set(found[:2]) == {str(varied[1].pk), str(varied[2].pk)} and len(found) == 3


def test_an_applicant_searches_its_own_applications_drafts_included(world: World, api: Any) -> None:
    draft = world.draft(title="Brouillon des déchets")
    world.draft(world.applicant2, title="Déchets de Rennes")
    assert results(api(world.applicant), q="dechets") == [str(draft.pk)]
    assert results(api(world.applicant), q="dechets", state=S.DRAFT) == [str(draft.pk)]


def test_an_embassy_searches_only_its_countries(world: World, api: Any) -> None:
    sn = make(world, state=S.AWAITING_OPINIONS, embassy="SN", title="Déchets")
    make(world, state=S.AWAITING_OPINIONS, countries=("MA",), embassy="MA", title="Déchets")
    assert results(api(world.embassy_sn), q="dechets") == [str(sn.pk)]
    assert results(api(world.embassy_sn), country="MA") == []


def test_the_cursor_goes_forward_and_back_in_any_ordering(world: World, api: Any) -> None:
    apps = [make(world, requested=f"{1000 * (i % 2)}.00") for i in range(5)]
    client = api(world.instructor)
    expected = [str(a.pk) for a in sorted(apps, key=lambda a: (a.requested_amount, str(a.pk)), reverse=True)]
    page = body(client.get(LIST, {"ordering": "-requested_amount", "page_size": 2}), 200)
    assert page["previous"] is None
    pages = [page]
    with CaptureQueriesContext(connection) as queries:
        while pages[-1]["next"]:
            pages.append(body(client.get(pages[-1]["next"]), 200))
    assert [a["id"] for p in pages for a in p["results"]] == expected
    assert not any(" OFFSET " in q["sql"].upper() for q in queries.captured_queries)
    back = [pages[-1]]
    while back[-1]["previous"]:
        back.append(body(client.get(back[-1]["previous"]), 200))
    assert [a["id"] for p in reversed(back) for a in p["results"]] == expected
    assert "ordering=-requested_amount" in pages[1]["previous"]


def test_a_cursor_of_another_ordering_is_a_400(world: World, api: Any) -> None:
    app = make(world)
    cursor = search.encode_cursor("title", False, ["a", str(app.pk)])
    errors = body(api(world.instructor).get(LIST, {"cursor": cursor}), 400)["errors"]
    assert list(errors) == ["cursor"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "sent"}, "state"),
        ({"country": "Sénégal"}, "country"),
        ({"region": "Auvergne-Rhône-Alpes"}, "region"),
        ({"organisation": "Lyon"}, "organisation"),
        ({"requested_min": "1e5"}, "requested_min"),
        ({"granted_max": "-3"}, "granted_max"),
        ({"submitted_from": "01/02/2026"}, "submitted_from"),
        ({"decided_from": "2026-02-10", "decided_to": "2026-02-01"}, "decided_to"),
        ({"overdue": "maybe"}, "overdue"),
        ({"ordering": "price"}, "ordering"),
        ({"q": "x" * 201}, "q"),
        ({"q": "déchets\x00"}, "q"),
        ({"call": "AAP 2026; DROP"}, "call"),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_the_filter(
    world: World, api: Any, params: dict[str, str], field: str
) -> None:
    errors = body(api(world.instructor).get(LIST, params), 400)["errors"]
    assert list(errors) == [field]


def test_a_bad_filter_is_explained_in_english_when_asked(world: World, api: Any) -> None:
    errors = body(api(world.instructor, language="en").get(LIST, {"ordering": "price"}), 400)["errors"]
    assert errors["ordering"][0].startswith("Unknown ordering; possible values: relevance, reference")


def test_the_filters_are_documented_in_the_schema(client: Client) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/applications/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"q", "state", "call", "country", "region", "organisation", "ordering", "cursor", "page_size"} <= names
    assert {"requested_min", "granted_max", "submitted_from", "decided_to", "overdue"} <= names
    ordering = next(p for p in operation["parameters"] if p["name"] == "ordering")
    assert set(ordering["schema"]["enum"]) == set(search.ORDERINGS)


def test_the_searched_list_runs_a_constant_number_of_queries(world: World, api: Any) -> None:
    client = api(world.instructor)

    def count() -> int:
        with CaptureQueriesContext(connection) as context:
            body(client.get(LIST, {"q": "projet", "ordering": "-granted_amount", "page_size": 100}), 200)
        return len(context.captured_queries)

    for _ in range(10):
        make(world, co_applicants=(world.rennes,))
    at_10 = count()
    for _ in range(90):
        make(world, state=S.APPROVED, granted="100.00")
    assert count() == at_10


def test_an_applicant_reads_the_granted_amount_once_the_letter_is_delivered_lead_or_co_applicant(
    world: World, api: Any
) -> None:
    """The applicant's list decides from each row whether its decision may be read
    (policy.decision_row_clause): the same answer as visible_decisions, without hashing
    every decision of the database for a page."""
    from grants import policy
    from grants.models import Decision

    now = timezone.now()
    marseille = organisation("Ville de Marseille", "211300553", "93")
    drafted = make(world, title="Signée", state=S.APPROVED, granted="9000.00", decided_at=now)
    delivered = make(world, title="Notifiée", state=S.APPROVED, granted="7000.00", decided_at=now)
    co = make(
        world, title="Co-portée", lead=marseille, co_applicants=(world.lyon,), state=S.APPROVED, granted="5000.00"
    )
    stranger = make(world, title="Autre", lead=marseille, state=S.APPROVED, granted="3000.00")
    Decision.objects.filter(application__in=[delivered, co, stranger]).update(state=Decision.State.DELIVERED)

    everything = set(results(api(world.applicant), page_size=100))
    assert {str(drafted.pk), str(delivered.pk), str(co.pk)} <= everything and str(stranger.pk) not in everything
    assert set(results(api(world.applicant), granted_min="1")) == {str(delivered.pk), str(co.pk)}
    assert results(api(world.applicant), granted_min="6000", ordering="-granted_amount") == [str(delivered.pk)]

    rows = search.applications(world.applicant, search.Filters())
    readable = set(policy.visible_decisions(world.applicant).values_list("application_id", flat=True))
    assert {a.pk for a in rows if a.granted_amount is not None} == readable == {delivered.pk, co.pk}
    assert policy.decision_row_clause(world.instructor) is not None  # reads every decision
    assert policy.decision_row_clause(world.embassy_sn) is None  # its rows cannot say: the subquery
