"""Reading a transition's payload: texts, euro amounts, dates. Errors are ``Invalid``
with the field's name and the reason, in the reader's language."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.engine import Invalid


def text(payload: dict[str, Any], name: str, *, required: bool, max_length: int = 5000) -> str:
    value = payload.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(errors={name: [_("Ce champ doit être un texte.")]})
    value = value.strip()
    if required and not value:
        raise Invalid(errors={name: [_("Ce champ est obligatoire.")]})
    if len(value) > max_length:
        raise Invalid(errors={name: [_("Ce texte dépasse %(max)s caractères.") % {"max": max_length}]})
    return value


# What French users type: "25000", "25 000", "25 000,50", "25.000,50 €", "25000.50"
# (the API's "1250.50"). Digits are ASCII only; no exponent, no sign, no spaces around.
_GROUP = "[ \u00a0\u202f]"
AMOUNT_RE = re.compile(
    r"^(?P<units>[0-9]{1,3}(?:" + _GROUP + r"[0-9]{3})+|[0-9]{1,3}(?:\.[0-9]{3})+(?=,)|[0-9]+)"
    r"(?:[,.](?P<cents>[0-9]+))?(?:" + _GROUP + r"?€)?$"
)
INVALID_AMOUNT = gettext_lazy("Montant invalide : indiquez un montant en euros, par ex. « 25 000,50 ».")


def parse_amount(value: Any, field: str) -> Decimal:
    """A euro amount, exactly: an int, a Decimal, or a string as French users type it.
    Floats are refused (no binary drift), and so is anything else, on ``field``."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise Invalid(errors={field: [str(INVALID_AMOUNT)]})
    if isinstance(value, str):
        if value.startswith("-"):
            raise Invalid(errors={field: [_("Le montant ne peut pas être négatif.")]})
        match = AMOUNT_RE.match(value)
        if match is None:
            raise Invalid(errors={field: [str(INVALID_AMOUNT)]})
        cents = match.group("cents") or ""
        if len(cents) > 2:
            raise Invalid(errors={field: [_("Le montant a au plus deux décimales (centimes).")]})
        amount = Decimal(re.sub(r"[^0-9]", "", match.group("units")) + (f".{cents}" if cents else ""))
    else:
        amount = Decimal(value)
    if not amount.is_finite():
        raise Invalid(errors={field: [str(INVALID_AMOUNT)]})
    if amount < 0:
        raise Invalid(errors={field: [_("Le montant ne peut pas être négatif.")]})
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise Invalid(errors={field: [_("Le montant a au plus deux décimales (centimes).")]})
    if amount >= Decimal("1e12"):
        raise Invalid(errors={field: [_("Montant trop élevé.")]})
    return amount.quantize(Decimal("0.01"))


def parse_date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(errors={field: [_("Date invalide : format attendu AAAA-MM-JJ.")]}) from None


def end_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59, 59)))


def reason_validate(payload: dict[str, Any], subject: Any) -> dict[str, Any]:
    return {"reason": text(payload, "reason", required=True)}


def comment_validate(payload: dict[str, Any], subject: Any) -> dict[str, Any]:
    return {"comment": text(payload, "comment", required=False)}
