"""What `make run` does before starting the processes, in one Django start, each step
only when needed:

- the web port is free (else stop now, naming it, rather than after the whole start);
- translation catalogues newer than their compiled `.mo` are compiled;
- migrations are applied when some are not;
- the demo data (`seed_demo`) is loaded when it is missing, or when the demo's code has
  changed since it was loaded (a fingerprint of `grants/**/*demo*.py` and of the
  database is kept in `VAR_DIR/demo-seeded`); `make seed` re-runs it on demand;
- static files are collected when the set of files the finders see has changed (a
  fingerprint in `STATIC_ROOT/.collected`).

Each step prints what it did and how long it took.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_CALL = "DEMO-2026"
DEMO_APPLICATIONS = 40


def _timed(label: str, step: Callable[[], str]) -> None:
    started = time.monotonic()
    outcome = step()
    print(f"  {label:<14} {outcome} ({time.monotonic() - started:.1f} s)", flush=True)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def compile_catalogues() -> str:
    import polib

    stale = [
        po
        for po in sorted(ROOT.glob("locale/*/LC_MESSAGES/*.po")) + sorted(ROOT.glob("*/locale/*/LC_MESSAGES/*.po"))
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    for po in stale:
        polib.pofile(str(po)).save_as_mofile(str(po.with_suffix(".mo")))
    return f"{len(stale)} compiled" if stale else "up to date"


def migrate() -> str:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return "up to date"
    call_command("migrate", interactive=False, verbosity=0)
    return f"{len(plan)} applied"


def _demo_fingerprint() -> str:
    from django.conf import settings

    digest = hashlib.sha256()
    db = settings.DATABASES["default"]
    digest.update(repr((db["ENGINE"], db.get("NAME"), db.get("HOST"), db.get("PORT"), DEMO_APPLICATIONS)).encode())
    for path in sorted(ROOT.glob("grants/**/*demo*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _demo_present() -> bool:
    from django.apps import apps

    try:
        Application = apps.get_model("grants", "Application")
        return Application.objects.filter(call__code=DEMO_CALL).count() >= DEMO_APPLICATIONS
    except Exception:  # any doubt (a model renamed, a table missing): seed again
        return False


def seed_demo() -> str:
    from django.conf import settings
    from django.core.management import call_command

    if settings.PRODUCTION:
        return "skipped: DJANGO_ENV=production (demo accounts have a known password)"
    stamp = Path(settings.VAR_DIR) / "demo-seeded"
    fingerprint = _demo_fingerprint()
    if stamp.exists() and stamp.read_text().strip() == fingerprint and _demo_present():
        return f"{DEMO_CALL} already loaded (make seed reloads it)"
    # --force: `make run` runs with DEBUG off; production is refused just above.
    output = io.StringIO()
    call_command("seed_demo", applications=DEMO_APPLICATIONS, force=True, stdout=output)
    stamp.write_text(fingerprint + "\n")
    return output.getvalue().splitlines()[0] if output.getvalue() else f"{DEMO_CALL} loaded"


def _static_fingerprint() -> str:
    from django.conf import settings
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256(repr(settings.STORAGES["staticfiles"]).encode())
    entries = []
    for finder in get_finders():
        for path, storage in finder.list([]):
            stat = os.stat(storage.path(path))
            entries.append(f"{getattr(storage, 'prefix', '') or ''}/{path}\0{stat.st_mtime_ns}\0{stat.st_size}")
    for entry in sorted(entries):
        digest.update(entry.encode() + b"\n")
    return digest.hexdigest()


def collect_static() -> str:
    from django.conf import settings
    from django.core.management import call_command

    stamp = Path(settings.STATIC_ROOT) / ".collected"
    fingerprint = _static_fingerprint()
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        return "up to date"
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(fingerprint + "\n")
    return "collected"


def print_accounts() -> None:
    try:
        from grants import demo, demo_variants

        accounts = [(account.username, account.description) for account in demo.ACCOUNTS]
        accounts += demo_variants.ACCOUNTS_SHOWN
    except (ImportError, AttributeError):
        print("  Demo accounts: see the README (password: demo).")
        return
    print("  Demo accounts (password: demo):")
    for username, description in accounts:
        print(f"    {username:<16} {description}")


def main() -> int:
    port = int(os.environ.get("WEB_PORT") or 8000)
    if not port_is_free(port):
        print(
            f"127.0.0.1:{port} is already in use (another `make run`?): stop it, or choose another port: "
            f"make run WEB_PORT={port + 1}",
            file=sys.stderr,
        )
        return 1
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    started = time.monotonic()
    print("Preparing the embedded default (var/):", flush=True)
    _timed("translations", compile_catalogues)
    import django

    django.setup()
    from django.conf import settings

    _timed("database", migrate)
    _timed("demo data", seed_demo)
    _timed("static files", collect_static)
    print(f"  ready in {time.monotonic() - started:.1f} s; DEBUG is {'on' if settings.DEBUG else 'off'}", flush=True)
    print_accounts()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
