"""The committee booklet from the secretary's agenda: built by a pdf worker task, read by
the committee's members only."""

from __future__ import annotations

import pytest
from django.test import Client

from grants.documents import issuing
from grants.models import Application
from tests.factories import UserFactory, World, grant


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_secretary_asks_for_a_booklet_after_commit(world: World, django_capture_on_commit_callbacks) -> None:
    world.advance(world.draft(), Application.State.IN_COMMITTEE)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _client(world.secretary).post(f"/comites/{world.session.pk}/dossier-de-seance/generer/")
    assert response.status_code == 302
    assert len(callbacks) == 1  # enqueued only once the request's transaction commits


@pytest.mark.django_db
def test_committee_members_download_the_latest_booklet_and_others_get_a_404(world: World) -> None:
    app = world.advance(world.draft(), Application.State.IN_COMMITTEE)
    url = f"/comites/{world.session.pk}/dossier-de-seance/"
    assert _client(world.secretary).get(url).status_code == 404  # none built yet
    booklet = issuing.issue_committee_booklet(world.session.pk)
    assert booklet is not None
    for reader in (world.secretary, world.instructor, world.reviewer1):
        response = _client(reader).get(url)
        assert response.status_code == 200, reader
        assert response["Content-Type"] == "application/pdf"
        assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert _client(world.reviewer2).get(url).status_code == 404  # not assigned on this agenda
    assert _client(world.embassy_sn).get(url).status_code == 403
    outsider = UserFactory(username="reviewer-elsewhere")
    grant(outsider, "reviewer")
    assert _client(outsider).get(url).status_code == 404
    page = _client(world.secretary).get(f"/comites/{world.session.pk}/")
    assert "Télécharger (généré le" in page.content.decode()
    assert app.pk
