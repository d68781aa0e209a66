"""`make run`'s embedded default (SQLite, the filesystem broker, no server to install),
prepared from nothing and browsed, in subprocesses: the suite itself runs on PostgreSQL,
so an expression only PostgreSQL knows (an array subquery, a full-text lookup) reaching the
demo's transitions or a page would break `make run` unseen. This test sees it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter on the prepared SQLite database: each page as its user, the
# status printed per line ("<status> <user> <path>"), then the number of rows found.
BROWSE = """
import os, sys
sys.path.insert(0, os.getcwd())
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from grants import policy

users = get_user_model().objects
# The first submitted application of the demo's applicant (Ville de Lyon), by reference.
mine = policy.visible_applications(users.get(username="applicant"))
submitted = mine.exclude(state="draft").exclude(reference=None).order_by("reference").first()
pages = [
    ("applicant", "/"),
    ("applicant", f"/mes-dossiers/{submitted.pk}/"),
    ("instructor", "/tasks/"),
    ("instructor", "/dossiers/"),
    ("instructor", "/dossiers/?q=" + submitted.reference),
    ("instructor", "/dossiers/?q=Dakar&state=submitted"),
    ("instructor", f"/dossiers/{submitted.pk}/instruction/"),
    ("instructor", "/dossiers/export/csv/"),
    ("instructor", "/api/v1/applications/?q=" + submitted.reference),
    ("embassy-sn", "/tasks/"),
    ("finance", "/"),
    ("reviewer1", "/evaluations/"),
    ("reviewer1", "/evaluations/?section=submitted&cursor=2000-01-01T00:00:00%2B00:00~1"),
    ("reviewer1", "/tasks/"),
]
for username, path in pages:
    client = Client()
    client.force_login(users.get(username=username))
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="fr")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    print(response.status_code, username, path, submitted.reference in body.decode(), flush=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_make_run_prepares_the_demo_on_sqlite_and_every_main_page_answers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(VAR_DIR=str(tmp_path / "var"), DEBUG="false", WEB_PORT=str(_free_port()))
    prepared = subprocess.run(
        [sys.executable, "scripts/prepare_run.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert prepared.returncode == 0, prepared.stdout[-2000:] + prepared.stderr[-4000:]
    assert "ready in" in prepared.stdout and "applicant-assoc" in prepared.stdout
    assert (tmp_path / "var" / "db.sqlite3").exists()

    browsed = subprocess.run(
        [sys.executable, "-c", BROWSE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert browsed.returncode == 0, browsed.stderr[-4000:]
    lines = [line.split(" ", 3) for line in browsed.stdout.splitlines() if line[:3].isdigit()]
    assert len(lines) == 14, browsed.stdout
    assert [(user, path) for status, user, path, _ in lines if status != "200"] == []
    found = {path: shown == "True" for _, user, path, shown in lines if user == "instructor"}
    # The search's SQLite fallback finds a reference typed whole, on the page and in the API.
    assert [shown for path, shown in found.items() if "?q=" in path and "Dakar" not in path] == [True, True]
    assert found["/dossiers/export/csv/"]  # the streamed export holds the demo's applications
