"""The public verification page /verify/<code>/ (contract: HTML, ?format=json, 404)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from grants import services
from grants.documents import issuing
from grants.models import Decision, Document


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def letter(world: Any) -> Document:
    app = world.advance(world.draft(), "approved")
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    issuing.issue_decision_letter(decision.pk)
    return Document.objects.get(decision=decision)


def test_the_verify_path_is_the_contract_s() -> None:
    assert (
        reverse("verify", kwargs={"code": "ABCD-EFGH-IJKL-MNOP-QRST-UVWX"}) == "/verify/ABCD-EFGH-IJKL-MNOP-QRST-UVWX/"
    )


def test_anyone_sees_what_was_issued_without_signing_in(client: Client, letter: Document) -> None:
    response = client.get(f"/verify/{letter.verification_code}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ce document a bien été délivré par la plateforme." in page
    assert "Lettre de notification (attribution)" in page
    assert letter.reference in page
    assert letter.sha256 in page
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_the_issue_date_is_shown_in_paris_time_in_french(client: Client, letter: Document) -> None:
    Document.objects.filter(pk=letter.pk).update(issued_at="2026-07-14T08:05:00+00:00")
    page = client.get(f"/verify/{letter.verification_code}/").content.decode()
    assert "14 juillet 2026 à 10\u00a0h\u00a005" in page
    assert "heure de Paris" in page


def test_the_page_discloses_no_amount_and_no_personal_data(client: Client, letter: Document, world: Any) -> None:
    page = client.get(f"/verify/{letter.verification_code}/").content.decode()
    assert "25\u202f000" not in page and "25000" not in page
    assert "Ville de Lyon" not in page
    assert letter.application is not None and letter.application.title not in page
    assert world.signatory.username not in page


def test_the_json_variant_gives_exactly_kind_reference_issued_at_and_hash(client: Client, letter: Document) -> None:
    response = client.get(f"/verify/{letter.verification_code}/", {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"kind", "reference", "issued_at", "sha256"}
    assert body["kind"] == "approval_letter"
    assert body["reference"] == letter.reference
    assert body["sha256"] == letter.sha256


def test_the_published_hash_is_the_stored_file_s(client: Client, letter: Document) -> None:
    body = client.get(f"/verify/{letter.verification_code}/", {"format": "json"}).json()
    with letter.file.open("rb") as handle:
        assert body["sha256"] == hashlib.sha256(handle.read()).hexdigest()


def test_a_code_typed_in_lower_case_is_found(client: Client, letter: Document) -> None:
    response = client.get(f"/verify/{letter.verification_code.lower()}/", {"format": "json"})
    assert response.status_code == 200


@pytest.mark.parametrize("code", ["AAAA-BBBB-CCCC-DDDD-EEEE-FFFF", "nope", "1' OR '1'='1", "A" * 200])
def test_an_unknown_code_is_a_404_in_html_and_json(client: Client, letter: Document, code: str) -> None:
    page = client.get(f"/verify/{code}/")
    assert page.status_code == 404
    assert "Aucun document ne porte ce code de vérification." in page.content.decode()
    assert letter.reference not in page.content.decode()
    data = client.get(f"/verify/{code}/", {"format": "json"})
    assert data.status_code == 404
    assert data.json() == {"detail": "Aucun document ne porte ce code de vérification."}


def test_uploading_the_issued_file_confirms_it(client: Client, letter: Document) -> None:
    with letter.file.open("rb") as handle:
        content = handle.read()
    response = client.post(
        f"/verify/{letter.verification_code}/",
        {"file": SimpleUploadedFile("lettre.pdf", content, content_type="application/pdf")},
    )
    assert response.status_code == 200
    assert "Ce fichier est bien le document délivré." in response.content.decode()


def test_uploading_an_altered_file_says_it_is_not_the_issued_one(client: Client, letter: Document) -> None:
    with letter.file.open("rb") as handle:
        altered = handle.read().replace(b"25 000", b"95 000") + b"\n%tampered\n"
    response = client.post(
        f"/verify/{letter.verification_code}/",
        {"file": SimpleUploadedFile("lettre.pdf", altered, content_type="application/pdf")},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "n&#x27;est pas le document délivré" in page or "n'est pas le document délivré" in page
    assert hashlib.sha256(altered).hexdigest() in page


def test_a_check_without_a_file_is_refused_with_a_reason(client: Client, letter: Document) -> None:
    response = client.post(f"/verify/{letter.verification_code}/", {})
    assert response.status_code == 400
    assert "Choisissez le fichier PDF à vérifier." in response.content.decode()


def test_a_file_too_large_to_check_is_refused_before_hashing(
    client: Client, letter: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grants.documents import verify as urls_documents

    monkeypatch.setattr(urls_documents, "VERIFY_MAX_BYTES", 1024)
    response = client.post(
        f"/verify/{letter.verification_code}/",
        {"file": SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * 200_000, content_type="application/pdf")},
    )
    assert response.status_code == 400
    assert "trop volumineux" in response.content.decode()


def test_the_page_speaks_english_when_asked(client: Client, letter: Document) -> None:
    client.cookies["django_language"] = "en"
    response = client.get(f"/verify/{letter.verification_code}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="en"' in page
    assert letter.sha256 in page


def test_other_methods_are_not_allowed(client: Client, letter: Document) -> None:
    assert client.delete(f"/verify/{letter.verification_code}/").status_code == 405
