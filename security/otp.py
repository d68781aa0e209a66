"""Second factor for staff accounts: TOTP (django-otp, ``otp_totp``).

Any staff account (every role but applicant) may turn it on from
``/accounts/second-factor/``: a QR code for an authenticator app, then one code to
confirm. From then on, after the password, every page asks for the current code
(``SecondFactorMiddleware`` sends the session to ``/accounts/second-factor/verify/``
until it is verified). For the roles in ``OTP_REQUIRED_ROLES`` (in production by
default the ones that sign and pay: signatory, finance) it is mandatory: such an account
is sent to the enrolment page before anything else. The API token endpoint asks the same
code (``otp``) of an account with a second factor, and refuses a required one without it.

Wrong codes are throttled per device by django-otp (1, 2, 4, 8 … seconds between tries).
"""

from __future__ import annotations

import base64
import functools
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from grants.policy.scopes import STAFF_ROLES, scopes
from workflows.statements import statement


def staff_roles(user: Any) -> set[str]:
    return set(scopes(user).roles) & set(STAFF_ROLES)


def may_enrol(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and staff_roles(user))


def required(user: Any) -> bool:
    return bool(set(settings.OTP_REQUIRED_ROLES) & staff_roles(user))


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_confirmed_device(user_id: int) -> bool:
    """``TOTPDevice.objects.filter(user=…, confirmed=True).exists()``, its statement written
    once per process from the model: every request of a staff session not yet verified
    asks it (the ORM would compile it again each time, ≈0.5 ms of CPU)."""
    sql = statement(
        "confirmed-device",
        TOTPDevice,
        lambda n: f"SELECT 1 FROM {n.table} WHERE {n['user']} = %s AND {n['confirmed']} = %s LIMIT 1",  # noqa: S608
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, True])
        return cursor.fetchone() is not None


def pending_device(user: Any) -> TOTPDevice:
    """The device being enrolled (not yet confirmed), made on first visit."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("Application d'authentification"), confirmed=False)
    return device


def qr_data_uri(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an SVG QR code in a data: URI (the CSP allows img data:)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, by groups of four, for an app that cannot read the QR code."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def safe_next(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


# --- sign-in: every page waits for the code -------------------------------------------------


@functools.cache
def _exempt_prefixes() -> tuple[str, ...]:
    """Computed once per process (three ``reverse()`` calls on every request otherwise)."""
    return (
        settings.STATIC_URL or "/static/",
        settings.MEDIA_URL or "/media/",
        "/healthz",
        "/i18n/",
        reverse("logout"),
        reverse("otp-verify"),
        reverse("otp-enrol"),
    )


def _exempt(path: str) -> bool:
    return path.startswith(_exempt_prefixes())


class SecondFactorMiddleware:
    """A signed-in session whose account has a second factor is verified before anything
    else; one whose role requires it and has none enrols before anything else."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or _exempt(request.path_info):
            return self.get_response(request)  # type: ignore[no-any-return]
        if request.path_info.startswith("/api/") and request.META.get("HTTP_AUTHORIZATION"):
            return self.get_response(request)  # a token request: the session plays no part
        if getattr(user, "is_verified", lambda: False)() or not staff_roles(user):
            return self.get_response(request)  # type: ignore[no-any-return]
        if has_confirmed_device(user.pk):
            return self._send(request, "otp-verify", _("Saisissez le code de votre application d'authentification."))
        if required(user):
            return self._send(request, "otp-enrol", _("Votre rôle demande une double authentification : activez-la."))
        return self.get_response(request)  # type: ignore[no-any-return]

    @staticmethod
    def _send(request: HttpRequest, name: str, message: str) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": message}, status=403)
        back = request.get_full_path() if request.method == "GET" else "/"
        target = f"{reverse(name)}?{urlencode({'next': back})}"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)


# --- the API's token endpoint ---------------------------------------------------------------


def check_api_sign_in(user: Any, code: str | None) -> dict[str, list[str]] | None:
    """The errors that refuse an API token to this user, or None."""
    device = confirmed_device(user) if staff_roles(user) else None
    if device is not None:
        if not code:
            return {"otp": [_("Ce compte a une double authentification : envoyez le code de l'application.")]}
        if not device.verify_token(code):
            return {"otp": [_("Code incorrect ou expiré.")]}
        return None
    if required(user):
        return {
            "non_field_errors": [
                _("Votre rôle demande une double authentification : activez-la d'abord sur le site, puis recommencez.")
            ]
        }
    return None


def context(request: HttpRequest) -> dict[str, Any]:
    """Template context: whether to offer the second factor's page in the header."""
    user = getattr(request, "user", None)
    return {"second_factor_offered": bool(user is not None and may_enrol(user))}
