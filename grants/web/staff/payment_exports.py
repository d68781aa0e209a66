"""Exports of the payments for the finance department: CSV, XLSX and ODS, with the same
guarantees as the decisions' exports (``grants.web.staff.exports``): exact decimals from
end to end (never a float), text cells neutralised against formula injection, dates in
the Paris time zone, rows read by chunks.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.postaward import Payment
from grants.web.staff.exports import (
    CHUNK,
    FORMATS,
    PARIS,
    XLSX_MONEY,
    Column,
    neutralise,
)

__all__ = ["COLUMNS", "FORMATS", "csv_lines", "export_filename", "ods_bytes", "rows", "xlsx_bytes"]

XLSX_DATE = "dd/mm/yyyy"

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


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(queryset: QuerySet[Payment]) -> Iterator[str]:
    """RFC 4180, UTF-8 with a BOM; amounts as decimal strings ("12500.00"), dates ISO."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([str(c.label) for c in COLUMNS])
    for row in rows(queryset):
        cells = []
        for column in COLUMNS:
            value = row[column.key]
            if value is None or value == "":
                cells.append("")
            elif column.kind == "money":
                cells.append(f"{value:f}")
            elif column.kind == "date":
                cells.append(value.isoformat())
            else:
                cells.append(neutralise(str(value)))
        yield writer.writerow(cells)


def xlsx_bytes(queryset: QuerySet[Payment]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=str(_("Versements"))[:31])
    widths = {"reference": 22, "organisation": 32, "kind": 24, "condition": 26}
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = widths.get(column.key, 16)
    header = []
    for column in COLUMNS:
        cell = WriteOnlyCell(sheet, value=str(column.label))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in rows(queryset):
        cells = []
        for column in COLUMNS:
            value = row[column.key]
            if value is None or value == "":
                cells.append(WriteOnlyCell(sheet, value=None))
            elif column.kind == "money":
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = XLSX_MONEY
                cell._value = f"{value:f}"  # the exact text, never through a float (see exports.py)
                cells.append(cell)
            elif column.kind == "date":
                cell = WriteOnlyCell(sheet, value=dt.datetime.combine(value, dt.time()))
                cell.number_format = XLSX_DATE
                cells.append(cell)
            else:
                cell = WriteOnlyCell(sheet, value=neutralise(str(value)))
                cell.data_type = "s"
                cells.append(cell)
        sheet.append(cells)
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        return handle.read()


def ods_bytes(queryset: QuerySet[Payment]) -> bytes:
    from odf import number as ns
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import Style, TableColumnProperties, TextProperties
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import P

    from grants.budget import fmt_euros

    doc = OpenDocumentSpreadsheet()
    money_style = ns.CurrencyStyle(name="money", volatile="true")
    money_style.addElement(ns.Number(decimalplaces="2", minintegerdigits="1", grouping="true"))
    money_style.addElement(ns.Text(text="\u00a0"))
    money_style.addElement(ns.CurrencySymbol(language="fr", country="FR", text="€"))
    doc.automaticstyles.addElement(money_style)
    date_style = ns.DateStyle(name="day")
    for element in (
        ns.Day(style="long"),
        ns.Text(text="/"),
        ns.Month(style="long"),
        ns.Text(text="/"),
        ns.Year(style="long"),
    ):
        date_style.addElement(element)
    doc.automaticstyles.addElement(date_style)
    money_cell = Style(name="cmoney", family="table-cell", datastylename="money")
    date_cell = Style(name="cday", family="table-cell", datastylename="day")
    bold_cell = Style(name="chead", family="table-cell")
    bold_cell.addElement(TextProperties(fontweight="bold"))
    for style in (money_cell, date_cell, bold_cell):
        doc.automaticstyles.addElement(style)
    wide = Style(name="cwide", family="table-column")
    wide.addElement(TableColumnProperties(columnwidth="4cm"))
    doc.automaticstyles.addElement(wide)

    table = Table(name=str(_("Versements")))
    table.addElement(TableColumn(numbercolumnsrepeated=len(COLUMNS), stylename=wide))
    header = TableRow()
    for column in COLUMNS:
        cell = TableCell(valuetype="string", stylename=bold_cell)
        cell.addElement(P(text=str(column.label)))
        header.addElement(cell)
    table.addElement(header)
    for row in rows(queryset):
        line = TableRow()
        for column in COLUMNS:
            value = row[column.key]
            if value is None or value == "":
                line.addElement(TableCell())
                continue
            if column.kind == "money":
                cell = TableCell(valuetype="currency", currency="EUR", value=f"{value:f}", stylename=money_cell)
                cell.addElement(P(text=fmt_euros(value)))
            elif column.kind == "date":
                cell = TableCell(valuetype="date", datevalue=value.isoformat(), stylename=date_cell)
                cell.addElement(P(text=value.strftime("%d/%m/%Y")))
            else:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=neutralise(str(value))))
            line.addElement(cell)
        table.addElement(line)
    doc.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    doc.write(buffer)
    return buffer.getvalue()


def export_filename(extension: str, at: dt.datetime) -> str:
    # A fixed prefix and the date only: no user text reaches the file name.
    return f"versements-{at.astimezone(PARIS):%Y%m%d-%H%M}.{extension}"
