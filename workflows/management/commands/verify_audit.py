from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from workflows.audit import verify


class Command(BaseCommand):
    help = "Verify the hash chains of the transition log; report the first broken link of each chain."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify()
        for problem in report.problems:
            self.stdout.write(problem)
        self.stdout.write(f"checked: {report.entries} entries in {report.chains} chains")
        if report.problems:
            raise CommandError(f"audit: {len(report.problems)} broken chain(s)")
        self.stdout.write("audit: ok")
