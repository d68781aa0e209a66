from __future__ import annotations

import shutil
import subprocess
from typing import Any

from django.core.management.base import BaseCommand

from workflows.diagrams import write_all


class Command(BaseCommand):
    help = "Write the state diagrams of every machine into docs/diagrams/ (.dot, and .svg when graphviz is installed)."

    def handle(self, *args: Any, **options: Any) -> None:
        dot_binary = shutil.which("dot")
        for path in write_all():
            self.stdout.write(str(path))
            if dot_binary:
                subprocess.run([dot_binary, "-Tsvg", str(path), "-o", str(path.with_suffix(".svg"))], check=True)  # noqa: S603
