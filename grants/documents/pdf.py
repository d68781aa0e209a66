"""PDF rendering of the grant documents (decision letters, notices, receipts, booklets).

Independent of the models: templates take a plain context of dicts, strings, dates and
`Decimal`s (keys documented at the top of each template under `grants/templates/pdf/`);
the model layer builds that context and stores the result as a `Document`
(sha256, `TEMPLATE_VERSION[template_name]`, verification code).

Security: WeasyPrint gets `SafeURLFetcher`, which serves **only** regular files inside
`grants/static/grants/pdf/` (stylesheet, logo) addressed by `file:` URLs relative to the
base URL we set, plus small PNG `data:` images (the QR code we generate). Every other
URL — `file:` outside the folder (`..`, symlinks out), `http:`, `https:`, `ftp:`, other
`data:` payloads, unknown schemes — raises `AssetRefused`; WeasyPrint logs it and skips
the resource, and nothing is read or connected to. User text is auto-escaped by the
templates, so it cannot even produce such URLs; the fetcher is the second wall.

WeasyPrint 70 API note: `url_fetcher=` must be a `weasyprint.urls.URLFetcher` instance
whose `fetch(url, headers=None)` returns a `URLFetcherResponse` (older versions took a
function returning a dict). A bare function breaks as soon as it raises, because
`weasyprint.urls.fetch()` then reads `url_fetcher._fail_on_errors`. `safe_url_fetcher()`
is the function form (handy to test), `SafeURLFetcher` wraps it for WeasyPrint.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

logger = logging.getLogger(__name__)

ASSET_DIR: Path = (Path(__file__).resolve().parent.parent / "static" / "grants" / "pdf").resolve()
ASSET_BASE_URL: str = ASSET_DIR.as_uri() + "/"

#: Served file types (by suffix) and their media types; anything else is refused.
ASSET_MEDIA_TYPES: dict[str, str] = {
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
}
MAX_ASSET_BYTES = 2 * 1024 * 1024
MAX_DATA_URI_BYTES = 64 * 1024  # decoded size of an accepted data: PNG
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_DATA_PNG_PREFIX = "data:image/png;base64,"

PDF_VARIANT = "pdf/a-3b"
PARIS = ZoneInfo("Europe/Paris")

#: Version of each document template, stored on `Document` rows. Bump the version of a
#: template (and of every template when `base.html` or `letter.css` changes) whenever
#: the rendered output changes.
TEMPLATE_VERSION: dict[str, str] = {
    "pdf/approval_letter.html": "approval_letter/2026.1",
    "pdf/approval_letter_en.html": "approval_letter_en/2026.1",
    "pdf/rejection_letter.html": "rejection_letter/2026.1",
    "pdf/ineligibility_notice.html": "ineligibility_notice/2026.1",
    "pdf/deposit_receipt.html": "deposit_receipt/2026.1",
    "pdf/committee_booklet.html": "committee_booklet/2026.2",
}

_COMMON_KEYS = ("verification_code", "verification_url")
_LETTER_KEYS = (*_COMMON_KEYS, "reference", "project_title", "lead_authority", "call", "issued_at")
#: Context keys each template requires (render_pdf raises `KeyError` when one is missing:
#: an official document must never be issued with a silently empty field).
REQUIRED_CONTEXT: dict[str, tuple[str, ...]] = {
    "pdf/approval_letter.html": (
        *_LETTER_KEYS,
        "partners",
        "countries",
        "total_budget",
        "granted_amount",
        "granted_rate",
        "payment_schedule",
        "signatory",
    ),
    "pdf/approval_letter_en.html": (
        *_LETTER_KEYS,
        "partners",
        "countries",
        "total_budget",
        "granted_amount",
        "granted_rate",
        "payment_schedule",
        "signatory",
        "authentic_code",
        "authentic_issued_at",
    ),
    "pdf/rejection_letter.html": (*_LETTER_KEYS, "reasons", "signatory"),
    "pdf/ineligibility_notice.html": (*_LETTER_KEYS, "reason", "signatory"),
    "pdf/deposit_receipt.html": (*_LETTER_KEYS, "submitted_at", "snapshot_sha256"),
    "pdf/committee_booklet.html": (*_COMMON_KEYS, "session", "call", "applications", "issued_at"),
}


class AssetRefused(ValueError):
    """The PDF URL fetcher refused a URL (WeasyPrint skips the resource)."""


@dataclass(frozen=True)
class RenderedPdf:
    content: bytes
    sha256: str
    pages: int
    size: int
    template_name: str = ""
    template_version: str = ""
    #: URLs the fetcher refused during this rendering (empty for a clean template).
    refused_urls: tuple[str, ...] = field(default=())


# --- URL fetcher ----------------------------------------------------------------------


def _response(url: str, body: bytes, media_type: str) -> URLFetcherResponse:
    return URLFetcherResponse(url, body=body, headers={"Content-Type": media_type})


def _asset_path(url: str) -> Path:
    """The real path of an asset `file:` URL, strictly inside ASSET_DIR, else AssetRefused."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise AssetRefused(f"remote file URL refused: {url}")
    raw_path = unquote(parts.path)
    if "\x00" in raw_path or "\\" in raw_path:
        raise AssetRefused(f"invalid asset path: {url}")
    if any(segment in ("..", ".") for segment in raw_path.split("/")):
        raise AssetRefused(f"path traversal refused: {url}")
    candidate = Path(url2pathname(parts.path))
    if not candidate.is_absolute():
        raise AssetRefused(f"relative file URL refused: {url}")
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise AssetRefused(f"no such asset: {url}") from exc
    if not real.is_relative_to(ASSET_DIR) or real == ASSET_DIR:
        raise AssetRefused(f"file outside the PDF asset folder refused: {url}")
    if not real.is_file():
        raise AssetRefused(f"not a regular file: {url}")
    if real.suffix.lower() not in ASSET_MEDIA_TYPES:
        raise AssetRefused(f"asset type not served: {url}")
    return real


