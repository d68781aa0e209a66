"""PDF rendering layer: templates, French formatting, PDF/A metadata, URL-fetch lockdown.

No database: the templates take plain contexts (dicts, strings, dates, Decimals).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import re
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
import pytest

from grants import budget
from grants.documents import issuing, pdf
from grants.templatetags.french_format import date_fr, datetime_fr, decimal_fr, euros, percent_fr

PARIS = ZoneInfo("Europe/Paris")
NNBSP = "\u202f"
NBSP = "\u00a0"

TEMPLATES = sorted(pdf.TEMPLATE_VERSION)


# --- Helpers --------------------------------------------------------------------------


def pdf_text(content: bytes) -> str:
    """The PDF's text, ASCII spaces and line breaks collapsed (no-break spaces kept)."""
    reader = pypdf.PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"[ \n]+", " ", text)


def squeezed(text: str) -> str:
    """Without any whitespace at all: compares text that line wrapping may have cut."""
    return re.sub(r"\s+", "", text)


def xmp_root(content: bytes) -> ET.Element:
    reader = pypdf.PdfReader(io.BytesIO(content))
    stream = reader.root_object["/Metadata"].get_object()
    assert isinstance(stream, pypdf.generic.StreamObject)
    data = stream.get_data()
    start, end = data.index(b"<rdf:RDF"), data.index(b"</rdf:RDF>") + len(b"</rdf:RDF>")
    return ET.fromstring(data[start:end])


PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"


def common(reference: str = "AAP-2026-GEN-00012") -> dict[str, Any]:
    return {
        "verification_code": "7KQ2-M9XD-4TPA",
        "verification_url": "https://appels-a-projets.example.gouv.fr/verify/7KQ2-M9XD-4TPA/",
        "reference": reference,
        "project_title": "Accès à l'eau potable et assainissement dans les quartiers de Ziguinchor",
        "lead_authority": {
            "name": "Région Auvergne-Rhône-Alpes",
            "address": "1 esplanade François Mitterrand\nCS 20033\n69269 Lyon Cedex 02",
        },
        "call": {"code": "AAP-2026-GEN", "title": "Appel à projets généraliste 2026"},
        "issued_at": dt.datetime(2026, 11, 26, 10, 30, tzinfo=PARIS),
        "signatory": {
            "name": "Jeanne Martin",
            "title": "La déléguée pour l'action extérieure des collectivités territoriales",
            "signed_at": dt.date(2026, 11, 26),
        },
    }


def approval_context(**overrides: Any) -> dict[str, Any]:
    context = common()
    context.update(
        co_applicants=[{"name": "Ville de Lyon"}],
        partners=[
            {"name": "Commune de Ziguinchor", "country": "Sénégal"},
            {"name": "Conseil départemental de Bignona", "country": "Sénégal"},
        ],
        countries=["Sénégal"],
        start_date=dt.date(2027, 1, 1),
        duration_months=36,
        committee_date=dt.date(2026, 11, 12),
        total_budget=Decimal("200000.00"),
        requested_amount=Decimal("140000.00"),
        granted_amount=Decimal("70000.00"),
        granted_rate=Decimal("0.35"),
        payment_schedule=issuing.payment_schedule(
            budget.tranche_schedule(
                Decimal("70000"), {1: Decimal("25000"), 2: Decimal("25000"), 3: Decimal("20000")}, exact=True
            ),
            dt.date(2027, 1, 1),
        ),
        obligations=["Associer la commune de Ziguinchor au comité de pilotage annuel."],
    )
    context.update(overrides)
    return context


def rejection_context() -> dict[str, Any]:
    context = common("AAP-2026-GEN-00031")
    context.update(
        committee_date=dt.date(2026, 11, 12),
        requested_amount=Decimal("95000"),
        reasons=(
            "Le plan de financement ne démontre pas la participation effective du partenaire étranger.\n"
            "Les indicateurs de suivi et d'évaluation sont insuffisamment définis."
        ),
    )
    return context


