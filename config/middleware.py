"""Infrastructure failures answered as what they are, not as a server error.

- The database not answering (``OperationalError`` / ``InterfaceError``: PostgreSQL
  restarting, a dropped connection) → **503** with ``Retry-After``: JSON
  ``{"detail"}`` under ``/api/``, a self-contained page elsewhere. The transition
  service runs each write in one transaction, so a 503 means nothing of the request was
  stored (the rare "connection lost while the COMMIT was acknowledged" aside).
- The disk full (``OSError`` ENOSPC / EDQUOT on the media volume) → **507**, same shapes.

The page is built without templates, context processors or the session: each of them
may need the database that is missing. Django closes the broken connection at the end
of the request, and ``CONN_HEALTH_CHECKS`` checks a reused one at the start of the next,
so the service recovers by itself once PostgreSQL answers again.

Placed before the session middleware: ``process_exception`` catches errors raised by the
views, and ``__call__`` catches those of the middleware below (a session saved while
the database is down), which Django has already turned into a 500 by then.
"""

from __future__ import annotations

import errno
import logging
import sys
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)

DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
RETRY_AFTER_SECONDS = 10
_MARK = "_infrastructure_failure"


def failure_kind(exc: BaseException | None) -> str | None:
    """What failed: ``"database"``, ``"disk_full"`` or None (any other error stays a 500)."""
    if isinstance(exc, DATABASE_ERRORS):
        return "database"
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return "disk_full"
    return None


def failure_response(request: HttpRequest, kind: str) -> HttpResponse:
    if kind == "database":
        status = 503
        title = _("Service momentanément indisponible")
        detail = _("Le service est momentanément indisponible. Rien n'a été enregistré : réessayez dans un instant.")
    else:
        status = 507
        title = _("Espace de stockage insuffisant")
        detail = _("L'espace de stockage des fichiers est plein. Rien n'a été enregistré : réessayez plus tard.")
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": detail}, status=status)
    else:
        language = getattr(request, "LANGUAGE_CODE", "fr")
        page = (
            f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title></head>"
            # No inline style: the Content-Security-Policy refuses it; plain text reads fine.
            "<body>"
            f"<h1>{escape(title)}</h1><p>{escape(detail)}</p></body></html>"
        )
        response = HttpResponse(page, status=status, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class InfrastructureFailureMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        kind = getattr(request, _MARK, None)
        if kind and response.status_code == 500:
            return failure_response(request, kind)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        kind = failure_kind(exception)
        if kind is None:
            return None
        response = failure_response(request, kind)
        log.warning("%s %s answered %s (%s): %r", request.method, request.path, response.status_code, kind, exception)
        return response


@receiver(got_request_exception, dispatch_uid="config.middleware.mark_infrastructure_failure")
def _mark_failure(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Errors outside the views (a middleware's process_response) reach Django's 500
    handler without passing through process_exception: mark the request so that
    ``__call__`` can answer 503 / 507 instead."""
    kind = failure_kind(sys.exc_info()[1])
    if request is not None and kind is not None:
        setattr(request, _MARK, kind)
