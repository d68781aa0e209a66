"""``python -m tests.reliability.scenario seed …``: the data a reliability test starts
from, written by the product's own services (tests/factories.py's World) into the
stack's database, its after-commit messages sent to the stack's Redis. Prints one JSON
line: the IDs and usernames the test drives through the HTTP API.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.reliability.stack_settings")


def seed(*, drafts: int, submitted: int, approved: int, due_tasks: int = 0) -> dict[str, Any]:
    import datetime as dt

    from django.utils import timezone

    from grants.models import Application, Decision, Role
    from tests.factories import World
    from workflows.models import Task, TaskKind

    world = World()
    owners = [world.applicant, world.applicant2]
    out: dict[str, Any] = {
        "call": world.call.code,
        "session": world.session.pk,
        "owners": {},
        "drafts": [],
        "submitted": [],
        "decisions": [],
    }
    for i in range(drafts):
        owner = owners[i % 2]
        app = world.draft(owner)
        out["drafts"].append(str(app.pk))
        out["owners"][str(app.pk)] = owner.username
    for i in range(submitted):
        owner = owners[i % 2]
        app = world.advance(world.draft(owner), Application.State.SUBMITTED, owner=owner)
        out["submitted"].append(str(app.pk))
        out["owners"][str(app.pk)] = owner.username
    for i in range(approved):
        owner = owners[i % 2]
        app = world.advance(world.draft(owner), Application.State.APPROVED, owner=owner)
        out["decisions"].append(Decision.objects.get(application=app).pk)
        out["owners"][str(app.pk)] = owner.username
    if due_tasks:
        # Opinion tasks due in five days (their "due - 7 days" reminder is due now), queued
        # for the Senegal embassy, on the first submitted application.
        app = Application.objects.get(pk=out["submitted"][0])
        now = timezone.now()
        Task.objects.bulk_create(
            Task(
                kind=TaskKind.GIVE_OPINION,
                application=app,
                queue_role=Role.EMBASSY,
                scope_country_id="SN",
                due_at=now + dt.timedelta(days=5, minutes=i),
                created_at=now - dt.timedelta(days=30),
            )
            for i in range(due_tasks)
        )
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    seeding = sub.add_parser("seed")
    seeding.add_argument("--drafts", type=int, default=0)
    seeding.add_argument("--submitted", type=int, default=0)
    seeding.add_argument("--approved", type=int, default=0)
    seeding.add_argument("--due-tasks", type=int, default=0, help="opinion tasks whose first reminder is due")
    args = parser.parse_args(argv)

    import django

    django.setup()
    result = seed(drafts=args.drafts, submitted=args.submitted, approved=args.approved, due_tasks=args.due_tasks)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
