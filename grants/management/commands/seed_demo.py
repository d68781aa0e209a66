from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from grants import demo


class Command(BaseCommand):
    help = "Create the demo call DEMO-2026, the demo accounts and N applications in every state (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default="demo", help="password of every demo account (default: demo)")
        parser.add_argument("--applications", type=int, default=40, help="number of demo applications (default: 40)")
        parser.add_argument("--force", action="store_true", help="run even when DEBUG is off")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("seed_demo refuses to run with DEBUG off (production?); pass --force to insist.")
        if options["applications"] < 0:
            raise CommandError("--applications must be zero or more")
        result = demo.seed(password=options["password"], applications=options["applications"])
        call = result["call"]
        self.stdout.write(
            f"Call {call.code}: {call.applications.count()} applications ({result['created']} created now)"
        )
        self.stdout.write("Demo accounts (password: %s):" % ("as given" if options["password"] != "demo" else "demo"))
        for account in demo.ACCOUNTS:
            self.stdout.write(f"  {account.username:<16} {account.description}")
