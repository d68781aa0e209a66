"""Which calls and committee sessions a user may see, run, or read the booklet of."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from grants.models import Application, Call, CommitteeSession, Review, Role
from grants.policy.scopes import scopes


def _delegation_calls(user: Any, roles: tuple[str, ...], lookup: str) -> Q:
    """The calls ``roles`` of the user cover (admin: every call)."""
    s = scopes(user)
    if Role.ADMIN in s.roles:
        return Q(pk__isnull=False) if lookup == "pk" else Q(**{f"{lookup}__isnull": False})
    q = Q(pk__in=[])
    for role in roles:
        if role in s.roles:
            q |= s.call_filter(role, lookup)
    return q


def visible_calls(user: Any) -> QuerySet[Call]:
    """Every call but drafts; drafts too for an admin and the delegation staff in scope."""
    return Call.objects.filter(
        ~Q(state=Call.State.DRAFT) | _delegation_calls(user, (Role.INSTRUCTOR, Role.SECRETARY), "pk")
    )


def run_calls(user: Any) -> QuerySet[Call]:
    """The calls whose committee the user runs (secretary in scope, admin)."""
    return Call.objects.filter(_delegation_calls(user, (Role.SECRETARY,), "pk"))


def dashboard_calls(user: Any) -> QuerySet[Call]:
    """The calls whose dashboard the user follows (instructor or secretary in scope, admin)."""
    return Call.objects.filter(_delegation_calls(user, (Role.INSTRUCTOR, Role.SECRETARY), "pk")).exclude(
        state=Call.State.DRAFT
    )


def visible_sessions(user: Any) -> QuerySet[CommitteeSession]:
    """Committee sessions of the calls the user runs or instructs (admin: all)."""
    return CommitteeSession.objects.filter(_delegation_calls(user, (Role.SECRETARY, Role.INSTRUCTOR), "call_id"))


def run_sessions(user: Any) -> QuerySet[CommitteeSession]:
    """Committee sessions the user runs (secretary in scope, admin)."""
    return CommitteeSession.objects.filter(_delegation_calls(user, (Role.SECRETARY,), "call_id"))


def booklet_sessions(user: Any) -> QuerySet[CommitteeSession]:
    """Sessions whose booklet the user may read. The booklet holds every opinion and
    review of the agenda, so its readers are those who may read all of it: the call's
    secretaries and instructors, and a committee member who has submitted its own review
    of every application on the agenda (never one who declined, nor one still scoring:
    independent evaluation)."""
    q = _delegation_calls(user, (Role.SECRETARY, Role.INSTRUCTOR), "call_id")
    if Role.REVIEWER in scopes(user).roles:
        reviewed = Review.objects.filter(reviewer=user, state=Review.State.SUBMITTED).values("application_id")
        # Sessions with at least one application, none of them outside what it reviewed.
        outside = Application.objects.filter(session__isnull=False).exclude(pk__in=reviewed).values("session_id")
        q |= Q(applications__isnull=False) & ~Q(pk__in=outside)
    return CommitteeSession.objects.filter(q).distinct()


def can_view_call(user: Any, call: Call) -> bool:
    return visible_calls(user).filter(pk=call.pk).exists()


def can_view_session(user: Any, session: CommitteeSession) -> bool:
    return visible_sessions(user).filter(pk=session.pk).exists()
