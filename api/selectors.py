"""Reads of the API, always scoped through ``grants.policy``.

What each caller may read of an application's history (documented in the OpenAPI
description of ``GET /applications/{id}/``):

* the delegation (instructor, secretary, signatory, finance in scope, admin): everything;
* an applicant: the application's own transitions, and its decision's once the decision
  is visible to it (delivered). Comments the delegation writes for itself (closing the
  opinion phase early, scheduling, approval notes, deferral) are blanked, and a staff
  member appears by role, not by name. Opinions and reviews are confidential: their
  entries are never shown;
* an embassy or a prefecture: the application's transitions and the entries of its own
  opinion requests; never reviews;
* a reviewer: the application's transitions, the opinions, and its own review's entries.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from grants import policy
from grants.models import (
    Application,
    Call,
    CommitteeSession,
    Decision,
    Document,
    OpinionRequest,
    Review,
    Role,
)
from grants.services import APPLICATION_TRANSITIONS
from workflows import engine
from workflows.models import TransitionLog

from .serializers import subject_name

DELEGATION = (Role.INSTRUCTOR, Role.SECRETARY, Role.SIGNATORY, Role.FINANCE)
# Application transitions whose comment is the delegation's internal note.
INTERNAL_COMMENTS = frozenset({"close_opinions", "schedule", "approve", "defer"})


def not_found() -> engine.NotFound:
    return engine.NotFound(_("Introuvable."))


# --- work-around: unscoped staff grants --------------------------------------------------------
# Scoped reads come from grants.policy (the one place deciding scopes).


def scoped_decisions(user: Any) -> QuerySet[Decision]:
    return policy.visible_decisions(user)


def scoped_reviews(user: Any) -> QuerySet[Review]:
    return policy.visible_reviews(user)


def scoped_opinion_requests(user: Any) -> QuerySet[OpinionRequest]:
    return policy.visible_opinion_requests(user)


# --- calls ------------------------------------------------------------------------------------


def visible_calls(user: Any) -> QuerySet[Call]:
    """Every call but drafts; drafts too for an admin and the delegation staff in scope."""
    s = policy.scopes(user)
    qs = Call.objects.prefetch_related("eligible_countries")
    if Role.ADMIN in s.roles:
        return qs
    visible = qs.exclude(state=Call.State.DRAFT)
    for role in (Role.INSTRUCTOR, Role.SECRETARY):
        if role in s.roles:
            if role in s.unscoped:
                return qs
            visible = visible | qs.filter(pk__in=sorted(s.calls.get(role, set())))
    return visible.distinct()


# --- applications -----------------------------------------------------------------------------


def application_list(user: Any) -> QuerySet[Application]:
    """A constant number of queries whatever the page size: one for the page, one for
    the countries (the user's scopes are read once per request and cached)."""
    return policy.visible_applications(user).select_related("call", "organisation").prefetch_related("countries")


def visible_application(user: Any, pk: Any) -> Application:
    app = policy.visible_applications(user).filter(pk=pk).select_related("call").first()
    if app is None:
        raise not_found()
    return app


def application_detail(user: Any, pk: Any) -> Application:
    """The application with everything the detail body shows, computed for ``user``."""
    app = (
        policy.visible_applications(user)
        .filter(pk=pk)
        .select_related("call", "organisation", "session")
        .prefetch_related(
            "countries",
            "co_applicants",
            "partners",
            "budget_lines",
            "attachments",
        )
        .first()
    )
    if app is None:
        raise not_found()
    decision = scoped_decisions(user).filter(application=app).select_related("application__call", "document").first()
    app.visible_decision = decision  # type: ignore[attr-defined]
    app.api_available, app.api_blocked = transitions_for(user, app)  # type: ignore[attr-defined]
    app.api_history = history_for(user, app, decision)  # type: ignore[attr-defined]
    app.api_documents = documents_for(user, app, decision)  # type: ignore[attr-defined]
    return app


def transitions_for(user: Any, app: Application) -> tuple[list[str], list[dict[str, Any]]]:
    """(names the caller may fire now, [{name, label, unmet}] it could fire once the
    conditions are met). Availability is the engine's own check: no rule here."""
    available: list[str] = []
    blocked: list[dict[str, Any]] = []
    for name, spec in APPLICATION_TRANSITIONS.items():
        if not can_proceed(getattr(app, spec.name), check_conditions=False):
            continue
        role, unmet = engine.check(spec, app, user)
        if role is None:
            continue
        if unmet:
            blocked.append({"name": name, "label": str(spec.label), "unmet": [str(r) for r in unmet]})
        else:
            available.append(name)
    return available, blocked


def _viewer(user: Any, app: Application) -> str:
    s = policy.scopes(user)
    if Role.ADMIN in s.roles or policy.role_for(user, DELEGATION, app) is not None:
        return "delegation"
    if not policy.is_staff_user(user):
        return "applicant"
    return "partner"  # embassy, prefecture, reviewer


def history_for(user: Any, app: Application, decision: Decision | None) -> list[dict[str, Any]]:
    viewer = _viewer(user, app)
    entries = list(TransitionLog.objects.filter(application=app).order_by("at", "pk"))
    role_labels = dict(Role.choices)
    opinion_ids: set[str] = set()
    review_ids: set[str] = set()
    if viewer == "partner":
        s = policy.scopes(user)
        if Role.REVIEWER in s.roles and Review.objects.filter(application=app, reviewer=user).exists():
            opinion_ids = {
                str(pk) for pk in OpinionRequest.objects.filter(application=app).values_list("pk", flat=True)
            }
        opinion_ids |= {
            str(pk) for pk in scoped_opinion_requests(user).filter(application=app).values_list("pk", flat=True)
        }
        review_ids = {
            str(pk) for pk in Review.objects.filter(application=app, reviewer=user).values_list("pk", flat=True)
        }
    result: list[dict[str, Any]] = []
    for entry in entries:
        subject = subject_name(entry.subject_type)
        comment = entry.comment
        by: str | None = entry.actor_name or None
        if viewer != "delegation":
            if subject == "decision":
                if decision is None or entry.subject_id != str(decision.pk):
                    continue
            elif subject == "opinion":
                if entry.subject_id not in opinion_ids:
                    continue
            elif subject == "review":
                if entry.subject_id not in review_ids:
                    continue
            elif subject != "application":
                continue
        if viewer == "applicant":
            if subject == "application" and entry.transition in INTERNAL_COMMENTS:
                comment = ""
            if entry.role not in (Role.APPLICANT, policy.SYSTEM):
                by = str(role_labels.get(entry.role, entry.role))
        result.append(
            {
                "transition": entry.transition,
                "subject": subject,
                "source": entry.source,
                "target": entry.target,
                "by": by,
                "role": entry.role,
                "at": entry.at,
                "comment": comment,
            }
        )
    return result


def documents_for(user: Any, app: Application, decision: Decision | None) -> list[Document]:
    """The application's issued PDFs; a decision letter only with its visible decision."""
    documents = []
    for document in Document.objects.filter(application=app).order_by("issued_at", "pk"):
        if document.decision_id is not None and (decision is None or document.decision_id != decision.pk):
            continue
        documents.append(document)
    return documents


def visible_document(user: Any, app: Application, code: str) -> Document:
    decision = scoped_decisions(user).filter(application=app).first()
    for document in documents_for(user, app, decision):
        if document.verification_code == code:
            return document
    raise not_found()


# --- the other lists --------------------------------------------------------------------------


def opinion_list(user: Any) -> QuerySet[OpinionRequest]:
    return scoped_opinion_requests(user).select_related("application")


def review_list(user: Any) -> QuerySet[Review]:
    return scoped_reviews(user).select_related("application__call", "reviewer")


def decision_list(user: Any) -> QuerySet[Decision]:
    return scoped_decisions(user).select_related("application__call", "document")


def visible_decision(user: Any, pk: Any) -> Decision:
    decision = decision_list(user).filter(pk=pk).first()
    if decision is None:
        raise not_found()
    return decision


def session_list(user: Any) -> QuerySet[CommitteeSession]:
    """Sessions of the calls the caller runs or instructs (admin: all)."""
    s = policy.scopes(user)
    qs = CommitteeSession.objects.select_related("call").annotate(applications_count=Count("applications"))
    if Role.ADMIN in s.roles:
        return qs
    q = None
    for role in (Role.SECRETARY, Role.INSTRUCTOR):
        if role in s.roles:
            part = s.call_filter(role)
            q = part if q is None else q | part
    return qs.filter(q) if q is not None else qs.none()
