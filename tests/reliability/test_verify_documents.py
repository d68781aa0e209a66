"""`manage.py verify_documents`: each Document's file is there and hashes to its sha256."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError

from grants.models import Document
from tests.factories import PDF_BYTES

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def issued(code: str, content: bytes = PDF_BYTES) -> Document:
    document = Document(
        kind=Document.Kind.COMMITTEE_BOOKLET,
        reference=f"REF-{code}",
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        pages=1,
        template_version="test",
        verification_code=code,
    )
    document.file.save("document.pdf", ContentFile(content), save=False)
    document.save()
    return document


def run(*args: str) -> tuple[list[str], CommandError | None]:
    out = io.StringIO()
    try:
        call_command("verify_documents", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue().splitlines(), exc
    return out.getvalue().splitlines(), None


def test_every_file_present_and_matching_is_ok(media: Path) -> None:
    issued("AAAA-0001")
    issued("AAAA-0002")
    lines, error = run()
    assert error is None
    assert lines == ["documents: 2 ok, 0 bad"]


def test_a_missing_or_altered_file_is_listed_and_exits_1(media: Path) -> None:
    kept = issued("AAAA-0001")
    altered = issued("AAAA-0002")
    missing = issued("AAAA-0003")
    (media / altered.file.name).write_bytes(PDF_BYTES + b"%tampered")
    (media / missing.file.name).unlink()

    lines, error = run()

    assert error is not None and error.returncode == 1
    assert lines[-1] == "documents: 1 ok, 2 bad"
    assert lines[0].startswith(f"document #{altered.pk} (committee_booklet REF-AAAA-0002): sha256 mismatch for ")
    assert lines[1] == f"document #{missing.pk} (committee_booklet REF-AAAA-0003): missing file {missing.file.name}"
    assert len(lines) == 3 and f"#{kept.pk} " not in " ".join(lines)


def test_media_root_checks_a_restored_copy(media: Path, tmp_path: Path) -> None:
    issued("AAAA-0001")
    copy = tmp_path / "restored"
    shutil.copytree(media, copy)
    shutil.rmtree(media)
    assert run()[0][-1] == "documents: 0 ok, 1 bad"
    assert run("--media-root", str(copy)) == (["documents: 1 ok, 0 bad"], None)
