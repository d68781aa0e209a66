"""What changed between two submitted snapshots of an application (``Snapshot.data``, as
``grants.machines.application.snapshot_data`` writes it): the fields, the budget lines,
the funding, the partners and the attachments. Pure: two dicts in, a list of changes out.

Shown on the staff application page after a completion request, so the instructor reads
what the resubmission changed instead of comparing the whole application by eye.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from grants.models import AttachmentKind, BudgetLine

ADDED, REMOVED, CHANGED = "added", "removed", "changed"

#: The application's own fields, in the order the page shows them.
FIELDS: list[tuple[str, Promise]] = [
    ("title", _("Titre")),
    ("summary", _("Résumé")),
    ("objectives", _("Objectifs")),
    ("themes", _("Thématiques")),
    ("sdg_targets", _("Cibles ODD")),
    ("gender_marker", _("Marqueur genre")),
    ("start_date", _("Date de début")),
    ("duration_months", _("Durée (en mois)")),
    ("countries", _("Pays")),
    ("co_applicants", _("Collectivités co-porteuses")),
]
FUNDING: list[tuple[str, Promise]] = [
    ("own_cash", _("Apport en numéraire des collectivités françaises")),
    ("own_in_kind", _("Valorisation des collectivités françaises")),
    ("partner", _("Apport des partenaires étrangers")),
    ("other", _("Autres cofinancements")),
    ("requested", _("Montant demandé")),
]


@dataclass(frozen=True)
class Change:
    section: str  # "fields", "budget", "funding", "partners", "attachments", "answers"
    kind: str  # ADDED, REMOVED, CHANGED
    label: str
    before: str = ""
    after: str = ""


def _text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _answer(value: Any) -> str:
    if isinstance(value, bool):
        return str(_("Oui") if value else _("Non"))
    return _text(value)


def _line(line: dict[str, Any]) -> tuple[Any, ...]:
    return (line.get("year"), line.get("category"), line.get("label"), line.get("country"))


def _line_label(line: dict[str, Any]) -> str:
    category = dict(BudgetLine.Category.choices).get(line.get("category", ""), line.get("category", ""))
    return f"{_('Année')} {line.get('year')} · {category} · {line.get('label')}"


def _one_side(before: list[Any], after: list[Any]) -> tuple[list[Any], list[Any]]:
    """The items only in ``before`` and those only in ``after``, counted (two identical
    rows are two rows), in their order."""
    gone, new = Counter(before) - Counter(after), Counter(after) - Counter(before)
    removed, added = [], []
    for item in before:
        if gone[item]:
            gone[item] -= 1
            removed.append(item)
    for item in after:
        if new[item]:
            new[item] -= 1
            added.append(item)
    return removed, added


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Every difference from ``before`` to ``after`` (two ``Snapshot.data``), section by section."""
    changes: list[Change] = []
    for key, label in FIELDS:
        old, new = before.get(key), after.get(key)
        if old != new:
            changes.append(Change("fields", CHANGED, str(label), _text(old), _text(new)))

    # Budget lines: matched on what they are (year, category, label, country); the amount may change.
    old_lines = {_line(ln): ln for ln in before.get("budget", {}).get("lines", [])}
    new_lines = {_line(ln): ln for ln in after.get("budget", {}).get("lines", [])}
    for line_key, line in old_lines.items():
        if line_key not in new_lines:
            changes.append(Change("budget", REMOVED, _line_label(line), before=line.get("amount", "")))
        elif new_lines[line_key].get("amount") != line.get("amount"):
            amount = new_lines[line_key].get("amount", "")
            changes.append(Change("budget", CHANGED, _line_label(line), line.get("amount", ""), amount))
    for line_key, line in new_lines.items():
        if line_key not in old_lines:
            changes.append(Change("budget", ADDED, _line_label(line), after=line.get("amount", "")))

    old_funding = before.get("budget", {}).get("funding", {})
    new_funding = after.get("budget", {}).get("funding", {})
    for key, label in FUNDING:
        if old_funding.get(key) != new_funding.get(key):
            changes.append(
                Change("funding", CHANGED, str(label), _text(old_funding.get(key)), _text(new_funding.get(key)))
            )

    removed, added = _one_side(
        [(p.get("name"), p.get("country")) for p in before.get("partners", [])],
        [(p.get("name"), p.get("country")) for p in after.get("partners", [])],
    )
    changes += [Change("partners", REMOVED, f"{name} ({country})") for name, country in removed]
    changes += [Change("partners", ADDED, f"{name} ({country})") for name, country in added]

    # Attachments: when one file of a kind left and one of that kind came, it was replaced.
    kinds = dict(AttachmentKind.choices)
    gone, came = _one_side(
        [(a.get("kind"), a.get("name"), a.get("sha256")) for a in before.get("attachments", [])],
        [(a.get("kind"), a.get("name"), a.get("sha256")) for a in after.get("attachments", [])],
    )
    for kind in dict.fromkeys(k for k, _n, _h in gone + came):
        left = [name for k, name, _h in gone if k == kind]
        came_in = [name for k, name, _h in came if k == kind]
        kind_label = str(kinds.get(kind, kind))
        if len(left) == 1 and len(came_in) == 1:
            changes.append(Change("attachments", CHANGED, kind_label, left[0], came_in[0]))
            continue
        changes += [Change("attachments", REMOVED, kind_label, before=name) for name in left]
        changes += [Change("attachments", ADDED, kind_label, after=name) for name in came_in]

    # Answers to the call's own questions (grants.answers), by question code.
    old_answers, new_answers = before.get("answers") or {}, after.get("answers") or {}
    for code in sorted(set(old_answers) | set(new_answers)):
        old, new = old_answers.get(code), new_answers.get(code)
        if old != new:
            kind = ADDED if old is None else REMOVED if new is None else CHANGED
            changes.append(Change("answers", kind, code, _answer(old), _answer(new)))
    return changes
