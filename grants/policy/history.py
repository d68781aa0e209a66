"""What each reader may read of an application's history: one function for the staff
page, the applicant's timeline and the API.

The rules (docs/architecture.md, "Who sees what"):

* the delegation (instructors, secretaries, signatories, finance in scope; admins)
  reads every entry and every comment;
* an applicant (lead or co-applicant authority) reads the application's public steps,
  in its own wording, with the comments written to it; it learns an outcome (the
  ``approve`` / ``reject`` entries, amounts, reasons) only once the decision letter is
  delivered, before that one entry says the committee has met and the letter is being
  prepared; staff appear by their role, never by name;
* an embassy, a prefecture or a partner government reads the public steps (the same outcome rule) and the
  entries of its own opinion requests; never a review, a reviewer, or another post's
  opinion;
* a reviewer reads the application's steps, every opinion (the committee weighs them)
  and its own review; another reviewer's review only once its own is submitted;
* the delegation's internal comments (closing the opinion phase early, scheduling,
  approval notes, deferral) are read by the delegation only;
* in a history shown to staff, people are named by their full name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Model
from django.utils.translation import gettext_lazy

from grants.models import Application, Decision, OpinionRequest, Review, Role
from grants.policy.applications import (
    DELIVERED,
    visible_decisions,
    visible_opinion_requests,
    visible_reviews,
)
from grants.policy.documents import is_delegation
from grants.policy.scopes import SYSTEM, scopes
from grants.postaward import Amendment, Payment, Report
from workflows.models import TransitionLog
from workflows.registry import spec as entry_spec_of

APPLICATION = "grants.application"
SUBJECT_NAMES = {
    APPLICATION: "application",
    "grants.opinionrequest": "opinion",
    "grants.review": "review",
    "grants.decision": "decision",
    "grants.committeesession": "session",
    # The grant's life after the commitment: the delegation and the applicant read them.
    "grants.payment": "payment",
    "grants.report": "report",
    "grants.amendment": "amendment",
}
POSTAWARD = frozenset({"payment", "report", "amendment"})
SUBJECT_MODELS: dict[str, type[Model]] = {
    "application": Application,
    "opinion": OpinionRequest,
    "review": Review,
    "decision": Decision,
    "payment": Payment,
    "report": Report,
    "amendment": Amendment,
}
OUTCOMES = frozenset({"approve", "reject"})
ROLE_LABELS: dict[str, Any] = {**dict(Role.choices), SYSTEM: gettext_lazy("Système")}
COMMITTEE_MET = gettext_lazy("Le comité s'est réuni ; la lettre de décision est en préparation")

# Readers, from the most to the least entitled.
DELEGATION, REVIEWER, POST, APPLICANT = "delegation", "reviewer", "post", "applicant"


@dataclass(frozen=True)
class Entry:
    at: Any
    subject: str  # application | opinion | review | decision
    transition: str
    source: str
    target: str
    label: str
    by: str | None  # a person's full name, or a role for an applicant reader
    role: str
    comment: str

    def as_api(self) -> dict[str, Any]:
        return {
            "transition": self.transition,
            "subject": self.subject,
            "source": self.source,
            "target": self.target,
            "by": self.by,
            "role": self.role,
            "at": self.at,
            "comment": self.comment,
        }

    @property
    def role_label(self) -> str:
        return str(ROLE_LABELS.get(self.role, self.role))

    @property
    def is_application(self) -> bool:
        return self.subject == "application"

    def _state_label(self, value: str) -> str:
        model = SUBJECT_MODELS.get(self.subject)
        if model is None or not value:
            return value
        choices = dict(model._meta.get_field("state").choices or [])  # type: ignore[union-attr]
        return str(choices.get(value, value))

    @property
    def source_label(self) -> str:
        return self._state_label(self.source)

    @property
    def target_label(self) -> str:
        return self._state_label(self.target)


def reader(user: Any, application: Application) -> str:
    """The kind of reader ``user`` is for this application (it may see it)."""
    if is_delegation(user, application):
        return DELEGATION
    roles = scopes(user).roles
    if Role.REVIEWER in roles and Review.objects.filter(application=application, reviewer=user).exists():
        return REVIEWER
    if roles & {Role.EMBASSY, Role.PREFECTURE, Role.PARTNER}:
        return POST
    return APPLICANT


def _full_name(entry: TransitionLog) -> str | None:
    actor = entry.actor
    if actor is None:
        return entry.actor_name or None
    return actor.get_full_name() or actor.get_username()


def history(user: Any, application: Application) -> list[Entry]:
    """The entries of ``application``'s history ``user`` may read, oldest first
    (a constant number of queries)."""
    kind = reader(user, application)
    entries = list(TransitionLog.objects.filter(application=application).select_related("actor").order_by("at", "pk"))
    opinions: set[str] = set()
    reviews: set[str] = set()
    decisions: set[str] = set()
    if kind != DELEGATION:
        opinions = {
            str(pk)
            for pk in visible_opinion_requests(user).filter(application=application).values_list("pk", flat=True)
        }
        reviews = {str(pk) for pk in visible_reviews(user).filter(application=application).values_list("pk", flat=True)}
        decisions = {
            str(pk) for pk in visible_decisions(user).filter(application=application).values_list("pk", flat=True)
        }
    outcome_known = (
        kind in (DELEGATION, REVIEWER) or Decision.objects.filter(application=application, state__in=DELIVERED).exists()
    )
    result: list[Entry] = []
    for entry in entries:
        subject = SUBJECT_NAMES.get(entry.subject_type)
        if subject is None:
            continue
        spec = entry_spec_of(entry.subject_type, entry.transition)
        public = bool(spec and spec.public)
        comment = entry.comment
        label: Any = spec.entry_label if spec else entry.transition
        if kind != DELEGATION:
            if subject == "opinion" and entry.subject_id not in opinions:
                continue
            if subject == "review" and entry.subject_id not in reviews:
                continue
            if subject == "decision" and (entry.subject_id not in decisions or not public):
                continue
            if subject in POSTAWARD and (kind != APPLICANT or not public or not decisions):
                continue
            if kind in (POST, APPLICANT) and subject == "application" and not public:
                continue
            if spec is not None and spec.internal_comment:
                comment = ""
        by = _full_name(entry)
        if kind == APPLICANT:
            label = (spec.public_label or spec.entry_label) if spec else label
            if entry.role not in (Role.APPLICANT,):
                by = str(ROLE_LABELS.get(entry.role, entry.role))
        if (
            kind in (POST, APPLICANT)
            and subject == "application"
            and entry.transition in OUTCOMES
            and not outcome_known
        ):
            result.append(
                Entry(
                    entry.at,
                    "application",
                    "committee_met",
                    entry.source,
                    entry.source,
                    str(COMMITTEE_MET),
                    None,
                    "",
                    "",
                )
            )
            continue
        result.append(
            Entry(
                at=entry.at,
                subject=subject,
                transition=entry.transition,
                source=entry.source,
                target=entry.target,
                label=str(label),
                by=by,
                role=entry.role,
                comment=comment,
            )
        )
    return result
