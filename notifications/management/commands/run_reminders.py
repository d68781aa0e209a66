"""`python manage.py run_reminders [--at ISO-8601]`: the deadline sweep, once.

Contract: the last line of the output is `sent: N`, the reminder steps sent by this run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from notifications.reminders import PARIS, sweep_report


def parse_instant(value: str) -> dt.datetime:
    """An ISO-8601 date-time; without an offset it is read as Europe/Paris time."""
    parsed = parse_datetime(value.strip())
    if parsed is None:
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise CommandError(f"--at: not an ISO-8601 date-time: {value!r} (e.g. 2026-03-14T08:00:00+01:00)") from None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=PARIS)
    return parsed


class Command(BaseCommand):
    help = "Run the deadline sweep (reminders, escalations, draft reminders, opinion expiry) once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--at", help="run as of this ISO-8601 instant instead of now (Europe/Paris if no offset)")

    def handle(self, *args: Any, **options: Any) -> None:
        at = parse_instant(options["at"]) if options.get("at") else timezone.now()
        report = sweep_report(at=at)
        self.stdout.write(f"at: {report.at.isoformat()}")
        self.stdout.write(f"opinions expired: {report.expired}")
        self.stdout.write(f"tasks examined: {report.tasks_examined}")
        self.stdout.write(f"reminders: {report.reminders}")
        self.stdout.write(f"escalations: {report.escalations}")
        self.stdout.write(f"draft reminders: {report.draft_reminders}")
        self.stdout.write(f"notifications written: {report.notifications}")
        self.stdout.write(f"sent: {report.sent}")