def ineligibility_context() -> dict[str, Any]:
    context = common("AAP-2026-GEN-00044")
    context.update(
        submitted_at=dt.datetime(2026, 10, 3, 16, 42, tzinfo=dt.UTC),
        reason="La délibération du conseil régional autorisant le projet n'a pas été jointe au dossier.",
    )
    return context


def receipt_context() -> dict[str, Any]:
    context = common("AAP-2026-GEN-00012")
    del context["signatory"]
    submitted = dt.datetime(2026, 9, 14, 9, 5, 12, tzinfo=dt.UTC)
    context.update(
        issued_at=submitted,
        submitted_at=submitted,
        submitted_by="Claire Dubois",
        total_budget=Decimal("200000"),
        requested_amount=Decimal("140000"),
        snapshot_sha256=hashlib.sha256(b"snapshot of AAP-2026-GEN-00012").hexdigest(),
        attachments=[
            {
                "kind_label": "Convention de partenariat",
                "filename": "convention-ziguinchor-signée.pdf",
                "sha256": hashlib.sha256(b"convention").hexdigest(),
            },
            {
                "kind_label": "Délibération",
                "filename": "deliberation-2026-0412.pdf",
                "sha256": hashlib.sha256(b"deliberation").hexdigest(),
            },
        ],
    )
    return context


def booklet_context() -> dict[str, Any]:
    def application(index: int, title: str, country: str) -> dict[str, Any]:
        return {
            "reference": f"AAP-2026-GEN-{index:05d}",
            "project_title": title,
            "lead_authority": {"name": f"Communauté d'agglomération n° {index}"},
            "countries": [country],
            "partners": [{"name": f"Municipalité partenaire {index}", "country": country}],
            "summary": "Renforcement des capacités des services techniques municipaux.\nFormation de 40 agents.",
            "total_budget": Decimal("150000"),
            "requested_amount": Decimal("75000"),
            "requested_rate": Decimal("0.5"),
            "rate_cap": Decimal("0.5"),
            "funding": {
                "own_cash": Decimal("30000"),
                "own_in_kind": Decimal("15000"),
                "partner": Decimal("20000"),
                "other": Decimal("10000"),
                "requested": Decimal("75000"),
            },
            "budget_lines": [
                {"year": 2027, "category": "Formation", "label": "Sessions de formation", "amount": Decimal("90000")},
                {"year": 2028, "category": "Équipement", "label": "Matériel de mesure", "amount": Decimal("60000")},
            ],
            "opinions": [
                {
                    "authority": f"Ambassade de France — {country}",
                    "verdict": "favorable",
                    "comment": "Projet cohérent avec les priorités du poste.",
                    "given_at": dt.date(2026, 10, 20),
                },
                {"authority": "Préfecture de région", "verdict": None, "comment": "", "given_at": None},
            ],
            "reviews": [
                {
                    "reviewer": "Évaluateur 1",
                    "recommendation": "yes",
                    "comment": "Partenariat solide.",
                    "scores": [
                        {"label": "Pertinence ODD", "weight": 2, "score": 4},
                        {"label": "Qualité du partenariat", "weight": 1, "score": 5},
                    ],
                    "weighted_score": Decimal("4.333"),
                }
            ],
            "average_score": Decimal("4.33"),
        }

    return {
        "verification_code": "BOOK-2026-11",
        "verification_url": "https://appels-a-projets.example.gouv.fr/verify/BOOK-2026-11/",
        "issued_at": dt.date(2026, 11, 5),
        "session": {"date": dt.date(2026, 11, 12), "name": "Comité n° 2", "place": "Paris, salle Europe"},
        "call": {"code": "AAP-2026-GEN", "title": "Appel à projets généraliste 2026"},
        "applications": [
            application(12, "Gestion des déchets à Saint-Louis", "Sénégal"),
            application(17, "Jeunesse et culture à Fès", "Maroc"),
        ],
    }


