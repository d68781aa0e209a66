"""Sign-in, sign-out, password reset and the home page's routing (applicant / staff / anonymous)."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from tests.factories import World

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def test_it_shows_the_sign_in_page_in_french_by_default(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="fr"' in html
    assert "Connexion à la plateforme des appels à projets" in html
    assert 'for="id_username"' in html and 'for="id_password"' in html
    assert "Mot de passe oublié" in html


def test_it_renders_the_sign_in_page_in_english(client: Client) -> None:
    response = client.get("/accounts/login/", **EN)
    assert response.status_code == 200
    assert '<html lang="en"' in response.content.decode()


def test_it_signs_an_applicant_in_and_sends_it_home(client: Client, world: World) -> None:
    response = client.post("/accounts/login/", {"username": "applicant", "password": "pw"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Mes dossiers" in home.content.decode()


@pytest.mark.parametrize("username", ["applicant", "nobody-with-this-name"])
def test_it_rejects_a_wrong_password_without_telling_whether_the_account_exists(
    client: Client, world: World, username: str
) -> None:
    response = client.post("/accounts/login/", {"username": username, "password": "wrong"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Identifiant ou mot de passe incorrect." in html
    assert 'role="alert"' in html
    assert "_auth_user_id" not in client.session


def test_it_gives_an_inactive_account_the_same_message(client: Client, world: World) -> None:
    world.applicant.is_active = False
    world.applicant.save()
    response = client.post("/accounts/login/", {"username": "applicant", "password": "pw"})
    assert response.status_code == 200
    assert "Identifiant ou mot de passe incorrect." in response.content.decode()


def test_it_does_not_crash_on_an_empty_sign_in_form(client: Client) -> None:
    response = client.post("/accounts/login/", {})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_username_error"' in html


def test_it_signs_out_with_a_post_only(client: Client, world: World) -> None:
    client.force_login(world.applicant)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_the_header_offers_sign_out_and_the_language_switch(client: Client, world: World) -> None:
    client.force_login(world.applicant)
    html = client.get("/").content.decode()
    assert 'action="/accounts/logout/"' in html
    assert 'action="/i18n/setlang/"' in html
    assert 'name="language" value="en"' in html


def test_the_language_switch_turns_the_portal_to_english(client: Client, world: World) -> None:
    client.force_login(world.applicant)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    html = client.get("/").content.decode()
    assert '<html lang="en"' in html
    assert 'name="language" value="fr"' in html


def test_an_anonymous_visitor_is_sent_to_sign_in(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_staff_user_gets_the_staff_inbox_at_home(client: Client, world: World, monkeypatch: Any) -> None:
    from django.http import HttpResponse

    module = type(sys)("grants.web.staff.views")
    module.inbox = lambda request: HttpResponse("staff inbox")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "grants.web.staff.views", module)
    client.force_login(world.instructor)
    response = client.get("/")
    assert response.status_code == 200
    assert response.content == b"staff inbox"


def test_a_staff_user_goes_to_the_task_list_when_the_inbox_view_is_missing(
    client: Client, world: World, monkeypatch: Any
) -> None:
    monkeypatch.setitem(sys.modules, "grants.web.staff.views", None)  # import fails
    client.force_login(world.secretary)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/tasks/"


def test_it_sends_a_password_reset_email_in_french(client: Client, world: World) -> None:
    response = client.post("/accounts/password_reset/", {"email": "applicant@example.org"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["applicant@example.org"]
    assert "nouveau mot de passe" in message.subject
    assert "Bonjour," in message.body
    assert "« applicant »" in message.body
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body)
    assert link is not None
    # The link leads to the form, which sets the new password.
    form = client.get(link.group(1), follow=True)
    assert form.status_code == 200
    assert "Choisir un nouveau mot de passe" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Un-mot-de-passe-solide-2026", "new_password2": "Un-mot-de-passe-solide-2026"},
    )
    assert done.status_code == 302
    signed_in = client.post("/accounts/login/", {"username": "applicant", "password": "Un-mot-de-passe-solide-2026"})
    assert signed_in.status_code == 302


def test_it_answers_the_same_for_an_unknown_email(client: Client, world: World) -> None:
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []
    page = client.get("/accounts/password_reset/done/")
    assert "Si un compte correspond à cette adresse" in page.content.decode()


def test_it_refuses_an_invalid_reset_link_with_an_explanation(client: Client) -> None:
    response = client.get("/accounts/reset/MQ/wrong-token/")
    assert response.status_code == 200
    assert "Ce lien n'est plus valable" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",
        "/accounts/password_reset/",
        "/accounts/password_reset/done/",
        "/accounts/reset/done/",
    ],
)
def test_the_account_pages_render_in_both_languages(client: Client, path: str) -> None:
    assert client.get(path).status_code == 200
    assert client.get(path, **EN).status_code == 200


def test_sign_in_is_refused_for_a_while_after_ten_failures_even_with_the_right_password(world: World) -> None:
    from django.test import Client

    client = Client()
    for _ in range(9):
        response = client.post("/accounts/login/", {"username": "applicant", "password": "wrong"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"username": "applicant", "password": "wrong"})
    assert response.status_code == 429
    response = client.post("/accounts/login/", {"username": "applicant", "password": "pw"})
    assert response.status_code == 429
    assert "Trop de tentatives de connexion infructueuses" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Only this (account, address) pair is refused: not the owner elsewhere, nor another
    # account from the same address (people behind one proxy).
    other = Client(REMOTE_ADDR="10.9.8.7")
    response = other.post("/accounts/login/", {"username": "applicant", "password": "pw"})
    assert response.status_code == 302
    same_address = Client()
    response = same_address.post("/accounts/login/", {"username": "applicant2", "password": "pw"})
    assert response.status_code == 302
