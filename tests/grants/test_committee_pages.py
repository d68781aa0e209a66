"""The committee session page in pages: the agenda by reference (keyset, both ways) and
the ranking by rank, every application exactly once; the decision controls built in
Python escape what they are given."""

from __future__ import annotations

import html as htmllib
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from grants import evaluation
from grants.models import Application
from grants.web.staff import committee
from grants.web.staff.forms import OutcomeRowForm
from tests.factories import World
from tests.grants.test_staff_performance import bulk_applications

S = Application.State
ROW = re.compile(r'<tr id="row-([0-9a-f-]{36})"')
RANK = re.compile(r'<tr id="rank-([0-9a-f-]{36})"[^>]*>\s*<td>(\d+)</td>')


def _link(html: str, rel: str, anchor: str) -> str | None:
    found = re.search(rf'href="\?(ordre|rang)=([^"#]+)#{anchor}" rel="{rel}"', html)
    return htmllib.unescape(found.group(2)) if found else None


def test_every_agenda_row_appears_once_across_pages_both_ways(world: World, client) -> None:
    apps = bulk_applications(world, 2 * committee.AGENDA_SIZE + 7, S.IN_COMMITTEE, session=world.session)
    expected = [str(a.pk) for a in sorted(apps, key=lambda a: (a.reference, str(a.pk)))]
    client.force_login(world.secretary)
    url = reverse("session", args=[world.session.pk])

    forward: list[list[str]] = []
    cursor: str | None = None
    while True:
        html = client.get(url, {"ordre": cursor} if cursor else {}).content.decode()
        forward.append(ROW.findall(html))
        assert len(forward[-1]) <= committee.AGENDA_SIZE
        cursor = _link(html, "next", "agenda")
        if cursor is None:
            break
    assert [pk for page in forward for pk in page] == expected
    assert len(forward) == 3
    assert f"{len(apps)} dossiers inscrits, dont {len(apps)} à décider." in html

    backward: list[list[str]] = [forward[-1]]
    while True:
        cursor = _link(html, "prev", "agenda")
        if cursor is None:
            break
        html = client.get(url, {"ordre": cursor}).content.decode()
        backward.insert(0, ROW.findall(html))
    assert backward == forward
    # The outcomes form posts back to the page it shows (a re-render keeps the page).
    assert 'action="' + reverse("session-outcomes", args=[world.session.pk]) + "?ordre=p~" in html


@pytest.mark.parametrize("frozen", [False, True], ids=["live", "frozen"])
def test_every_ranked_application_appears_once_with_its_rank_and_one_envelope_line(
    world: World, client, frozen: bool
) -> None:
    world.call.envelope = Decimal("25000.00") * 150  # the line falls inside the second page
    world.call.save(update_fields=["envelope"])
    apps = bulk_applications(world, committee.RANKING_SIZE + 60, S.IN_COMMITTEE, session=world.session)
    if frozen:  # the close's effect, alone: the page then reads the stored rows
        evaluation.freeze_ranking(world.session, at=timezone.now())
    client.force_login(world.secretary)
    url = reverse("session", args=[world.session.pk])

    seen: list[tuple[str, int]] = []
    lines = 0
    start: str | None = None
    pages = []
    while True:
        html = client.get(url, {"rang": start} if start else {}).content.decode()
        ranking = html.split('id="ranking"', 1)[1].split("</section>", 1)[0]
        rows = [(pk, int(rank)) for pk, rank in RANK.findall(ranking)]
        assert len(rows) <= committee.RANKING_SIZE
        pages.append(rows)
        seen.extend(rows)
        lines += ranking.count('id="envelope-line"')
        start = _link(html, "next", "ranking")
        if start is None:
            break
    assert sorted(pk for pk, _ in seen) == sorted(str(a.pk) for a in apps)
    assert [rank for _, rank in seen] == list(range(1, len(apps) + 1))
    assert lines == 1
    assert ('id="ranking-frozen"' in html) is frozen
    # Back from the last page, the same pages.
    back = [pages[-1]]
    while True:
        start = _link(html, "prev", "ranking")
        if start is None:
            break
        html = client.get(url, {"rang": start}).content.decode()
        ranking = html.split('id="ranking"', 1)[1].split("</section>", 1)[0]
        back.insert(0, [(pk, int(rank)) for pk, rank in RANK.findall(ranking)])
    assert back == pages
    # A rank beyond the end or not a number: a page of the ranking, never an error.
    assert client.get(url, {"rang": "99999"}).status_code == 200
    assert client.get(url, {"rang": "x"}).status_code == 200
    assert client.get(url, {"ordre": "n~garbage"}).status_code == 200


def test_the_decision_controls_escape_what_was_typed_and_match_the_widgets() -> None:
    data = {
        "p-outcome": "approve",
        "p-amount": '"><script>alert(1)</script>',
        "p-text": "</textarea><script>x</script>",
    }
    form = OutcomeRowForm(data, prefix="p")
    assert form.is_valid()
    labels = committee._control_labels()
    html = str(committee._outcome_controls(form, labels))
    assert "<script>" not in html
    assert str(form["amount"]) in html  # the very input Django renders
    assert str(form["text"]) in html
    assert '<option value="approve" selected>' in html
    assert html.count(" selected") == 1
    unbound = OutcomeRowForm(prefix="q", initial={"amount": "25 000,00"})
    html = str(committee._outcome_controls(unbound, labels))
    assert str(unbound["amount"]) in html and " selected" not in html
