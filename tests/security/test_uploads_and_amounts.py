"""Findings 7 and 8 of the trust review: hostile uploads and malformed amounts."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from grants.models import Attachment
from grants.writes import drafts
from tests.factories import PDF_BYTES, World, complete_data
from workflows.engine import Invalid

pytestmark = pytest.mark.django_db

CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'wordprocessingml.document.main+xml"/></Types>'
)


def _docx(*, big: int = 0, entries: int = 0) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr("word/document.xml", "<w:document/>")
        if big:
            archive.writestr("word/media/image.bin", b"\0" * big)
        for index in range(entries):
            archive.writestr(f"word/part{index}.xml", "x")
    return buffer.getvalue()


def _add(world: World, content: bytes, name: str = "piece.docx", kind: str = "other") -> Attachment:
    app = world.draft(attachments=False)
    return drafts.attachment_add(application_id=app.pk, user=world.applicant, kind=kind, name=name, content=content)


def test_an_ordinary_office_file_is_accepted(world: World) -> None:
    assert _add(world, _docx()).content_type.endswith("wordprocessingml.document")


def test_an_archive_bomb_named_docx_is_refused_without_being_unpacked(world: World) -> None:
    bomb = _docx(big=60 * 1024 * 1024)  # 60 MiB of zeros in ~60 KiB
    assert len(bomb) < 200 * 1024
    with pytest.raises(Invalid) as refused:
        _add(world, bomb)
    assert "anormalement volumineux" in refused.value.errors["file"][0]
    assert not Attachment.objects.exists()


def test_an_archive_with_an_absurd_number_of_entries_is_refused(world: World) -> None:
    with pytest.raises(Invalid) as refused:
        _add(world, _docx(entries=drafts.MAX_ARCHIVE_ENTRIES + 1))
    assert "file" in refused.value.errors


def test_a_pdf_html_polyglot_is_refused(world: World) -> None:
    polyglot = PDF_BYTES.replace(b"%PDF-1.4", b"%PDF-1.4\n<html><script>alert(1)</script></html>", 1)
    assert polyglot != PDF_BYTES
    with pytest.raises(Invalid) as refused:
        _add(world, polyglot, "x.pdf")
    assert "code de page web" in refused.value.errors["file"][0]


def test_the_download_has_the_stored_kind_s_extension_and_type(world: World) -> None:
    app = world.draft()
    attachment = drafts.attachment_add(
        application_id=app.pk, user=world.applicant, kind="other", name="rapport.html", content=PDF_BYTES
    )
    client = Client()
    client.force_login(world.applicant)
    response = client.get(f"/mes-dossiers/{app.pk}/pieces/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="rapport.pdf"' in response["Content-Disposition"]
    client.force_login(world.instructor)
    world.advance(app, "submitted")
    staff = client.get(f"/dossiers/{app.pk}/instruction/pieces/{attachment.pk}/")
    assert staff.status_code == 200 and 'filename="rapport.pdf"' in staff["Content-Disposition"]


def test_an_application_s_attachments_are_capped(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drafts, "MAX_ATTACHMENTS", 2)
    app = world.draft(attachments=False)
    for index in range(2):
        drafts.attachment_add(
            application_id=app.pk, user=world.applicant, kind="other", name=f"{index}.pdf", content=PDF_BYTES
        )
    with pytest.raises(Invalid) as refused:
        drafts.attachment_add(
            application_id=app.pk, user=world.applicant, kind="other", name="3.pdf", content=PDF_BYTES
        )
    assert "au plus 2 pièces" in refused.value.errors["file"][0]


@pytest.mark.parametrize("amount", ["1e3", " 12 ", "١٢", "12.5.1", "--3", "12,345"])
def test_malformed_amounts_are_refused_on_the_line_s_own_field(world: World, amount: Any) -> None:
    data = complete_data(world.call)
    data["budget"]["lines"][0]["amount"] = amount
    with pytest.raises(Invalid) as refused:
        drafts.application_create(user=world.applicant, data=data)
    assert list(refused.value.errors) == ["budget.lines.0.amount"]


def test_a_float_amount_through_the_api_is_refused_on_its_field(world: World) -> None:
    client = APIClient()
    client.force_authenticate(world.applicant)
    data = complete_data(world.call)
    data["budget"]["lines"][1]["amount"] = 50000.0
    response = client.post("/api/v1/applications/", data, format="json")
    assert response.status_code == 400
    assert "budget.lines.1.amount" in response.json()["errors"]


@pytest.mark.parametrize(
    ("typed", "stored"), [("25 000,50", "25000.50"), ("25.000,50 €", "25000.50"), ("1250.50", "1250.50")]
)
def test_amounts_typed_the_french_way_are_read_exactly(world: World, typed: str, stored: str) -> None:
    data = complete_data(world.call)
    data["budget"]["lines"][0]["amount"] = typed
    app = drafts.application_create(user=world.applicant, data=data)
    assert str(app.budget_lines.order_by("pk").first().amount) == stored
