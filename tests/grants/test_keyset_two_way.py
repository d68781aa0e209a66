"""One keyset for every list (grants.search under grants.web.staff.common.keyset_page),
both ways, and one pager (grants/_pagination.html) with "Précédents" on every list."""

from __future__ import annotations

import base64
import datetime as dt
import html as htmllib
import json
import re
from collections.abc import Sequence
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grants import search
from grants.models import Application
from grants.web.staff import common
from grants.web.staff.common import Key, KeysetPage, keyset_page
from tests.factories import World
from workflows.models import Task

S = Application.State
User = get_user_model()
BASE = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

# Ties in every first key, NULLs in the nullable one: 11 rows, pages of 3.
LOGINS = [None, 2, 1, 1, None, 3, 1, 5, 2, None, 4]
JOINED = [3, 1, 1, 2, 3, 3, 0, 1, 2, 0, 3]
FIRST_NAMES = ["b", "a", "b", "c", "a", "a", "", "c", "b", "a", "d"]


@pytest.fixture
def people(db: None) -> list[Any]:
    rows = []
    for index, (login, joined, first) in enumerate(zip(LOGINS, JOINED, FIRST_NAMES, strict=True)):
        rows.append(
            User(
                username=f"keyset-{index:02d}",
                first_name=first,
                last_login=None if login is None else BASE + dt.timedelta(days=login),
                date_joined=BASE + dt.timedelta(hours=joined),
            )
        )
    User.objects.bulk_create(rows)
    return list(User.objects.filter(username__startswith="keyset-"))


def _queryset() -> Any:
    return User.objects.filter(username__startswith="keyset-")


def _expected(rows: Sequence[Any], keys: Sequence[Key]) -> list[int]:
    """The order of ``keys`` computed here, NULL the largest value (last ascending, first
    descending), one stable sort per key from the last."""
    ordered = list(rows)
    for key in reversed(keys):
        ordered.sort(
            key=lambda row, k=key: (
                getattr(row, k.name) is None,
                0 if getattr(row, k.name) is None else getattr(row, k.name),
            ),
            reverse=key.descending,
        )
    return [row.pk for row in ordered]


def _walk(keys: Sequence[Key], size: int = 3) -> tuple[list[list[int]], KeysetPage]:
    """Forward from the first page to the last; returns the pages and the last one."""
    pages: list[list[int]] = []
    page = keyset_page(_queryset(), keys, None, size)
    assert page.cursor is None and not page.has_previous
    while True:
        pages.append([row.pk for row in page.rows])
        if not page.has_next:
            return pages, page
        page = keyset_page(_queryset(), keys, page.next_cursor, size)
        assert page.has_previous and page.cursor


KEYSETS = {
    "nullable first key, NULLs last": (Key("last_login", "datetime", nullable=True), Key("id", "int")),
    "descending with ties": (Key("date_joined", "datetime", descending=True), Key("id", "int", descending=True)),
    "text with ties": (Key("first_name", "str"), Key("id", "int")),
    "three keys": (Key("first_name", "str"), Key("date_joined", "datetime", descending=True), Key("id", "int")),
    "nullable descending, NULLs first": (
        Key("last_login", "datetime", descending=True, nullable=True),
        Key("id", "int", descending=True),
    ),
}


@pytest.mark.parametrize("keys", KEYSETS.values(), ids=KEYSETS.keys())
def test_walking_forward_then_backward_shows_every_row_exactly_once(people: list[Any], keys: tuple[Key, ...]) -> None:
    expected = _expected(people, keys)
    forward, last = _walk(keys)
    assert [pk for page in forward for pk in page] == expected
    assert len(forward) == 4 and [len(page) for page in forward] == [3, 3, 3, 2]

    backward = [[row.pk for row in last.rows]]
    page = last
    while page.has_previous:
        page = keyset_page(_queryset(), keys, page.previous_cursor, 3)
        assert page.has_next  # every page reached backwards has the one it came from after it
        backward.insert(0, [row.pk for row in page.rows])
    assert backward == forward
    # Back on the first page: nothing before it, yet a cursor (the pager offers the start).
    assert not page.has_previous and page.previous_cursor is None and page.cursor


def test_each_page_is_one_query_without_offset_nor_count(people: list[Any]) -> None:
    keys = KEYSETS["nullable first key, NULLs last"]
    second = keyset_page(_queryset(), keys, keyset_page(_queryset(), keys, None, 3).next_cursor, 3)
    for cursor in (None, second.next_cursor, second.previous_cursor):
        with CaptureQueriesContext(connection) as queries:
            keyset_page(_queryset(), keys, cursor, 3)
        assert len(queries.captured_queries) == 1
        sql = queries.captured_queries[0]["sql"].upper()
        assert "OFFSET" not in sql and "COUNT(" not in sql and "LIMIT 4" in sql


