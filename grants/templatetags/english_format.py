"""English formatting of amounts, rates and dates for the courtesy translations (`{% load english_format %}`).

Like `french_format`, the output never depends on the active Django language or on the
process locale, and amounts are exact: `Decimal`, `int` or a decimal string; a `float`
(or a `bool`) raises `TypeError` (see `french_format.to_decimal`).

Conventions (CLDR, locale `en`): `€70,000.00` (comma between thousands, point before
the cents, euro sign first, `-€1,234.50` for a negative amount), `25%`, `26 November 2026`
(dates of aware datetimes are taken in Europe/Paris); missing value (`None`/`""`): `—`.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django import template

from grants.templatetags.french_format import MISSING, _as_date, _as_paris, to_decimal

register = template.Library()

MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _format_number(value: Decimal, places: int, *, strip_zeros: bool) -> tuple[bool, str]:
    """(negative, text) of `value` rounded half-up to `places` decimals, English separators."""
    quantum = Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    integer_part, _, fraction = f"{abs(rounded):f}".partition(".")
    if strip_zeros:
        fraction = fraction.rstrip("0")
    text = f"{int(integer_part):,}"
    if fraction:
        text = f"{text}.{fraction}"
    return rounded < 0, text


@register.filter
def euros_en(value: object) -> str:
    """`Decimal("70000")` → `"€70,000.00"`; rounded half-up to the cent; `None`/`""` → "—"."""
    if value is None or value == "":
        return MISSING
    negative, text = _format_number(to_decimal(value), 2, strip_zeros=False)
    return f"-€{text}" if negative else f"€{text}"


@register.filter
def percent_en(value: object) -> str:
    """A rate given as a **fraction between 0 and 1** → `"25%"`, `"72.5%"` (at most two decimals).

    A value outside [0, 1] raises `ValueError`; `None`/`""` → "—".
    """
    if value is None or value == "":
        return MISSING
    fraction = to_decimal(value)
    if fraction < 0 or fraction > 1:
        raise ValueError(f"percent_en expects a fraction between 0 and 1, got {value!r}")
    _, text = _format_number(fraction * 100, 2, strip_zeros=True)
    return f"{text}%"


def _day_month_year(day: dt.date) -> str:
    return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"


@register.filter
def date_en(value: object) -> str:
    """A date, an aware datetime (taken in Europe/Paris) or an ISO string → `26 November 2026`.

    A naive datetime raises `ValueError`; `None`/`""` → "—".
    """
    if value is None or value == "":
        return MISSING
    return _day_month_year(_as_date(value))


@register.filter
def datetime_en(value: object) -> str:
    """An aware datetime → `26 November 2026, 14:05 (Paris time)`; naive raises; `None`/`""` → "—"."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.strip())
    if not isinstance(value, dt.datetime):
        raise TypeError(f"aware datetime expected, got {type(value).__name__}: {value!r}")
    local = _as_paris(value)
    return f"{_day_month_year(local.date())}, {local.hour:02d}:{local.minute:02d} (Paris time)"