def amendment_context() -> dict[str, Any]:
    context = common("AAP-2026-GEN-00012")
    context.update(
        number=2,
        kind="budget_change",
        kind_label="Modification du budget",
        commitment_number="EJ-2026-0042",
        reason="Les formations remplacent une partie des missions.",
        lines=[
            {"year": 1, "category_label": "Personnel", "label": "Expertise", "amount": Decimal("20000.00")},
            {"year": 1, "category_label": "Formation", "label": "Ateliers", "amount": Decimal("30000.00")},
        ],
        total=Decimal("50000.00"),
        signed_total=Decimal("50000.00"),
    )
    return context


def summary_context() -> dict[str, Any]:
    context = common("AAP-2026-GEN-00031")
    del context["signatory"]
    context.update(
        outcome="rejected",
        committee_date=dt.date(2026, 11, 12),
        criteria=[
            {"label": "Pertinence au regard des ODD", "label_en": "Relevance to the SDGs", "weight": 2, "score": 3},
            {"label": "Qualité du partenariat", "weight": 1, "score": 2},
            {"label": "Pérennité", "weight": 1, "score": None},
        ],
        weighted_score=Decimal("2.7"),
        score_source="consensus",
        comment="Le partenariat mérite d'être consolidé avant une nouvelle candidature.",
        reasons="Le plan de financement ne démontre pas la participation effective du partenaire étranger.",
        letter_code="ABCD-EFGH-IJKL-MNOP-QRST-UVWX",
    )
    return context


CONTEXTS = {
    "pdf/amendment.html": amendment_context,
    "pdf/evaluation_summary.html": summary_context,
    "pdf/approval_letter.html": approval_context,
    "pdf/rejection_letter.html": rejection_context,
    "pdf/ineligibility_notice.html": ineligibility_context,
    "pdf/deposit_receipt.html": receipt_context,
    "pdf/committee_booklet.html": booklet_context,
    "pdf/approval_letter_en.html": lambda: {
        **approval_context(),
        "authentic_code": "ABCD-EFGH-IJKL-MNOP-QRST-UVWX",
        "authentic_issued_at": dt.date(2026, 11, 26),
    },
}
# The English courtesy copy for foreign partners; every other document is French.
ENGLISH = {"pdf/approval_letter_en.html"}


@pytest.fixture(scope="module")
def rendered() -> dict[str, pdf.RenderedPdf]:
    return {name: pdf.render_pdf(name, CONTEXTS[name]()) for name in TEMPLATES}


# --- Filters --------------------------------------------------------------------------


def test_euros_exact_french_format() -> None:
    assert euros(Decimal("70000")) == f"70{NNBSP}000,00{NBSP}€"
    assert euros(Decimal("1234567.891")) == f"1{NNBSP}234{NNBSP}567,89{NBSP}€"
    assert euros(Decimal("0.005")) == f"0,01{NBSP}€"  # half-up to the cent
    assert euros(Decimal("999.99")) == f"999,99{NBSP}€"
    assert euros(0) == f"0,00{NBSP}€"
    assert euros("12500.5") == f"12{NNBSP}500,50{NBSP}€"


def test_euros_negative_and_missing() -> None:
    assert euros(Decimal("-1500.5")) == f"-1{NNBSP}500,50{NBSP}€"
    assert euros(Decimal("-0.001")) == f"0,00{NBSP}€"  # no "-0,00"
    assert euros(None) == "—"
    assert euros("") == "—"


@pytest.mark.parametrize("bad", [70000.0, 0.1, True])
def test_euros_refuses_floats_and_bools(bad: object) -> None:
    with pytest.raises(TypeError):
        euros(bad)


def test_euros_refuses_non_numbers() -> None:
    with pytest.raises(ValueError):
        euros("soixante-dix")
    with pytest.raises(ValueError):
        euros(Decimal("NaN"))


