"""config/middleware.py in isolation: what a client gets when the database or the disk
fails (the fault tests show it with a real PostgreSQL restart and a real full volume)."""

from __future__ import annotations

import errno
import json

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.test import Client, RequestFactory

from config.middleware import InfrastructureFailureMiddleware


def middleware() -> InfrastructureFailureMiddleware:
    return InfrastructureFailureMiddleware(lambda request: HttpResponse("ok"))


@pytest.mark.parametrize("error", [OperationalError("server closed the connection"), InterfaceError("closed")])
def test_the_api_answers_503_json_with_retry_after_when_the_database_fails(error: Exception) -> None:
    request = RequestFactory().post("/api/v1/applications/x/transitions/submit/")
    response = middleware().process_exception(request, error)
    assert response is not None
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "10"
    assert "indisponible" in json.loads(response.content)["detail"]


def test_the_web_answers_a_503_page_that_needs_no_database() -> None:
    request = RequestFactory().get("/mes-dossiers/")
    response = middleware().process_exception(request, OperationalError("the database system is starting up"))
    assert response is not None
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert "Service momentanément indisponible" in response.content.decode()


def test_a_full_disk_is_a_507_and_any_other_error_stays_a_500() -> None:
    request = RequestFactory().post("/api/v1/applications/x/attachments/")
    response = middleware().process_exception(request, OSError(errno.ENOSPC, "No space left on device"))
    assert response is not None
    assert response.status_code == 507
    assert "plein" in json.loads(response.content)["detail"]
    assert middleware().process_exception(request, OSError(errno.EACCES, "Permission denied")) is None
    assert middleware().process_exception(request, ValueError("bug")) is None


@pytest.mark.django_db  # whatever the 404 page reads (the user, the session) may read it
def test_a_database_error_in_a_lower_middleware_is_a_503_too(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: SessionMiddleware, request: object, response: HttpResponse) -> HttpResponse:
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(SessionMiddleware, "process_response", broken)
    response = Client(raise_request_exception=False).get("/cette-page-n-existe-pas/")
    assert response.status_code == 503
    assert "Service momentanément indisponible" in response.content.decode()
