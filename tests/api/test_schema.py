"""The API keeps to its OpenAPI document.

1. Every response of the whole lifecycle (and of its refusals) is validated against the
   document served at /api/schema/.
2. schemathesis generates requests for every operation from the document, against the
   WSGI application, and finds no server error and no response contradicting it. (Its
   pytest plugin does not run under pytest 9 — it reads ``Node._nodeid`` — so the
   operations are driven here with its strategies and ``hypothesis.given``.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from knox.models import AuthToken
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.helpers import submitted
from tests.api.test_lifecycle import drive_lifecycle
from tests.factories import World


def _document() -> dict[str, Any]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


class ValidatingClient(APIClient):
    """An API client that checks every /api/v1/ response against the OpenAPI document."""

    schema: Any = None
    checked: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked = []

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        path, method = request["PATH_INFO"], request["REQUEST_METHOD"]
        operation = self.schema.find_operation_by_path(method, path)
        assert operation is not None, f"{method} {path} is not in the OpenAPI document"
        if getattr(response, "streaming", False):
            content = b"".join(response.streaming_content)
            response.streaming_content = iter([content])
        else:
            content = response.content
        prepared = requests.Request(method, f"http://testserver{path}").prepare()
        headers: dict[str, list[str]] = {k.lower(): [v] for k, v in response.items()}
        wrapped = schemathesis.Response(
            status_code=response.status_code,
            headers=headers,
            content=content,
            request=prepared,
            elapsed=0.0,
            verify=False,
        )
        operation.validate_response(wrapped)
        self.checked.append(f"{method} {operation.path} {response.status_code}")
        return response


def test_every_response_of_the_lifecycle_matches_the_schema(world: World) -> None:
    ValidatingClient.schema = schemathesis.openapi.from_dict(_document())
    seen: list[str] = []

    class Recording(ValidatingClient):
        def request(self, **request: Any) -> Any:
            response = super().request(**request)
            seen.append(self.checked[-1])
            return response

    drive_lifecycle(world, Recording)
    # And the refusals: 400, 403, 404, 409 bodies.
    client = Recording()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=world.applicant)[1]}")
    app = submitted(world)
    client.post(f"/api/v1/applications/{app.pk}/transitions/submit/", {}, format="json")  # 409
    client.post(f"/api/v1/applications/{app.pk}/transitions/declare_eligible/", {}, format="json")  # 403
    client.patch(f"/api/v1/applications/{app.pk}/", {"gender_marker": 9}, format="json")  # 400
    client.get("/api/v1/decisions/999999/")  # 404
    client.get("/api/v1/applications/", {"cursor": "garbage"})  # 400
    statuses = {entry.rsplit(" ", 1)[1] for entry in seen}
    assert {"200", "201", "400", "403", "404", "409"} <= statuses
    assert len(seen) > 30


# --- schemathesis ------------------------------------------------------------------------------


@pytest.fixture
def openapi(world: World) -> Iterator[Any]:
    """The document, loaded by schemathesis, calling the WSGI application in-process."""
    loaded = schemathesis.openapi.from_dict(json.loads(json.dumps(_document())))
    loaded.app = WSGIHandler()
    # A real WSGI request closes "old" connections at its start and end, which would close
    # the test's transaction (the Django test client disconnects the same receivers around
    # each of its requests, and reconnects them: so this comes after the last of them).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield loaded
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _fuzz(operation: Any, mode: GenerationMode, examples: int, headers: dict[str, str], **fixed: Any) -> list[str]:
    """Run ``examples`` generated requests of ``operation``; the failures, readable."""
    failures: list[str] = []

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

    try:
        run()
    except Unsatisfiable:
        pass  # e.g. no invalid value exists for a free-form string parameter
    except (Exception, BaseExceptionGroup) as exc:  # the failing example, as hypothesis re-raises it
        failures.append(f"{operation.label} [{mode.value}]: {exc}"[:3000])
    return failures


def test_the_api_never_fails_nor_contradicts_its_schema(world: World, openapi: Any) -> None:
    """Every operation, as an applicant owning a draft and a submitted application, with
    generated valid requests (and with its own application's id where it takes one), then
    generated invalid ones: no 5xx, and every documented response matches its schema."""
    draft = world.draft()
    submitted(world)
    _instance, token = AuthToken.objects.create(user=world.applicant)
    headers = {"Authorization": f"Token {token}", "Accept-Language": "fr"}
    failures: list[str] = []
    operations = [result.ok() for result in openapi.get_all_operations()]
    # The two that revoke the caller's token go last (the others need it).
    operations.sort(key=lambda operation: operation.path in ("/api/v1/auth/logout/", "/api/v1/auth/logoutall/"))
    assert len(operations) >= 30
    started = time.monotonic()
    for operation in operations:
        failures += _fuzz(operation, GenerationMode.POSITIVE, 10, headers)
        failures += _fuzz(operation, GenerationMode.NEGATIVE, 5, headers)
        if "{id}" in operation.path:
            failures += _fuzz(operation, GenerationMode.POSITIVE, 5, headers, path_parameters={"id": str(draft.pk)})
    assert not failures, "\n\n".join(failures)
    assert time.monotonic() - started < 240