def test_percent_fr_takes_a_fraction() -> None:
    assert percent_fr(Decimal("0.7")) == f"70{NNBSP}%"
    assert percent_fr(Decimal("0.725")) == f"72,5{NNBSP}%"
    assert percent_fr(Decimal("0.33333")) == f"33,33{NNBSP}%"
    assert percent_fr(Decimal("1")) == f"100{NNBSP}%"
    assert percent_fr(0) == f"0{NNBSP}%"
    assert percent_fr(None) == "—"
    with pytest.raises(ValueError):
        percent_fr(Decimal("70"))  # percents are refused: pass the fraction 0.70
    with pytest.raises(ValueError):
        percent_fr(Decimal("-0.1"))
    with pytest.raises(TypeError):
        percent_fr(0.7)


def test_decimal_fr() -> None:
    assert decimal_fr(Decimal("4.333")) == "4,33"
    assert decimal_fr(Decimal("12500")) == f"12{NNBSP}500"
    assert decimal_fr(3) == "3"
    assert decimal_fr(None) == "—"


def test_date_fr() -> None:
    assert date_fr(dt.date(2026, 11, 26)) == "26 novembre 2026"
    assert date_fr(dt.date(2027, 1, 1)) == "1er janvier 2027"
    assert date_fr(dt.date(2026, 8, 15)) == "15 août 2026"
    # 23:30 UTC on 25 Nov. is already 26 Nov. in Paris
    assert date_fr(dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC)) == "26 novembre 2026"
    assert date_fr("2026-02-03") == "3 février 2026"
    assert date_fr(None) == "—"
    with pytest.raises(ValueError):
        date_fr(dt.datetime(2026, 11, 26, 12, 0))  # naive: ambiguous
    with pytest.raises(TypeError):
        date_fr(20261126)


def test_datetime_fr_in_paris_time() -> None:
    # summer time: UTC+2
    assert datetime_fr(dt.datetime(2026, 7, 14, 8, 5, tzinfo=dt.UTC)) == f"14 juillet 2026 à 10{NBSP}h{NBSP}05"
    # winter time: UTC+1
    assert datetime_fr(dt.datetime(2026, 12, 1, 8, 5, tzinfo=dt.UTC)) == f"1er décembre 2026 à 9{NBSP}h{NBSP}05"
    with pytest.raises(ValueError):
        datetime_fr(dt.datetime(2026, 12, 1, 8, 5))


# --- Payment schedule -----------------------------------------------------------------


def test_payment_schedule_splits_last_tranche_80_20() -> None:
    schedule = budget.tranche_schedule(Decimal("45000.01"), {1: Decimal("25000"), 2: Decimal("20000.01")}, exact=True)
    rows = issuing.payment_schedule(schedule, dt.date(2027, 1, 1))
    assert [(r["year"], r["label"], r["amount"], r["is_balance"]) for r in rows] == [
        (2027, "Tranche 1", Decimal("25000"), False),
        (2028, "Tranche 2", Decimal("16000.01"), False),
        (2028, "Solde", Decimal("4000.00"), True),
    ]
    assert sum(r["amount"] for r in rows) == Decimal("45000.01")
    assert rows[1]["is_last_tranche"] and rows[2]["is_balance"]
    assert sum(r["share"] for r in rows) == 1  # the "Part" column: shares of the granted amount
    assert "compte-rendu technique et financier intermédiaire" in rows[1]["condition"]
    assert rows[2]["condition"] == "Sur présentation du rapport final"


def test_payment_schedule_single_year() -> None:
    rows = issuing.payment_schedule(budget.tranche_schedule(Decimal("10000"), {1: Decimal("1")}))
    assert [(r["label"], r["amount"]) for r in rows] == [
        ("Tranche 1", Decimal("8000.00")),
        ("Solde", Decimal("2000.00")),
    ]
    assert rows[0]["condition"] == "À la notification de la présente décision"


def test_no_schedule_for_nothing_granted() -> None:
    assert budget.tranche_schedule(Decimal("0"), {1: Decimal("1")}) == []


