"""Backup and restore, for real, as docs/reliability.md ("Backup and restore") says:
``pg_dump --format=custom`` of the database, then a tar of MEDIA_ROOT; restored with
``pg_restore`` into a fresh database and the tar into a fresh directory; verify_audit
and verify_documents run against the restored copy."""

from __future__ import annotations

import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grants.models import Application, Decision, Document, Snapshot
from notifications.models import Notification
from tests.reliability.infra import Api, PrivatePostgres, Stack, wait_until
from workflows.models import TransitionLog

pytestmark = [pytest.mark.worker]


def run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (command, result.stdout, result.stderr)


def counts() -> dict[str, int]:
    return {
        "applications": Application.objects.count(),
        "log": TransitionLog.objects.count(),
        "documents": Document.objects.count(),
        "notifications": Notification.objects.count(),
    }


def test_a_dump_and_a_media_tar_restore_into_a_copy_that_passes_both_verifications(
    make_stack: Callable[..., Stack], private_pg: PrivatePostgres, orm: Callable[..., Any], tmp_path: Path
) -> None:
    source = make_stack()
    seeded = source.scenario("seed", "--drafts", "2", "--approved", "2")
    source.web()
    source.worker(concurrency=2)
    api = Api(source.base_url)
    for decision in seeded["decisions"]:
        assert api.request("POST", f"decisions/{decision}/sign/", "signatory").status_code == 200
    with orm(source):
        wait_until(
            lambda: (
                Decision.objects.filter(state=Decision.State.DELIVERED).count() == 2
                and not Snapshot.objects.filter(receipt__isnull=True).exists()
                and Document.objects.filter(kind=Document.Kind.APPROVAL_LETTER_EN).count() == 2
            ),
            timeout=120,
            what="the letters, copies and receipts to be stored",
        )
        before = counts()
    assert before["documents"] == 8  # 2 receipts, 2 letters, 2 English copies, 2 evaluation summaries

    # Backup: the database first, then the files (a document is stored file first, row
    # second, so every row of the dump has its file in a later tar).
    dump = tmp_path / "grants.dump"
    archive = tmp_path / "media.tar.gz"
    run(
        [
            private_pg.tool("pg_dump"),
            "--format=custom",
            "--no-owner",
            f"--dbname={source.database_url}",
            f"--file={dump}",
        ]
    )
    run(["tar", "-C", str(source.media_root), "-czf", str(archive), "."])
    source.stop()

    # Restore into a fresh database and a fresh media directory.
    private_pg.create_database("rel_restored")
    restored_url = private_pg.url("rel_restored")
    run([private_pg.tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={restored_url}", str(dump)])
    media = tmp_path / "media-restored"
    media.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(media, filter="data")
    restored = make_stack(database="rel_restored", media_root=media)

    audit = restored.manage("verify_audit").stdout.strip().splitlines()
    assert audit[-1] == "audit: ok"
    assert audit[-2].startswith(f"checked: {before['log']} entries in ")
    assert restored.manage("verify_documents").stdout.strip().splitlines()[-1] == "documents: 8 ok, 0 bad"
    with orm(restored):
        assert counts() == before

    # A damaged restore is told apart: one letter altered, one missing.
    letters = sorted(p for p in (media / "documents").rglob("*.pdf"))
    letters[0].write_bytes(letters[0].read_bytes() + b"%damaged")
    letters[1].unlink()
    damaged = restored.manage("verify_documents", check=False)
    assert damaged.returncode == 1
    lines = damaged.stdout.strip().splitlines()
    assert lines[-1] == "documents: 6 ok, 2 bad"
    assert sum("sha256 mismatch" in line for line in lines) == 1
    assert sum("missing file" in line for line in lines) == 1
