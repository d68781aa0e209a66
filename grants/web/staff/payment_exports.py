"""Exports of the payments for the finance department: CSV, XLSX and ODS, with the same
guarantees as the decisions' exports (``grants.web.staff.exports``): exact decimals from
end to end (never a float), text cells neutralised against formula injection, dates in
the Paris time zone, rows read by chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.postaward import Payment
from grants.web.staff import spreadsheets
from grants.web.staff.spreadsheets import CHUNK, FORMATS, PARIS, Column

__all__ = ["COLUMNS", "FORMATS", "csv_lines", "export_filename", "ods_bytes", "rows", "xlsx_bytes"]

COLUMNS = (
    Column("reference", gettext_lazy("Référence")),
    Column("organisation", gettext_lazy("Collectivité chef de file")),
    Column("call", gettext_lazy("Appel à projets")),
    Column("commitment_number", gettext_lazy("Numéro d'engagement")),
    Column("number", gettext_lazy("Versement n°")),
    Column("kind", gettext_lazy("Nature")),
    Column("condition", gettext_lazy("Condition")),
    Column("year", gettext_lazy("Année du projet")),
    Column("amount", gettext_lazy("Montant (EUR)"), "money"),
    Column("state", gettext_lazy("État")),
    Column("payable_at", gettext_lazy("Payable depuis le"), "date"),
    Column("paid_on", gettext_lazy("Payé le"), "date"),
    Column("payment_reference", gettext_lazy("Référence du paiement")),
)


def rows(queryset: QuerySet[Payment]) -> Iterator[dict[str, Any]]:
    kinds, conditions, states = dict(Payment.Kind.choices), dict(Payment.Condition.choices), dict(Payment.State.choices)
    qs = queryset.select_related("application", "application__organisation", "application__call", "decision").order_by(
        "application__call__code", "application__reference", "number", "pk"
    )
    for payment in qs.iterator(chunk_size=CHUNK):
        app = payment.application
        payable_at = payment.payable_at.astimezone(PARIS).date() if payment.payable_at else None
        yield {
            "reference": app.reference or "",
            "organisation": app.organisation.name,
            "call": app.call.code,
            "commitment_number": payment.decision.commitment_number,
            "number": str(payment.number),
            "kind": str(kinds.get(payment.kind, payment.kind)),
            "condition": str(conditions.get(payment.condition, payment.condition)),
            "year": str(payment.year),
            "amount": payment.amount,
            "state": str(states.get(payment.state, payment.state)),
            "payable_at": payable_at,
            "paid_on": payment.paid_on,
            "payment_reference": payment.payment_reference,
        }


def csv_lines(queryset: QuerySet[Payment]) -> Iterator[str]:
    """RFC 4180, UTF-8 with a BOM; amounts as decimal strings ("12500.00"), dates ISO."""
    return spreadsheets.csv_lines(COLUMNS, rows(queryset))


def xlsx_bytes(queryset: QuerySet[Payment]) -> bytes:
    widths = {"reference": 22, "organisation": 32, "kind": 24, "condition": 26}
    return spreadsheets.xlsx_bytes(str(_("Versements")), COLUMNS, rows(queryset), widths=widths, default_width=16)


def ods_bytes(queryset: QuerySet[Payment]) -> bytes:
    return spreadsheets.ods_bytes(str(_("Versements")), COLUMNS, rows(queryset), column_width="4cm")


def export_filename(extension: str, at: dt.datetime) -> str:
    # A fixed prefix and the date only: no user text reaches the file name.
    return f"versements-{at.astimezone(PARIS):%Y%m%d-%H%M}.{extension}"