# --- Rendering ------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_renders_pdf_a3b(rendered: dict[str, pdf.RenderedPdf], name: str) -> None:
    result = rendered[name]
    assert result.content.startswith(b"%PDF-1.7")
    assert result.sha256 == hashlib.sha256(result.content).hexdigest()
    assert result.size == len(result.content)
    assert result.pages == len(pypdf.PdfReader(io.BytesIO(result.content)).pages) >= 1
    assert result.template_name == name
    assert result.template_version == pdf.TEMPLATE_VERSION[name]
    assert result.refused_urls == ()  # our own assets (CSS, logo, QR code) all load

    root = xmp_root(result.content)
    parts = [el.get(f"{PDFAID}part") for el in root.iter() if el.get(f"{PDFAID}part")]
    conformances = [el.get(f"{PDFAID}conformance") for el in root.iter() if el.get(f"{PDFAID}conformance")]
    assert parts == ["3"]
    assert conformances == ["B"]

    reader = pypdf.PdfReader(io.BytesIO(result.content))
    catalog = reader.root_object
    assert catalog["/Lang"] == ("en" if name in ENGLISH else "fr")
    intents = catalog["/OutputIntents"]
    assert isinstance(intents, pypdf.generic.ArrayObject)
    intent = intents[0].get_object()
    assert isinstance(intent, pypdf.generic.DictionaryObject)
    assert intent["/S"] == "/GTS_PDFA1"
    assert reader.metadata is not None and reader.metadata.title

    text = pdf_text(result.content)
    if name in ENGLISH:
        assert "Courtesy translation" in text
    else:
        assert "RÉPUBLIQUE FRANÇAISE" in text
        assert (
            "Ministère de l'Europe et des Affaires étrangères — "
            "Délégation pour l'action extérieure des collectivités territoriales"
        ) in text
        assert f"Page 1 / {result.pages}" in text
    context = CONTEXTS[name]()
    assert context["verification_code"] in text
    assert squeezed(context["verification_url"]) in squeezed(text)


def test_approval_letter_content(rendered: dict[str, pdf.RenderedPdf]) -> None:
    text = pdf_text(rendered["pdf/approval_letter.html"].content)
    assert "AAP-2026-GEN-00012" in text
    assert "Région Auvergne-Rhône-Alpes" in text
    assert "Commune de Ziguinchor (Sénégal)" in text
    assert "Ville de Lyon" in text
    assert f"Coût total du projet 200{NNBSP}000,00{NBSP}€" in text
    assert f"Subvention accordée 70{NNBSP}000,00{NBSP}€" in text
    assert f"35{NNBSP}% du coût total" in text
    assert "26 novembre 2026" in text and "Jeanne Martin" in text
    # the tranche schedule: one row per year, the last split 80 % / 20 % solde
    assert f"2027 Tranche 1 35,71{NNBSP}% 25{NNBSP}000,00{NBSP}€ À la notification de la présente décision" in text
    assert (
        f"2028 Tranche 2 35,71{NNBSP}% 25{NNBSP}000,00{NBSP}€ "
        "Sur présentation du compte-rendu technique et financier intermédiaire"
    ) in text
    assert (
        f"2029 Tranche 3 22,86{NNBSP}% 16{NNBSP}000,00{NBSP}€ "
        "Sur présentation du compte-rendu technique et financier intermédiaire"
    ) in text
    assert f"2029 Solde 5,71{NNBSP}% 4{NNBSP}000,00{NBSP}€ Sur présentation du rapport final" in text
    assert f"Total 70{NNBSP}000,00{NBSP}€" in text
    assert "Associer la commune de Ziguinchor au comité de pilotage annuel." in text
    reader = pypdf.PdfReader(io.BytesIO(rendered["pdf/approval_letter.html"].content))
    assert reader.metadata is not None
    assert reader.metadata["/CreationDate"] == "D:20261126093000Z"  # issued_at, 10:30 Paris: never "now"
    assert reader.metadata["/Title"] == "Décision attributive de subvention — AAP-2026-GEN-00012"


