"""Password-reset e-mails are limited per account and per address; past the limit the
same neutral page, and nothing sent."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from tests.factories import UserFactory, World

pytestmark = pytest.mark.django_db

NEUTRAL = "Si un compte correspond à cette adresse"


def ask(client: Client, email: str) -> None:
    response = client.post("/accounts/password_reset/", {"email": email}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/accounts/password_reset/done/"
    assert NEUTRAL in response.content.decode()


def test_an_account_gets_at_most_three_emails_an_hour_whatever_the_address(world: World) -> None:
    for attempt in range(4):
        ask(Client(REMOTE_ADDR=f"192.0.2.{attempt}"), "applicant@example.org")
    assert len(mail.outbox) == 3
    ask(Client(), "applicant2@example.org")  # another account is not affected
    assert len(mail.outbox) == 4


def test_an_address_gets_at_most_ten_requests_an_hour_whatever_the_account(world: World) -> None:
    client = Client(REMOTE_ADDR="203.0.113.5")
    for index in range(10):
        UserFactory(username=f"person{index}")
        ask(client, f"person{index}@example.org")
    assert len(mail.outbox) == 10
    UserFactory(username="person10")
    ask(client, "person10@example.org")
    ask(client, "nobody@example.org")
    assert len(mail.outbox) == 10
    ask(Client(REMOTE_ADDR="203.0.113.6"), "person10@example.org")  # another address is not affected
    assert len(mail.outbox) == 11


def test_unknown_addresses_count_against_the_address_too(world: World) -> None:
    client = Client(REMOTE_ADDR="203.0.113.7")
    for index in range(10):
        ask(client, f"nobody{index}@example.org")
    ask(client, "applicant@example.org")
    assert mail.outbox == []
