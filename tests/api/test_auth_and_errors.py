"""Authentication, the sign-in lockout, the error shapes, the schema and the docs."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from tests.api.helpers import body, english, url
from tests.factories import World


def test_it_gives_a_token_for_valid_credentials(world: World) -> None:
    client = APIClient()
    token = body(client.post(url("auth/token/"), {"username": "applicant", "password": "pw"}, format="json"), 200)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token['token']}")
    assert client.get(url("calls/")).status_code == 200


def test_it_gives_a_new_token_at_each_sign_in(world: World) -> None:
    client = APIClient()
    first = client.post(url("auth/token/"), {"username": "applicant", "password": "pw"}, format="json").json()
    second = client.post(url("auth/token/"), {"username": "applicant", "password": "pw"}, format="json").json()
    assert first["token"] != second["token"]
    assert set(first) == {"token", "expiry"}


@pytest.mark.parametrize(
    ("language", "message"),
    [("fr", "Identifiant ou mot de passe incorrect."), ("en", "Incorrect username or password.")],
)
def test_it_rejects_wrong_credentials_with_a_reason_in_the_callers_language(
    world: World, language: str, message: str
) -> None:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    response = client.post(url("auth/token/"), {"username": "applicant", "password": "nope"}, format="json")
    assert body(response, 400) == {"errors": {"non_field_errors": [message]}}


def test_it_rejects_an_inactive_account(world: World) -> None:
    world.applicant.is_active = False
    world.applicant.save()
    response = APIClient().post(url("auth/token/"), {"username": "applicant", "password": "pw"}, format="json")
    assert body(response, 400)["errors"]["non_field_errors"]


@pytest.mark.parametrize(
    ("language", "required"), [("fr", "Ce champ est obligatoire."), ("en", "This field is required.")]
)
def test_it_names_each_missing_credential(world: World, language: str, required: str) -> None:
    response = APIClient(HTTP_ACCEPT_LANGUAGE=language).post(url("auth/token/"), {}, format="json")
    assert body(response, 400) == {"errors": {"username": [required], "password": [required]}}


@pytest.mark.parametrize(
    ("language", "words"), [("fr", "Trop de tentatives de connexion"), ("en", "Too many sign-in attempts")]
)
def test_it_locks_a_username_and_address_pair_with_a_clear_429(world: World, language: str, words: str) -> None:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    for _ in range(9):
        assert (
            client.post(url("auth/token/"), {"username": "applicant", "password": "x"}, format="json").status_code
            == 400
        )
    # The tenth failure locks the pair; then even the right password is refused.
    assert client.post(url("auth/token/"), {"username": "applicant", "password": "x"}, format="json").status_code == 429
    response = client.post(url("auth/token/"), {"username": "applicant", "password": "pw"}, format="json")
    data = body(response, 429)
    assert words in data["detail"]
    assert 1 <= data["retry_after"] <= 15 * 60
    assert response["Retry-After"] == str(data["retry_after"])
    assert str(data["retry_after"]) in data["detail"]


def test_a_forged_forwarded_address_does_not_reset_the_counter(world: World) -> None:
    client = APIClient()
    for attempt in range(10):
        response = client.post(
            url("auth/token/"),
            {"username": "applicant", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}",
        )
        assert response.status_code in (400, 429)
    response = client.post(
        url("auth/token/"),
        {"username": "applicant", "password": "pw"},
        format="json",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code == 429


def test_guesses_from_many_addresses_do_not_lock_the_owner_out(world: World) -> None:
    for attempt in range(10):
        response = APIClient(REMOTE_ADDR=f"192.0.2.{attempt}").post(
            url("auth/token/"), {"username": "Applicant", "password": f"guess{attempt}"}, format="json"
        )
        assert response.status_code == 400
    response = APIClient(REMOTE_ADDR="192.0.2.99").post(
        url("auth/token/"), {"username": "applicant", "password": "pw"}, format="json"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("fr", "Informations d'authentification non fournies."),
        ("en", "Authentication credentials were not provided."),
    ],
)
def test_it_answers_401_without_credentials(world: World, language: str, message: str) -> None:
    response = APIClient(HTTP_ACCEPT_LANGUAGE=language).get(url("applications/"))
    assert body(response, 401) == {"detail": message}
    assert response["WWW-Authenticate"] == "Token"


def test_it_answers_401_for_an_unknown_token(world: World) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    assert body(client.get(url("calls/")), 401)["detail"]


def test_a_signed_in_browser_session_works_too(world: World) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.applicant)
    assert body(client.get(url("applications/")), 200)["results"] == []


@pytest.mark.parametrize("language", ["fr", "en"])
def test_any_other_api_path_is_a_json_404(world: World, api: Callable[..., APIClient], language: str) -> None:
    message = english("Introuvable.") if language == "en" else "Introuvable."
    client = api(world.applicant, language=language)
    for path in ("/api/v1/nothing/", "/api/v2/calls/", "/api/v1/applications/not-a-uuid/"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": message}


@pytest.mark.parametrize(
    "path", ["/api/v1/applications/", "/api/v1/sessions/", "/api/v1/calls/", "/api/v1/tasks/1/claim/"]
)
def test_options_describes_an_endpoint_without_failing(world: World, api: Callable[..., APIClient], path: str) -> None:
    response = api(world.applicant).options(path)
    assert response.status_code == 200
    assert response.json()["name"]


def test_a_method_an_endpoint_does_not_have_is_a_json_405(world: World, api: Callable[..., APIClient]) -> None:
    response = api(world.applicant).delete("/api/v1/calls/")
    assert response.status_code == 405
    assert set(response.json()) == {"detail"}


def test_malformed_json_is_a_400_with_errors(world: World, api: Callable[..., APIClient]) -> None:
    response = api(world.applicant).post(url("applications/"), "{not json", content_type="application/json")
    assert list(body(response, 400)["errors"]) == ["non_field_errors"]


@pytest.mark.parametrize(
    ("language", "message"),
    [("fr", "Le corps de la requête doit être un objet JSON."), ("en", "The request body must be a JSON object.")],
)
def test_a_body_that_is_not_an_object_is_a_400(
    world: World, api: Callable[..., APIClient], language: str, message: str
) -> None:
    app = world.draft()
    response = api(world.applicant, language=language).post(
        url(f"applications/{app.pk}/transitions/withdraw/"), [1, 2], format="json"
    )
    assert body(response, 400) == {"errors": {"non_field_errors": [message]}}


def test_the_schema_is_openapi_3_and_describes_every_contract_endpoint(world: World) -> None:
    schema = body(APIClient().get("/api/schema/", {"format": "json"}), 200)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    expected = {
        ("post", "/api/v1/auth/token/"),
        ("get", "/api/v1/calls/"),
        ("get", "/api/v1/calls/{code}/"),
        ("get", "/api/v1/applications/"),
        ("post", "/api/v1/applications/"),
        ("get", "/api/v1/applications/{id}/"),
        ("patch", "/api/v1/applications/{id}/"),
        ("post", "/api/v1/applications/{id}/attachments/"),
        ("post", "/api/v1/applications/{id}/transitions/{name}/"),
        ("post", "/api/v1/applications/{id}/reviewers/"),
        ("get", "/api/v1/tasks/"),
        ("post", "/api/v1/tasks/{task_id}/claim/"),
        ("get", "/api/v1/opinions/"),
        ("post", "/api/v1/opinions/{opinion_id}/give/"),
        ("get", "/api/v1/reviews/"),
        ("post", "/api/v1/reviews/{review_id}/submit/"),
        ("post", "/api/v1/reviews/{review_id}/decline/"),
        ("get", "/api/v1/sessions/"),
        ("post", "/api/v1/sessions/"),
        ("get", "/api/v1/decisions/"),
        ("get", "/api/v1/decisions/{decision_id}/"),
        ("post", "/api/v1/decisions/{decision_id}/sign/"),
        ("get", "/api/v1/decisions/{decision_id}/pdf/"),
        ("post", "/api/v1/decisions/{decision_id}/record/"),
        ("get", "/api/v1/auth/tokens/"),
        ("post", "/api/v1/auth/logout/"),
        ("post", "/api/v1/auth/logoutall/"),
    }
    documented = {(method, path) for path, item in paths.items() for method in item}
    assert expected <= documented
    transition = paths["/api/v1/applications/{id}/transitions/{name}/"]["post"]
    assert set(transition["responses"]) == {"200", "400", "401", "403", "404", "409"}
    name = next(p for p in transition["parameters"] if p["name"] == "name")
    assert "submit" in str(name["schema"]) or "TransitionNameEnum" in str(name["schema"])
    token = paths["/api/v1/auth/token/"]["post"]
    assert "429" in token["responses"]
    errors = schema["components"]["schemas"]
    assert {"ValidationError", "Detail", "Conflict", "Throttled"} <= set(errors)
    pdf = paths["/api/v1/decisions/{decision_id}/pdf/"]["get"]["responses"]["200"]["content"]
    assert list(pdf) == ["application/pdf"]


def test_the_schema_is_served_as_yaml_by_default(world: World) -> None:
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")


def test_the_docs_need_no_external_asset(world: World) -> None:
    # Swagger UI from drf-spectacular-sidecar's local files: nothing from a CDN.
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "/api/schema/" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    reference = APIClient().get("/api/docs/reference/").content.decode()
    assert "/api/v1/applications/{id}/transitions/{name}/" in reference
    assert 'id="schema-Application"' in reference
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", reference)


def test_the_reference_page_is_always_available(world: World) -> None:
    response = APIClient(HTTP_ACCEPT_LANGUAGE="en").get("/api/docs/reference/")
    assert response.status_code == 200
    assert b"decisions_record" in response.content
