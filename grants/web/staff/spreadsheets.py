"""The staff's spreadsheet writers (CSV, XLSX, ODS — the administration's open format),
one for every export (decisions, payments): given columns and typed rows.

Amounts are exact decimals from end to end: CSV carries the decimal string, XLSX a
``Decimal`` written as its exact text with a currency number format, ODS a
``office:value-type="currency"`` cell whose ``office:value`` is the decimal string. No
float is ever created. Text cells that a spreadsheet would read as a formula (``=``,
``+``, ``-``, ``@``…) are neutralised with a leading apostrophe (CSV injection).
Datetimes are shown in Paris wall-clock time. Rows come from an iterator (the callers read
their querysets by chunks): memory stays bounded by one chunk for CSV; the XLSX writer is
write-only (streamed to a temporary file).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
CHUNK = 500

FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", "ods"),
}

XLSX_MONEY = '#,##0.00\\ "€"'
XLSX_RATE = "0.00%"
XLSX_DATETIME = "dd/mm/yyyy hh:mm"
XLSX_DATE = "dd/mm/yyyy"

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    key: str
    label: Any
    kind: str = "text"  # text | money | rate | datetime | date


Row = Mapping[str, Any]


def neutralise(text: str) -> str:
    """A text cell never starts like a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(PARIS)


def _blank(value: Any) -> bool:
    return value is None or value == ""


# --- CSV ------------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(columns: tuple[Column, ...], rows: Iterable[Row]) -> Iterator[str]:
    """RFC 4180 CSV, UTF-8 with a BOM (spreadsheets then read the accents right); amounts
    as decimal strings with a dot ("25000.00"), rates as fractions ("0.250000"), dates in
    ISO 8601 (datetimes with the Paris offset)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([str(c.label) for c in columns])
    for row in rows:
        cells = []
        for column in columns:
            value = row[column.key]
            if _blank(value):
                cells.append("")
            elif column.kind in ("money", "rate"):
                cells.append(f"{value:f}")
            elif column.kind == "datetime":
                cells.append(_local(value).isoformat(timespec="seconds"))
            elif column.kind == "date":
                cells.append(value.isoformat())
            else:
                cells.append(neutralise(str(value)))
        yield writer.writerow(cells)


# --- XLSX -----------------------------------------------------------------------------------


def xlsx_bytes(
    title: str,
    columns: tuple[Column, ...],
    rows: Iterable[Row],
    *,
    widths: Mapping[str, int] | None = None,
    default_width: int = 18,
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = (widths or {}).get(column.key, default_width)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=str(column.label))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for column in columns:
            value = row[column.key]
            if _blank(value):
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
                cell = WriteOnlyCell(sheet, value=_local(value).replace(tzinfo=None))
                cell.number_format = XLSX_DATETIME
            elif column.kind == "date":
                cell = WriteOnlyCell(sheet, value=dt.datetime.combine(value, dt.time()))
                cell.number_format = XLSX_DATE
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


def _french_rate(value: Decimal) -> str:
    return f"{value * 100:f}".rstrip("0").rstrip(".").replace(".", ",") + "\u00a0%"


def ods_bytes(title: str, columns: tuple[Column, ...], rows: Iterable[Row], *, column_width: str = "5cm") -> bytes:
    from odf import number as ns
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import Style, TableColumnProperties, TextProperties
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import P

    from grants.budget import fmt_euros

    doc = OpenDocumentSpreadsheet()
    # Number styles: euros with two decimals, percentages, dates with and without the time.
    money_style = ns.CurrencyStyle(name="money", volatile="true")
    money_style.addElement(ns.Number(decimalplaces="2", minintegerdigits="1", grouping="true"))
    money_style.addElement(ns.Text(text="\u00a0"))
    money_style.addElement(ns.CurrencySymbol(language="fr", country="FR", text="€"))
    doc.automaticstyles.addElement(money_style)
    rate_style = ns.PercentageStyle(name="rate")
    rate_style.addElement(ns.Number(decimalplaces="2", minintegerdigits="1"))
    rate_style.addElement(ns.Text(text="\u00a0%"))
    doc.automaticstyles.addElement(rate_style)
    day = (ns.Day(style="long"), ns.Text(text="/"), ns.Month(style="long"), ns.Text(text="/"), ns.Year(style="long"))
    day_style = ns.DateStyle(name="day")
    for element in day:
        day_style.addElement(element)
    doc.automaticstyles.addElement(day_style)
    when_style = ns.DateStyle(name="when")
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
        when_style.addElement(element)
    doc.automaticstyles.addElement(when_style)
    money_cell = Style(name="cmoney", family="table-cell", datastylename="money")
    rate_cell = Style(name="crate", family="table-cell", datastylename="rate")
    day_cell = Style(name="cday", family="table-cell", datastylename="day")
    when_cell = Style(name="cwhen", family="table-cell", datastylename="when")
    bold_cell = Style(name="chead", family="table-cell")
    bold_cell.addElement(TextProperties(fontweight="bold"))
    for style in (money_cell, rate_cell, day_cell, when_cell, bold_cell):
        doc.automaticstyles.addElement(style)
    wide = Style(name="cwide", family="table-column")
    wide.addElement(TableColumnProperties(columnwidth=column_width))
    doc.automaticstyles.addElement(wide)

    table = Table(name=title)
    table.addElement(TableColumn(numbercolumnsrepeated=len(columns), stylename=wide))
    header = TableRow()
    for column in columns:
        cell = TableCell(valuetype="string", stylename=bold_cell)
        cell.addElement(P(text=str(column.label)))
        header.addElement(cell)
    table.addElement(header)
    for row in rows:
        line = TableRow()
        for column in columns:
            value = row[column.key]
            if _blank(value):
                line.addElement(TableCell())
                continue
            if column.kind == "money":
                cell = TableCell(valuetype="currency", currency="EUR", value=f"{value:f}", stylename=money_cell)
                cell.addElement(P(text=fmt_euros(value)))
            elif column.kind == "rate":
                cell = TableCell(valuetype="percentage", value=f"{value:f}", stylename=rate_cell)
                cell.addElement(P(text=_french_rate(value)))
            elif column.kind == "datetime":
                local = _local(value).replace(tzinfo=None)
                cell = TableCell(valuetype="date", datevalue=local.isoformat(timespec="seconds"), stylename=when_cell)
                cell.addElement(P(text=local.strftime("%d/%m/%Y %H:%M")))
            elif column.kind == "date":
                cell = TableCell(valuetype="date", datevalue=value.isoformat(), stylename=day_cell)
                cell.addElement(P(text=value.strftime("%d/%m/%Y")))
            else:
                # A string cell is never evaluated as a formula; neutralised all the same, so
                # the three formats carry the same text.
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=neutralise(str(value))))
            line.addElement(cell)
        table.addElement(line)
    doc.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    doc.write(buffer)
    return buffer.getvalue()
