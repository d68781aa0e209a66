"""Attachments in the portal: upload per required kind, a clear error for a refused file,
download of what was uploaded, replace while editable, remove."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from grants.models import Application, Attachment
from tests.factories import PDF_BYTES, World

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
S = Application.State
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def applicant(client: Client, world: World) -> Client:
    client.force_login(world.applicant)
    return client


def upload(client: Client, app: Application, kind: str, name: str, content: bytes, prefix: str | None = None) -> Any:
    prefix = prefix or kind
    return client.post(
        f"/mes-dossiers/{app.pk}/pieces/ajouter/",
        {
            "form_prefix": prefix,
            f"{prefix}-kind": kind,
            f"{prefix}-file": SimpleUploadedFile(name, content, content_type="application/octet-stream"),
        },
    )


def test_the_attachments_section_lists_each_required_kind(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False)
    body = text(applicant.get(f"/mes-dossiers/{app.pk}/saisie/pieces/"))
    assert "Étape 4 sur 5" in body
    assert "Convention de partenariat" in body and "Délibération" in body
    assert "Pièces manquantes : Convention de partenariat, Délibération" in body
    assert 'for="id_partnership_agreement-file"' in body
    assert "Taille maximale : 20 Mo" in body
    assert 'enctype="multipart/form-data"' in body


def test_it_uploads_a_required_attachment(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False)
    response = upload(applicant, app, "partnership_agreement", "Convention signée.pdf", PDF_BYTES)
    assert response.status_code == 302
    assert response["Location"].endswith("/saisie/pieces/#piece-partnership_agreement")
    attachment = Attachment.objects.get(application=app)
    assert attachment.kind == "partnership_agreement"
    assert attachment.original_name == "Convention signée.pdf"
    assert attachment.content_type == "application/pdf"
    body = text(applicant.get(f"/mes-dossiers/{app.pk}/saisie/pieces/"))
    assert "Pièce « Convention de partenariat » enregistrée : Convention signée.pdf." in body
    assert f"/mes-dossiers/{app.pk}/pieces/{attachment.pk}/" in body
    assert "Pièces manquantes : Délibération" in body


def test_a_new_upload_replaces_the_previous_file_of_the_same_kind(applicant: Client, world: World) -> None:
    app = world.draft()
    assert upload(applicant, app, "council_resolution", "deliberation-v2.png", PNG_BYTES).status_code == 302
    files = Attachment.objects.filter(application=app, kind="council_resolution")
    assert [a.original_name for a in files] == ["deliberation-v2.png"]
    assert "Remplacer le fichier" in text(applicant.get(f"/mes-dossiers/{app.pk}/saisie/pieces/"))


def test_it_uploads_an_optional_attachment(applicant: Client, world: World) -> None:
    app = world.draft()
    response = upload(applicant, app, "letter_of_intent", "lettre.pdf", PDF_BYTES, prefix="optional")
    assert response.status_code == 302
    assert Attachment.objects.filter(application=app, kind="letter_of_intent").count() == 1


def test_it_refuses_a_file_whose_content_is_not_an_accepted_format(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False)
    response = upload(applicant, app, "partnership_agreement", "convention.pdf", b"#!/bin/sh\necho this is no PDF\n")
    assert response.status_code == 400
    body = text(response)
    assert "Format refusé : seuls les fichiers PDF, ODT, ODS, DOCX, XLSX, PNG et JPEG sont acceptés." in body
    assert 'id="id_partnership_agreement-file_error"' in body
    assert 'href="#id_partnership_agreement-file"' in body
    assert "fr-upload-group--error" in body
    assert not Attachment.objects.filter(application=app).exists()


def test_it_refuses_a_file_over_the_size_limit(applicant: Client, world: World, settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 2048
    app = world.draft(attachments=False)
    response = upload(applicant, app, "council_resolution", "gros.pdf", PDF_BYTES + b" " * 4096)
    assert response.status_code == 400
    assert "Le fichier dépasse la taille maximale" in text(response)
    assert not Attachment.objects.filter(application=app).exists()


def test_it_refuses_an_empty_file(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False)
    response = upload(applicant, app, "council_resolution", "vide.pdf", b"")
    assert response.status_code == 400
    assert "Le fichier est vide." in text(response)


def test_it_asks_for_a_file_when_none_is_chosen(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False)
    response = applicant.post(
        f"/mes-dossiers/{app.pk}/pieces/ajouter/",
        {"form_prefix": "council_resolution", "council_resolution-kind": "council_resolution"},
    )
    assert response.status_code == 400
    assert "Choisissez un fichier à joindre." in text(response)


def test_an_unknown_upload_form_is_404(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False)
    response = upload(applicant, app, "budget_detail", "b.pdf", PDF_BYTES, prefix="budget_detail")
    assert response.status_code == 404


def test_it_downloads_what_was_uploaded_under_its_original_name(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False)
    upload(applicant, app, "partnership_agreement", "Convention n°12 « signée ».pdf", PDF_BYTES)
    attachment = Attachment.objects.get(application=app)
    response = applicant.get(f"/mes-dossiers/{app.pk}/pieces/{attachment.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''Convention%20n%C2%B012%20%C2%AB%20sign%C3%A9e%20%C2%BB.pdf" in disposition


def test_a_hostile_file_name_cannot_break_the_download_header(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False)
    upload(applicant, app, "partnership_agreement", 'a"b\\c.pdf', PDF_BYTES)
    attachment = Attachment.objects.get(application=app)
    Attachment.objects.filter(pk=attachment.pk).update(original_name='evil\r\nSet-Cookie: x=1\r\n"../../etc/passwd')
    response = applicant.get(f"/mes-dossiers/{app.pk}/pieces/{attachment.pk}/")
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert "/" not in disposition.split("filename", 1)[1]
    assert not response.has_header("Set-Cookie") or "x=1" not in response["Set-Cookie"]


def test_it_removes_an_attachment_while_editable(applicant: Client, world: World) -> None:
    app = world.draft()
    attachment = Attachment.objects.filter(application=app).first()
    assert attachment is not None
    assert applicant.get(f"/mes-dossiers/{app.pk}/pieces/{attachment.pk}/retirer/").status_code == 405
    response = applicant.post(f"/mes-dossiers/{app.pk}/pieces/{attachment.pk}/retirer/")
    assert response.status_code == 302
    assert not Attachment.objects.filter(pk=attachment.pk).exists()
    assert "Pièce retirée du dossier." in text(applicant.get(response["Location"]))


def test_a_submitted_application_keeps_its_attachments(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    attachment = Attachment.objects.filter(application=app).first()
    assert attachment is not None
    response = upload(applicant, app, "council_resolution", "autre.pdf", PDF_BYTES)
    assert response.status_code == 302
    assert response["Location"] == f"/mes-dossiers/{app.pk}/"
    assert Attachment.objects.filter(application=app).count() == 2
    response = applicant.post(f"/mes-dossiers/{app.pk}/pieces/{attachment.pk}/retirer/")
    assert response.status_code == 302
    assert Attachment.objects.filter(pk=attachment.pk).exists()
    assert "ne peuvent plus être modifiées" in text(applicant.get(response["Location"]))
    # What was submitted can still be downloaded.
    assert applicant.get(f"/mes-dossiers/{app.pk}/pieces/{attachment.pk}/").status_code == 200


def test_an_attachment_of_another_application_is_404(applicant: Client, world: World) -> None:
    mine = world.draft()
    other = world.draft()
    attachment = Attachment.objects.filter(application=other).first()
    assert attachment is not None
    assert applicant.get(f"/mes-dossiers/{mine.pk}/pieces/{attachment.pk}/").status_code == 404
    assert applicant.post(f"/mes-dossiers/{mine.pk}/pieces/{attachment.pk}/retirer/").status_code == 404
    assert Attachment.objects.filter(pk=attachment.pk).exists()


def test_the_refused_upload_page_renders_in_english(applicant: Client, world: World) -> None:
    app = world.draft(attachments=False)
    response = applicant.post(
        f"/mes-dossiers/{app.pk}/pieces/ajouter/",
        {
            "form_prefix": "council_resolution",
            "council_resolution-kind": "council_resolution",
            "council_resolution-file": SimpleUploadedFile("x.txt", b"plain text"),
        },
        **EN,
    )
    assert response.status_code == 400
    assert '<html lang="en"' in response.content.decode()