def test_a_cursor_at_the_very_start_or_end_gives_an_empty_page_with_only_the_way_back(people: list[Any]) -> None:
    keys = KEYSETS["descending with ties"]
    order = _expected(people, keys)
    ordering = search.Ordering(common._keyset_name(keys), "", keys)
    first, last = User.objects.get(pk=order[0]), User.objects.get(pk=order[-1])
    before_first = search.encode_cursor(ordering.name, True, [first.date_joined, first.pk])
    after_last = search.encode_cursor(ordering.name, False, [last.date_joined, last.pk])
    for cursor in (before_first, after_last):
        page = keyset_page(_queryset(), keys, cursor, 3)
        assert page.rows == []
        assert not page.has_previous and not page.has_next
        assert page.cursor == cursor  # not the first page: "Retour au début" is offered
    # The row just after the first, backwards: the first row alone, nothing before it.
    second = User.objects.get(pk=order[1])
    page = keyset_page(_queryset(), keys, search.encode_cursor(ordering.name, True, [second.date_joined, second.pk]), 3)
    assert [row.pk for row in page.rows] == [order[0]]
    assert not page.has_previous and page.has_next


def _b64(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-date~'; DROP TABLE x",
        "~",
        "2026-03-01T12:00:00~1",  # a naive moment
        "2026-03-01T12:00:00+00:00~1~2",  # too many values
        "%%%",
        _b64(["a list"]),
        _b64({"o": "last_login,id", "b": "yes", "v": [None, "1"]}),
        _b64({"o": "last_login,id", "b": False, "v": [None, "one"]}),
        _b64({"o": "last_login,id", "b": False, "v": [None]}),
        _b64({"o": "-submitted_at", "b": False, "v": [None, "1"]}),  # another list's cursor
        _b64({"o": "-date_joined,-id", "b": True, "v": ["2026-03-01T12:00:00+00:00", "1"]}),  # another keyset's
    ],
)
def test_a_malformed_or_foreign_cursor_shows_the_first_page(people: list[Any], cursor: str) -> None:
    keys = KEYSETS["nullable first key, NULLs last"]
    page = keyset_page(_queryset(), keys, cursor, 3)
    assert [row.pk for row in page.rows] == _expected(people, keys)[:3]
    assert page.cursor is None and not page.has_previous and page.has_next


def test_a_bookmarked_cursor_of_the_earlier_format_still_goes_forward(people: list[Any]) -> None:
    keys = KEYSETS["nullable first key, NULLs last"]
    first = keyset_page(_queryset(), keys, None, 3)
    last_row = first.rows[-1]
    legacy = f"{last_row.last_login.isoformat() if last_row.last_login else ''}~{last_row.pk}"
    page = keyset_page(_queryset(), keys, legacy, 3)
    assert [row.pk for row in page.rows] == _expected(people, keys)[3:6]
    assert page.cursor == legacy and page.has_previous and page.has_next
    # A NULL in the earlier format was an empty value (only for a nullable key).
    null_row = User.objects.filter(username__startswith="keyset-", last_login=None).order_by("pk").first()
    assert null_row is not None
    page = keyset_page(_queryset(), keys, f"~{null_row.pk}", 3)
    expected = _expected(people, keys)
    assert [row.pk for row in page.rows] == expected[expected.index(null_row.pk) + 1 :][:3]


def test_rows_read_with_values_page_both_ways(people: list[Any]) -> None:
    keys = KEYSETS["descending with ties"]
    qs = _queryset().values("id", "date_joined")
    first = keyset_page(qs, keys, None, 3)
    second = keyset_page(qs, keys, first.next_cursor, 3)
    back = keyset_page(qs, keys, second.previous_cursor, 3)
    assert back.rows == first.rows and isinstance(back.rows[0], dict)
    assert [row["id"] for row in first.rows + second.rows] == _expected(people, keys)[:6]


