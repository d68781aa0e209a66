"""The server-error answer: JSON under ``/api/`` (API clients read ``{"detail"}``), the
self-contained 500 page elsewhere. Nothing here touches the database (it may be the
cause)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.defaults import server_error as page_server_error


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": _("Erreur interne du serveur. L'incident est enregistré ; réessayez dans quelques instants.")},
            status=500,
        )
    return page_server_error(request)
