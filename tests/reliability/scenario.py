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


def seed(*, drafts: int, submitted: int, approved: int) -> dict[str, Any]:
    from grants.models import Application, Decision
    from tests.factories import World

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
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    seeding = sub.add_parser("seed")
    seeding.add_argument("--drafts", type=int, default=0)
    seeding.add_argument("--submitted", type=int, default=0)
    seeding.add_argument("--approved", type=int, default=0)
    args = parser.parse_args(argv)

    import django

    django.setup()
    result = seed(drafts=args.drafts, submitted=args.submitted, approved=args.approved)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