def test_rejection_letter_content(rendered: dict[str, pdf.RenderedPdf]) -> None:
    text = pdf_text(rendered["pdf/rejection_letter.html"].content)
    assert "AAP-2026-GEN-00031" in text
    assert "Notification de non-sélection" in text
    assert "ne démontre pas la participation effective du partenaire étranger" in text
    assert "Les indicateurs de suivi et d'évaluation sont insuffisamment définis." in text
    assert f"95{NNBSP}000,00{NBSP}€" in text
    assert "12 novembre 2026" in text


def test_ineligibility_notice_content(rendered: dict[str, pdf.RenderedPdf]) -> None:
    text = pdf_text(rendered["pdf/ineligibility_notice.html"].content)
    assert "AAP-2026-GEN-00044" in text
    assert "irrecevable" in text
    assert "La délibération du conseil régional autorisant le projet n'a pas été jointe au dossier." in text
    assert f"3 octobre 2026 à 18{NBSP}h{NBSP}42" in text  # 16:42 UTC, summer time


def test_deposit_receipt_content(rendered: dict[str, pdf.RenderedPdf]) -> None:
    context = receipt_context()
    text = pdf_text(rendered["pdf/deposit_receipt.html"].content)
    assert "Accusé de dépôt" in text
    assert "AAP-2026-GEN-00012" in text
    assert "AAP-2026-GEN — Appel à projets généraliste 2026" in text
    assert f"14 septembre 2026 à 11{NBSP}h{NBSP}05" in text
    assert context["snapshot_sha256"] in squeezed(text)
    assert "Convention de partenariat" in text
    assert f"140{NNBSP}000,00{NBSP}€" in text


def test_committee_booklet_content(rendered: dict[str, pdf.RenderedPdf]) -> None:
    result = rendered["pdf/committee_booklet.html"]
    text = pdf_text(result.content)
    assert result.pages >= 3  # summary, then one section per application, each on a new page
    assert "DOCUMENT CONFIDENTIEL" in text
    assert "12 novembre 2026" in text
    for reference in ("AAP-2026-GEN-00012", "AAP-2026-GEN-00017"):
        assert reference in text
    assert "Gestion des déchets à Saint-Louis" in text and "Jeunesse et culture à Fès" in text
    assert "Favorable" in text and "Avis non rendu" in text
    assert "Pertinence ODD" in text and "note pondérée 4,33 / 5" in text
    assert f"75{NNBSP}000,00{NBSP}€ (50{NNBSP}%)" in text
    assert "Renforcement des capacités des services techniques municipaux." in text


def test_evaluation_summary_content(rendered: dict[str, pdf.RenderedPdf]) -> None:
    text = pdf_text(rendered["pdf/evaluation_summary.html"].content)
    assert "Synthèse de l'évaluation" in text and "AAP-2026-GEN-00031" in text
    assert "Projet non retenu" in text and "Note globale pondérée (Weighted score) 2,7 / 5" in text
    assert "Pertinence au regard des ODD Relevance to the SDGs 2 3" in text
    assert "Qualité du partenariat 1 2" in text and "Pérennité 1 —" in text
    assert "Le partenariat mérite d'être consolidé" in text
    assert "Le plan de financement ne démontre pas" in text
    assert "ABCD-EFGH-IJKL-MNOP-QRST-UVWX" in squeezed(text)  # the letter it goes with


def test_rendering_is_deterministic() -> None:
    first = pdf.render_pdf("pdf/rejection_letter.html", rejection_context())
    second = pdf.render_pdf("pdf/rejection_letter.html", rejection_context())
    assert first.sha256 == second.sha256
    assert first.content == second.content


def test_unknown_template_and_missing_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown PDF template"):
        pdf.render_pdf("pdf/base.html", approval_context())
    context = approval_context()
    del context["granted_amount"]
    with pytest.raises(KeyError, match="granted_amount"):
        pdf.render_pdf("pdf/approval_letter.html", context)


