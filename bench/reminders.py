"""Deadline sweep: one sweep over 100,000 open tasks of which 10,000 have a step due (reminder or escalation), then the next minute's sweep, against a baseline read of every open task in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/grants python -m bench.reminders [TASKS] [DUE]

Standalone, `run()` never touches the database named by DATABASE_URL itself: it creates
a throwaway test database next to it (``test_<name>``, migrated, dropped at the end), the
way the test suite does. Under `make bench` (bench/run.py) the harness has set up that
test database already: `run()` works in it and deletes what it wrote. Without
DATABASE_URL it runs on SQLite, which says little about production. The figures:

- `seed_s`: bulk-creating the applications and tasks (not part of the sweep);
- `first_sweep_s`: the sweep that finds the 10,000 due tasks and, for each, inserts its
  reminder rows and writes its notifications (one per recipient), in batches of 1,000;
- `steady_sweep_s`: the next minute's sweep, when every due step is already recorded
  (what beat pays every minute); `baseline_read_all_open_tasks_s`: reading the id and
  due date of every open task once, in the same run (a floor for any sweep that looked
  at every task);
- `plan`: PostgreSQL's plan for the candidate query (it should use ``task_open_due``).

E-mails are not sent here (that is the workers' job, after commit): the Celery hand-off
is replaced by a counter, reported as `enqueued`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sys
import time
from typing import Any

BENCH_CALL = "BENCH-SWEEP"
BENCH_ORGANISATION = "Collectivité de mesure (sweep)"


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _seed(tasks: int, due: int, at: dt.datetime) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from grants.models import Application, Call, Country, Organisation, Region, Role, RoleGrant
    from notifications import sql
    from workflows.models import Task, TaskKind

    rng = random.Random(7)
    users = get_user_model().objects
    with transaction.atomic():
        call = Call.objects.create(
            code=BENCH_CALL,
            title="Appel de mesure",
            opens_at=at - dt.timedelta(days=90),
            closes_at=at - dt.timedelta(days=30),
            envelope=10_000_000,
        )
        region = Region.objects.order_by("code").first()
        france = Country.objects.get(iso2="FR")
        organisation = Organisation.objects.create(name=BENCH_ORGANISATION, region=region, country=france)
        countries = list(Country.objects.filter(iso2__in=["SN", "MA", "ML", "BJ", "TN"]))
        unusable = make_password(None)  # no hashing cost in the seed
        staff = {
            name: users.create(username=f"bench-sweep-{name}", email=f"{name}@example.org", password=unusable)
            for name in ("instructor", "chief", "reviewer", "applicant")
        }
        grants = [
            RoleGrant(user=staff["instructor"], role=Role.INSTRUCTOR),
            RoleGrant(user=staff["chief"], role=Role.INSTRUCTOR, supervisor=True),
            RoleGrant(user=staff["reviewer"], role=Role.REVIEWER),
            RoleGrant(user=staff["applicant"], role=Role.APPLICANT, organisation=organisation),
        ]
        for country in countries:
            embassy = users.create(
                username=f"bench-sweep-embassy-{country.iso2}",
                email=f"{country.iso2}@example.org",
                password=unusable,
            )
            grants.append(RoleGrant(user=embassy, role=Role.EMBASSY, country=country))
        RoleGrant.objects.bulk_create(grants)
        n_apps = max(1, tasks // 100)
        applications = Application.objects.bulk_create(
            [
                Application(
                    call=call,
                    organisation=organisation,
                    title=f"Projet de mesure {i}",
                    state=Application.State.UNDER_REVIEW,
                    reference=f"{BENCH_CALL}-{i + 1:05d}",
                    reference_number=i + 1,
                )
                for i in range(n_apps)
            ],
            batch_size=2000,
        )
    created_at = at - dt.timedelta(days=60)
    names = (
        "kind",
        "state",
        "application",
        "subject_type",
        "subject_id",
        "queue_role",
        "scope_call",
        "scope_country",
        "assignee",
        "reserved",
        "due_at",
        "created_at",
    )
    rows: list[tuple[Any, ...]] = []
    due_indices = set(rng.sample(range(tasks), due))
    for i in range(tasks):
        if i in due_indices:
            # Between 5 days overdue (escalations) and 6 days ahead: one step is due for each.
            due_at = at + dt.timedelta(minutes=rng.randint(-5 * 1440, 6 * 1440))
        else:
            due_at = at + dt.timedelta(days=rng.randint(30, 300), minutes=rng.randint(0, 1440))
        application_id = applications[i % len(applications)].pk
        kind = i % 3
        if kind == 0:  # an embassy's opinion
            queue: tuple[Any, ...] = (TaskKind.GIVE_OPINION, Role.EMBASSY, None, countries[i % len(countries)].pk, None)
        elif kind == 1:  # the instructors' eligibility check
            queue = (TaskKind.CHECK_ELIGIBILITY, Role.INSTRUCTOR, call.pk, None, None)
        else:  # a reviewer's review
            queue = (TaskKind.REVIEW, Role.REVIEWER, call.pk, None, staff["reviewer"].pk)
        task_kind, role, scope_call, scope_country, assignee = queue
        rows.append(
            (
                task_kind,
                Task.State.OPEN,
                application_id,
                "",
                "",
                role,
                scope_call,
                scope_country,
                assignee,
                assignee is not None,
                due_at,
                created_at,
            )
        )
    with transaction.atomic():
        sql.insert_returning(Task, names, rows, returning=("id",))
    return {"applications": n_apps}


def _plan(at: dt.datetime) -> str:
    from django.db import connection

    if connection.vendor != "postgresql":
        return ""
    from django.db.models import Exists, OuterRef

    from notifications.models import Reminder
    from workflows.models import Task

    qs = (
        Task.objects.filter(state=Task.State.OPEN, due_at__lte=at + dt.timedelta(days=8))
        .filter(~Exists(Reminder.objects.filter(task_id=OuterRef("pk"), final=True)))
        .order_by("due_at", "id")
        .values("id")[:1000]
    )
    return qs.explain()


def _cleanup(call_code: str) -> None:
    """Remove what the seed and the sweep wrote (the harness shares its database between
    benchmarks). Plain DELETEs: the ORM's cascade would load 100,000 tasks first."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from grants.models import Application, Call, Organisation, RoleGrant
    from notifications.models import Notification, Reminder
    from workflows.models import Task

    call = Call.objects.filter(code=call_code).first()
    if call is None:
        return
    qn = connection.ops.quote_name
    apps = f"SELECT id FROM {qn(Application._meta.db_table)} WHERE call_id = %s"  # noqa: S608
    tasks = f"SELECT id FROM {qn(Task._meta.db_table)} WHERE application_id IN ({apps})"  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {qn(Reminder._meta.db_table)} WHERE task_id IN ({tasks})", [call.pk])  # noqa: S608
        for model in (Notification, Task):
            cursor.execute(f"DELETE FROM {qn(model._meta.db_table)} WHERE application_id IN ({apps})", [call.pk])  # noqa: S608
        cursor.execute(f"DELETE FROM {qn(Application._meta.db_table)} WHERE call_id = %s", [call.pk])  # noqa: S608
        users = get_user_model().objects.filter(username__startswith="bench-sweep-")
        RoleGrant.objects.filter(user__in=users).delete()
        users.delete()
        call.delete()
        Organisation.objects.filter(name=BENCH_ORGANISATION).delete()


