"""Exports of decisions for the finance department: CSV, XLSX and ODS (the
administration's open format).

Amounts are exact decimals from end to end: CSV carries the decimal string, XLSX a
``Decimal`` written as its exact text with a currency number format, ODS a
``office:value-type="currency"`` cell whose ``office:value`` is the decimal string. No
float is ever created. Text cells that a spreadsheet would read as a formula (``=``,
``+``, ``-``, ``@``…) are neutralised with a leading apostrophe (CSV injection).

Rows are read with ``iterator(chunk_size=…)``: memory stays bounded by one chunk for CSV;
the XLSX writer is write-only (streamed to a temporary file).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.models import Country, Decision

PARIS = ZoneInfo("Europe/Paris")
CHUNK = 500

TRANCHE_CONDITIONS: dict[str, Any] = {
    "signature": gettext_lazy("à la signature"),
    "interim_report": gettext_lazy("sur compte-rendu intermédiaire"),
    "final_report": gettext_lazy("solde, sur rapport final"),
}


@dataclass(frozen=True)
class Column:
    key: str
    label: Any
    kind: str = "text"  # text | money | rate | datetime


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

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """A text cell never starts like a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


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


def _local(value: dt.datetime | None) -> dt.datetime | None:
    return value.astimezone(PARIS) if value is not None else None


# --- CSV ------------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(queryset: QuerySet[Decision]) -> Iterator[str]:
    """RFC 4180 CSV, UTF-8 with a BOM (spreadsheets then read the accents right); amounts
    as decimal strings with a dot ("25000.00"), rates as fractions ("0.250000"), dates in
    ISO 8601 with the Paris offset."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([str(c.label) for c in COLUMNS])
    for row in rows(queryset):
        cells = []
        for column in COLUMNS:
            value = row[column.key]
            if value is None:
                cells.append("")
            elif column.kind in ("money", "rate"):
                cells.append(f"{value:f}")
            elif column.kind == "datetime":
                cells.append(_local(value).isoformat(timespec="seconds"))  # type: ignore[union-attr]
            else:
                cells.append(neutralise(str(value)))
        yield writer.writerow(cells)


# --- XLSX -----------------------------------------------------------------------------------

XLSX_MONEY = '#,##0.00\\ "€"'
XLSX_RATE = "0.00%"
XLSX_DATETIME = "dd/mm/yyyy hh:mm"


def xlsx_bytes(queryset: QuerySet[Decision]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=str(_("Décisions"))[:31])
    widths = {"reference": 22, "organisation": 32, "call": 16, "tranches": 60}
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = widths.get(column.key, 18)
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
            if value is None:
                cells.append(WriteOnlyCell(sheet, value=None))
                continue
            if column.kind in ("money", "rate"):
                cell = WriteOnlyCell(sheet, value=value)  # a Decimal: a numeric cell…
                cell.number_format = XLSX_MONEY if column.kind == "money" else XLSX_RATE
                # …but openpyxl prints numbers with "%.16g", i.e. through a float: hand
                # its writer the Decimal's exact text instead ("12345.67", "0.250000").
                cell._value = f"{value:f}"
            elif column.kind == "datetime":
                # Excel has no time zones: the Paris wall-clock time.
                cell = WriteOnlyCell(sheet, value=_local(value).replace(tzinfo=None))  # type: ignore[union-attr]
                cell.number_format = XLSX_DATETIME
            else:
                cell = WriteOnlyCell(sheet, value=neutralise(str(value)))
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        return handle.read()


# --- ODS ------------------------------------------------------------------------------------


def _french_amount(value: Decimal) -> str:
    from grants.budget import fmt_euros

    return fmt_euros(value)


def ods_bytes(queryset: QuerySet[Decision]) -> bytes:
    from odf import number as ns
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import Style, TableColumnProperties, TextProperties
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    # Number styles: euros with two decimals, percentages, dates.
    money_style = ns.CurrencyStyle(name="money", volatile="true")
    money_style.addElement(ns.Number(decimalplaces="2", minintegerdigits="1", grouping="true"))
    money_style.addElement(ns.Text(text="\u00a0"))
    money_style.addElement(ns.CurrencySymbol(language="fr", country="FR", text="€"))
    doc.automaticstyles.addElement(money_style)
    rate_style = ns.PercentageStyle(name="rate")
    rate_style.addElement(ns.Number(decimalplaces="2", minintegerdigits="1"))
    rate_style.addElement(ns.Text(text="\u00a0%"))
    doc.automaticstyles.addElement(rate_style)
    date_style = ns.DateStyle(name="when")
    for element in (
        ns.Day(style="long"),
        ns.Text(text="/"),
        ns.Month(style="long"),
        ns.Text(text="/"),
        ns.Year(style="long"),
        ns.Text(text=" "),
        ns.Hours(style="long"),
        ns.Text(text=":"),
        ns.Minutes(style="long"),
    ):
        date_style.addElement(element)
    doc.automaticstyles.addElement(date_style)
    money_cell = Style(name="cmoney", family="table-cell", datastylename="money")
    rate_cell = Style(name="crate", family="table-cell", datastylename="rate")
    date_cell = Style(name="cwhen", family="table-cell", datastylename="when")
    bold_cell = Style(name="chead", family="table-cell")
    bold_cell.addElement(TextProperties(fontweight="bold"))
    for style in (money_cell, rate_cell, date_cell, bold_cell):
        doc.automaticstyles.addElement(style)
    wide = Style(name="cwide", family="table-column")
    wide.addElement(TableColumnProperties(columnwidth="5cm"))
    doc.automaticstyles.addElement(wide)

    table = Table(name=str(_("Décisions")))
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
            if value is None:
                line.addElement(TableCell())
                continue
            if column.kind == "money":
                cell = TableCell(valuetype="currency", currency="EUR", value=f"{value:f}", stylename=money_cell)
                cell.addElement(P(text=_french_amount(value)))
            elif column.kind == "rate":
                cell = TableCell(valuetype="percentage", value=f"{value:f}", stylename=rate_cell)
                cell.addElement(P(text=f"{value * 100:f}".rstrip("0").rstrip(".").replace(".", ",") + "\u00a0%"))
            elif column.kind == "datetime":
                local = _local(value)
                assert local is not None
                cell = TableCell(
                    valuetype="date",
                    datevalue=local.replace(tzinfo=None).isoformat(timespec="seconds"),
                    stylename=date_cell,
                )
                cell.addElement(P(text=local.strftime("%d/%m/%Y %H:%M")))
            else:
                text = str(value)
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=text))
            line.addElement(cell)
        table.addElement(line)
    doc.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    doc.write(buffer)
    return buffer.getvalue()


FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", "ods"),
}


def export_filename(extension: str, at: dt.datetime) -> str:
    # Built from a fixed prefix and the date only: no user text reaches the file name.
    return f"decisions-{at.astimezone(PARIS):%Y%m%d-%H%M}.{extension}"


def headers() -> Iterable[str]:
    return [str(c.label) for c in COLUMNS]
