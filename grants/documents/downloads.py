"""Serving stored files: one answer for the applicant's pages, the staff pages and the
API. The user's file name is only ever a display name: the download is named with the
stored kind's extension and served with the sniffed MIME type (never ``x.html`` or
``.exe`` because the user typed it), as an attachment."""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath

from django.http import FileResponse, Http404

from grants.models import Attachment

#: The extension each accepted MIME type is served with.
EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}


def safe_stem(name: str, fallback: str) -> str:
    """A display name for Content-Disposition: no control characters (no header
    injection), no path, no extension of the user's, something left."""
    cleaned = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    cleaned = cleaned.replace("\\", "/").rsplit("/", 1)[-1]
    stem = PurePosixPath(cleaned).stem if "." in cleaned else cleaned
    return stem.strip().strip(".")[:200] or fallback


def attachment_response(attachment: Attachment, *, stem: str | None = None) -> FileResponse:
    """The stored file as an attachment; ``stem``: the download's name without extension
    (default: the user's display name, made safe)."""
    mime = attachment.content_type if attachment.content_type in EXTENSIONS else "application/octet-stream"
    if not attachment.file:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(
        handle,
        as_attachment=True,
        filename=(stem or safe_stem(attachment.original_name, attachment.kind)) + EXTENSIONS.get(mime, ".bin"),
        content_type=mime,
    )