def _data_png(url: str) -> bytes:
    if not url.startswith(_DATA_PNG_PREFIX):
        raise AssetRefused("data: URL refused (only base64 PNG images are accepted)")
    payload = url[len(_DATA_PNG_PREFIX) :]
    if len(payload) > (MAX_DATA_URI_BYTES * 4) // 3 + 4:
        raise AssetRefused("data: image too large")
    try:
        body = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AssetRefused("data: image is not valid base64") from exc
    if not body.startswith(_PNG_SIGNATURE):
        raise AssetRefused("data: image is not a PNG")
    return body


def safe_url_fetcher(url: str, timeout: float = 10, ssl_context: object = None) -> URLFetcherResponse:
    """Serve `url` if it is a project PDF asset or a small PNG data URI; raise `AssetRefused` otherwise.

    Returns a `weasyprint.urls.URLFetcherResponse`. `timeout` and `ssl_context` exist for
    signature compatibility with WeasyPrint's fetchers and are unused: this fetcher never
    opens a network connection.
    """
    del timeout, ssl_context
    if not isinstance(url, str):
        raise AssetRefused(f"URL must be a string, got {type(url).__name__}")
    scheme, _, _ = url.partition(":")
    scheme = scheme.lower()
    if scheme == "data":
        return _response(_DATA_PNG_PREFIX + "…", _data_png(url), "image/png")
    if scheme != "file":
        raise AssetRefused(f"URL scheme refused: {url[:200]}")
    real = _asset_path(url.split("?", 1)[0].split("#", 1)[0])
    try:  # O_NOFOLLOW: the file must not have become a symlink since it was resolved
        descriptor = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise AssetRefused(f"cannot open asset: {url}") from exc
    with os.fdopen(descriptor, "rb") as handle:
        body = handle.read(MAX_ASSET_BYTES + 1)
    if len(body) > MAX_ASSET_BYTES:
        raise AssetRefused(f"asset too large: {url}")
    return _response(real.as_uri(), body, ASSET_MEDIA_TYPES[real.suffix.lower()])


