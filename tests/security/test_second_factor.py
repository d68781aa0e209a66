"""TOTP for staff accounts: enrol from a QR code, then the code after the password on
every door (web, admin, API token); mandatory for the roles of OTP_REQUIRED_ROLES."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.factories import World

pytestmark = pytest.mark.django_db


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The device's code now (or a later step: the same code is accepted only once)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def password_sign_in(username: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": "pw"})
    assert response.status_code == 302
    return client


def enrolled(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def test_a_staff_member_enrols_from_a_qr_code_and_a_first_code(world: World) -> None:
    client = password_sign_in("instructor")
    assert 'href="/accounts/second-factor/"' in client.get("/tasks/").content.decode()  # offered in the header
    page = client.get("/accounts/second-factor/")
    assert page.status_code == 200
    html = page.content.decode()
    assert re.search(r'<img src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"', html)  # server-side QR
    assert 'id="otp-secret"' in html
    device = TOTPDevice.objects.get(user=world.instructor, confirmed=False)
    wrong = client.post("/accounts/second-factor/", {"code": "000000" if code(device) != "000000" else "111111"})
    assert wrong.status_code == 200 and "Code incorrect" in wrong.content.decode()
    device.throttle_reset()
    done = client.post("/accounts/second-factor/", {"code": code(device)})
    assert done.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/tasks/").status_code == 200  # this session is verified already


def test_after_the_password_every_page_waits_for_the_code(world: World) -> None:
    device = enrolled(world.instructor)
    client = password_sign_in("instructor")
    for path in ("/tasks/", "/", "/admin/", "/notifications/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/second-factor/verify/?next="), path
    assert client.get("/api/v1/calls/").status_code == 403  # the session on the API, too
    page = client.get("/accounts/second-factor/verify/?next=/tasks/")
    assert page.status_code == 200
    wrong = client.post("/accounts/second-factor/verify/", {"code": "12345", "next": "/tasks/"})
    assert "Le code fait 6 chiffres" in wrong.content.decode()
    right = client.post("/accounts/second-factor/verify/", {"code": code(device), "next": "/tasks/"})
    assert right.status_code == 302 and right["Location"] == "/tasks/"
    assert client.get("/tasks/").status_code == 200


def test_the_admin_sign_in_asks_the_code_too(world: World) -> None:
    device = enrolled(world.admin)
    client = Client()
    response = client.post("/admin/login/", {"username": "admin", "password": "pw", "next": "/admin/"})
    assert response.status_code == 302
    assert client.get("/admin/")["Location"].startswith("/accounts/second-factor/verify/")
    client.post("/accounts/second-factor/verify/", {"code": code(device), "next": "/admin/"})
    assert client.get("/admin/").status_code == 200


def test_wrong_codes_are_throttled(world: World) -> None:
    device = enrolled(world.instructor)
    client = password_sign_in("instructor")
    wrong = "000000" if code(device) != "000000" else "111111"
    client.post("/accounts/second-factor/verify/", {"code": wrong})
    # Right after a failure even the right code waits (django-otp: 1, 2, 4 … seconds).
    response = client.post("/accounts/second-factor/verify/", {"code": code(device)})
    assert response.status_code == 200
    assert "Trop de codes incorrects" in response.content.decode()


def test_the_roles_that_sign_or_pay_must_enrol_before_anything_else(world: World, settings: Any) -> None:
    settings.OTP_REQUIRED_ROLES = ["signatory", "finance"]
    client = password_sign_in("signatory")
    response = client.get("/signature/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/second-factor/?next=")
    page = client.get("/accounts/second-factor/")
    assert "Votre rôle (signature ou paiement) demande une double authentification" in page.content.decode()
    device = TOTPDevice.objects.get(user=world.signatory)
    client.post("/accounts/second-factor/", {"code": code(device)})
    assert client.get("/signature/").status_code == 200
    # Other roles and applicants are not asked.
    assert password_sign_in("instructor").get("/tasks/").status_code == 200
    assert password_sign_in("applicant").get("/").status_code == 200


def test_applicants_have_no_second_factor_page(world: World) -> None:
    client = password_sign_in("applicant")
    assert client.get("/accounts/second-factor/").status_code == 404
    assert "second-factor" not in client.get("/").content.decode()


def test_the_api_token_asks_the_code_of_an_account_that_has_one(world: World) -> None:
    device = enrolled(world.instructor)
    api = APIClient()
    url = "/api/v1/auth/token/"
    missing = api.post(url, {"username": "instructor", "password": "pw"}, format="json")
    assert missing.status_code == 400 and list(missing.json()["errors"]) == ["otp"]
    wrong = "000000" if code(device) != "000000" else "111111"
    assert api.post(url, {"username": "instructor", "password": "pw", "otp": wrong}, format="json").status_code == 400
    device.throttle_reset()
    right = api.post(url, {"username": "instructor", "password": "pw", "otp": code(device)}, format="json")
    assert right.status_code == 200 and right.json()["token"]
    # The code is not a way around the password.
    bad = api.post(url, {"username": "instructor", "password": "nope", "otp": code(device, 1)}, format="json")
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["non_field_errors"]


def test_the_api_refuses_a_token_to_a_required_role_without_a_second_factor(world: World, settings: Any) -> None:
    settings.OTP_REQUIRED_ROLES = ["signatory", "finance"]
    response = APIClient().post("/api/v1/auth/token/", {"username": "finance", "password": "pw"}, format="json")
    assert response.status_code == 400
    assert "activez-la d'abord sur le site" in response.json()["errors"]["non_field_errors"][0]
    assert (
        APIClient().post("/api/v1/auth/token/", {"username": "instructor", "password": "pw"}, format="json").status_code
        == 200
    )


def test_an_unknown_required_role_stops_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import config.env
    import config.settings

    monkeypatch.setenv("OTP_REQUIRED_ROLES", "signatory,treasurer")
    with pytest.raises(config.env.ImproperEnv, match="treasurer"):
        importlib.reload(config.settings)
    monkeypatch.delenv("OTP_REQUIRED_ROLES")
    importlib.reload(config.settings)


def test_the_second_factor_pages_speak_english_too(world: World) -> None:
    enrolled(world.instructor)
    client = password_sign_in("instructor")
    html = client.get("/accounts/second-factor/verify/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Two-factor authentication code" in html and "6-digit code" in html
