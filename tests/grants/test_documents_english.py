"""The English courtesy copy of the approval letter, for the foreign partner authorities.

Built from the real models: the application goes through the real transitions, the
decision is signed, the French letter is issued (delivery), then the English copy.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pytest
from django.test import Client
from django.urls import reverse

from config.celery import app as celery_app
from grants import policy, services, tasks
from grants.documents import issuing
from grants.documents.pdf import REQUIRED_CONTEXT, TEMPLATE_VERSION
from grants.models import Decision, Document
from grants.templatetags.english_format import date_en, datetime_en, euros_en, percent_en

PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return re.sub(r"[ \n]+", " ", "\n".join(page.extract_text() for page in reader.pages))


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdfa_identification(content: bytes) -> tuple[list[str | None], list[str | None]]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    data = reader.root_object["/Metadata"].get_object().get_data()  # type: ignore[index,union-attr]
    root = ET.fromstring(data[data.index(b"<rdf:RDF") : data.index(b"</rdf:RDF>") + len(b"</rdf:RDF>")])
    parts = [el.get(f"{PDFAID}part") for el in root.iter() if el.get(f"{PDFAID}part")]
    conformances = [el.get(f"{PDFAID}conformance") for el in root.iter() if el.get(f"{PDFAID}conformance")]
    return parts, conformances


def stored_bytes(document: Document) -> bytes:
    with document.file.open("rb") as handle:
        return handle.read()


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SITE_URL = "https://aap.example.gouv.fr"


def delivered_decision(world: Any, outcome: str = "approved") -> Decision:
    world.signatory.first_name, world.signatory.last_name = "Jeanne", "Martin"
    world.signatory.save()
    app = world.advance(world.draft(), outcome)
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    assert issuing.issue_decision_letter(decision.pk) == issuing.ISSUED
    return Decision.objects.select_related("document", "application").get(pk=decision.pk)


def english_copy(decision: Decision) -> Document:
    assert issuing.issue_english_copy(decision.pk) == issuing.ISSUED
    return Document.objects.get(application=decision.application, kind=Document.Kind.APPROVAL_LETTER_EN)


# --- formatting ---------------------------------------------------------------------------


def test_amounts_rates_and_dates_read_the_english_way() -> None:
    assert euros_en(Decimal("70000")) == "€70,000.00"
    assert euros_en(Decimal("1234567.895")) == "€1,234,567.90"
    assert euros_en(Decimal("-12.5")) == "-€12.50"
    assert euros_en(None) == "—"
    assert percent_en(Decimal("0.25")) == "25%"
    assert percent_en(Decimal("0.725")) == "72.5%"
    assert date_en(dt.date(2026, 11, 26)) == "26 November 2026"
    assert date_en(dt.date(2026, 11, 1)) == "1 November 2026"
    # 23:30 UTC on 30 June is already 1 July in Paris
    assert date_en(dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC)) == "1 July 2026"
    assert datetime_en(dt.datetime(2026, 7, 14, 8, 5, tzinfo=dt.UTC)) == "14 July 2026, 10:05 (Paris time)"


def test_it_refuses_floats_and_naive_datetimes() -> None:
    with pytest.raises(TypeError):
        euros_en(70000.0)
    with pytest.raises(ValueError):
        percent_en(Decimal("25"))
    with pytest.raises(ValueError):
        date_en(dt.datetime(2026, 11, 26, 12, 0))


def test_the_template_is_registered_with_its_version_and_required_keys() -> None:
    assert TEMPLATE_VERSION["pdf/approval_letter_en.html"] == "approval_letter_en/2026.1"
    required = REQUIRED_CONTEXT["pdf/approval_letter_en.html"]
    assert set(REQUIRED_CONTEXT["pdf/approval_letter.html"]) < set(required)
    assert {"authentic_code", "authentic_issued_at"} <= set(required)


# --- the document -------------------------------------------------------------------------


def test_the_english_copy_shows_the_banner_reference_amount_and_tranches(world: Any) -> None:
    decision = delivered_decision(world)
    french = decision.document
    document = english_copy(decision)

    assert document.decision_id is None and document.application_id == decision.application_id
    assert document.reference == decision.application.reference
    assert document.verification_code != french.verification_code
    assert document.template_version == "approval_letter_en/2026.1"
    text = pdf_text(stored_bytes(document))
    assert "Courtesy translation" in text
    assert f"only the French decision of {date_en(french.issued_at)}" in text
    assert squeezed(french.verification_code) in squeezed(text)
    assert "is authentic" in text
    assert "Ministry for Europe and Foreign Affairs" in text
    assert "Delegation for the External Action of Local Authorities" in text
    assert decision.application.reference in text
    assert "Grant awarded €25,000.00" in text
    assert "Total project cost €100,000.00" in text
    assert "25% of the total cost" in text
    assert "Commune de Saint-Louis (Senegal)" in text
    # budget years 1 and 2 (start 2027): 12,500 on notification, then 80 % / 20 % of 12,500
    assert "2027 Instalment 1 50% €12,500.00 On notification of this decision" in text
    assert "2028 Instalment 2 40% €10,000.00 On submission of the interim technical and financial report" in text
    assert "2028 Balance 10% €2,500.00 On submission of the final report" in text
    assert "Total €25,000.00" in text
    assert "Jeanne Martin" in text
    assert squeezed(f"https://aap.example.gouv.fr/verify/{document.verification_code}/") in squeezed(text)
    assert "Décision attributive" not in text and "€ " not in text


def test_the_english_copy_is_pdf_a_3b(world: Any) -> None:
    content = stored_bytes(english_copy(delivered_decision(world)))
    assert content.startswith(b"%PDF-")
    assert pdfa_identification(content) == (["3"], ["B"])
    catalog = pypdf.PdfReader(io.BytesIO(content)).root_object
    assert catalog["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"  # type: ignore[index]
    assert catalog["/Lang"] == "en"


def test_the_user_text_is_escaped_not_interpreted(world: Any) -> None:
    decision = delivered_decision(world)
    app = decision.application
    app.title = '<img src="http://evil.example/x.png">Water & <b>sanitation</b>'
    app.save(update_fields=["title"])
    decision.refresh_from_db()
    text = pdf_text(stored_bytes(english_copy(decision)))
    assert "Water & <b>sanitation</b>" in text


def test_issuing_twice_stores_one_english_copy(world: Any) -> None:
    decision = delivered_decision(world)
    english_copy(decision)
    assert issuing.issue_english_copy(decision.pk) == issuing.ALREADY_ISSUED
    assert Document.objects.filter(kind=Document.Kind.APPROVAL_LETTER_EN).count() == 1


def test_a_recorded_decision_still_gets_its_english_copy(world: Any) -> None:
    decision = delivered_decision(world)
    services.decision_record(decision_id=decision.pk, user=world.finance, commitment_number="EJ-2026-0001")
    assert issuing.issue_english_copy(decision.pk) == issuing.ISSUED


def test_a_rejected_decision_gets_no_english_copy(world: Any) -> None:
    decision = delivered_decision(world, "rejected")
    assert issuing.issue_english_copy(decision.pk) == issuing.NOT_APPLICABLE
    assert not Document.objects.filter(kind=Document.Kind.APPROVAL_LETTER_EN).exists()


def test_a_decision_not_yet_delivered_gets_no_english_copy(world: Any) -> None:
    app = world.advance(world.draft(), "approved")
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    assert issuing.issue_english_copy(decision.pk) == issuing.NOT_APPLICABLE
    assert issuing.issue_english_copy(999_999) == issuing.MISSING
    assert not Document.objects.filter(kind=Document.Kind.APPROVAL_LETTER_EN).exists()


# --- enqueueing ---------------------------------------------------------------------------


def test_delivering_an_approval_letter_enqueues_the_english_copy_after_commit(
    world: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    app = world.advance(world.draft(), "approved")
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    sent: list[tuple[str, list[Any]]] = []

    def apply_async(args: Any = None, **options: Any) -> None:
        sent.append((tasks.render_english_copy.name, json.loads(json.dumps(list(args or ())))))

    monkeypatch.setattr(tasks.render_english_copy, "apply_async", apply_async)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        issuing.issue_decision_letter(decision.pk)
        assert sent == []
    for callback in callbacks:
        callback()
    assert sent == [("grants.tasks.render_english_copy", [decision.pk])]


def test_delivering_a_rejection_letter_enqueues_no_english_copy(
    world: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    app = world.advance(world.draft(), "rejected")
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    sent: list[Any] = []
    monkeypatch.setattr(tasks.render_english_copy, "apply_async", lambda *a, **k: sent.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        issuing.issue_decision_letter(decision.pk)
    assert sent == []


def test_the_english_copy_task_runs_on_the_pdf_queue_and_acks_late() -> None:
    route = celery_app.amqp.router.route({}, tasks.render_english_copy.name, args=(1,))
    assert route["queue"].name == "pdf"
    assert tasks.render_english_copy.acks_late is True
    assert tasks.render_english_copy.max_retries == tasks.MAX_RETRIES


# --- access -------------------------------------------------------------------------------


def test_the_english_copy_is_among_the_application_s_documents(world: Any) -> None:
    decision = delivered_decision(world)
    document = english_copy(decision)
    assert document in policy.application_documents(world.applicant, decision.application)
    assert document in policy.application_documents(world.instructor, decision.application)


def test_the_applicant_can_download_the_english_copy(client: Client, world: Any) -> None:
    decision = delivered_decision(world)
    document = english_copy(decision)
    client.force_login(world.applicant)
    url = reverse("applicant-document", kwargs={"pk": decision.application_id, "document_id": document.pk})
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == stored_bytes(document)  # type: ignore[attr-defined]


def test_another_applicant_cannot_download_the_english_copy(client: Client, world: Any) -> None:
    decision = delivered_decision(world)
    document = english_copy(decision)
    client.force_login(world.applicant2)
    url = reverse("applicant-document", kwargs={"pk": decision.application_id, "document_id": document.pk})
    assert client.get(url).status_code == 404


def test_the_english_copy_can_be_verified_with_its_own_code(client: Client, world: Any) -> None:
    document = english_copy(delivered_decision(world))
    response = client.get(f"/verify/{document.verification_code}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Lettre de notification (traduction anglaise)" in page
    assert document.reference in page and document.sha256 in page
    data = client.get(f"/verify/{document.verification_code}/?format=json").json()
    assert data["kind"] == "approval_letter_en"


def test_the_sweep_enqueues_a_lost_english_copy_again(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from django.utils import timezone

    from grants import tasks
    from grants.models import Decision

    decision = delivered_decision(world)
    Decision.objects.filter(pk=decision.pk).update(delivered_at=timezone.now() - dt.timedelta(hours=1))
    sent: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_english_copy", sent.append)
    monkeypatch.setattr(tasks, "enqueue_decision_render", lambda *a: None)
    monkeypatch.setattr(tasks, "enqueue_receipt", lambda *a: None)
    assert tasks.sweep_documents()["english_copies"] == 1
    assert sent == [decision.pk]
    english_copy(decision)
    sent.clear()
    assert tasks.sweep_documents()["english_copies"] == 0
    assert sent == []
