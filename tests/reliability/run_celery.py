"""``python -m tests.reliability.run_celery worker|beat …``: Celery as the Procfile runs
it, on tests/reliability/stack_settings.py, with one test-only shortcut:
``RELIABILITY_SWEEP_AFTER_SECONDS`` replaces the documents sweep's ten-minute grace
(``grants.tasks.SWEEP_AFTER``), so a test sees the sweep catch up within seconds."""

from __future__ import annotations

import datetime as dt
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.reliability.stack_settings")

import django

django.setup()

from config.celery import app  # noqa: E402

_sweep_after = os.environ.get("RELIABILITY_SWEEP_AFTER_SECONDS")
if _sweep_after:
    from grants import tasks

    tasks.SWEEP_AFTER = dt.timedelta(seconds=float(_sweep_after))

if __name__ == "__main__":
    sys.exit(app.start(sys.argv[1:]) or 0)
