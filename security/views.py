"""The second factor's pages: enrol (QR code, then one code to confirm) and verify (the
code asked after the password)."""

from __future__ import annotations

from urllib.parse import urlencode

import django_otp
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import otp
from .forms import CodeForm


@login_required
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not otp.may_enrol(user):
        raise Http404
    existing = otp.confirmed_device(user)
    if existing is not None:
        if not user.is_verified():  # type: ignore[union-attr]
            return redirect(f"{reverse('otp-verify')}?{urlencode({'next': otp.safe_next(request)})}")
        return render(request, "registration/second_factor_active.html", {"device": existing})
    device = otp.pending_device(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            django_otp.login(request, device)
            messages.success(request, _("La double authentification est activée pour votre compte."))
            return redirect(otp.safe_next(request))
        form.add_error("code", _("Code incorrect ou expiré : vérifiez l'heure de votre téléphone et réessayez."))
    return render(
        request,
        "registration/second_factor_enrol.html",
        {
            "form": form,
            "qr": otp.qr_data_uri(device),
            "secret": otp.secret_for_typing(device),
            "required": otp.required(user),
            "next": otp.safe_next(request, ""),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    device = otp.confirmed_device(user) if otp.may_enrol(user) else None
    if device is None:
        return redirect(otp.safe_next(request))
    if user.is_verified():  # type: ignore[union-attr]
        return redirect(otp.safe_next(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _details = device.verify_is_allowed()
        if not allowed:
            form.add_error("code", _("Trop de codes incorrects : attendez quelques secondes avant de réessayer."))
        elif device.verify_token(form.cleaned_data["code"]):
            django_otp.login(request, device)
            return redirect(otp.safe_next(request))
        else:
            form.add_error("code", _("Code incorrect ou expiré."))
    return render(request, "registration/second_factor_verify.html", {"form": form, "next": otp.safe_next(request, "")})
