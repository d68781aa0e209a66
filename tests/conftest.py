"""Suite-wide fixtures. The suite runs on real PostgreSQL and Redis: it stops at once,
naming the service and how to start it, when one of them does not answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent

_HOW_TO_START = {
    "PostgreSQL": "start it (e.g. `pg_ctlcluster 15 main start`) or set DATABASE_URL",
    "Redis": "start it (e.g. `redis-server --daemonize yes`) or set REDIS_URL",
}


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit("The suite runs on PostgreSQL: set DATABASE_URL=postgres://… (or unset it)", returncode=3)
    broker = urlsplit(settings.CELERY_BROKER_URL)
    checks = [
        ("PostgreSQL", db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)),
        ("Redis", broker.hostname or "127.0.0.1", broker.port or 6379),
    ]
    for name, host, port in checks:
        if not _answers(host, port):
            pytest.exit(f"{name} is not answering on {host}:{port}: {_HOW_TO_START[name]}.", returncode=3)


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogues() -> None:
    """`make install` compiles the translation catalogues; compile any stale one here too,
    so the English pages and messages are tested even when pytest runs on its own."""
    import polib
    from django.utils.translation import trans_real

    stale = [
        po
        for po in ROOT.glob("locale/*/LC_MESSAGES/*.po")
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    for po in stale:
        polib.pofile(str(po)).save_as_mofile(str(po.with_suffix(".mo")))
    if stale:
        trans_real._translations = {}
        trans_real._default = None


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    from django.core.cache import cache

    from config import site_config

    cache.clear()
    # The test database has no DSFR configuration row (a test that saves one replaces this,
    # post_save): every request of a test, the first too, reads none, as in production.
    site_config.preload([])


@pytest.fixture(autouse=True)
def _french_by_default(settings: object) -> Iterator[None]:
    from django.utils import translation

    with translation.override("fr"):
        yield


def _worker_env() -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    user = db.get("USER") or ""
    auth = f"{user}:{db.get('PASSWORD')}@" if db.get("PASSWORD") else (f"{user}@" if user else "")
    env["DATABASE_URL"] = f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    env["REDIS_URL"] = settings.CELERY_BROKER_URL
    env["DJANGO_SETTINGS_MODULE"] = "config.settings_test"
    return env


@pytest.fixture
def celery_worker_process(transactional_db: None) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` process on the test database and the test Redis."""
    from config.celery import app

    app.control.purge()
    hostname = f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default,pdf",
            "-c",
            "2",
            "-n",
            hostname,
            "-l",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=_worker_env(),
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}")
        if app.control.ping(destination=[hostname], timeout=0.5):
            break
    else:
        proc.kill()
        raise RuntimeError("celery worker did not answer a ping within 60 s")
    proc.hostname = hostname  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def world(db: None) -> object:
    """One open call, two French authorities and one user per role (see tests/factories.py)."""
    from tests.factories import World

    return World()
