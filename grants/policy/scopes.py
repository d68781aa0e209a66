"""Roles, scopes and object-level visibility.

Who may see an application is decided here and only here: the web views, the API and
the transition service all go through ``visible_applications`` / ``can_view`` and
``role_for``. A user's grants are loaded once per request and cached on the user.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from grants.models import Application, Decision, OpinionRequest, Review, Role, RoleGrant

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

STAFF_ROLES = frozenset(Role.values) - {Role.APPLICANT}
SYSTEM = "system"


@dataclass
class Scopes:
    """A user's grants, by role: the scope items (ids) and whether one grant is unscoped."""

    roles: set[str] = field(default_factory=set)
    organisations: set[int] = field(default_factory=set)
    countries: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    regions: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    calls: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    unscoped: set[str] = field(default_factory=set)
    supervisor: set[str] = field(default_factory=set)

    def has(self, role: str) -> bool:
        return role in self.roles

    def covers_call(self, role: str, call_id: int) -> bool:
        return role in self.unscoped or call_id in self.calls.get(role, set())

    def call_filter(self, role: str, lookup: str = "call_id") -> Q:
        if role in self.unscoped:
            # Not Q(): an empty Q vanishes when OR-ed (Q(pk__in=[]) | Q() is Q(pk__in=[])),
            # which would turn "every call" into "nothing".
            return Q(pk__isnull=False)
        return Q(**{f"{lookup}__in": sorted(self.calls.get(role, set()))})


def scopes(user: Any) -> Scopes:
    if user is None or not getattr(user, "is_authenticated", False):
        return Scopes()
    cached: Scopes | None = getattr(user, "_grant_scopes", None)
    if cached is not None:
        return cached
    result = Scopes()
    for grant in RoleGrant.objects.filter(user=user).only(
        "role", "organisation_id", "country_id", "region_id", "call_id", "supervisor"
    ):
        result.roles.add(grant.role)
        if grant.supervisor:
            result.supervisor.add(grant.role)
        if grant.organisation_id:
            result.organisations.add(grant.organisation_id)
        if grant.country_id:
            result.countries[grant.role].add(grant.country_id)
        if grant.region_id:
            result.regions[grant.role].add(grant.region_id)
        if grant.call_id:
            result.calls[grant.role].add(grant.call_id)
        if not (grant.organisation_id or grant.country_id or grant.region_id or grant.call_id):
            result.unscoped.add(grant.role)
    if user.is_superuser:
        result.roles.add(Role.ADMIN)
        result.unscoped.add(Role.ADMIN)
    user._grant_scopes = result
    return result


def forget(user: Any) -> None:
    """Drop the cached grants (after a grant changes within a request or a test)."""
    if hasattr(user, "_grant_scopes"):
        del user._grant_scopes


def is_staff_user(user: Any) -> bool:
    return bool(scopes(user).roles & STAFF_ROLES)


POST_ELIGIBILITY = [
    Application.State.AWAITING_OPINIONS,
    Application.State.UNDER_REVIEW,
    Application.State.IN_COMMITTEE,
    Application.State.APPROVED,
    Application.State.REJECTED,
    Application.State.WITHDRAWN,
]


def visibility_filter(user: Any) -> Q | None:
    """The Q that selects the applications this user may see; None means nothing."""
    s = scopes(user)
    if not s.roles:
        return None
    if Role.ADMIN in s.roles:
        return Q()
    q = Q(pk__in=[])
    if Role.APPLICANT in s.roles:
        q |= Q(organisation_id__in=sorted(s.organisations)) | Q(co_applicants__in=sorted(s.organisations))
    not_draft = ~Q(state=Application.State.DRAFT)
    for role in (Role.INSTRUCTOR, Role.SECRETARY):
        if role in s.roles:
            q |= not_draft & s.call_filter(role)
    if Role.EMBASSY in s.roles:
        # Only applications whose opinion was asked from one of its countries (eligible and later).
        q |= Q(
            pk__in=OpinionRequest.objects.filter(
                authority=OpinionRequest.Authority.EMBASSY, country_id__in=sorted(s.countries[Role.EMBASSY])
            ).values("application_id")
        )
    if Role.PREFECTURE in s.roles:
        q |= Q(state__in=POST_ELIGIBILITY, organisation__region_id__in=sorted(s.regions[Role.PREFECTURE]))
    if Role.REVIEWER in s.roles:
        q |= Q(
            pk__in=Review.objects.filter(
                reviewer=user, state__in=[Review.State.ASSIGNED, Review.State.SUBMITTED]
            ).values("application_id")
        )
    if Role.SIGNATORY in s.roles:
        q |= Q(pk__in=Decision.objects.values("application_id")) & s.call_filter(Role.SIGNATORY)
    if Role.FINANCE in s.roles:
        q |= Q(
            pk__in=Decision.objects.filter(state__in=[Decision.State.DELIVERED, Decision.State.RECORDED]).values(
                "application_id"
            )
        ) & s.call_filter(Role.FINANCE)
    return q