def test_template_versions_cover_every_document_template() -> None:
    folder = Path(pdf.__file__).resolve().parent.parent / "templates" / "pdf"
    documents = {f"pdf/{p.name}" for p in folder.glob("*.html") if not p.name.startswith("_") and p.name != "base.html"}
    assert documents == set(pdf.TEMPLATE_VERSION) == set(pdf.REQUIRED_CONTEXT)


def test_templates_never_disable_escaping() -> None:
    folder = Path(pdf.__file__).resolve().parent.parent / "templates" / "pdf"
    for template in folder.glob("*.html"):
        source = template.read_text()
        assert "|safe" not in source and "autoescape off" not in source, template.name


def test_font_configuration_is_a_process_singleton() -> None:
    assert pdf.font_configuration() is pdf.font_configuration()


def test_qr_code_data_uri_is_a_png_the_fetcher_accepts() -> None:
    uri = pdf.qr_code_data_uri("https://appels-a-projets.example.gouv.fr/verify/7KQ2-M9XD-4TPA/")
    assert uri.startswith("data:image/png;base64,")
    png = base64.b64decode(uri.split(",", 1)[1])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    response = pdf.safe_url_fetcher(uri)
    assert response.read() == png
    assert response.content_type == "image/png"


# --- Fetch lockdown -------------------------------------------------------------------


