"""The signatory signs decisions (one or many); finance downloads the letter, records the
commitment number and exports the decisions in CSV, XLSX and ODS."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

from django.core.files.base import ContentFile
from django.urls import reverse

from grants import services
from grants.models import Application, Decision, Document, Organisation, Role
from tests.factories import PDF_BYTES, CallFactory, UserFactory, World, grant

S = Application.State


def _decision(world: World, **overrides: Any) -> Decision:
    app = world.advance(world.draft(**overrides), S.APPROVED)
    return Decision.objects.get(application=app)


def _deliver(decision: Decision, *, with_pdf: bool = True) -> Decision:
    decision.refresh_from_db()
    if decision.state == Decision.State.DRAFT:
        raise AssertionError("sign first")
    if with_pdf:
        Document.objects.create(
            kind=Document.Kind.APPROVAL_LETTER,
            application=decision.application,
            decision=decision,
            reference=decision.application.reference,
            file=ContentFile(PDF_BYTES, name="letter.pdf"),
            sha256=hashlib.sha256(PDF_BYTES).hexdigest(),
            size=len(PDF_BYTES),
            pages=1,
            template_version="test",
            verification_code=f"code{decision.pk}",
        )
    return services.decision_deliver(decision_id=decision.pk)


def _signed_and_delivered(world: World, **overrides: Any) -> Decision:
    decision = _decision(world, **overrides)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    return _deliver(decision)


# --- signatory ------------------------------------------------------------------------------


def test_the_signatory_lists_the_decisions_to_sign(world: World, client) -> None:
    decision = _decision(world)
    client.force_login(world.signatory)
    html = client.get(reverse("signatory")).content.decode()
    assert decision.application.reference in html
    assert "25\u202f000,00\u00a0€" in html
    assert f'name="decision" value="{decision.pk}"' in html


def test_the_signatory_signs_several_decisions_at_once(world: World, client) -> None:
    first, second = _decision(world), _decision(world)
    client.force_login(world.signatory)
    response = client.post(reverse("signatory-sign"), {"decision": [first.pk, second.pk], "confirm": "1"})
    assert response.status_code == 302
    for decision in (first, second):
        decision.refresh_from_db()
        assert decision.state == Decision.State.SIGNED
        assert decision.signed_by == world.signatory
    html = client.get(reverse("signatory")).content.decode()
    assert "2 décisions signées" in html
    assert "Lettre en préparation" in html
    assert 'hx-trigger="every 3s"' in html  # the progress polls while letters are rendered


def test_each_decision_is_reported_one_refused_does_not_hold_back_the_others(world: World, client) -> None:
    done, pending = _decision(world), _decision(world)
    services.decision_sign(decision_id=done.pk, user=world.signatory)
    client.force_login(world.signatory)
    response = client.post(reverse("signatory-sign"), {"decision": [done.pk, pending.pk, 999999, "x"], "confirm": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert f"✗ non signée — {done.application.reference}" in html
    assert f"✓ signée — {pending.application.reference}" in html
    assert html.count("Décision introuvable") == 2
    pending.refresh_from_db()
    assert pending.state == Decision.State.SIGNED


def test_signing_nothing_or_only_refused_decisions(world: World, client) -> None:
    decision = _decision(world)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    client.force_login(world.signatory)
    assert client.post(reverse("signatory-sign"), {}).status_code == 400
    assert client.post(reverse("signatory-sign"), {"decision": [decision.pk], "confirm": "1"}).status_code == 409


def test_the_render_progress_shows_delivery_the_letter_and_errors(world: World, client) -> None:
    rendered, failing = _decision(world), _decision(world)
    for decision in (rendered, failing):
        services.decision_sign(decision_id=decision.pk, user=world.signatory)
    _deliver(rendered)
    Decision.objects.filter(pk=failing.pk).update(render_attempts=3, render_error="Police introuvable")
    client.force_login(world.signatory)
    html = client.get(reverse("signatory-progress")).content.decode()
    assert "Notifiée" in html
    assert reverse("staff-decision-pdf", args=[rendered.pk]) in html
    assert "Échec de la préparation (3 tentatives) : Police introuvable" in html
    assert 'hx-trigger="every 3s"' in html
    _deliver(failing, with_pdf=False)
    html = client.get(reverse("signatory-progress")).content.decode()
    assert "hx-trigger" not in html  # every letter delivered: polling stops


def test_the_signatory_screens_are_refused_to_other_roles(world: World, client) -> None:
    decision = _decision(world)
    for user in (world.applicant, world.instructor, world.embassy_sn, world.finance):
        client.force_login(user)
        assert client.get(reverse("signatory")).status_code == 403
        assert client.post(reverse("signatory-sign"), {"decision": [decision.pk], "confirm": "1"}).status_code == 403
    decision.refresh_from_db()
    assert decision.state == Decision.State.DRAFT


def test_a_signatory_of_another_call_neither_sees_nor_signs_the_decision(world: World, client) -> None:
    decision = _decision(world)
    scoped = UserFactory(username="signatory-other")
    grant(scoped, Role.SIGNATORY, call=CallFactory())
    client.force_login(scoped)
    assert decision.application.reference not in client.get(reverse("signatory")).content.decode()
    response = client.post(reverse("signatory-sign"), {"decision": [decision.pk], "confirm": "1"})
    assert "Décision introuvable" in response.content.decode()
    decision.refresh_from_db()
    assert decision.state == Decision.State.DRAFT


# --- finance --------------------------------------------------------------------------------


def test_finance_lists_delivered_decisions_with_their_letter(world: World, client) -> None:
    delivered = _signed_and_delivered(world)
    unsigned = _decision(world)
    client.force_login(world.finance)
    html = client.get(reverse("finance")).content.decode()
    assert delivered.application.reference in html
    assert unsigned.application.reference not in html
    assert reverse("staff-decision-pdf", args=[delivered.pk]) in html
    response = client.get(reverse("staff-decision-pdf", args=[delivered.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="{delivered.application.reference}.pdf"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == PDF_BYTES


def test_the_letter_of_a_decision_the_user_may_not_see_is_404(world: World, client) -> None:
    delivered = _signed_and_delivered(world)
    unsigned = _decision(world)
    client.force_login(world.finance)
    assert client.get(reverse("staff-decision-pdf", args=[unsigned.pk])).status_code == 404
    client.force_login(world.embassy_sn)
    assert client.get(reverse("staff-decision-pdf", args=[delivered.pk])).status_code == 403


def test_finance_records_the_commitment_number(world: World, client) -> None:
    decision = _signed_and_delivered(world)
    client.force_login(world.finance)
    url = reverse("finance-record", args=[decision.pk])
    response = client.post(url, {f"d{decision.pk}-commitment_number": "EJ 2026/001"})
    assert response.status_code == 400
    assert "Numéro d&#x27;engagement invalide" in response.content.decode()
    response = client.post(url, {f"d{decision.pk}-commitment_number": ""})
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in response.content.decode()
    response = client.post(url, {f"d{decision.pk}-commitment_number": "EJ-2026-0001"})
    assert response.status_code == 302
    decision.refresh_from_db()
    assert (decision.state, decision.commitment_number) == (Decision.State.RECORDED, "EJ-2026-0001")
    html = client.get(reverse("finance")).content.decode()
    assert f"Engagement EJ-2026-0001 enregistré pour {decision.application.reference}." in html
    assert f'id="decision-{decision.pk}"' not in html  # no longer to record
    html = client.get(reverse("finance"), {"etat": "all"}).content.decode()
    assert "EJ-2026-0001" in html
    assert client.post(url, {f"d{decision.pk}-commitment_number": "EJ-2"}).status_code == 409


def test_recording_a_commitment_is_refused_to_other_roles_and_for_undelivered_decisions(world: World, client) -> None:
    signed = _decision(world)
    services.decision_sign(decision_id=signed.pk, user=world.signatory)
    client.force_login(world.finance)
    url = reverse("finance-record", args=[signed.pk])
    assert client.post(url, {f"d{signed.pk}-commitment_number": "EJ-1"}).status_code == 404
    client.force_login(world.signatory)
    assert client.post(url, {f"d{signed.pk}-commitment_number": "EJ-1"}).status_code == 403
    assert client.get(reverse("finance")).status_code == 403


def _export(client, fmt: str) -> bytes:
    response = client.get(reverse("finance-export", args=[fmt]), {"etat": "all"})
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_csv_export_carries_exact_decimal_amounts(world: World, client) -> None:
    decision = _decision(world)
    Decision.objects.filter(pk=decision.pk).update(amount=Decimal("12345.67"))
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    _deliver(decision)
    services.decision_record(decision_id=decision.pk, user=world.finance, commitment_number="EJ-7")
    client.force_login(world.finance)
    content = _export(client, "csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert len(rows) == 1
    row = rows[0]
    assert row["Référence"] == decision.application.reference
    assert row["Collectivité chef de file"] == "Ville de Lyon"
    assert row["Pays"] == "SN"
    assert row["Issue"] == "Retenu"
    assert row["Montant attribué (EUR)"] == "12345.67"
    assert row["Taux de cofinancement"] == "0.250000"
    assert row["État"] == "Engagée"
    assert row["Numéro d'engagement"] == "EJ-7"
    assert row["Signée le"].endswith("+01:00") or row["Signée le"].endswith("+02:00")
    assert "à la signature" in row["Échéancier"]


def test_the_csv_export_neutralises_formulas_in_user_text(world: World, client) -> None:
    Organisation.objects.filter(pk=world.lyon.pk).update(name='=HYPERLINK("http://evil","x")')
    _signed_and_delivered(world)
    client.force_login(world.finance)
    content = _export(client, "csv").decode("utf-8-sig")
    row = next(csv.DictReader(io.StringIO(content)))
    assert row["Collectivité chef de file"] == '\'=HYPERLINK("http://evil","x")'


def test_the_xlsx_export_writes_decimals_exactly_with_a_number_format(world: World, client) -> None:
    decision = _decision(world)
    Decision.objects.filter(pk=decision.pk).update(amount=Decimal("12345.67"))
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    _deliver(decision)
    client.force_login(world.finance)
    with zipfile.ZipFile(io.BytesIO(_export(client, "xlsx"))) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
        styles = archive.read("xl/styles.xml").decode()
    amount_cell = re.search(r'<c r="F2" s="(\d+)" t="n"><v>([^<]+)</v>', sheet)
    assert amount_cell is not None
    assert amount_cell.group(2) == "12345.67"  # the Decimal's text, never a float's
    assert re.search(r'<c r="G2" s="\d+" t="n"><v>0.250000</v>', sheet)
    assert "#,##0.00" in styles and "€" in styles
    from openpyxl import load_workbook

    sheet_ = load_workbook(io.BytesIO(_export(client, "xlsx"))).active
    assert sheet_["A2"].value == decision.application.reference
    assert sheet_["F2"].number_format == '#,##0.00\\ "€"'


def test_the_ods_export_uses_currency_cells_with_the_decimal_string(world: World, client) -> None:
    decision = _decision(world)
    Decision.objects.filter(pk=decision.pk).update(amount=Decimal("12345.67"))
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    _deliver(decision)
    client.force_login(world.finance)
    with zipfile.ZipFile(io.BytesIO(_export(client, "ods"))) as archive:
        content = archive.read("content.xml")
        assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
    ns = {
        "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
        "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    }
    root = ElementTree.fromstring(content)
    cells = root.findall(".//table:table-cell", ns)
    currency = [c for c in cells if c.get(f"{{{ns['office']}}}value-type") == "currency"]
    assert len(currency) == 1
    assert currency[0].get(f"{{{ns['office']}}}value") == "12345.67"
    assert currency[0].get(f"{{{ns['office']}}}currency") == "EUR"
    assert "12\u202f345,67\u00a0€" in content.decode()


def test_exports_are_refused_to_other_roles_and_unknown_formats_are_404(world: World, client) -> None:
    client.force_login(world.signatory)
    assert client.get(reverse("finance-export", args=["csv"])).status_code == 403
    client.force_login(world.finance)
    assert client.get(reverse("finance-export", args=["pdf"])).status_code == 404


def test_exports_only_carry_the_decisions_finance_may_see(world: World, client) -> None:
    delivered = _signed_and_delivered(world)
    unsigned = _decision(world)
    client.force_login(world.finance)
    content = _export(client, "csv").decode("utf-8-sig")
    assert delivered.application.reference in content
    assert unsigned.application.reference not in content