def visible_applications(user: Any, queryset: QuerySet[Application] | None = None) -> QuerySet[Application]:
    qs = queryset if queryset is not None else Application.objects.all()
    q = visibility_filter(user)
    if q is None:
        return qs.none()
    if q == Q():
        return qs
    # The OR of scopes may join co-applicants: filter by pk to avoid duplicate rows.
    return qs.filter(pk__in=Application.objects.filter(q).values("pk"))


def can_view(user: Any, application: Application) -> bool:
    return visible_applications(user, Application.objects.filter(pk=application.pk)).exists()


def role_for(user: Any, roles: tuple[str, ...], application: Application, subject: Any = None) -> str | None:
    """The first of ``roles`` the user holds *in scope* for this application / subject."""
    if user is None:
        return SYSTEM if SYSTEM in roles else None
    s = scopes(user)
    for role in roles:
        if role not in s.roles:
            continue
        if role == Role.ADMIN:
            return role
        if role == Role.APPLICANT:
            org_ids = {application.organisation_id}
            if org_ids & s.organisations or application.co_applicants.filter(pk__in=s.organisations).exists():
                return role
        elif role in (Role.INSTRUCTOR, Role.SECRETARY, Role.SIGNATORY, Role.FINANCE):
            if s.covers_call(role, application.call_id):
                return role
        elif role == Role.EMBASSY:
            if (
                isinstance(subject, OpinionRequest)
                and subject.authority == OpinionRequest.Authority.EMBASSY
                and subject.country_id in s.countries[role]
            ):
                return role
        elif role == Role.PREFECTURE:
            if (
                isinstance(subject, OpinionRequest)
                and subject.authority == OpinionRequest.Authority.PREFECTURE
                and subject.region_id in s.regions[role]
            ):
                return role
        elif role == Role.REVIEWER:
            if isinstance(subject, Review) and subject.reviewer_id == user.pk:
                return role
    return None


def visible_opinion_requests(user: Any) -> QuerySet[OpinionRequest]:
    s = scopes(user)
    q = Q(pk__in=[])
    if Role.EMBASSY in s.roles:
        q |= Q(authority=OpinionRequest.Authority.EMBASSY, country_id__in=sorted(s.countries[Role.EMBASSY]))
    if Role.PREFECTURE in s.roles:
        q |= Q(authority=OpinionRequest.Authority.PREFECTURE, region_id__in=sorted(s.regions[Role.PREFECTURE]))
    for role in (Role.INSTRUCTOR, Role.SECRETARY):
        if role in s.roles:
            q |= s.call_filter(role, "application__call_id")
    if Role.ADMIN in s.roles:
        q = Q()
    return OpinionRequest.objects.filter(q)


def visible_reviews(user: Any) -> QuerySet[Review]:
    s = scopes(user)
    q = Q(pk__in=[])
    if Role.REVIEWER in s.roles:
        q |= Q(reviewer=user)
    for role in (Role.INSTRUCTOR, Role.SECRETARY):
        if role in s.roles:
            q |= s.call_filter(role, "application__call_id")
    if Role.ADMIN in s.roles:
        q = Q()
    return Review.objects.filter(q)


def visible_decisions(user: Any) -> QuerySet[Decision]:
    s = scopes(user)
    q = Q(pk__in=[])
    if Role.SIGNATORY in s.roles:
        q |= s.call_filter(Role.SIGNATORY, "application__call_id")
    if Role.FINANCE in s.roles:
        q |= Q(state__in=[Decision.State.DELIVERED, Decision.State.RECORDED]) & s.call_filter(
            Role.FINANCE, "application__call_id"
        )
    if Role.SECRETARY in s.roles or Role.INSTRUCTOR in s.roles:
        for role in (Role.SECRETARY, Role.INSTRUCTOR):
            if role in s.roles:
                q |= s.call_filter(role, "application__call_id")
    if Role.APPLICANT in s.roles:
        q |= Q(
            state__in=[Decision.State.DELIVERED, Decision.State.RECORDED],
            application__organisation_id__in=sorted(s.organisations),
        )
    if Role.ADMIN in s.roles:
        q = Q()
    return Decision.objects.filter(q)