def test_a_date_key_pages_too(world: World) -> None:
    from grants.models import CommitteeSession

    today = timezone.localdate()
    for days in (5, 5, 3, 9, 1):
        CommitteeSession.objects.create(call=world.call, date=today + dt.timedelta(days=days))
    keys = (Key("date", "date", descending=True), Key("id", "int", descending=True))
    qs = CommitteeSession.objects.all()
    expected = list(qs.order_by("-date", "-pk").values_list("pk", flat=True))
    first = keyset_page(qs, keys, None, 2)
    second = keyset_page(qs, keys, first.next_cursor, 2)
    assert [s.pk for s in first.rows + second.rows] == expected[:4]
    assert [s.pk for s in keyset_page(qs, keys, second.previous_cursor, 2).rows] == expected[:2]
    legacy = f"{first.rows[-1].date.isoformat()}~{first.rows[-1].pk}"  # a bookmark of the earlier format
    assert keyset_page(qs, keys, legacy, 2).rows == second.rows


# --- the pager -------------------------------------------------------------------------------


def _link(html: str, rel: str) -> str | None:
    found = re.search(
        rf'<a class="fr-pagination__link fr-pagination__link--\w+[^"]*" href="(\?[^"]*)" rel="{rel}">', html
    )
    return htmllib.unescape(found.group(1)) if found else None


def _references(html: str) -> list[str]:
    return re.findall(r"<strong>(AAP-[A-Z0-9-]+)</strong>", html)


def test_the_inbox_offers_the_previous_page_and_goes_back_to_the_first_page_s_rows(
    world: World, client, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = [world.advance(world.draft(), S.SUBMITTED) for _ in range(5)]
    Task.objects.filter(application=apps[0]).update(due_at=None)
    monkeypatch.setattr(common, "PAGE_SIZE", 2)
    client.force_login(world.instructor)
    url = reverse("tasks")

    first = client.get(url).content.decode()
    # The first page: no way back, the previous link shown disabled.
    assert _link(first, "prev") is None and "Retour au début" not in first
    assert re.search(
        r'<a class="[^"]*fr-pagination__link--prev[^"]*" aria-disabled="true" role="link">Précédents</a>', first
    )
    next_link = _link(first, "next")
    assert next_link is not None

    second = client.get(url + next_link).content.decode()
    previous_link = _link(second, "prev")
    assert previous_link is not None and "Précédents" in second and "Retour au début" in second
    assert not set(_references(second)) & set(_references(first))

    back = client.get(url + previous_link).content.decode()
    assert _references(back) == _references(first)
    assert _link(back, "prev") is None and _link(back, "next") == next_link


def test_an_inbox_bookmark_of_the_earlier_cursor_format_still_opens(world: World, client) -> None:
    apps = [world.advance(world.draft(), S.SUBMITTED) for _ in range(3)]
    now = timezone.now()
    for days, app in enumerate(apps):
        Task.objects.filter(application=app).update(due_at=now + dt.timedelta(days=days))
    task = Task.objects.filter(application=apps[0]).order_by("pk").first()
    assert task is not None and task.due_at is not None
    client.force_login(world.instructor)
    response = client.get(reverse("tasks"), {"cursor": f"{task.due_at.isoformat()}~{task.pk}"})
    assert response.status_code == 200
    html = response.content.decode()
    assert _references(html) == [apps[1].reference, apps[2].reference]
    assert _link(html, "prev") is not None  # a page after a row: the way back is offered


def test_the_pager_keeps_the_query_and_fragment_and_hides_on_a_single_page() -> None:
    page = search.Window(rows=[1], next_cursor="N/1", previous_cursor="P&1", cursor="C", size=1)
    html = render_to_string(
        "grants/_pagination.html", {"page": page, "query": "etat=a&b", "param": "ordre", "fragment": "#x"}
    )
    assert 'href="?etat=a&amp;b#x">Retour au début</a>' in html
    assert 'href="?etat=a&amp;b&amp;ordre=P%261#x" rel="prev"' in html
    assert 'href="?etat=a&amp;b&amp;ordre=N/1#x" rel="next"' in html
    alone = search.Window(rows=[1], next_cursor=None, previous_cursor=None, cursor=None, size=1)
    assert "<nav" not in render_to_string("grants/_pagination.html", {"page": alone, "query": ""})
    # The staff lists' include keeps its arguments (page, query) and gains "Précédents".
    html = render_to_string("grants/staff/_pager.html", {"page": page, "query": ""})
    assert 'href="?cursor=P%261" rel="prev">Précédents</a>' in html


def test_a_malformed_agenda_cursor_shows_the_first_page(world: World, client) -> None:
    client.force_login(world.secretary)
    url = reverse("session", args=[world.session.pk])
    for cursor in ("n~", "p~REF~not-a-uuid", "x~a~b", "n~~"):
        assert client.get(url, {"ordre": cursor}).status_code == 200