def run(tasks: int = 100_000, due: int = 10_000, quick: bool = False) -> dict[str, Any]:
    """Seed, sweep twice, measure. On a database already set up for tests (``make bench``'s
    harness) it works there and cleans up; otherwise it creates and drops its own."""
    if quick:
        tasks, due = 10_000, 1_000
    _setup_django()
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from notifications import outbox
    from notifications.reminders import sweep_report
    from workflows.models import Task

    own_database = not str(connection.settings_dict["NAME"]).startswith("test_")
    old_name = connection.settings_dict["NAME"]
    test_name = (
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False) if own_database else old_name
    )
    enqueued: list[int] = []
    real_enqueue, real_debug = outbox.enqueue, settings.DEBUG

    def count(ids: Any) -> int:
        enqueued.extend(ids)
        return len(ids)

    outbox.enqueue = count  # type: ignore[assignment]
    settings.DEBUG = False  # no query log in memory while measuring
    try:
        _cleanup(BENCH_CALL)
        at = timezone.now().replace(microsecond=0)
        started = time.perf_counter()
        seeded = _seed(tasks, due, at)
        seed_s = time.perf_counter() - started
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        # Baseline, same run: merely reading every open task once (what a sweep without
        # the index and the bookkeeping would pay at the very least, every minute).
        started = time.perf_counter()
        open_tasks = len(list(Task.objects.filter(state=Task.State.OPEN).values_list("id", "due_at")))
        baseline_s = time.perf_counter() - started
        started = time.perf_counter()
        first = sweep_report(at=at)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        steady = sweep_report(at=at + dt.timedelta(minutes=1))
        steady_s = time.perf_counter() - started
        plan = _plan(at)
        _cleanup(BENCH_CALL)
    finally:
        outbox.enqueue = real_enqueue  # type: ignore[method-assign]
        settings.DEBUG = real_debug
        if own_database:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    return {
        "database": connection.vendor,
        "test_database": test_name,
        "open_tasks": tasks,
        "due_tasks": due,
        "applications": seeded["applications"],
        "seed_s": round(seed_s, 3),
        "first_sweep_s": round(first_s, 3),
        "first_sweep_tasks_examined": first.tasks_examined,
        "first_sweep_reminders": first.reminders,
        "first_sweep_escalations": first.escalations,
        "first_sweep_skipped_steps": first.skipped_steps,
        "first_sweep_notifications": first.notifications,
        "enqueued": len(enqueued),
        "steady_sweep_s": round(steady_s, 4),
        "steady_sweep_sent": steady.sent,
        "baseline_read_all_open_tasks_s": round(baseline_s, 4),
        "baseline_open_tasks_read": open_tasks,
        "steady_vs_baseline": round(steady_s / baseline_s, 3) if baseline_s else None,
        "plan_uses_task_open_due": ("task_open_due" in plan) if plan else None,
        "plan": plan,
    }


if __name__ == "__main__":
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    due = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    print(json.dumps(run(tasks, due), indent=2))
