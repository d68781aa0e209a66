"""The rows of the signatory's list (/signature/) and of finance's (/finances/), read as
plain values and rendered in Python: what each row shows, every text from the database
escaped, the ticked rows and the commitment forms kept, the keyset's pages."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape
from django.utils.text import Truncator

from grants.models import Application, CommitteeSession, Decision, Document
from grants.templatetags.french_format import euros, percent_fr
from tests.factories import World, organisation

S = Application.State
NASTY = "<script>alert('x')</script> & \"Cie\""
_numbers = itertools.count(1)


def _decision(
    world: World,
    *,
    state: str = Decision.State.DRAFT,
    title: str = "Projet",
    org: Any = None,
    countries: tuple[str, ...] = ("SN",),
    document: bool = False,
    **fields: Any,
) -> Decision:
    """A decision on an application of the world's call, written directly (the lists only
    read them)."""
    number = next(_numbers)
    app = Application.objects.create(
        call=world.call,
        organisation=org or world.lyon,
        state=S.APPROVED if fields.get("outcome", "approved") == "approved" else S.REJECTED,
        reference=f"{world.call.code}-R{number:05d}",
        reference_number=200000 + number,
        title=title,
        summary="Résumé.",
        requested_amount=Decimal("25000.00"),
    )
    app.countries.set(countries)
    values: dict[str, Any] = {
        "outcome": Decision.Outcome.APPROVED,
        "amount": Decimal("25000.00"),
        "rate": Decimal("0.25"),
        "tranches": [
            {"number": 1, "year": 1, "amount": "15000.00", "condition": "signature"},
            {"number": 2, "year": 2, "amount": "10000.00", "condition": "final_report"},
        ],
        "decided_at": dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=number),
    }
    if state != Decision.State.DRAFT:
        values.update(signed_by=world.signatory, signed_at=values["decided_at"])
    if state in (Decision.State.DELIVERED, Decision.State.RECORDED):
        values["delivered_at"] = values["decided_at"]
    values.update(fields)
    decision = Decision.objects.create(application=app, call_id=app.call_id, state=state, **values)
    if document:
        Document.objects.create(
            kind=Document.Kind.APPROVAL_LETTER,
            application=app,
            decision=decision,
            reference=app.reference,
            file="documents/x.pdf",
            sha256="0" * 64,
            size=1,
            pages=1,
            template_version="t",
            verification_code=f"v{decision.pk}",
        )
    return decision


def _row(html: str, decision: Decision) -> str:
    found = re.search(rf'<tr id="decision-{decision.pk}">(.*?)</tr>', html, re.S)
    assert found, f"no row for decision {decision.pk}"
    return found.group(1)


# --- signatory ------------------------------------------------------------------------------


def test_a_row_to_sign_shows_the_decision_with_every_text_escaped(world: World, client) -> None:
    authority = organisation(NASTY, "123456782")
    # Opened at 23:30 UTC on 9 March: the committee sat on 10 March, Paris time.
    session = CommitteeSession.objects.create(
        call=world.call, date=dt.date(2026, 3, 20), opened_at=dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC)
    )
    approved = _decision(world, title=NASTY, org=authority, session=session)
    client.force_login(world.signatory)
    html = client.get(reverse("signatory")).content.decode()
    assert "<script>" not in html
    row = _row(html, approved)
    assert escape(NASTY) in row  # the title and the authority, quotes included
    assert row.count(escape(NASTY)) == 2
    assert f'href="{reverse("staff-application", args=[approved.application_id])}"' in row
    assert f'href="{reverse("signatory-preview", args=[approved.pk])}"' in row
    assert f'name="decision" value="{approved.pk}">' in row  # not ticked
    assert euros(Decimal("25000.00")) in row and percent_fr(Decimal("0.25")) in row
    assert f"1. {euros('15000.00')}<br>2. {euros('10000.00')}" in row
    assert '<td class="staff-nowrap">10/03/2026</td>' in row


def test_a_rejection_to_sign_shows_its_reasons_cut_at_200_characters_and_no_amount(world: World, client) -> None:
    reasons = "<b>Hors champ</b> & « autre » " + "très long " * 40
    rejected = _decision(world, outcome=Decision.Outcome.REJECTED, amount=Decimal("0"), tranches=[], reasons=reasons)
    client.force_login(world.signatory)
    row = _row(client.get(reverse("signatory")).content.decode(), rejected)
    assert f'<span class="staff-pre">{escape(Truncator(reasons).chars(200))}</span>' in row
    assert "<b>" not in row and escape(reasons) not in row
    assert '<td class="staff-amount">—</td>' in row
    assert "fr-badge--error" in row
    assert '<td class="staff-nowrap">—</td>' in row  # no session


def test_the_ticked_rows_stay_ticked_when_the_confirmation_is_missing(world: World, client) -> None:
    ticked, other = _decision(world), _decision(world)
    client.force_login(world.signatory)
    response = client.post(reverse("signatory-sign"), {"decision": [ticked.pk]})
    assert response.status_code == 400
    html = response.content.decode()
    assert f'value="{ticked.pk}" checked>' in _row(html, ticked)
    assert f'value="{other.pk}">' in _row(html, other)
    ticked.refresh_from_db()
    assert ticked.state == Decision.State.DRAFT


def test_the_signatory_pages_through_the_decisions_oldest_first(world: World, client) -> None:
    decisions = [_decision(world) for _ in range(51)]
    client.force_login(world.signatory)
    response = client.get(reverse("signatory"))
    first = re.findall(r'<tr id="decision-(\d+)">', response.content.decode())
    assert first == [str(d.pk) for d in decisions[:50]]
    cursor = response.context["page"].next_cursor
    assert cursor
    second = re.findall(
        r'<tr id="decision-(\d+)">', client.get(reverse("signatory"), {"cursor": cursor}).content.decode()
    )
    assert second == [str(decisions[50].pk)]


def test_the_signatory_list_reads_no_country(world: World, client) -> None:
    for _ in range(3):
        _decision(world, countries=("SN", "MA"))
    client.force_login(world.signatory)
    client.get(reverse("signatory"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("signatory")).status_code == 200
    assert not [q for q in queries.captured_queries if "grants_application_countries" in q["sql"]]


def test_the_latest_signatures_escape_the_render_error_and_link_the_letter(world: World, client) -> None:
    failed = _decision(world, state=Decision.State.SIGNED, render_error="<b>WeasyPrint</b> & co", render_attempts=2)
    delivered = _decision(world, state=Decision.State.DELIVERED, document=True)
    pending = _decision(world, state=Decision.State.SIGNED)
    client.force_login(world.signatory)
    for url in (reverse("signatory"), reverse("signatory-progress")):
        html = client.get(url).content.decode()
        failed_row = re.search(rf'<tr id="progress-{failed.pk}">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
        assert "&lt;b&gt;WeasyPrint&lt;/b&gt; &amp; co" in failed_row and "<b>" not in failed_row
        delivered_row = re.search(rf'<tr id="progress-{delivered.pk}">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
        assert f'href="{reverse("staff-decision-pdf", args=[delivered.pk])}"' in delivered_row
        assert "fr-badge--success" in delivered_row
        pending_row = re.search(rf'<tr id="progress-{pending.pk}">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
        assert "fr-badge--info" in pending_row and "staff-decision-pdf" not in pending_row
        assert 'hx-trigger="every 3s"' in html  # still rendering: the table polls


# --- finance --------------------------------------------------------------------------------


def test_a_delivered_row_shows_its_countries_letter_and_the_commitment_form(world: World, client) -> None:
    authority = organisation(NASTY, "123456782")
    decision = _decision(
        world, state=Decision.State.DELIVERED, title=NASTY, org=authority, countries=("SN", "BJ", "MA"), document=True
    )
    without_letter = _decision(world, state=Decision.State.DELIVERED)
    client.force_login(world.finance)
    html = client.get(reverse("finance")).content.decode()
    assert "<script>" not in html
    row = _row(html, decision)
    assert row.count(escape(NASTY)) == 2
    assert f"{escape(NASTY)} · {world.call.code} · BJ, MA, SN</span>" in row
    assert f'href="{reverse("staff-decision-pdf", args=[decision.pk])}"' in row
    assert f"1. {euros('15000.00')} (" in row and f"2. {euros('10000.00')} (" in row
    assert f'action="{reverse("finance-record", args=[decision.pk])}"' in row
    assert f'name="d{decision.pk}-commitment_number"' in row
    assert 'name="csrfmiddlewaretoken"' in row
    assert "01/03/2026" in row  # delivered on (Paris time)
    other = _row(html, without_letter)
    assert "staff-decision-pdf" not in other and "<td>—</td>" in other
    assert f'name="d{without_letter.pk}-commitment_number"' in other


def test_recorded_and_rejected_rows_offer_no_form(world: World, client) -> None:
    recorded = _decision(world, state=Decision.State.RECORDED, commitment_number="EJ-<7>&", tranches=[])
    rejected = _decision(
        world, state=Decision.State.DELIVERED, outcome=Decision.Outcome.REJECTED, amount=Decimal("0"), tranches=[]
    )
    client.force_login(world.finance)
    html = client.get(reverse("finance"), {"etat": "all"}).content.decode()
    row = _row(html, recorded)
    assert "<strong>EJ-&lt;7&gt;&amp;</strong>" in row and "<form" not in row
    assert '<td class="fr-text--sm">—</td>' in row  # no schedule
    row = _row(html, rejected)
    assert "<form" not in row and '<td class="staff-amount">—</td>' in row
    # The default filter lists neither (to commit: delivered approvals).
    html = client.get(reverse("finance")).content.decode()
    assert f"decision-{recorded.pk}" not in html and f"decision-{rejected.pk}" not in html


def test_a_refused_commitment_number_is_shown_on_its_row_only(world: World, client) -> None:
    refused, other = (_decision(world, state=Decision.State.DELIVERED) for _ in range(2))
    client.force_login(world.finance)
    response = client.post(reverse("finance-record", args=[refused.pk]), {f"d{refused.pk}-commitment_number": "EJ <7>"})
    assert response.status_code == 400
    html = response.content.decode()
    row = _row(html, refused)
    assert 'value="EJ &lt;7&gt;"' in row and "fr-input-group--error" in row
    other_row = _row(html, other)
    assert f'name="d{other.pk}-commitment_number"' in other_row and "value=" not in other_row.split("<input", 2)[-1]
    assert "fr-input-group--error" not in other_row
    refused.refresh_from_db()
    assert refused.state == Decision.State.DELIVERED and refused.commitment_number == ""


def test_finance_reads_the_countries_of_its_rows_in_one_query(world: World, client) -> None:
    for _ in range(3):
        _decision(world, state=Decision.State.DELIVERED, countries=("SN", "MA"))
    client.force_login(world.finance)
    client.get(reverse("finance"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("finance")).status_code == 200
    assert len([q for q in queries.captured_queries if "grants_application_countries" in q["sql"]]) == 1
