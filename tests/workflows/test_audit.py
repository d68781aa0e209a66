"""The transition log: append-only at the database, tamper-evident by its hash chain."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from grants.models import Application
from tests.factories import World
from workflows.audit import verify
from workflows.models import GENESIS_HASH, TransitionLog


def test_each_entry_chains_to_the_previous_one_of_its_application(world: World) -> None:
    app = world.advance(world.draft(), Application.State.SUBMITTED)
    entries = list(TransitionLog.objects.filter(application=app).order_by("pk"))
    assert [e.transition for e in entries] == ["create", "submit"]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash
    assert all(e.hash == e.compute_hash() for e in entries)


def test_the_database_refuses_to_update_the_log(world: World) -> None:
    world.advance(world.draft(), Application.State.SUBMITTED)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        TransitionLog.objects.update(comment="rewritten")


def test_the_database_refuses_to_delete_the_log(world: World) -> None:
    world.advance(world.draft(), Application.State.SUBMITTED)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        TransitionLog.objects.all().delete()


def test_verify_audit_reports_the_first_broken_link(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    app = world.advance(world.draft(), Application.State.INCOMPLETE)
    call_command("verify_audit")
    assert "audit: ok" in capsys.readouterr().out
    victim = TransitionLog.objects.get(application=app, transition="submit")
    # Someone with the power to disable the trigger edits history behind our back.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # superuser: triggers off
        cursor.execute("UPDATE workflows_transitionlog SET actor_name = 'someone-else' WHERE id = %s", [victim.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    report = verify()
    assert report.problems == [
        f"altered entry: application {app.pk}, entry #{victim.pk} (submit) does not match its hash"
    ]
    with pytest.raises(CommandError, match="1 broken chain"):
        call_command("verify_audit")


def test_verify_audit_detects_a_removed_entry(world: World) -> None:
    app = world.advance(world.draft(), Application.State.INCOMPLETE)
    victim = TransitionLog.objects.get(application=app, transition="submit")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM workflows_transitionlog WHERE id = %s", [victim.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    (problem,) = verify().problems
    assert problem.startswith(f"broken link: application {app.pk}") and "(request_completion)" in problem
