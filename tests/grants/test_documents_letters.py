"""Documents built from the real models: each template's content, PDF/A, stored hash.

The applications go through the real transitions (`world.advance`), the decision is
signed by the signatory, and the task functions issue the documents in-process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pytest

from grants import policy, services
from grants.documents import issuing
from grants.models import Application, CommitteeSession, Decision, Document, Snapshot
from workflows.models import TransitionLog

NNBSP = "\u202f"
NBSP = "\u00a0"
PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return re.sub(r"[ \n]+", " ", "\n".join(page.extract_text() for page in reader.pages))


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def stored_bytes(document: Document) -> bytes:
    with document.file.open("rb") as handle:
        return handle.read()


def pdfa_identification(content: bytes) -> tuple[list[str | None], list[str | None]]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    stream = reader.root_object["/Metadata"].get_object()
    data = stream.get_data()
    start, end = data.index(b"<rdf:RDF"), data.index(b"</rdf:RDF>") + len(b"</rdf:RDF>")
    root = ET.fromstring(data[start:end])
    parts = [el.get(f"{PDFAID}part") for el in root.iter() if el.get(f"{PDFAID}part")]
    conformances = [el.get(f"{PDFAID}conformance") for el in root.iter() if el.get(f"{PDFAID}conformance")]
    return parts, conformances


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SITE_URL = "https://aap.example.gouv.fr"


def signed_decision(world: Any, outcome: str = "approved", **draft: Any) -> Decision:
    world.signatory.first_name, world.signatory.last_name = "Jeanne", "Martin"
    world.signatory.save()
    app = world.advance(world.draft(**draft), outcome)
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    return Decision.objects.get(pk=decision.pk)


def letter_of(decision: Decision) -> Document:
    assert issuing.issue_decision_letter(decision.pk) == issuing.ISSUED
    return Document.objects.get(decision=decision)


def test_the_approval_letter_shows_reference_amount_rate_and_tranches_from_the_decision(world: Any) -> None:
    decision = signed_decision(world)
    document = letter_of(decision)
    app = decision.application

    assert document.kind == Document.Kind.APPROVAL_LETTER
    assert document.reference == app.reference
    text = pdf_text(stored_bytes(document))
    assert app.reference in text
    assert "Décision attributive de subvention" in text
    assert "Ville de Lyon" in text and "Commune de Saint-Louis (Sénégal)" in text
    assert f"Coût total du projet 100{NNBSP}000,00{NBSP}€" in text
    assert f"Subvention accordée 25{NNBSP}000,00{NBSP}€" in text
    assert f"25{NNBSP}% du coût total" in text
    # budget years 1 and 2 (start 2027): 12 500 € on notification, then 80 % / 20 % of 12 500 €;
    # the "Part" column is each row's share of the granted amount
    assert f"2027 Tranche 1 50{NNBSP}% 12{NNBSP}500,00{NBSP}€ À la notification de la présente décision" in text
    assert (
        f"2028 Tranche 2 40{NNBSP}% 10{NNBSP}000,00{NBSP}€ "
        "Sur présentation du compte-rendu technique et financier intermédiaire"
    ) in text
    assert f"2028 Solde 10{NNBSP}% 2{NNBSP}500,00{NBSP}€ Sur présentation du rapport final" in text
    assert f"Total 25{NNBSP}000,00{NBSP}€" in text
    assert "Jeanne Martin" in text
    assert "Délégué pour l'action extérieure des collectivités territoriales" in text


def test_the_letter_prints_its_verification_code_and_url(world: Any) -> None:
    document = letter_of(signed_decision(world))
    text = pdf_text(stored_bytes(document))
    assert document.verification_code in text
    assert squeezed(f"https://aap.example.gouv.fr/verify/{document.verification_code}/") in squeezed(text)


def test_an_issued_letter_is_pdf_a_3b(world: Any) -> None:
    content = stored_bytes(letter_of(signed_decision(world)))
    assert content.startswith(b"%PDF-")
    assert pdfa_identification(content) == (["3"], ["B"])
    catalog = pypdf.PdfReader(io.BytesIO(content)).root_object
    assert catalog["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"


def test_the_recorded_hash_size_and_pages_are_the_stored_file_s(world: Any) -> None:
    document = letter_of(signed_decision(world))
    content = stored_bytes(document)
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert document.size == len(content)
    assert document.pages == len(pypdf.PdfReader(io.BytesIO(content)).pages)
    assert document.template_version == "approval_letter/2026.1"
    assert document.issued_at is not None


def test_the_stored_file_name_is_generated_never_taken_from_user_text(world: Any) -> None:
    decision = signed_decision(world, title="../../etc/passwd <script>")
    document = letter_of(decision)
    assert re.fullmatch(r"documents/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", document.file.name)


def test_user_text_is_printed_as_text_and_fetches_nothing(world: Any) -> None:
    title = 'Eau <img src="file:///etc/passwd"> & <b>assainissement</b>'
    document = letter_of(signed_decision(world, title=title))
    text = pdf_text(stored_bytes(document))
    assert squeezed('<img src="file:///etc/passwd">') in squeezed(text)
    assert squeezed("<b>assainissement</b>") in squeezed(text)


def test_the_rejection_letter_gives_the_committee_s_reasons(world: Any) -> None:
    decision = signed_decision(world, "rejected")
    document = letter_of(decision)
    assert document.kind == Document.Kind.REJECTION_LETTER
    text = pdf_text(stored_bytes(document))
    assert decision.application.reference in text
    assert "Notification de non-sélection" in text
    assert "Budget insuffisamment justifié." in text
    assert f"25{NNBSP}000,00{NBSP}€ était sollicité" in text
    assert "Jeanne Martin" in text


def test_a_submission_issues_a_receipt_with_the_snapshot_hash(world: Any) -> None:
    app = world.advance(world.draft(), "submitted")
    snapshot = Snapshot.objects.get(application=app)
    assert issuing.issue_receipt(snapshot.pk) == issuing.ISSUED

    receipt = Document.objects.get(snapshot=snapshot)
    assert receipt.kind == Document.Kind.DEPOSIT_RECEIPT
    assert receipt.application_id == app.pk
    assert receipt.issued_at == snapshot.created_at
    text = pdf_text(stored_bytes(receipt))
    assert app.reference in text
    assert "Accusé de dépôt" in text
    assert snapshot.sha256 in squeezed(text)
    assert f"Montant sollicité 25{NNBSP}000,00{NBSP}€" in text
    assert "applicant" in text  # who submitted
    assert "Convention de partenariat" in text


def test_a_resubmission_issues_a_second_receipt_for_its_own_snapshot(world: Any) -> None:
    app = world.advance(world.draft(), "incomplete")
    world.fire(app, "resubmit", world.applicant)
    snapshots = list(Snapshot.objects.filter(application=app).order_by("number"))
    assert len(snapshots) == 2
    for snapshot in snapshots:
        issuing.issue_receipt(snapshot.pk)
    receipts = Document.objects.filter(application=app, kind=Document.Kind.DEPOSIT_RECEIPT)
    assert sorted(r.snapshot_id for r in receipts) == [s.pk for s in snapshots]
    assert len({r.verification_code for r in receipts}) == 2


def test_the_ineligibility_notice_gives_the_instructor_s_reason(world: Any) -> None:
    app = world.advance(world.draft(), "ineligible")
    log = TransitionLog.objects.get(application=app, transition="declare_ineligible")
    assert issuing.issue_ineligibility_notice(str(app.pk), log.pk) == issuing.ISSUED

    notice = Document.objects.get(application=app, kind=Document.Kind.INELIGIBILITY_NOTICE)
    assert notice.issued_at == log.at
    text = pdf_text(stored_bytes(notice))
    assert app.reference in text
    assert "Notification d'irrecevabilité" in text
    assert "Hors champ." in text
    assert "Voies et délais de recours" in text


def test_the_notice_is_issued_once_for_one_declaration(world: Any) -> None:
    app = world.advance(world.draft(), "ineligible")
    log = TransitionLog.objects.get(application=app, transition="declare_ineligible")
    assert issuing.issue_ineligibility_notice(str(app.pk), log.pk) == issuing.ISSUED
    assert issuing.issue_ineligibility_notice(str(app.pk), log.pk) == issuing.ALREADY_ISSUED
    assert Document.objects.filter(application=app, kind=Document.Kind.INELIGIBILITY_NOTICE).count() == 1


def test_an_unknown_application_or_log_issues_nothing(world: Any) -> None:
    assert issuing.issue_ineligibility_notice("not-a-uuid", None) == issuing.MISSING
    app = world.advance(world.draft(), "submitted")
    assert issuing.issue_ineligibility_notice(str(app.pk), None) == issuing.MISSING
    assert issuing.issue_receipt(999_999_999) == issuing.MISSING
    assert not Document.objects.filter(kind=Document.Kind.INELIGIBILITY_NOTICE).exists()


def test_the_committee_booklet_lists_the_agenda_with_budget_opinions_and_scores(world: Any) -> None:
    first = world.advance(world.draft(title="Gestion des déchets à Saint-Louis"), "in_committee")
    second = world.advance(world.draft(title="Eau potable à Thiès"), "in_committee")
    session = CommitteeSession.objects.get(pk=world.session.pk)

    booklet = issuing.issue_committee_booklet(session.pk)
    assert booklet is not None
    assert booklet.kind == Document.Kind.COMMITTEE_BOOKLET
    assert booklet.session_id == session.pk
    assert booklet.application_id is None
    text = pdf_text(stored_bytes(booklet))
    assert "DOCUMENT CONFIDENTIEL" in text
    assert first.reference in text and second.reference in text
    assert "Eau potable à Thiès" in text
    assert f"Coût total du projet 100{NNBSP}000,00{NBSP}€" in text
    assert "Poste diplomatique — Sénégal Favorable" in text
    assert "note moyenne 4 / 5" in text
    assert "Pertinence au regard des ODD" in text


def test_each_booklet_request_issues_a_new_booklet_and_the_latest_is_shown(world: Any) -> None:
    world.advance(world.draft(), "in_committee")
    older = issuing.issue_committee_booklet(world.session.pk)
    newer = issuing.issue_committee_booklet(world.session.pk)
    assert older is not None and newer is not None and older.pk != newer.pk
    assert issuing.latest_booklet(world.session) == newer
    assert issuing.latest_booklet(world.session.pk) == newer
    assert Document.objects.get(pk=older.pk).sha256 == older.sha256  # the older one stays as issued


def test_a_booklet_is_never_listed_among_an_application_s_documents(world: Any) -> None:
    app = world.advance(world.draft(), "in_committee")
    issuing.issue_committee_booklet(world.session.pk)
    snapshot = Snapshot.objects.get(application=app)
    issuing.issue_receipt(snapshot.pk)
    for reader in (world.instructor, world.secretary, world.applicant):
        assert [d.kind for d in policy.application_documents(reader, Application.objects.get(pk=app.pk))] == [
            Document.Kind.DEPOSIT_RECEIPT
        ]


def test_an_unknown_session_issues_no_booklet(world: Any) -> None:
    assert issuing.issue_committee_booklet(999_999) is None


def test_the_payment_schedule_is_the_decided_tranches_with_calendar_years() -> None:
    tranches = [
        {"number": 1, "year": 1, "amount": "12000.00", "condition": "signature"},
        {"number": 2, "year": 2, "amount": "12000.00", "condition": "interim_report"},
        {"number": 3, "year": 3, "amount": "8000.00", "condition": "interim_report"},
        {"number": 4, "year": 3, "amount": "2000.00", "condition": "final_report"},
    ]
    rows = issuing.payment_schedule(tranches, dt.date(2027, 3, 1))
    assert [(r["year"], r["label"], r["amount"], r["is_last_tranche"], r["is_balance"]) for r in rows] == [
        (2027, "Tranche 1", Decimal("12000.00"), False, False),
        (2028, "Tranche 2", Decimal("12000.00"), False, False),
        (2029, "Tranche 3", Decimal("8000.00"), True, False),
        (2029, "Solde", Decimal("2000.00"), False, True),
    ]
    assert [r["share"] for r in rows] == [Decimal(12) / 34, Decimal(12) / 34, Decimal(8) / 34, Decimal(2) / 34]
    assert sum(r["amount"] for r in rows) == Decimal("34000.00")


def test_verification_codes_are_unguessable_and_fit_the_column() -> None:
    codes = {issuing.new_verification_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){5}", code)
        assert len(code) <= Document._meta.get_field("verification_code").max_length
