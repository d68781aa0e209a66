"""The ranking frozen at the session's close: the session page (the minutes), the
committee booklet and the API show the frozen one, never recomputed afterwards."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from grants import evaluation, services
from grants.documents import issuing
from grants.models import Application, CommitteeSession, Consensus
from tests.factories import World

S = Application.State


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _all(world: World, score: int) -> dict[str, int]:
    return {c["code"]: score for c in world.call.scoring_criteria}


def _closed_session(world: World) -> tuple[Application, Application]:
    """Two applications on the world's session: B's consensus (5) above A's (4); both
    approved, the session closed."""
    a = world.advance(world.draft(title="Projet A"), S.IN_COMMITTEE)
    b = world.advance(world.draft(title="Projet B"), S.IN_COMMITTEE)
    services.consensus_record(application_id=b.pk, user=world.instructor, scores=_all(world, 5))
    world.open_session()
    for app in (a, b):
        world.fire(app, "approve", world.secretary, amount="25000.00")
    services.session_transition(session_id=world.session.pk, name="close", user=world.secretary)
    return a, b


def _reorder(a: Application, b: Application, world: World) -> None:
    """After the close, the consensus sheets change (a correction made outside the
    engine): recomputed, A would now come first."""
    Consensus.objects.filter(application=a).update(scores=_all(world, 5))
    Consensus.objects.filter(application=b).update(scores=_all(world, 1))


def test_closing_the_session_freezes_its_ranking(world: World) -> None:
    a, b = _closed_session(world)
    session = CommitteeSession.objects.get(pk=world.session.pk)
    assert session.state == CommitteeSession.State.CLOSED and session.ranking_frozen_at is not None
    frozen = session.frozen_ranking
    assert frozen["rule"] == evaluation.RANKING_RULE
    assert [r["reference"] for r in frozen["rows"]] == [b.reference, a.reference]
    assert [r["weighted_score"] for r in frozen["rows"]] == ["5.0", "4.0"]
    assert [r["cumulative_requested"] for r in frozen["rows"]] == ["25000.00", "50000.00"]
    assert frozen["available"] == "2000000.00"


def test_a_consensus_changed_after_the_close_does_not_change_the_frozen_ranking(world: World, client: Any) -> None:
    a, b = _closed_session(world)
    _reorder(a, b, world)
    session = CommitteeSession.objects.get(pk=world.session.pk)
    # the live computation has moved…
    live = evaluation._live(session, Application.objects.filter(session=session))
    assert [r.reference for r in live.rows] == [a.reference, b.reference]
    # …the frozen one has not: the domain, the page, the API
    ranked = evaluation.session_ranking(session)
    assert ranked.frozen and [r.reference for r in ranked.rows] == [b.reference, a.reference]
    assert ranked.rows[0].weighted_score == Decimal("5.0")

    client.force_login(world.secretary)
    html = client.get(reverse("session", kwargs={"session_id": session.pk})).content.decode()
    ranking = html[html.index('id="ranking"') :]
    assert 'id="ranking-frozen"' in ranking
    assert ranking.index(f'id="rank-{b.pk}"') < ranking.index(f'id="rank-{a.pk}"')

    api = APIClient()
    api.force_authenticate(world.secretary)
    body = api.get(f"/api/v1/sessions/{session.pk}/").json()
    assert [r["reference"] for r in body["ranking"]] == [b.reference, a.reference]
    assert [r["weighted_score"] for r in body["ranking"]] == ["5.0", "4.0"]
    assert body["ranking_frozen_at"] is not None


def test_the_booklet_of_a_closed_session_prints_the_frozen_ranking(world: World) -> None:
    a, b = _closed_session(world)
    _reorder(a, b, world)
    document = issuing.issue_committee_booklet(world.session.pk)
    assert document is not None
    with document.file.open("rb") as handle:
        reader = pypdf.PdfReader(io.BytesIO(handle.read()))
    text = re.sub(r"[ \n]+", " ", "\n".join(page.extract_text() for page in reader.pages))
    section = text[text.index("Classement — figé à la clôture") :]
    assert section.index(b.reference) < section.index(a.reference)
    assert f"{b.reference} Projet B 5 / 5" in section and f"{a.reference} Projet A 4 / 5" in section


def test_an_open_session_s_ranking_is_live_and_the_page_says_nothing_is_frozen(world: World, client: Any) -> None:
    a = world.advance(world.draft(title="Projet A"), S.IN_COMMITTEE)
    b = world.advance(world.draft(title="Projet B"), S.IN_COMMITTEE)
    session = world.open_session()
    assert [r.reference for r in evaluation.session_ranking(session).rows] == [a.reference, b.reference]
    services.consensus_record(application_id=b.pk, user=world.instructor, scores=_all(world, 5))
    ranked = evaluation.session_ranking(CommitteeSession.objects.get(pk=session.pk))
    assert not ranked.frozen and [r.reference for r in ranked.rows] == [b.reference, a.reference]
    client.force_login(world.secretary)
    html = client.get(reverse("session", kwargs={"session_id": session.pk})).content.decode()
    assert 'id="ranking-frozen"' not in html


def test_the_frozen_ranking_keeps_its_envelope_line_when_later_sessions_commit_the_envelope(world: World) -> None:
    a, b = _closed_session(world)
    session = CommitteeSession.objects.get(pk=world.session.pk)
    # the envelope shrinks afterwards (a correction of the call): recomputed, nothing would fit
    type(world.call).objects.filter(pk=world.call.pk).update(envelope=Decimal("10000.00"))
    session = CommitteeSession.objects.select_related("call").get(pk=session.pk)
    assert not any(r.within_envelope for r in evaluation._live(session, [a, b]).rows)
    assert all(r.within_envelope for r in evaluation.session_ranking(session).rows)


def _session_queries(client: Any, api: APIClient, session_id: int) -> tuple[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as web:
        assert client.get(reverse("session", kwargs={"session_id": session_id})).status_code == 200
    with CaptureQueriesContext(connection) as rest:
        assert api.get(f"/api/v1/sessions/{session_id}/").status_code == 200
    return len(web.captured_queries), len(rest.captured_queries)


def test_the_ranking_costs_the_same_queries_for_2_and_5_applications_live_and_frozen(world: World, client: Any) -> None:
    client.force_login(world.secretary)
    api = APIClient()
    api.force_authenticate(world.secretary)
    apps = [world.advance(world.draft(title=f"Projet {i}"), S.IN_COMMITTEE) for i in range(2)]
    live_2 = _session_queries(client, api, world.session.pk)
    apps += [world.advance(world.draft(title=f"Projet {i}"), S.IN_COMMITTEE) for i in range(2, 5)]
    live_5 = _session_queries(client, api, world.session.pk)
    assert live_2 == live_5
    world.open_session()
    for app in apps:
        world.fire(app, "reject", world.secretary, reasons="Hors priorités.")
    services.session_transition(session_id=world.session.pk, name="close", user=world.secretary)
    frozen = _session_queries(client, api, world.session.pk)
    assert frozen[1] <= live_5[1]  # the API reads the frozen rows instead of computing them
