"""Every error of the API becomes JSON here, and only here.

Contract (ARCHITECTURE.md, "HTTP API"):

* 400 ``{"errors": {field: [message, …]}}``: invalid input (a DRF ``ValidationError`` or
  a domain ``Invalid``). Nested fields are flattened to dotted paths
  (``budget.lines.1.amount``); errors not tied to one field go under ``non_field_errors``.
* 403 ``{"detail"}``: the caller may see the object but not do this (domain ``Forbidden``).
* 404 ``{"detail"}``: the caller may not see it, or it does not exist: the two are never
  told apart (domain ``NotFound``, Django ``Http404``).
* 409 ``{"detail", "unmet": [reason, …]}``: a transition not available now, or a
  concurrent change (domain ``Conflict``).
* 401 ``{"detail"}`` with ``WWW-Authenticate: Token`` when no valid credentials are given.
* 429 ``{"detail", "retry_after"}`` with a ``Retry-After`` header.

Messages are produced in the active language (LocaleMiddleware reads ``Accept-Language``).

The handler is attached to every API view by ``api.views.base.ApiView`` (so the project
settings need no change); ``REST_FRAMEWORK["EXCEPTION_HANDLER"] = "api.errors.exception_handler"``
makes it the default for any other DRF view too.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from workflows.engine import Forbidden, Invalid, NotFound, TransitionError

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as ``{"dotted.path": [messages]}``."""
    out: dict[str, list[str]] = {}

    def merge(more: dict[str, list[str]]) -> None:
        for key, messages in more.items():
            out.setdefault(key, []).extend(messages)

    if isinstance(detail, dict):
        for key, value in detail.items():
            name = str(key)
            if name == NON_FIELD and prefix:
                name = ""
            merge(flatten_errors(value, f"{prefix}.{name}".strip(".") if name else prefix))
    elif isinstance(detail, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in detail):
            if detail:
                out[prefix or NON_FIELD] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    merge(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or NON_FIELD] = [str(detail)]
    return out


def _domain_response(exc: TransitionError) -> Response:
    if isinstance(exc, Invalid):
        errors = exc.errors or {NON_FIELD: [exc.message or _("Données invalides.")]}
        return Response({"errors": {k: [str(m) for m in v] for k, v in errors.items()}}, status=400)
    if isinstance(exc, NotFound):
        return Response({"detail": exc.message or _("Introuvable.")}, status=404)
    if isinstance(exc, Forbidden):
        return Response({"detail": exc.message or _("Vous n'avez pas le droit de faire cette action.")}, status=403)
    # Conflict, and any other TransitionError (whose default status is 409).
    detail = exc.message or _("Action impossible pour le moment.")
    unmet = [str(reason) for reason in exc.unmet] or [detail]
    return Response({"detail": detail, "unmet": unmet}, status=getattr(exc, "status", 409) or 409)


def throttled_message(wait: int, scope: str | None) -> str:
    if scope == "token":
        return ngettext(
            "Trop de tentatives de connexion. Réessayez dans %(seconds)s seconde.",
            "Trop de tentatives de connexion. Réessayez dans %(seconds)s secondes.",
            wait,
        ) % {"seconds": wait}
    return ngettext(
        "Trop de requêtes. Réessayez dans %(seconds)s seconde.",
        "Trop de requêtes. Réessayez dans %(seconds)s secondes.",
        wait,
    ) % {"seconds": wait}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, TransitionError):
        set_rollback()
        return _domain_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Introuvable."))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(_("Vous n'avez pas le droit de faire cette action."))
    if not isinstance(exc, exceptions.APIException):
        return None  # a genuine server error: Django's 500 handling and logging
    set_rollback()
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if isinstance(exc, exceptions.ValidationError | exceptions.ParseError):
        detail = exc.detail if isinstance(exc, exceptions.ValidationError) else [exc.detail]
        return Response({"errors": flatten_errors(detail)}, status=400, headers=headers)
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, int(getattr(exc, "wait", None) or 1))
        headers["Retry-After"] = str(wait)
        view = context.get("view")
        scope = getattr(view, "throttle_scope", None)
        return Response(
            {"detail": throttled_message(wait, scope), "retry_after": wait},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers=headers,
        )
    if isinstance(exc, exceptions.NotFound):
        return Response({"detail": _("Introuvable.")}, status=404, headers=headers)
    return Response({"detail": str(exc.detail)}, status=exc.status_code, headers=headers)


# --- the error bodies, for the OpenAPI document ----------------------------------------------


class ValidationErrorSerializer(serializers.Serializer):
    # Documentation only (never bound to data), hence the name shared with ``Serializer.errors``.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field (dotted path for nested fields, `non_field_errors` otherwise) → messages, "
        "in the caller's language.",
    )


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="A readable message in the caller's language.")


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why the action is not possible now.")
    unmet = serializers.ListField(
        child=serializers.CharField(), help_text="Every unmet condition, readable, in the caller's language."
    )


class ThrottledSerializer(serializers.Serializer):
    detail = serializers.CharField()
    retry_after = serializers.IntegerField(help_text="Seconds to wait (also in the `Retry-After` header).")
