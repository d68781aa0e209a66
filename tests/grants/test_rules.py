from __future__ import annotations

from grants.models import Application
from tests.factories import World


def test_object_permissions_follow_the_scopes(world: World) -> None:
    app = world.advance(world.draft(), Application.State.AWAITING_OPINIONS)
    assert world.embassy_sn.has_perm("grants.view_application", app)
    assert not world.embassy_ma.has_perm("grants.view_application", app)
    assert not world.applicant2.has_perm("grants.view_application", app)


def test_only_the_lead_applicant_edits_and_only_while_editable(world: World) -> None:
    draft = world.draft()
    assert world.applicant.has_perm("grants.edit_application", draft)
    assert not world.applicant2.has_perm("grants.edit_application", draft)
    submitted = world.advance(world.draft(), Application.State.SUBMITTED)
    assert not world.applicant.has_perm("grants.edit_application", submitted)


def test_the_task_inbox_is_for_staff(world: World) -> None:
    assert world.instructor.has_perm("grants.view_task_inbox")
    assert not world.applicant.has_perm("grants.view_task_inbox")
