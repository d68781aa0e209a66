"""French formatting of amounts, rates and dates for documents (`{% load french_format %}`).

The output never depends on the active Django language or on the process locale: a
decision letter rendered by a Celery worker reads the same as one rendered in a request.

Conventions (CLDR, locale `fr`):

- thousands separator: NARROW NO-BREAK SPACE U+202F (`70 000`);
- decimal separator: comma;
- before the euro sign: NO-BREAK SPACE U+00A0 (`70 000,00 €`);
- before the percent sign: NARROW NO-BREAK SPACE U+202F (`70 %`);
- missing value (`None` or `""`): EM DASH `—`.

Amounts and rates are exact: `Decimal`, `int` or a decimal string. A `float` (or a
`bool`) raises `TypeError` instead of being printed with binary rounding noise; a
template that passes one fails loudly rather than issuing a wrong official document.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django import template

register = template.Library()

NNBSP = "\u202f"  # narrow no-break space: thousands separator, before "%"
NBSP = "\u00a0"  # no-break space: before "€"
MISSING = "—"
PARIS = ZoneInfo("Europe/Paris")

MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)

_CENT = Decimal("0.01")


def to_decimal(value: object) -> Decimal:
    """An exact `Decimal` from a `Decimal`, an `int` or a decimal string; never a float."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"exact amount expected (Decimal, int or str), got {type(value).__name__}: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal number: {value!r}") from exc
    else:
        raise TypeError(f"exact amount expected (Decimal, int or str), got {type(value).__name__}: {value!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def _group_thousands(digits: str) -> str:
    groups = []
    while len(digits) > 3:
        groups.append(digits[-3:])
        digits = digits[:-3]
    groups.append(digits)
    return NNBSP.join(reversed(groups))


def _format_number(value: Decimal, places: int, *, strip_zeros: bool) -> str:
    """`value` rounded half-up to `places` decimals, French separators, "-" sign."""
    quantum = Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    negative = rounded < 0
    integer_part, _, fraction = f"{abs(rounded):f}".partition(".")
    if strip_zeros:
        fraction = fraction.rstrip("0")
    text = _group_thousands(integer_part)
    if fraction:
        text = f"{text},{fraction}"
    return f"-{text}" if negative else text


@register.filter
def euros(value: object) -> str:
    """`Decimal("70000")` → `"70 000,00 €"` (U+202F between groups, U+00A0 before €).

    Rounded half-up to the cent; negative amounts get a leading "-"; `None`/`""` → "—".
    """
    if value is None or value == "":
        return MISSING
    return f"{_format_number(to_decimal(value), 2, strip_zeros=False)}{NBSP}€"


@register.filter
def decimal_fr(value: object, places: int = 2) -> str:
    """A number with French separators, at most `places` decimals (half-up, trailing zeros dropped).

    `Decimal("3.750")` → `"3,75"`, `Decimal("12500")` → `"12 500"`; `None`/`""` → "—".
    """
    if value is None or value == "":
        return MISSING
    return _format_number(to_decimal(value), int(places), strip_zeros=True)


@register.filter
def percent_fr(value: object) -> str:
    """A rate given as a **fraction between 0 and 1** → French percentage.

    `Decimal("0.7")` → `"70 %"`, `Decimal("0.725")` → `"72,5 %"` (U+202F before %);
    at most two decimals of percent (half-up), trailing zeros dropped. A value outside
    [0, 1] raises `ValueError` (`70` is refused: pass `Decimal("0.70")`); `None` → "—".
    """
    if value is None or value == "":
        return MISSING
    fraction = to_decimal(value)
    if fraction < 0 or fraction > 1:
        raise ValueError(f"percent_fr expects a fraction between 0 and 1, got {value!r}")
    return f"{_format_number(fraction * 100, 2, strip_zeros=True)}{NNBSP}%"


def _as_date(value: object) -> dt.date:
    if isinstance(value, str):
        text = value.strip()
        value = dt.datetime.fromisoformat(text) if "T" in text or " " in text else dt.date.fromisoformat(text)
    if isinstance(value, dt.datetime):
        return _as_paris(value).date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"date or aware datetime expected, got {type(value).__name__}: {value!r}")


def _as_paris(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime refused (ambiguous wall-clock time): {value!r}")
    return value.astimezone(PARIS)


def _day_month_year(day: dt.date) -> str:
    day_text = "1er" if day.day == 1 else str(day.day)
    return f"{day_text} {MONTHS_FR[day.month - 1]} {day.year}"


@register.filter
def date_fr(value: object) -> str:
    """A date, an aware datetime (shown in Europe/Paris) or an ISO string → `26 novembre 2026`.

    The first day of a month is written `1er`. A naive datetime raises `ValueError`;
    `None`/`""` → "—".
    """
    if value is None or value == "":
        return MISSING
    return _day_month_year(_as_date(value))


@register.filter
def datetime_fr(value: object) -> str:
    """An aware datetime (or ISO string with offset) → `26 novembre 2026 à 14 h 05` (Europe/Paris).

    A naive datetime or a bare date raises (`ValueError`/`TypeError`); `None`/`""` → "—".
    """
    if value is None or value == "":
        return MISSING
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.strip())
    if not isinstance(value, dt.datetime):
        raise TypeError(f"aware datetime expected, got {type(value).__name__}: {value!r}")
    local = _as_paris(value)
    return f"{_day_month_year(local.date())} à {local.hour}{NBSP}h{NBSP}{local.minute:02d}"
