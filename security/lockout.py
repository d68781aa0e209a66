"""One sign-in policy on every door: the web sign-in form, the admin's, the API token.

django-axes counts failed sign-ins per (username, client address) pair
(``AXES_LOCKOUT_PARAMETERS``): after ``AXES_FAILURE_LIMIT`` failures within the cool-off
that pair is refused, even with the right password, until ``AXES_COOLOFF_TIME`` after
its last counted failure. Nobody can lock someone else out from their own address, and
one address behind a shared proxy blocks only the accounts it guessed at. A successful
sign-in clears the pair (``AXES_RESET_ON_SUCCESS``); a password change clears every pair
of the account (``security.signals``).

A refused attempt answers 429 with when to retry: ``Retry-After`` and
``{"detail", "retry_after"}`` on the API, the sign-in form again with a message saying
at what time on the web (``lockout_response``, ``AXES_LOCKOUT_CALLABLE``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.translation import ngettext

from .addresses import client_address


def client_ip(request: HttpRequest) -> str:
    """``AXES_CLIENT_IP_CALLABLE``: the project's one reading of the client address."""
    return client_address(request)


def normalise_username(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return value or None


def username_from(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """``AXES_USERNAME_CALLABLE``: "Applicant " and "applicant" are one counter."""
    if credentials is not None:
        return normalise_username(credentials.get("username"))
    data = getattr(request, "POST", None) or {}
    return normalise_username(data.get("username"))


def cool_off() -> dt.timedelta:
    from axes.helpers import get_cool_off

    return get_cool_off() or dt.timedelta(minutes=15)


def retry_after(request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
    """Seconds until this (username, address) pair may try again (at least 1)."""
    from axes.models import AccessAttempt

    window = cool_off()
    now = timezone.now()
    last = (
        AccessAttempt.objects.filter(
            username=username_from(request, credentials),
            ip_address=getattr(request, "axes_ip_address", None) or client_ip(request),
            attempt_time__gte=now - window,
        ).aggregate(last=Max("attempt_time"))["last"]
        or now
    )
    return max(1, math.ceil((last + window - now).total_seconds()))


def web_message(seconds: int) -> str:
    until = timezone.localtime(timezone.now() + dt.timedelta(seconds=seconds))
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Trop de tentatives de connexion infructueuses pour ce compte depuis votre poste. "
        "Réessayez à %(time)s (dans %(minutes)s minute) ou utilisez « Mot de passe oublié ».",
        "Trop de tentatives de connexion infructueuses pour ce compte depuis votre poste. "
        "Réessayez à %(time)s (dans %(minutes)s minutes) ou utilisez « Mot de passe oublié ».",
        minutes,
    ) % {"time": formats.time_format(until, "H:i"), "minutes": minutes}


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the refused attempt's answer, 429 with when to retry."""
    seconds = retry_after(request, credentials)
    if original_response is not None and original_response.status_code == 429:
        return original_response  # the API token view already answered (api.errors)
    if request.path.startswith("/api/"):
        from api.errors import throttled_message

        response: HttpResponse = JsonResponse(
            {"detail": throttled_message(seconds, "token"), "retry_after": seconds}, status=429
        )
    elif isinstance(original_response, TemplateResponse) and "form" in (original_response.context_data or {}):
        # The sign-in form again (ours or the admin's), its error replaced by when to retry.
        context = dict(original_response.context_data or {})
        form = context["form"]
        form.errors[NON_FIELD_ERRORS] = form.error_class([web_message(seconds)])
        response = TemplateResponse(request, original_response.template_name or "", context, status=429)
        response.render()
    else:
        response = render(request, "registration/locked_out.html", {"message": web_message(seconds)}, status=429)
    response["Retry-After"] = str(seconds)
    return response
