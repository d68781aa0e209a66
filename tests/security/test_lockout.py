"""One sign-in policy on every door (web form, admin, API token): failures count per
(username, client address) pair; a locked pair answers 429 with when to retry; nobody can
lock another person out from elsewhere, and one address blocks only the accounts it
guessed at."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import World

pytestmark = pytest.mark.django_db

LIMIT = 10


def web(client: Client, username: str, password: str) -> object:
    return client.post("/accounts/login/", {"username": username, "password": password})


def token(client: APIClient, username: str, password: str, **extra: str) -> object:
    return client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json", **extra)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_admin_sign_in_is_locked_like_every_other_door(world: World) -> None:
    client = Client()
    for _ in range(15):
        response = client.post("/admin/login/", {"username": "admin", "password": "wrong", "next": "/admin/"})
        assert response.status_code in (200, 429)
    response = client.post("/admin/login/", {"username": "admin", "password": "pw", "next": "/admin/"})
    assert response.status_code == 429
    assert not signed_in(client)
    assert "Réessayez à" in response.content.decode()
    assert int(response["Retry-After"]) > 0


def test_the_web_form_says_when_to_retry_in_french_and_in_english(world: World) -> None:
    client = Client()
    for attempt in range(LIMIT - 1):
        assert web(client, "applicant", f"wrong{attempt}").status_code == 200
    locked = web(client, "applicant", "wrong-again")  # the tenth failure locks the pair
    assert locked.status_code == 429
    html = locked.content.decode()
    assert 'role="alert"' in html and 'name="username"' in html  # the form again, with the message
    assert "Trop de tentatives de connexion infructueuses" in html
    assert "Réessayez à" in html and "dans 15 minutes" in html
    assert 890 <= int(locked["Retry-After"]) <= 900
    right = web(client, "applicant", "pw")
    assert right.status_code == 429 and not signed_in(client)
    english = client.post("/accounts/login/", {"username": "applicant", "password": "pw"}, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 429
    assert "Too many failed sign-in attempts" in english.content.decode()
    assert "Try again at" in english.content.decode()


def test_failures_from_many_addresses_do_not_lock_the_account_for_its_owner(world: World) -> None:
    for attempt in range(LIMIT):
        response = web(Client(REMOTE_ADDR=f"192.0.2.{attempt}"), "applicant", "guess")
        assert response.status_code == 200  # one failure per address: nobody locked
    owner = Client(REMOTE_ADDR="198.51.100.20")
    assert web(owner, "applicant", "pw").status_code == 302
    assert signed_in(owner)


def test_a_locked_address_blocks_only_the_account_it_guessed_at(world: World) -> None:
    proxy = "203.0.113.9"  # many people behind one proxy
    attacker = Client(REMOTE_ADDR=proxy)
    for _ in range(LIMIT):
        web(attacker, "applicant", "guess")
    assert web(Client(REMOTE_ADDR=proxy), "applicant", "pw").status_code == 429
    colleague = Client(REMOTE_ADDR=proxy)
    assert web(colleague, "applicant2", "pw").status_code == 302  # same address, other account
    elsewhere = Client(REMOTE_ADDR="198.51.100.21")
    assert web(elsewhere, "applicant", "pw").status_code == 302  # same account, other address


def test_the_api_token_door_shares_the_policy_and_says_when_to_retry(world: World) -> None:
    client = APIClient(REMOTE_ADDR="192.0.2.50")
    browser = Client(REMOTE_ADDR="192.0.2.50")
    for _ in range(LIMIT // 2):
        web(browser, "applicant", "guess")
    for _ in range(LIMIT // 2 - 1):
        assert token(client, "applicant", "guess").status_code == 400
    response = token(client, "applicant", "pw")  # right password, but the pair is at 9 + this one
    assert response.status_code == 200  # the tenth attempt is the right one: it passes and clears
    for _ in range(LIMIT):
        last = token(client, "applicant", "guess")
    assert last.status_code == 429
    data = last.json()
    assert set(data) == {"detail", "retry_after"}
    assert 890 <= data["retry_after"] <= 900
    assert last["Retry-After"] == str(data["retry_after"])
    assert "Trop de tentatives de connexion" in data["detail"]
    assert token(client, "applicant", "pw").status_code == 429
    assert token(APIClient(REMOTE_ADDR="192.0.2.51"), "applicant", "pw").status_code == 200


def test_a_forged_forwarded_address_does_not_give_a_fresh_counter(world: World) -> None:
    client = APIClient()
    for attempt in range(LIMIT):
        token(client, "applicant", "x", HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}")
    assert token(client, "applicant", "pw", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    browser = Client()
    assert web(browser, "applicant", "pw").status_code == 429  # the same pair on the web


def test_behind_a_proxy_the_address_it_appended_counts_not_the_forged_ones(world: World, settings: object) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # type: ignore[attr-defined]
    client = APIClient(REMOTE_ADDR="10.0.0.1")  # the proxy
    for attempt in range(LIMIT):
        token(client, "applicant", "x", HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}, 192.0.2.77")
    assert token(client, "applicant", "pw", HTTP_X_FORWARDED_FOR="192.0.2.77").status_code == 429
    assert token(client, "applicant", "pw", HTTP_X_FORWARDED_FOR="192.0.2.78").status_code == 200
    assert AccessAttempt.objects.get().ip_address == "192.0.2.77"


def test_a_successful_sign_in_clears_the_pairs_failures(world: World) -> None:
    client = Client()
    for _ in range(LIMIT - 1):
        web(client, "applicant", "guess")
    assert web(client, "applicant", "pw").status_code == 302
    client = Client()
    for _ in range(LIMIT - 1):
        assert web(client, "applicant", "guess").status_code == 200
    assert web(client, "applicant", "pw").status_code == 302


def test_the_lock_ends_after_the_cool_off(world: World) -> None:
    client = Client()
    for _ in range(LIMIT):
        web(client, "applicant", "guess")
    assert web(client, "applicant", "pw").status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - dt.timedelta(minutes=16))
    assert web(client, "applicant", "pw").status_code == 302


def test_the_username_is_one_counter_whatever_its_case_or_spaces(world: World) -> None:
    client = Client()
    for attempt in range(LIMIT):
        web(client, ["applicant", "Applicant", " APPLICANT "][attempt % 3], "guess")
    assert web(client, "applicant", "pw").status_code == 429


def test_a_new_password_clears_the_accounts_locks(world: World) -> None:
    client = Client()
    for _ in range(LIMIT):
        web(client, "applicant", "guess")
    world.applicant.set_password("Un-autre-mot-de-passe-2026")
    world.applicant.save()
    assert not AccessAttempt.objects.exists()
    assert web(client, "applicant", "Un-autre-mot-de-passe-2026").status_code == 302
