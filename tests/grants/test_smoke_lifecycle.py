from __future__ import annotations

import pytest

from grants.models import Application, Decision
from tests.factories import World

S = Application.State


@pytest.mark.parametrize("target", list(S.values))
def test_the_world_drives_an_application_to_every_state(world: World, target: str) -> None:
    app = world.advance(world.draft(), target)
    assert Application.objects.get(pk=app.pk).state == target
    if target in (S.APPROVED, S.REJECTED):
        assert Decision.objects.get(application=app).state == Decision.State.DRAFT