class SafeURLFetcher(URLFetcher):
    """WeasyPrint 70 fetcher object around `safe_url_fetcher`; remembers what it refused.

    Failures are never fatal (`fail_on_errors=False`): WeasyPrint skips the resource.
    """

    def __init__(self) -> None:
        super().__init__(timeout=1, allowed_protocols=("file", "data"), allow_redirects=False, fail_on_errors=False)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        try:
            return safe_url_fetcher(url)
        except AssetRefused as exc:
            shown = url if not url.startswith("data:") else url[:40] + "…"
            self.refused.append(shown)
            logger.warning("PDF rendering: resource refused: %s", exc)
            raise


# --- Fonts ----------------------------------------------------------------------------

_font_config: FontConfiguration | None = None
_font_config_lock = threading.Lock()
#: The shared FontConfiguration (a Pango font map) is not documented as thread-safe:
#: renderings in one process are serialised. Celery's prefork workers never contend.
_render_lock = threading.Lock()


def font_configuration() -> FontConfiguration:
    """The process-wide `FontConfiguration` (created on first use, then reused)."""
    global _font_config
    if _font_config is None:
        with _font_config_lock:
            if _font_config is None:
                _font_config = FontConfiguration()
    return _font_config


# --- QR code --------------------------------------------------------------------------


def qr_code_data_uri(text: str) -> str:
    """A PNG QR code of `text` (error correction M) as a `data:image/png;base64,…` URI."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=4, border=2)
    code.add_data(text)
    code.make(fit=True)
    image = code.make_image()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    if len(data) > MAX_DATA_URI_BYTES:
        raise ValueError("text too long for a QR code image")
    return _DATA_PNG_PREFIX + base64.b64encode(data).decode("ascii")


def _w3c_datetime(value: object) -> str | None:
    """A W3C date-time for the PDF metadata (deterministic: from the context, never "now")."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return None
        return value.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        midnight = dt.datetime.combine(value, dt.time(0), tzinfo=PARIS)
        return midnight.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def _check_context(template_name: str, context: Mapping[str, Any]) -> None:
    if template_name not in TEMPLATE_VERSION:
        raise ValueError(f"unknown PDF template {template_name!r}; known: {sorted(TEMPLATE_VERSION)}")
    missing = [key for key in REQUIRED_CONTEXT[template_name] if context.get(key) in (None, "")]
    if missing:
        raise KeyError(f"{template_name}: missing context keys {missing}")


def html_to_pdf(html: str) -> tuple[bytes, int, tuple[str, ...]]:
    """HTML → PDF/A-3b bytes, page count and refused URLs, with the locked-down fetcher.

    Relative URLs resolve against the asset folder. Used by `render_pdf`; exposed for
    tests and benchmarks.
    """
    fetcher = SafeURLFetcher()
    with _render_lock:
        document = HTML(string=html, base_url=ASSET_BASE_URL, url_fetcher=fetcher).render(
            font_config=font_configuration(), pdf_variant=PDF_VARIANT
        )
        content = document.write_pdf(pdf_variant=PDF_VARIANT)
    return content, len(document.pages), tuple(fetcher.refused)


def render_template_html(template_name: str, context: Mapping[str, Any]) -> str:
    """The HTML of a document template (context checked, QR code and metadata added)."""
    _check_context(template_name, context)
    full: dict[str, Any] = dict(context)
    if "qr_code" not in full:
        full["qr_code"] = qr_code_data_uri(str(context["verification_url"]))
    if "pdf_created" not in full:
        full["pdf_created"] = _w3c_datetime(context.get("issued_at"))
    full["template_version"] = TEMPLATE_VERSION[template_name]
    return render_to_string(template_name, full)


def render_pdf(template_name: str, context: Mapping[str, Any]) -> RenderedPdf:
    """Render a document template (`"pdf/approval_letter.html"`, …) to PDF/A-3b.

    Deterministic: the same context and the same template version give the same bytes
    (no "now" in the metadata: dates come from `issued_at`). Raises `ValueError` for an
    unknown template and `KeyError` for a missing required context key.
    """
    html = render_template_html(template_name, context)
    content, pages, refused = html_to_pdf(html)
    if refused:
        logger.error("PDF %s rendered with refused resources: %s", template_name, refused)
    return RenderedPdf(
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        pages=pages,
        size=len(content),
        template_name=template_name,
        template_version=TEMPLATE_VERSION[template_name],
        refused_urls=refused,
    )
