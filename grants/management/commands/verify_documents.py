"""`manage.py verify_documents`: every issued Document's file exists and hashes to its
stored sha256 (after a restore, a disk incident, a migration of the media volume).

Prints one line per bad document, then `documents: N ok, M bad` as the last line of
standard output; exits with status 1 when M > 0. ``--media-root DIR`` checks a copy of
the media tree (a restored backup) instead of MEDIA_ROOT.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser

from grants.models import Document

CHUNK = 1024 * 1024


class Command(BaseCommand):
    help = "Check that every Document's file exists and matches its stored sha256; exit 1 listing the others."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--media-root", default=None, help="the media tree to check (default: the storage of MEDIA_ROOT)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        storage = FileSystemStorage(location=options["media_root"]) if options["media_root"] else default_storage
        ok = bad = 0
        # Streams both the rows and each file: memory stays flat whatever the number of documents.
        for document in Document.objects.order_by("pk").only("pk", "kind", "reference", "file", "sha256").iterator():
            problem = self._problem(storage, document)
            if problem is None:
                ok += 1
                continue
            bad += 1
            self.stdout.write(f"document #{document.pk} ({document.kind} {document.reference or '-'}): {problem}")
        self.stdout.write(f"documents: {ok} ok, {bad} bad")
        if bad:
            raise CommandError(f"{bad} document(s) missing or not matching their stored sha256", returncode=1)

    @staticmethod
    def _problem(storage: Any, document: Document) -> str | None:
        name = document.file.name
        if not name:
            return "no file recorded"
        digest = hashlib.sha256()
        try:
            with storage.open(name, "rb") as handle:
                for chunk in iter(lambda: handle.read(CHUNK), b""):
                    digest.update(chunk)
        except FileNotFoundError:
            return f"missing file {name}"
        except OSError as exc:
            return f"unreadable file {name}: {exc}"
        if digest.hexdigest() != document.sha256:
            return f"sha256 mismatch for {name}: stored {document.sha256}, file {digest.hexdigest()}"
        return None
