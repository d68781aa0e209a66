"""The media volume full, for real: MEDIA_ROOT is a 4 MB tmpfs filled to the last byte
(root only: ``mount -t tmpfs``; skipped elsewhere), under gunicorn and a worker.

- An upload (API and web form) is refused with a clear 507 in French; no row, and no
  truncated file left behind to hold the space.
- A letter to store (a signed decision) and a receipt to store (a submission) fail
  with ENOSPC and are retried with backoff; once space is freed the next attempt stores
  them. At no moment does a row point at a missing file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from grants.models import Attachment, Decision, Document, Snapshot
from tests.factories import PDF_BYTES
from tests.reliability.infra import Api, Stack, csrf_token, wait_until, web_sign_in

pytestmark = [pytest.mark.worker]

VOLUME = "4m"
FILLER = ".filler"
UPLOAD = PDF_BYTES + b"\n%" + b"0" * 200_000 + b"\n"  # a 200 kB PDF (sniffed by its header)


@pytest.fixture
def media_volume() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("a real full volume needs root (mount -t tmpfs)")
    mount = Path(tempfile.mkdtemp(prefix="rel-media-"))
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={VOLUME},mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)
        with contextlib.suppress(OSError):
            mount.rmdir()


def fill(volume: Path) -> int:
    """Write a filler file until the volume refuses one more byte; its size."""
    written = 0
    with open(volume / FILLER, "ab", buffering=0) as filler:
        for _ in range(100_000):  # bounded: 4 MB in 4 kB writes needs about 1000
            try:
                written += filler.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        for _ in range(4096):  # the last partial block
            try:
                written += filler.write(b"\0")
            except OSError:
                break
    assert os.statvfs(volume).f_bavail == 0
    return written


def files_on(volume: Path) -> set[str]:
    return {str(p.relative_to(volume)) for p in volume.rglob("*") if p.is_file() and p.name != FILLER}


def rows_with_files() -> set[str]:
    names = set(Document.objects.values_list("file", flat=True)) | set(
        Attachment.objects.values_list("file", flat=True)
    )
    return {str(Path(name)) for name in names}


def upload(api: Api, app: str, owner: str) -> requests.Response:
    return api.request(
        "POST",
        f"applications/{app}/attachments/",
        owner,
        data={"kind": "other"},
        files={"file": ("budget.pdf", UPLOAD, "application/pdf")},
    )


def test_a_full_media_volume_refuses_uploads_clearly_and_retries_letters_until_space_is_back(
    make_stack: Callable[..., Stack], media_volume: Path, orm: Callable[..., Any]
) -> None:
    stack = make_stack(media_root=media_volume)
    seeded = stack.scenario("seed", "--drafts", "2", "--approved", "1")
    draft, to_submit = seeded["drafts"]
    owner = seeded["owners"][draft]
    decision = seeded["decisions"][0]
    stack.web()
    stack.worker(concurrency=2)
    api = Api(stack.base_url)
    api.token(owner)
    api.token(seeded["owners"][to_submit])
    api.token("signatory")
    browser = web_sign_in(stack.base_url, owner)
    with orm(stack):
        wait_until(lambda: not Snapshot.objects.filter(receipt__isnull=True).exists(), timeout=90, what="seed receipts")
        attachments_before = Attachment.objects.count()

    filled = fill(media_volume)

    # 1. Uploads: a clear refusal, nothing stored, nothing left half-written.
    response = upload(api, draft, owner)
    assert response.status_code == 507, (response.status_code, response.text[:300])
    assert response.json()["detail"].startswith("L'espace de stockage des fichiers est plein.")
    page_url = f"{stack.base_url}/mes-dossiers/{draft}/saisie/pieces/"
    web = browser.post(
        f"{stack.base_url}/mes-dossiers/{draft}/pieces/ajouter/",
        data={
            "form_prefix": "partnership_agreement",
            "partnership_agreement-kind": "partnership_agreement",
            "csrfmiddlewaretoken": csrf_token(browser, page_url),
        },
        files={"partnership_agreement-file": ("convention.pdf", UPLOAD, "application/pdf")},
        headers={"Referer": page_url},
        timeout=30,
    )
    assert web.status_code == 507, (web.status_code, web.text[:300])
    assert "Espace de stockage insuffisant" in web.text

    # 2. A submission (its receipt) and a signature (its letter) while the volume is full.
    assert api.transition(to_submit, "submit", seeded["owners"][to_submit]).status_code == 200
    assert api.request("POST", f"decisions/{decision}/sign/", "signatory").status_code == 200
    with orm(stack):
        wait_until(
            lambda: Decision.objects.get(pk=decision).render_attempts >= 3,
            timeout=60,
            what="the letter's render to fail twice and be retried",
        )
        failed = Decision.objects.get(pk=decision)
        assert failed.state == Decision.State.SIGNED and not Document.objects.filter(decision=failed).exists()
        assert Attachment.objects.count() == attachments_before
        assert Snapshot.objects.filter(receipt__isnull=True).count() == 1
        # No row points at a missing file, and no file without its row (no truncated leftovers).
        assert files_on(media_volume) == rows_with_files()

    # 3. Space is back: the next retries store the letter and the receipt.
    (media_volume / FILLER).unlink()
    freed_at = time.monotonic()
    with orm(stack):
        wait_until(
            lambda: (
                Decision.objects.get(pk=decision).state == Decision.State.DELIVERED
                and not Snapshot.objects.filter(receipt__isnull=True).exists()
            ),
            timeout=90,
            what="the retried renders to store the letter and the receipt",
        )
        stored_after = time.monotonic() - freed_at
        attempts = Decision.objects.get(pk=decision).render_attempts
        assert files_on(media_volume) == rows_with_files()
    assert upload(api, draft, owner).status_code == 201  # and uploads work again
    assert stack.manage("verify_documents").stdout.strip().splitlines()[-1].endswith(" 0 bad")
    print(
        f"full volume: filler {filled} B; letter stored {stored_after:.1f} s after space came back, attempt {attempts}"
    )
