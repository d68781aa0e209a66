"""Exports of decisions for the finance department: CSV, XLSX and ODS, written by
``grants.web.staff.spreadsheets`` (exact decimals, formula-safe text, Paris time). Rows are
read with ``iterator(chunk_size=…)``: memory stays bounded by one chunk for CSV.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.models import Country, Decision
from grants.web.staff import spreadsheets
from grants.web.staff.spreadsheets import CHUNK, PARIS, Column

TRANCHE_CONDITIONS: dict[str, Any] = {
    "signature": gettext_lazy("à la signature"),
    "interim_report": gettext_lazy("sur compte-rendu intermédiaire"),
    "final_report": gettext_lazy("solde, sur rapport final"),
}


COLUMNS = (
    Column("reference", gettext_lazy("Référence")),
    Column("organisation", gettext_lazy("Collectivité chef de file")),
    Column("call", gettext_lazy("Appel à projets")),
    Column("countries", gettext_lazy("Pays")),
    Column("outcome", gettext_lazy("Issue")),
    Column("amount", gettext_lazy("Montant attribué (EUR)"), "money"),
    Column("rate", gettext_lazy("Taux de cofinancement"), "rate"),
    Column("state", gettext_lazy("État")),
    Column("signed_at", gettext_lazy("Signée le"), "datetime"),
    Column("delivered_at", gettext_lazy("Notifiée le"), "datetime"),
    Column("commitment_number", gettext_lazy("Numéro d'engagement")),
    Column("tranches", gettext_lazy("Échéancier")),
)


def decisions_for_export(queryset: QuerySet[Decision]) -> QuerySet[Decision]:
    return (
        queryset.select_related("application", "application__organisation", "application__call")
        .prefetch_related(Prefetch("application__countries", queryset=Country.objects.order_by("iso2")))
        .order_by("application__call__code", "application__reference", "pk")
    )


def tranches_text(tranches: list[dict[str, Any]]) -> str:
    parts = []
    for tranche in tranches or []:
        amount = Decimal(str(tranche.get("amount", "0")))
        parts.append(
            _("%(number)s : %(amount)s EUR, année %(year)s, %(condition)s")
            % {
                "number": tranche.get("number", ""),
                "amount": f"{amount:f}",
                "year": tranche.get("year", ""),
                "condition": TRANCHE_CONDITIONS.get(str(tranche.get("condition")), tranche.get("condition", "")),
            }
        )
    return " | ".join(parts)


def rows(queryset: QuerySet[Decision]) -> Iterator[dict[str, Any]]:
    """One dict per decision with typed values: Decimal amounts and rates, aware datetimes."""
    outcomes = dict(Decision.Outcome.choices)
    states = dict(Decision.State.choices)
    for decision in decisions_for_export(queryset).iterator(chunk_size=CHUNK):
        app = decision.application
        yield {
            "reference": app.reference or "",
            "organisation": app.organisation.name,
            "call": app.call.code,
            "countries": ", ".join(c.iso2 for c in app.countries.all()),
            "outcome": str(outcomes.get(decision.outcome, decision.outcome)),
            "amount": decision.amount,
            "rate": decision.rate,
            "state": str(states.get(decision.state, decision.state)),
            "signed_at": decision.signed_at,
            "delivered_at": decision.delivered_at,
            "commitment_number": decision.commitment_number,
            "tranches": tranches_text(decision.tranches),
        }


def csv_lines(queryset: QuerySet[Decision]) -> Iterator[str]:
    """RFC 4180 CSV (see ``spreadsheets.csv_lines``): amounts "25000.00", rates "0.250000",
    dates in ISO 8601 with the Paris offset."""
    return spreadsheets.csv_lines(COLUMNS, rows(queryset))


def xlsx_bytes(queryset: QuerySet[Decision]) -> bytes:
    widths = {"reference": 22, "organisation": 32, "call": 16, "tranches": 60}
    return spreadsheets.xlsx_bytes(str(_("Décisions")), COLUMNS, rows(queryset), widths=widths)


def ods_bytes(queryset: QuerySet[Decision]) -> bytes:
    return spreadsheets.ods_bytes(str(_("Décisions")), COLUMNS, rows(queryset))


def export_filename(extension: str, at: dt.datetime) -> str:
    # Built from a fixed prefix and the date only: no user text reaches the file name.
    return f"decisions-{at.astimezone(PARIS):%Y%m%d-%H%M}.{extension}"


def headers() -> Iterable[str]:
    return [str(c.label) for c in COLUMNS]
