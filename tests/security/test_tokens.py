"""API tokens: hashed at rest, a new one per sign-in, expiring, revocable, revoked with
the password, listed to their owner without their value, never shown by the admin."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import World

pytestmark = pytest.mark.django_db


def sign_in(username: str = "applicant", password: str = "pw") -> dict[str, str]:  # noqa: S107
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def works(token: str) -> bool:
    return client_with(token).get("/api/v1/calls/").status_code == 200


def test_each_sign_in_gives_a_new_token_kept_only_as_a_hash(world: World) -> None:
    first, second = sign_in()["token"], sign_in()["token"]
    assert first != second and works(first) and works(second)
    rows = list(AuthToken.objects.filter(user=world.applicant))
    assert len(rows) == 2
    for row in rows:
        assert row.digest not in (first, second)
        assert len(row.digest) == 128  # SHA-512
    assert not AuthToken.objects.filter(digest__in=[first, second]).exists()


def test_a_token_expires_after_the_configured_time(world: World) -> None:
    answer = sign_in()
    expiry = dt.datetime.fromisoformat(answer["expiry"])
    assert dt.timedelta(hours=9, minutes=59) < expiry - timezone.now() <= dt.timedelta(hours=10)
    AuthToken.objects.update(expiry=timezone.now() - dt.timedelta(seconds=1))
    response = client_with(answer["token"]).get("/api/v1/calls/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert not AuthToken.objects.exists()  # the expired row is gone


def test_logout_revokes_the_token_it_is_sent_with_only(world: World) -> None:
    first, second = sign_in()["token"], sign_in()["token"]
    assert client_with(first).post("/api/v1/auth/logout/").status_code == 204
    assert not works(first)
    assert works(second)


def test_logoutall_revokes_every_token_of_the_caller(world: World) -> None:
    mine = [sign_in()["token"] for _ in range(3)]
    other = sign_in("instructor")["token"]
    assert client_with(mine[0]).post("/api/v1/auth/logoutall/").status_code == 204
    assert not any(works(token) for token in mine)
    assert works(other)


def test_the_owner_lists_its_tokens_without_their_value(world: World) -> None:
    first, second = sign_in()["token"], sign_in()["token"]
    sign_in("instructor")
    response = client_with(second).get("/api/v1/auth/tokens/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 2
    assert {item["prefix"] for item in results} == {first[:8], second[:8]}
    assert [item["current"] for item in results] == [True, False]  # newest first
    assert set(results[0]) == {"prefix", "created", "expiry", "current"}
    assert first not in response.content.decode() and second not in response.content.decode()


def test_a_password_reset_revokes_every_token(world: World) -> None:
    token = sign_in()["token"]
    browser = Client()
    browser.post("/accounts/password_reset/", {"email": "applicant@example.org"})
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body)
    assert link is not None
    form = browser.get(link.group(1), follow=True)
    new = "Un-mot-de-passe-solide-2026"
    done = browser.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    assert not works(token)
    assert works(sign_in(password=new)["token"])


def test_a_password_set_in_the_admin_revokes_every_token(world: World) -> None:
    token = sign_in()["token"]
    admin = Client()
    admin.force_login(world.admin)
    new = "Un-mot-de-passe-solide-2026"
    response = admin.post(
        f"/admin/auth/user/{world.applicant.pk}/password/",
        {"password1": new, "password2": new, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:2000]
    assert not works(token)


def test_a_sign_in_or_a_hash_upgrade_does_not_revoke_tokens(world: World) -> None:
    token = sign_in()["token"]
    world.applicant.refresh_from_db()
    world.applicant.first_name = "Camille"
    world.applicant.save()
    sign_in()
    assert works(token)


def test_the_admin_lists_tokens_without_their_value(world: World) -> None:
    token = sign_in()["token"]
    row = AuthToken.objects.get()
    admin = Client()
    admin.force_login(world.admin)
    page = admin.get("/admin/knox/authtoken/")
    assert page.status_code == 200
    html = page.content.decode()
    assert token[:8] in html
    assert token not in html and row.token_key not in html
    assert not works(row.digest)  # the row's key in its admin link is a hash, not a credential
    assert admin.get("/admin/knox/authtoken/add/").status_code == 403