class Listener:
    """A real TCP listener on 127.0.0.1 that records every connection it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.connections: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    self.connections.append(conn.recv(4096) or b"<connected>")
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/css\r\n\r\nbody{color:red}")
                except OSError:
                    self.connections.append(b"<connected>")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    try:
        yield server
    finally:
        server.close()


def test_listener_does_record_connections(listener: Listener) -> None:
    """The control experiment: the listener would see a fetch if one happened."""
    with socket.create_connection(("127.0.0.1", listener.port), timeout=2) as client:
        client.sendall(b"GET /probe HTTP/1.0\r\n\r\n")
        client.recv(100)
    listener.close()
    assert listener.connections and listener.connections[0].startswith(b"GET /probe")


def test_user_text_with_markup_is_printed_not_fetched(listener: Listener) -> None:
    port = listener.port
    title = (
        'Projet <img src="file:///etc/passwd"> '
        f'<img src="http://127.0.0.1:{port}/x"> '
        f"<style>@import url(http://127.0.0.1:{port}/y)</style> "
        f'@import url("http://127.0.0.1:{port}/z.css");'
    )
    context = approval_context(project_title=title)
    context["lead_authority"] = {"name": f'<link rel="stylesheet" href="http://127.0.0.1:{port}/w.css">Commune'}
    result = pdf.render_pdf("pdf/approval_letter.html", context)
    listener.close()

    assert listener.connections == []
    assert result.refused_urls == ()  # escaped: WeasyPrint never even saw a URL to fetch
    text = pdf_text(result.content)
    assert squeezed(title) in squeezed(text)
    assert squeezed(f'<link rel="stylesheet" href="http://127.0.0.1:{port}/w.css">Commune') in squeezed(text)
    assert "root:x:0:0" not in text


def test_raw_html_cannot_fetch_files_or_urls(listener: Listener) -> None:
    """The second wall: even markup that reaches WeasyPrint unescaped fetches nothing."""
    port = listener.port
    html = f"""<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>t</title>
    <link rel="stylesheet" href="http://127.0.0.1:{port}/link.css">
    <style>
      @import url(http://127.0.0.1:{port}/import.css);
      @import url(file:///etc/passwd);
      @font-face {{ font-family: X; src: url(http://127.0.0.1:{port}/font.woff2); }}
      body {{ background: url(http://127.0.0.1:{port}/bg.png); font-family: X; }}
    </style></head><body>
    <p>Bonjour</p>
    <img src="file:///etc/passwd" alt="">
    <img src="http://127.0.0.1:{port}/img.png" alt="">
    <img src="https://127.0.0.1:{port}/img2.png" alt="">
    <img src="../../../../settings.py" alt="">
    <img src="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E" alt="">
    <object data="http://127.0.0.1:{port}/object.png"></object>
    <link rel="attachment" href="file:///etc/passwd">
    </body></html>"""
    content, pages, refused = pdf.html_to_pdf(html)
    listener.close()

    assert listener.connections == []
    assert pages == 1
    assert "Bonjour" in pdf_text(content)
    joined = " ".join(refused)
    for path in ("link.css", "import.css", "font.woff2", "bg.png", "img.png", "img2.png", "object.png"):
        assert f"127.0.0.1:{port}/{path}" in joined
    assert "file:///etc/passwd" in refused
    assert any(url.startswith("data:image/svg+xml") for url in refused)
    assert b"root:x:0:0" not in content


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "file://localhost/etc/passwd",
        "file://attacker.example/share/letter.css",
        f"{pdf.ASSET_BASE_URL}../../../../config/settings.py",
        f"{pdf.ASSET_BASE_URL}%2e%2e/%2e%2e/%2e%2e/%2e%2e/config/settings.py",
        f"{pdf.ASSET_BASE_URL}..%2f..%2f..%2f..%2fconfig%2fsettings.py",
        f"{pdf.ASSET_BASE_URL}missing.css",
        pdf.ASSET_BASE_URL,
        "http://127.0.0.1/letter.css",
        "https://example.org/logo.svg",
        "ftp://example.org/logo.svg",
        "asset:letter.css",
        "letter.css",
        "data:text/css,body{color:red}",
        "data:image/svg+xml;base64,PHN2Zy8+",
        "data:image/png;base64,bm90IGEgcG5n",  # "not a png"
        "data:image/png;base64,!!!",
        "data:image/png;base64," + "A" * (200 * 1024),
    ],
)
def test_fetcher_refuses(url: str) -> None:
    with pytest.raises(pdf.AssetRefused):
        pdf.safe_url_fetcher(url)


def test_fetcher_serves_its_own_assets() -> None:
    css = pdf.safe_url_fetcher(pdf.ASSET_BASE_URL + "letter.css")
    assert css.content_type == "text/css"
    assert b"@page" in css.read()
    logo = pdf.safe_url_fetcher(pdf.ASSET_BASE_URL + "logo.svg?v=1#frag")
    assert logo.content_type == "image/svg+xml"
    assert logo.read().startswith(b"<svg")


def test_fetcher_refuses_symlinks_out_and_unserved_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "ok.css").write_text("p { color: black }")
    (assets / "notes.txt").write_text("not served")
    secret = tmp_path / "secret.css"
    secret.write_text("secret")
    (assets / "out.css").symlink_to(secret)
    (assets / "inside.css").symlink_to(assets / "ok.css")
    monkeypatch.setattr(pdf, "ASSET_DIR", assets.resolve())
    base = assets.resolve().as_uri() + "/"

    assert pdf.safe_url_fetcher(base + "ok.css").read() == b"p { color: black }"
    assert pdf.safe_url_fetcher(base + "inside.css").read() == b"p { color: black }"
    with pytest.raises(pdf.AssetRefused, match="outside"):
        pdf.safe_url_fetcher(base + "out.css")
    with pytest.raises(pdf.AssetRefused, match="type"):
        pdf.safe_url_fetcher(base + "notes.txt")
    with pytest.raises(pdf.AssetRefused):
        pdf.safe_url_fetcher(secret.as_uri())


def test_weasyprint_fetcher_object_records_refusals() -> None:
    fetcher = pdf.SafeURLFetcher()
    with pytest.raises(pdf.AssetRefused):
        fetcher.fetch("http://127.0.0.1:9/x")
    assert fetcher.refused == ["http://127.0.0.1:9/x"]
    assert fetcher.fetch(pdf.ASSET_BASE_URL + "logo.svg").content_type == "image/svg+xml"
