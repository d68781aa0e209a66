"""Every portal page answers 404 for an application of another authority (never 403: its
existence is not revealed), sends anonymous visitors to sign in, and changes nothing."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from grants.models import Application, Attachment, Document
from tests.factories import PDF_BYTES, World

pytestmark = pytest.mark.django_db

S = Application.State


def pages(app: Application, attachment: Attachment) -> list[tuple[str, str]]:
    base = f"/mes-dossiers/{app.pk}"
    return [
        ("get", f"{base}/"),
        ("get", f"{base}/saisie/projet/"),
        ("post", f"{base}/saisie/projet/"),
        ("get", f"{base}/saisie/partenaires/"),
        ("get", f"{base}/saisie/budget/"),
        ("post", f"{base}/saisie/budget/"),
        ("get", f"{base}/saisie/pieces/"),
        ("post", f"{base}/budget/apercu/"),
        ("post", f"{base}/pieces/ajouter/"),
        ("get", f"{base}/pieces/{attachment.pk}/"),
        ("post", f"{base}/pieces/{attachment.pk}/retirer/"),
        ("get", f"{base}/verification/"),
        ("post", f"{base}/deposer/"),
        ("get", f"{base}/confirmation/"),
        ("get", f"{base}/retrait/"),
        ("post", f"{base}/retrait/"),
        ("get", f"{base}/documents/1/"),
    ]


def _call(client: Client, method: str, path: str) -> int:
    if method == "get":
        return client.get(path).status_code
    data = {
        "title": "Piraté",
        "gender_marker": "0",
        "form_prefix": "partnership_agreement",
        "partnership_agreement-kind": "partnership_agreement",
        "partnership_agreement-file": SimpleUploadedFile("x.pdf", PDF_BYTES),
    }
    return client.post(path, data).status_code


@pytest.mark.parametrize("state", [S.DRAFT, S.SUBMITTED])
def test_every_page_of_another_authoritys_application_is_404(client: Client, world: World, state: str) -> None:
    app = world.advance(world.draft(), state)
    attachment = Attachment.objects.filter(application=app).first()
    assert attachment is not None
    client.force_login(world.applicant2)
    for method, path in pages(app, attachment):
        assert _call(client, method, path) == 404, (method, path)
    app.refresh_from_db()
    assert app.state == state
    assert app.title == "Gestion des déchets à Saint-Louis"
    assert Attachment.objects.filter(application=app).count() == 2


def test_staff_users_do_not_use_the_applicant_pages(client: Client, world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    attachment = Attachment.objects.filter(application=app).first()
    assert attachment is not None
    for user in (world.instructor, world.embassy_sn, world.admin):
        client.force_login(user)
        for method, path in pages(app, attachment):
            assert _call(client, method, path) == 404, (user, method, path)


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World) -> None:
    app = world.draft()
    attachment = Attachment.objects.filter(application=app).first()
    assert attachment is not None
    for method, path in pages(app, attachment):
        response = client.get(path) if method == "get" else client.post(path)
        assert response.status_code == 302, (method, path)
        assert response["Location"].startswith("/accounts/login/?next="), (method, path)


def test_an_unknown_application_is_404(client: Client, world: World) -> None:
    client.force_login(world.applicant)
    assert client.get(f"/mes-dossiers/{uuid.uuid4()}/").status_code == 404
    assert client.get("/mes-dossiers/pas-un-uuid/").status_code == 404


def test_a_document_of_another_application_is_404(client: Client, world: World) -> None:
    mine = world.draft()
    theirs = world.advance(world.draft(user=world.applicant2), S.SUBMITTED, owner=world.applicant2)
    from django.core.files.base import ContentFile

    document = Document(
        kind=Document.Kind.DEPOSIT_RECEIPT,
        application=theirs,
        reference=theirs.reference or "",
        sha256="0" * 64,
        size=len(PDF_BYTES),
        pages=1,
        template_version="test",
        verification_code="TESTRECEIPT1",
    )
    document.file.save("receipt.pdf", ContentFile(PDF_BYTES), save=False)
    document.save()
    client.force_login(world.applicant)
    assert client.get(f"/mes-dossiers/{mine.pk}/documents/{document.pk}/").status_code == 404
    client.force_login(world.applicant2)
    assert client.get(f"/mes-dossiers/{theirs.pk}/documents/{document.pk}/").status_code == 200
