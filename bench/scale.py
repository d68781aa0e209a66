"""Finding any application in 100,000: the lists and pages at 10,000 and 100,000 applications.

For each size: a fresh database (bench/generate.py: COPY, then verify_audit and a walk of
every history), the page benchmarks (bench/pages.py: median of 7 in-process, query count,
SQL time against hand-written SQL of the same rows, EXPLAIN ANALYZE), the submission
through the transition service against a hand-written SQL transaction (bench/submit.py),
and an HTTP load test with locust against gunicorn (bench/load.py). The growth plot goes to
docs/benchmarks-growth.png.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLOT = ROOT / "docs" / "benchmarks-growth.png"


def _admin_connection() -> Any:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname="postgres",
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        autocommit=True,
    )


def fresh_database(name: str | None = None) -> str:
    """Drop and create ``name`` (default: the configured database), point Django's default
    connection at it and migrate. Returns the name."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    name = name or str(settings.DATABASES["default"]["NAME"])
    if not name.startswith(("bench", "helper", "test_")):
        raise RuntimeError(f"refusing to drop database {name!r}: benchmark databases start with bench")
    connection.close()
    with _admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    settings.DATABASES["default"]["NAME"] = name
    connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0, interactive=False)
    return name


def drop_database(name: str) -> None:
    from django.db import connection

    if connection.settings_dict["NAME"] == name:
        connection.close()
    with _admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _timed(label: str, started: float) -> None:
    print(f"bench scale: {label} ({time.perf_counter() - started:.1f} s)", flush=True)
