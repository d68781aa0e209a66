"""Rendering a message in a given language: subject, plain text and HTML.

The facts (``Notification.params``) were frozen when the event happened; the wording
and the formatting of dates and amounts follow the reader's language. User text (a
title, a completion request, a reason) is only ever interpolated into autoescaped
templates: it is never marked safe.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import formats, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from grants.budget import fmt_euros
from notifications.events import MESSAGES, OUTCOME_PHRASES, ROLE_PHRASES, TASK_PHRASES, Message

PARIS = ZoneInfo("Europe/Paris")
DATETIME_KEYS = ("submitted_at", "due_at", "closes_at")
DATE_KEYS = ("due_date", "session_date", "paid_on")
SUBJECT_MAX = 180


class _Values(dict[str, Any]):
    """Missing facts show as a dash rather than breaking the e-mail."""

    def __missing__(self, key: str) -> str:
        return "—"


@dataclass
class Paragraph:
    text: str
    quote: bool = False


@dataclass
class Rendered:
    subject: str
    paragraphs: list[Paragraph]
    action_label: str = ""
    action_url: str = ""
    text: str = ""
    html: str = ""
    language: str = "fr"
    extra: dict[str, Any] = field(default_factory=dict)


def format_datetime(value: str | dt.datetime | None) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return formats.date_format(moment.astimezone(PARIS), "DATETIME_FORMAT")


def format_date(value: str | dt.date | None) -> str:
    day = parse_date(value) if isinstance(value, str) else value
    return formats.date_format(day, "DATE_FORMAT") if day else "—"


def format_amount(value: str | Decimal | None) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "—"
    if (translation.get_language() or "fr").startswith("fr"):
        return fmt_euros(amount)
    return f"€{amount.quantize(Decimal('0.01')):,}"


def _place(params: dict[str, Any]) -> str:
    if params.get("country_fr") or params.get("country_en"):
        english = (translation.get_language() or "fr").startswith("en")
        return str(params.get("country_en") if english else params.get("country_fr")) or str(params.get("country_fr"))
    return str(params.get("region") or "")


def values(params: dict[str, Any]) -> _Values:
    """The placeholders of a message, formatted in the active language."""
    out = _Values({k: v for k, v in params.items() if isinstance(v, str | int)})
    for key in DATETIME_KEYS:
        if key in params:
            out[key] = format_datetime(params[key])
    for key in DATE_KEYS:
        if key in params:
            out[key] = format_date(params[key])
    if "amount" in params:
        out["amount"] = format_amount(params["amount"])
    if params.get("outcome") in OUTCOME_PHRASES:
        out["outcome"] = str(OUTCOME_PHRASES[params["outcome"]])
    kind = params.get("task_kind")
    if kind in TASK_PHRASES:
        out["task"] = capfirst(str(TASK_PHRASES[kind]))
    place = _place(params)
    out["place"] = place or "—"
    for key, role_key in (("authority", "authority"), ("queue", "queue_role")):
        role = params.get(role_key)
        if role in ROLE_PHRASES:
            label = str(capfirst(str(ROLE_PHRASES[role])))
            out[key] = f"{label} — {place}" if place else label
    out["label"] = params.get("reference") or params.get("title") or "—"
    return out


def _single_line(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "…"


def _paragraphs(message: Message, params: dict[str, Any], vals: _Values) -> list[Paragraph]:
    out = []
    for line in message.lines:
        if line.when and not params.get(line.when):
            continue
        if line.quote:
            quoted = str(params.get(line.quote) or "").strip()
            if quoted:
                out.append(Paragraph(quoted, quote=True))
            continue
        out.append(Paragraph(str(line.text) % vals))
    return out


def preferences_url() -> str:
    from django.urls import reverse

    return settings.SITE_URL + reverse("notifications:preferences")


def render(code: str, params: dict[str, Any], *, language: str, url: str = "") -> Rendered:
    """Render message ``code`` with ``params`` in ``language`` (subject, text, HTML)."""
    message = MESSAGES[code]
    with translation.override(language):
        vals = values(params)
        rendered = Rendered(
            subject=_single_line(str(message.subject) % vals),
            paragraphs=_paragraphs(message, params, vals),
            action_label=str(message.action) if url else "",
            action_url=url,
            language=language,
        )
        context = {"m": rendered, "preferences_url": preferences_url(), "LANGUAGE_CODE": language}
        rendered.text = render_to_string("notifications/email/message.txt", context).strip() + "\n"
        rendered.html = render_to_string("notifications/email/message.html", context)
    return rendered


def render_digest(items: Iterable[tuple[str, dict[str, Any], str]], *, language: str) -> Rendered:
    """One e-mail listing every (code, params, url) item of the day."""
    with translation.override(language):
        entries = []
        for code, params, url in items:
            message = MESSAGES[code]
            vals = values(params)
            paragraphs = _paragraphs(message, params, vals)
            entries.append(
                {
                    "subject": _single_line(str(message.subject) % vals),
                    "summary": paragraphs[0].text if paragraphs else "",
                    "url": url,
                }
            )
        subject = _("Votre récapitulatif quotidien : %(n)s notification(s)") % {"n": len(entries)}
        rendered = Rendered(subject=_single_line(subject), paragraphs=[], language=language)
        context = {
            "m": rendered,
            "entries": entries,
            "preferences_url": preferences_url(),
            "LANGUAGE_CODE": language,
        }
        rendered.text = render_to_string("notifications/email/digest.txt", context).strip() + "\n"
        rendered.html = render_to_string("notifications/email/digest.html", context)
    return rendered
