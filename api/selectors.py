"""Reads of the API. Every scope, every history rule and every document rule comes from
the read policy (``grants.policy``); this module only shapes querysets for the
serializers (``select_related`` / ``prefetch_related``, constant query counts).

What each caller reads of an application's history is ``grants.policy.history``
(documented in the OpenAPI description of ``GET /applications/{id}/``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from grants import evaluation, policy, search
from grants.models import (
    SESSION_DEFERRED,
    Application,
    Call,
    CommitteeSession,
    Decision,
    Document,
    OpinionRequest,
    Review,
    Role,
)
from grants.scoring import spreads, weighted_score
from grants.services import APPLICATION_TRANSITIONS
from workflows import engine


def not_found() -> engine.NotFound:
    return engine.NotFound(_("Introuvable."))


# --- calls ------------------------------------------------------------------------------------


def visible_calls(user: Any) -> QuerySet[Call]:
    return policy.visible_calls(user).prefetch_related("eligible_countries", "questions")


# --- applications -----------------------------------------------------------------------------


def application_list(user: Any, filters: search.Filters | None = None) -> QuerySet[Application]:
    """The applications ``user`` may see that pass ``filters`` (``grants.search``, the same
    as the staff list's). A constant number of queries whatever the page size: one for the
    page, one for the countries (the user's scopes are read once per request and cached)."""
    return (
        search.applications(user, filters or search.Filters())
        .select_related("call", "organisation")
        .prefetch_related("countries")
    )


def visible_application(user: Any, pk: Any) -> Application:
    app = policy.visible_applications(user).filter(pk=pk).select_related("call").first()
    if app is None:
        raise not_found()
    return app


def refuse_unreadable(user: Any, app: Application) -> None:
    """403 with the policy's reason when ``user`` sees ``app`` but may not read its content
    (a reviewer before its declaration of no conflict of interest)."""
    reason = policy.read_refusal(user, app)
    if reason:
        raise engine.Forbidden(reason)


def readable_application(user: Any, pk: Any) -> Application:
    """``visible_application``, and readable: its content, attachments and documents."""
    app = visible_application(user, pk)
    refuse_unreadable(user, app)
    return app


def application_detail(user: Any, pk: Any) -> Application:
    """The application with everything the detail body shows, computed for ``user``
    (403 for a restricted reader)."""
    app = (
        policy.visible_applications(user)
        .filter(pk=pk)
        .select_related("call", "organisation", "session")
        .defer(*SESSION_DEFERRED)
        .prefetch_related(
            "countries",
            "co_applicants",
            "partners",
            "budget_lines",
            "attachments",
            "members__resolutions",
        )
        .first()
    )
    if app is None:
        raise not_found()
    refuse_unreadable(user, app)
    decision = (
        policy.visible_decisions(user).filter(application=app).select_related("application__call", "document").first()
    )
    app.visible_decision = decision  # type: ignore[attr-defined]
    app.api_available, app.api_blocked = transitions_for(user, app)  # type: ignore[attr-defined]
    app.api_history = [entry.as_api() for entry in policy.history(user, app)]  # type: ignore[attr-defined]
    app.api_documents = policy.application_documents(user, app, decision)  # type: ignore[attr-defined]
    return app


def transitions_for(user: Any, app: Application) -> tuple[list[str], list[dict[str, Any]]]:
    """(names the caller may fire now, [{name, label, unmet}] it could fire once the
    conditions are met). Availability is the engine's own check: no rule here."""
    available: list[str] = []
    blocked: list[dict[str, Any]] = []
    for name, spec in APPLICATION_TRANSITIONS.items():
        if not engine.offered(spec, app, user):
            continue
        _role, unmet = engine.check(spec, app, user)
        if unmet:
            blocked.append({"name": name, "label": str(spec.label), "unmet": [str(r) for r in unmet]})
        else:
            available.append(name)
    return available, blocked


def visible_document(user: Any, app: Application, code: str) -> Document:
    for document in policy.application_documents(user, app):
        if document.verification_code == code:
            return document
    raise not_found()


# --- the other lists --------------------------------------------------------------------------


def opinion_list(user: Any) -> QuerySet[OpinionRequest]:
    return policy.visible_opinion_requests(user).select_related("application")


def review_list(user: Any) -> QuerySet[Review]:
    return policy.visible_reviews(user).select_related("application__call", "reviewer")


def decision_list(user: Any) -> QuerySet[Decision]:
    return policy.visible_decisions(user).select_related("application__call", "document")


def visible_decision(user: Any, pk: Any) -> Decision:
    decision = decision_list(user).filter(pk=pk).first()
    if decision is None:
        raise not_found()
    return decision


def session_list(user: Any) -> QuerySet[CommitteeSession]:
    """Sessions of the calls the caller runs or instructs (admin: all)."""
    return policy.visible_sessions(user).select_related("call").annotate(applications_count=Count("applications"))


# --- evaluation -------------------------------------------------------------------------------


def consensus_body(consensus: Any) -> Any:
    """The consensus with its weighted score and the reviews' spreads (grants.scoring)."""
    app = consensus.application
    criteria = app.call.scoring_criteria
    consensus.weighted_score = weighted_score(consensus.scores, criteria)
    consensus.spreads = spreads(criteria, list(app.reviews.filter(state=Review.State.SUBMITTED)))
    return consensus


def session_ranking(user: Any, session: CommitteeSession) -> list[dict[str, Any]]:
    """The session's applications best first with the envelope line (grants.budget.ranking);
    once the session is closed, the ranking frozen at the close (grants.evaluation)."""
    apps = policy.visible_applications(user, Application.objects.filter(session=session)).select_related("organisation")
    return [
        {
            "application": row.application,
            "reference": row.reference,
            "weighted_score": row.weighted_score,
            "requested": row.requested,
            "cumulative_requested": row.cumulative_requested,
            "within_envelope": row.within_envelope,
        }
        for row in evaluation.session_ranking(session, apps).rows
    ]


def reviewer_candidates(user: Any, pk: Any) -> Any:
    """The reviewers an instructor may assign to the application, with their load and
    known conflicts (grants.evaluation.reviewer_candidates): 404 when the application is
    not visible, 403 unless the caller instructs its call (or is an admin)."""
    app = visible_application(user, pk)
    if policy.role_for(user, (Role.INSTRUCTOR, Role.ADMIN), app) is None:
        raise engine.Forbidden(_("Seul le chargé de mission de l'appel voit les évaluateurs à assigner."))
    return evaluation.reviewer_candidates(app)
