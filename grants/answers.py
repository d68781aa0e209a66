"""The one validator of the answers to a call's own questions (``grants.questions``):
used by the applicant's form, the API's PATCH of a draft, and the submit condition.

An answer of the wrong type, a choice not offered or a number out of bounds is refused
with the question's label (``Invalid``, field ``answers.<code>``); a required question
left unanswered blocks the submission (``missing``), never the saving of a draft.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from grants.questions import CallQuestion
from workflows.engine import Invalid

Q = CallQuestion.Type
MAX_TEXT: dict[str, int] = {Q.TEXT: 500, Q.LONG_TEXT: 10000}


def field_name(question: CallQuestion) -> str:
    return f"answers.{question.code}"


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or isinstance(value, float):
        return None  # never binary floats: "12.5" or 12
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        raw = value.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace(",", ".")
        try:
            number = Decimal(raw)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _format(number: Decimal) -> str:
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def clean_one(question: CallQuestion, value: Any) -> tuple[Any, str | None]:
    """(the stored value, or None; the reason it is refused, or None)."""
    label = question.display_label
    if _empty(value):
        return None, None
    kind = question.type
    if kind in MAX_TEXT:
        if not isinstance(value, str):
            return None, _("« %(label)s » : la réponse doit être un texte.") % {"label": label}
        value = value.strip()
        if len(value) > MAX_TEXT[kind]:
            return None, _("« %(label)s » : la réponse dépasse %(max)s caractères.") % {
                "label": label,
                "max": MAX_TEXT[kind],
            }
        return value or None, None
    if kind == Q.NUMBER:
        number = _number(value)
        if number is None:
            return None, _("« %(label)s » : indiquez un nombre.") % {"label": label}
        if question.min_value is not None and number < question.min_value:
            return None, _("« %(label)s » : le nombre doit être au moins %(min)s.") % {
                "label": label,
                "min": _format(question.min_value),
            }
        if question.max_value is not None and number > question.max_value:
            return None, _("« %(label)s » : le nombre doit être au plus %(max)s.") % {
                "label": label,
                "max": _format(question.max_value),
            }
        return _format(number), None
    if kind == Q.DATE:
        if isinstance(value, dt.date):
            return value.isoformat(), None
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat(), None
        except ValueError:
            return None, _("« %(label)s » : indiquez une date (AAAA-MM-JJ).") % {"label": label}
    if kind == Q.YES_NO:
        if isinstance(value, bool):
            return value, None
        if value in ("true", "yes", "oui", "1", 1):
            return True, None
        if value in ("false", "no", "non", "0", 0):
            return False, None
        return None, _("« %(label)s » : répondez par oui ou par non.") % {"label": label}
    offered = [str(item.get("value")) for item in question.choices or []]
    if kind == Q.CHOICE:
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) not in offered:
            return None, _("« %(label)s » : ce choix n'est pas proposé.") % {"label": label}
        return str(value), None
    # multiple choice
    if not isinstance(value, list) or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        return None, _("« %(label)s » : indiquez une liste de choix.") % {"label": label}
    chosen = [str(v) for v in value]
    unknown = [v for v in chosen if v not in offered]
    if unknown:
        return None, _("« %(label)s » : ce choix n'est pas proposé (%(list)s).") % {
            "label": label,
            "list": ", ".join(unknown),
        }
    return [v for v in offered if v in chosen] or None, None


def clean_answers(questions: list[CallQuestion], raw: Any, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The answers to store: ``current`` with the answers given in ``raw`` replaced (an
    empty answer removes it). Every refusal at once, as ``Invalid``."""
    if not isinstance(raw, dict):
        raise Invalid(errors={"answers": [_("Les réponses sont un objet {code de la question: réponse}.")]})
    by_code = {q.code: q for q in questions}
    errors: dict[str, list[str]] = {}
    unknown = sorted(str(k) for k in raw if k not in by_code)
    if unknown:
        errors["answers"] = [_("Questions inconnues pour cet appel : %(list)s.") % {"list": ", ".join(unknown)}]
    out = {k: v for k, v in (current or {}).items() if k in by_code}
    for code, value in raw.items():
        question = by_code.get(code)
        if question is None:
            continue
        cleaned, refusal = clean_one(question, value)
        if refusal:
            errors.setdefault(field_name(question), []).append(refusal)
        elif cleaned is None:
            out.pop(code, None)
        else:
            out[code] = cleaned
    if errors:
        raise Invalid(_("Données invalides."), errors=errors)
    return out


def missing(questions: list[CallQuestion], answers: dict[str, Any]) -> list[str]:
    """The submission's unmet conditions: each required question left unanswered, by its label."""
    return [
        _("Question obligatoire sans réponse : « %(label)s ».") % {"label": q.display_label}
        for q in questions
        if q.required and _empty((answers or {}).get(q.code))
    ]


def display(question: CallQuestion, value: Any) -> str:
    """An answer as a reader reads it (labels of the choices, yes/no, dates as dd/mm/yyyy)."""
    if _empty(value):
        return "—"
    if question.type == Q.YES_NO:
        return _("Oui") if value is True else _("Non")
    if question.type in CallQuestion.CHOICE_TYPES:
        labels = dict(question.choice_options())
        values = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(str(v), str(v)) for v in values)
    if question.type == Q.DATE:
        try:
            return dt.date.fromisoformat(str(value)).strftime("%d/%m/%Y")
        except ValueError:
            return str(value)
    return str(value)


def rows(application: Any) -> list[tuple[CallQuestion, str]]:
    """(question, the answer as read) of every question of the application's call, in order."""
    answers = application.answers or {}
    return [(q, display(q, answers.get(q.code))) for q in application.call.questions.all()]
