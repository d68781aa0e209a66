"""What is compiled once per process (issue #13, submit): the application's lock, a log
entry's, snapshot's and task's INSERT and the notifications' audience give what the ORM
gives — the same SQL, values, instances and rows — and fail as it fails."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grants.machines.locks import lock_application
from grants.models import Application, Role, Snapshot
from grants.policy.audiences import Directory, scope_query
from notifications import outbox
from notifications.models import Category, Mode, Preference
from tests.factories import World
from workflows.model_mixins import CompiledInsert
from workflows.models import GENESIS_HASH, Task, TaskKind, TransitionLog


def _orm_lock(pk: Any) -> Application:
    return Application.objects.select_for_update(of=("self",)).select_related("call", "organisation").get(pk=pk)


def _attributes(obj: models.Model) -> dict[str, Any]:
    found = {k: (v, type(v)) for k, v in obj.__dict__.items() if k != "_state"}
    found["_state"] = (obj._state.db, obj._state.adding, sorted(obj._state.fields_cache))
    return found


@pytest.mark.django_db(transaction=True)
def test_the_compiled_lock_is_the_orm_s_statement_and_instances(world: World) -> None:
    app = world.draft()
    with transaction.atomic():
        with CaptureQueriesContext(connection) as orm:
            expected = _orm_lock(app.pk)
        with CaptureQueriesContext(connection) as compiled:
            found = lock_application(str(app.pk))
    assert [q["sql"] for q in compiled] == [q["sql"] for q in orm]
    assert "FOR UPDATE" in compiled[0]["sql"]
    for mine, django_s in ((found, expected), (found.call, expected.call), (found.organisation, expected.organisation)):
        assert _attributes(mine) == _attributes(django_s)


@pytest.mark.django_db(transaction=True)
def test_the_compiled_lock_fails_as_the_orm_s(world: World) -> None:
    with transaction.atomic():
        for wrong, error in (("not-a-uuid", ValidationError), (uuid.uuid4(), Application.DoesNotExist)):
            with pytest.raises(error) as orm:
                _orm_lock(wrong)
            with pytest.raises(error) as compiled:
                lock_application(wrong)
            assert str(compiled.value) == str(orm.value)
    with pytest.raises(transaction.TransactionManagementError):
        lock_application(world.draft().pk)  # outside a transaction, as select_for_update


def _rows(app: Application, n: int) -> list[models.Model]:
    """A task, a snapshot and a log entry; ``n`` makes the unique columns unique."""
    now = timezone.now().replace(microsecond=0)
    return [
        Task(
            kind=TaskKind.CHECK_ELIGIBILITY,
            application=app,
            queue_role=Role.INSTRUCTOR,
            due_at=now,
            scope_call=app.call,
            created_at=now,
        ),
        Snapshot(
            application=app,
            number=n,
            data={"title": "Ç'est « ça »", "n": 1.5, "none": None},
            sha256="a" * 64,
            created_at=now,
        ),
        TransitionLog(
            application=app,
            subject_type="grants.application",
            subject_id=str(app.pk),
            transition="submit",
            source="draft",
            target="submitted",
            role="applicant",
            at=now,
            payload={"k": [1, "é"]},
            prev_hash=GENESIS_HASH,
            hash=f"{n:064d}",
        ),
    ]


def _inserted(objs: list[models.Model]) -> list[tuple[str, list[Any]]]:
    executed: list[tuple[str, list[Any]]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        executed.append((sql, [getattr(p, "obj", p) for p in params]))  # a Jsonb parameter: its value
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        for obj in objs:
            obj.save(force_insert=True)
    return executed


def test_a_compiled_insert_writes_what_django_writes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    app = world.draft()
    saved: list[tuple[Any, bool]] = []

    def receiver(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
        saved.append((sender, created))

    post_save.connect(receiver, dispatch_uid="test-compiled-insert")
    try:
        mine = _rows(app, 1)
        compiled = _inserted(mine)
        with monkeypatch.context() as patched:
            patched.setattr(CompiledInsert, "_do_insert", lambda self, *args: models.Model._do_insert(self, *args))
            django_s = _rows(app, 2)
            orm = _inserted(django_s)
    finally:
        post_save.disconnect(dispatch_uid="test-compiled-insert")
    assert saved == [(Task, True), (Snapshot, True), (TransitionLog, True)] * 2  # save()'s signals, as before
    # The same statements with the same values (the unique number and hash aside).
    assert [sql for sql, _params in compiled] == [sql for sql, _params in orm]
    unique: dict[Any, Any] = {2: 1, f"{2:064d}": f"{1:064d}"}
    for (_sql, mine_params), (_sql2, orm_params) in zip(compiled, orm, strict=True):
        assert [unique.get(p, p) if isinstance(p, int | str) else p for p in orm_params] == mine_params
    for a, b in zip(mine, django_s, strict=True):
        assert isinstance(a.pk, int) and a.pk != b.pk and not a._state.adding and a._state.db == "default"
        stored_a, stored_b = (type(a).objects.filter(pk=obj.pk).values().get() for obj in (a, b))
        assert {k for k in stored_a if stored_a[k] != stored_b[k]} <= {"id", "number", "hash"}


def test_an_expression_takes_django_s_insert(world: World) -> None:
    app = world.draft()
    snapshot = Snapshot(application=app, number=1, data={}, sha256="b" * 64, created_at=models.functions.Now())
    snapshot.save(force_insert=True)
    snapshot.refresh_from_db()
    assert snapshot.created_at is not None


def test_the_audience_statement_reads_what_directory_load_reads(world: World) -> None:
    Preference.objects.create(user=world.applicant, category=Category.STATUS, mode=Mode.OFF)
    Preference.objects.create(user=world.instructor, category=Category.INSTRUCTION, mode=Mode.DIGEST)
    world.applicant2.is_active = False
    world.applicant2.save()
    organisations = [[world.lyon.pk], [world.lyon.pk, world.rennes.pk], []]
    countries, regions = [[None], ["SN"], ["SN", "MA"], []], [[None], ["84"], []]
    roles = [r for r, _label in Role.choices]
    cases = 0
    for size in (1, 2, 3):
        for wanted in itertools.combinations(roles, size):
            for scope in itertools.product(organisations, countries, regions):
                kwargs = dict(zip(("organisation_ids", "country_ids", "region_ids"), scope, strict=True))
                expected = Directory.load(scope_query(set(wanted), **kwargs), extra=outbox.recipient_facts())
                found = outbox._directory(set(wanted), **kwargs)  # type: ignore[arg-type]
                assert dict(found._index) == dict(expected._index), (wanted, scope)
                assert found.extra == expected.extra, (wanted, scope)
                cases += 1
    assert cases > 1000
    facts = outbox._directory(
        {Role.APPLICANT, Role.INSTRUCTOR}, organisation_ids=[world.lyon.pk], country_ids=[None], region_ids=[None]
    )
    assert facts.extra[world.applicant.pk]["preferences"] == [{"category": Category.STATUS, "mode": Mode.OFF}]
    assert world.applicant2.pk not in facts.extra
