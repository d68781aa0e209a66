"""A user's roles and their scopes (organisations, countries, regions, calls), loaded
once per request and cached on the user; and which kind of reader a user is for an
application's history."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from grants.models import Role, RoleGrant

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


#: The delegation's roles scoped by call (with the admin, they read everything).
DELEGATION = (Role.INSTRUCTOR, Role.SECRETARY, Role.SIGNATORY, Role.FINANCE)
