"""Two staff saving the same call at the same instant (real threads, real PostgreSQL):
the call's row lock and its version decide; one save wins, the other is refused with
the conflict message, nothing is silently overwritten."""

from __future__ import annotations

from typing import Any

import pytest

from grants import services
from grants.models import Call
from tests.concurrency import race
from tests.factories import CallFactory, World
from workflows.engine import Conflict

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_concurrent_saves_of_one_version_exactly_one_wins() -> None:
    world = World()
    call = CallFactory(published=False)

    def save(user: Any, title: str) -> Any:
        return lambda: services.call_update(code=call.code, user=user, data={"version": 1, "title": title})

    results = race([save(world.instructor, "Version de l'instruction"), save(world.admin, "Version de l'admin")])
    winners = [r for r in results if isinstance(r, Call)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert "modifié par quelqu'un d'autre" in losers[0].message
    stored = Call.objects.get(pk=call.pk)
    assert (stored.title, stored.version) == (winners[0].title, 2)
