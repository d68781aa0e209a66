"""The error pages (templates/400.html, 403.html, 403_csrf.html, 404.html, 500.html) and
the refusals' log lines: French by default, English on request, a way back home, the
right status codes; a 403 is one log line, a 500 keeps its traceback.

The test suite runs with DEBUG off (Django's test runner), as `make run` does: the
product's pages are shown, not Django's debug pages.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
HOME_LINK = 'href="/" id="error-home"'


def _refused(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied(_("Cet espace est réservé aux agents concernés."))


def _refused_without_reason(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def _missing(request: HttpRequest) -> HttpResponse:
    raise Http404("No Application matches the given query.")


def _bad(request: HttpRequest) -> HttpResponse:
    raise BadRequest("malformed payload")


def _suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("tampered")


def _broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


# This module is the URL configuration of the tests marked `urls`: the project's own
# patterns (base.html links to sign-out and the language switch) plus views that fail.
urlpatterns = [
    path("test-errors/forbidden/", _refused),
    path("test-errors/forbidden-plain/", _refused_without_reason),
    path("test-errors/missing/", _missing),
    path("test-errors/bad/", _bad),
    path("test-errors/suspicious/", _suspicious),
    path("test-errors/broken/", _broken),
    path("", include("config.urls")),
]

with_failing_views = pytest.mark.urls(__name__)


def _page(response: HttpResponse) -> str:
    return response.content.decode()


# --- 404 --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_address_gets_the_french_404_page_with_a_link_home(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = _page(response)
    assert '<html lang="fr"' in html
    assert "Page non trouvée" in html and "Erreur 404" in html
    assert "ou vous n’y avez pas accès" in html
    assert HOME_LINK in html
    assert 'class="fr-header"' in html  # the site's DSFR layout (base.html)


@pytest.mark.django_db
def test_the_404_page_is_in_english_on_request(client: Client) -> None:
    response = client.get("/no-such-page/", **EN)
    assert response.status_code == 404
    html = _page(response)
    assert '<html lang="en"' in html
    assert "Page not found" in html and "Error 404" in html
    assert "Home page" in html and HOME_LINK in html


@with_failing_views
@pytest.mark.django_db
def test_the_404_page_does_not_show_the_developers_message(client: Client) -> None:
    response = client.get("/test-errors/missing/")
    assert response.status_code == 404
    assert "No Application matches" not in _page(response)


# --- 403 --------------------------------------------------------------------------------


@with_failing_views
@pytest.mark.django_db
def test_a_refusal_shows_its_reason_in_french_with_a_link_home(client: Client) -> None:
    response = client.get("/test-errors/forbidden/")
    assert response.status_code == 403
    html = _page(response)
    assert '<html lang="fr"' in html
    assert "Accès refusé" in html and "Erreur 403" in html
    assert "Cet espace est réservé aux agents concernés." in html
    assert HOME_LINK in html


@with_failing_views
@pytest.mark.django_db
def test_a_refusal_shows_its_reason_in_english_on_request(client: Client) -> None:
    response = client.get("/test-errors/forbidden/", **EN)
    assert response.status_code == 403
    html = _page(response)
    assert '<html lang="en"' in html
    assert "Access denied" in html and "Error 403" in html
    assert "This area is restricted to the staff concerned." in html
    assert "Home page" in html and HOME_LINK in html


@with_failing_views
@pytest.mark.django_db
def test_a_refusal_without_a_message_says_what_it_means(client: Client) -> None:
    response = client.get("/test-errors/forbidden-plain/")
    assert response.status_code == 403
    assert "Vous n’avez pas les droits nécessaires" in _page(response)


@with_failing_views
@pytest.mark.django_db
def test_an_anonymous_refusal_offers_to_sign_in(client: Client) -> None:
    html = _page(client.get("/test-errors/forbidden/"))
    assert 'href="/accounts/login/?next=/test-errors/forbidden/"' in html


@with_failing_views
@pytest.mark.django_db
def test_a_signed_in_refusal_keeps_the_sites_header(client: Client, django_user_model: type) -> None:
    client.force_login(django_user_model.objects.create_user("someone", password="pw"))
    response = client.get("/test-errors/forbidden/")
    assert response.status_code == 403
    html = _page(response)
    assert "Se déconnecter" in html
    assert "/accounts/login/?next=" not in html


# --- 400 and CSRF -----------------------------------------------------------------------


@with_failing_views
@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/test-errors/bad/", "/test-errors/suspicious/"])
def test_a_bad_request_gets_the_400_page_in_french_and_english(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    html = _page(response)
    assert "Requête incorrecte" in html and "Erreur 400" in html and HOME_LINK in html
    assert "malformed payload" not in html and "tampered" not in html
    english = client.get(url, **EN)
    assert english.status_code == 400
    assert "Bad request" in _page(english) and "Error 400" in _page(english)


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_gets_the_expired_form_page() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    html = _page(response)
    assert "Formulaire expiré" in html
    assert "rechargez-la, puis envoyez à nouveau le formulaire" in html
    assert "accepte les cookies de ce site" in html
    assert HOME_LINK in html
    english = client.post("/accounts/login/", {"username": "x", "password": "y"}, **EN)
    assert english.status_code == 403
    assert "Form expired" in _page(english) and "Home page" in _page(english)


# --- 500 --------------------------------------------------------------------------------


@with_failing_views
def test_a_server_error_gets_the_self_contained_500_page_without_the_database() -> None:
    # No django_db mark: the page (and the whole response) must not query the database.
    client = Client(raise_request_exception=False)
    response = client.get("/test-errors/broken/")
    assert response.status_code == 500
    html = _page(response)
    assert '<html lang="fr"' in html
    assert "Erreur inattendue" in html and "Erreur 500" in html
    assert HOME_LINK in html
    assert 'href="/static/dsfr/dist/dsfr/dsfr.min.css"' in html
    assert "boom" not in html


@with_failing_views
def test_the_500_page_is_in_english_on_request() -> None:
    response = Client(raise_request_exception=False).get("/test-errors/broken/", **EN)
    assert response.status_code == 500
    html = _page(response)
    assert '<html lang="en"' in html
    assert "Unexpected error" in html and "Error 500" in html and "Home page" in html


# --- Log lines --------------------------------------------------------------------------


def _request_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "django.request"]


@with_failing_views
@pytest.mark.django_db
def test_a_refusal_is_logged_as_one_line_with_its_reason(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="django.request"):
        client.get("/test-errors/forbidden/")
    (record,) = _request_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None and not record.exc_text
    assert record.getMessage() == (
        "Forbidden (Permission denied): /test-errors/forbidden/ (Cet espace est réservé aux agents concernés.)"
    )
    assert "Traceback" not in caplog.text


@with_failing_views
@pytest.mark.django_db
def test_a_bad_request_is_logged_without_its_traceback(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="django.request"):
        client.get("/test-errors/bad/")
    (record,) = _request_records(caplog)
    assert record.exc_info is None
    assert record.getMessage() == "malformed payload: /test-errors/bad/ (malformed payload)"


@with_failing_views
def test_a_server_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="django.request"):
        Client(raise_request_exception=False).get("/test-errors/broken/")
    (record,) = _request_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


def test_a_server_error_under_the_api_is_json_in_the_caller_s_language() -> None:
    from django.test import RequestFactory
    from django.utils import translation

    from config import errors

    request = RequestFactory().get("/api/v1/applications/")
    with translation.override("en"):
        response = errors.server_error(request)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["detail"].startswith("Internal server error")
    page = errors.server_error(RequestFactory().get("/tasks/"))
    assert page.status_code == 500 and b"<html" in page.content
