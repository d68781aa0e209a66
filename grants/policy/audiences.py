"""Who is in a queue or an audience, from the role grants and their scopes.

A ``Directory`` is the grants of active users, loaded in one query and indexed in
memory, so a sweep over thousands of tasks resolves every recipient without a query per
task. Scope rules mirror ``grants.policy``: applicants by organisation, embassies by
country, prefectures by region, the delegation's roles unscoped or scoped to the call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q

from grants.models import Role, RoleGrant
from workflows.statements import Names, statement

# Roles outside the delegation: their overdue work escalates to the call's instructors.
EXTERNAL_ROLES = frozenset({Role.APPLICANT, Role.EMBASSY, Role.PREFECTURE, Role.PARTNER, Role.REVIEWER})
CALL_SCOPED_ROLES = frozenset({Role.INSTRUCTOR, Role.SECRETARY, Role.SIGNATORY, Role.FINANCE, Role.REVIEWER})

GrantRow = tuple[int, str, Any, Any, Any, Any, bool]


class Directory:
    def __init__(self, rows: Iterable[GrantRow]) -> None:
        # (supervisors_only, role, scope kind, scope value) -> user ids
        self._index: dict[tuple[bool, str, str, Any], set[int]] = defaultdict(set)
        # What ``load(extra=…)`` read of each grantee, by user id.
        self.extra: dict[int, dict[str, Any]] = {}
        for user_id, role, organisation_id, country_id, region_id, call_id, supervisor in rows:
            if organisation_id is not None:
                key: tuple[str, Any] = ("organisation", organisation_id)
            elif country_id is not None:
                key = ("country", country_id)
            elif region_id is not None:
                key = ("region", region_id)
            elif call_id is not None:
                key = ("call", call_id)
            else:
                key = ("all", None)
            self._index[(False, role, *key)].add(user_id)
            if supervisor:
                self._index[(True, role, *key)].add(user_id)

    @classmethod
    def load(cls, q: Q | None = None, *, extra: dict[str, Any] | None = None) -> Directory:
        """The grants of active users (``q``: those only). ``extra``: expressions on the
        grant's row (the grantee's e-mail…) read in the same query, kept by user in
        ``Directory.extra``."""
        qs = RoleGrant.objects.filter(user__is_active=True)
        if q is not None:
            qs = qs.filter(q)
        columns = ("user_id", "role", "organisation_id", "country_id", "region_id", "call_id", "supervisor")
        if not extra:
            return cls(qs.values_list(*columns))
        names = list(extra)
        aliases = [f"extra_{name}" for name in names]
        rows = list(
            qs.annotate(**{alias: extra[name] for alias, name in zip(aliases, names, strict=True)}).values_list(
                *columns, *aliases
            )
        )
        directory = cls(row[: len(columns)] for row in rows)
        for row in rows:
            directory.extra[row[0]] = dict(zip(names, row[len(columns) :], strict=True))
        return directory

    def members(
        self,
        role: str,
        *,
        call_id: Any = None,
        organisation_id: Any = None,
        country_id: Any = None,
        region_id: Any = None,
        supervisors: bool = False,
    ) -> set[int]:
        """The users holding ``role`` in scope (for a scoped role, the scope item given)."""
        get = self._index.get
        if role == Role.APPLICANT:
            return set(get((supervisors, role, "organisation", organisation_id), ()))
        if role in (Role.EMBASSY, Role.PARTNER):
            return set(get((supervisors, role, "country", country_id), ()))
        if role == Role.PREFECTURE:
            return set(get((supervisors, role, "region", region_id), ()))
        found = set(get((supervisors, role, "all", None), ()))
        if call_id is not None:
            found |= get((supervisors, role, "call", call_id), set())
        return found

    def supervisors(
        self,
        role: str,
        *,
        call_id: Any,
        organisation_id: Any = None,
        country_id: Any = None,
        region_id: Any = None,
    ) -> set[int]:
        """Who an overdue task of this queue escalates to: the queue's own supervisors
        (``RoleGrant.supervisor``) and, for work outside the delegation (an embassy's
        opinion, an applicant's completion, a reviewer), the call's supervising
        instructors; when a delegation queue has no supervisor, its instructors' ones."""
        found = self.members(
            role,
            call_id=call_id,
            organisation_id=organisation_id,
            country_id=country_id,
            region_id=region_id,
            supervisors=True,
        )
        if role in EXTERNAL_ROLES or not found:
            found |= self.members(Role.INSTRUCTOR, call_id=call_id, supervisors=True)
        return found


def _scope(
    roles: Iterable[str], *, organisation_ids: Iterable[Any], country_ids: Iterable[Any], region_ids: Iterable[Any]
) -> tuple[list[str], list[tuple[str, str, list[Any]]]]:
    """The grants a Directory needs for these roles: (the delegation's roles, whose every
    grant is read, [(a scoped role, its scope's field, the scope items wanted)])."""
    wanted = set(roles)
    staff = sorted(wanted - {Role.APPLICANT, Role.EMBASSY, Role.PREFECTURE, Role.PARTNER})
    scoped: list[tuple[str, str, list[Any]]] = []
    if Role.APPLICANT in wanted:
        scoped.append((Role.APPLICANT, "organisation", sorted(set(organisation_ids))))
    for role in (Role.EMBASSY, Role.PARTNER):
        if role in wanted:
            scoped.append((role, "country", sorted(set(country_ids))))
    if Role.PREFECTURE in wanted:
        scoped.append((Role.PREFECTURE, "region", sorted(set(region_ids))))
    return staff, scoped


def scope_query(
    roles: Iterable[str],
    *,
    organisation_ids: Iterable[Any] = (),
    country_ids: Iterable[Any] = (),
    region_ids: Iterable[Any] = (),
) -> Q:
    """The grants a Directory needs for these roles: every grant of the delegation's
    roles (a few rows), only the given scope items for applicants and authorities."""
    staff, scoped = _scope(roles, organisation_ids=organisation_ids, country_ids=country_ids, region_ids=region_ids)
    q = Q(pk__in=[])
    if staff:
        q |= Q(role__in=staff)
    for role, scope, items in scoped:
        q |= Q(role=role, **{f"{scope}_id__in": items})
    return q


def load_scoped(
    roles: Iterable[str],
    *,
    organisation_ids: Iterable[Any] = (),
    country_ids: Iterable[Any] = (),
    region_ids: Iterable[Any] = (),
    extra: dict[str, str],
    decode: dict[str, Callable[[Any], Any]] | None = None,
) -> Directory:
    """``Directory.load(scope_query(…), extra=…)`` on PostgreSQL with a statement written
    once per shape (which scoped roles are wanted, the extra columns), the scope items as
    array parameters: the ORM compiled the query again at each event (about 2 ms of a
    submission's Python). ``extra``: SQL expressions on the grant's row (its table and the
    user's unaliased, as ``Directory.load``'s query), constant for a name; ``decode``: how
    a raw value of one of them becomes what the ORM's field would give. The same rows as
    ``Directory.load``: a ``None`` scope item matches nothing (the ORM drops it from
    ``IN``), an empty list nothing."""
    staff, scoped = _scope(roles, organisation_ids=organisation_ids, country_ids=country_ids, region_ids=region_ids)
    shape = tuple((role, scope) for role, scope, _items in scoped)
    names = list(extra)

    def build(n: Names) -> str:
        user = get_user_model()
        users = connection.ops.quote_name(user._meta.db_table)
        user_id = connection.ops.quote_name(str(user._meta.get_field("id").column))
        is_active = connection.ops.quote_name(str(user._meta.get_field("is_active").column))
        column = {name: f"{n.table}.{n[name]}" for name in _DIRECTORY_COLUMNS}

        def array(field: str) -> str:
            return f"%s::{RoleGrant._meta.get_field(field).db_type(connection)}[]"  # type: ignore[union-attr]

        branches = [f"{column['role']} = ANY({array('role')})"]
        branches += [f"({column['role']} = %s AND {column[scope]} = ANY({array(scope)}))" for _role, scope in shape]
        selected = ", ".join([*(column[name] for name in _DIRECTORY_COLUMNS), *(extra[name] for name in names)])
        return (
            f"SELECT {selected} FROM {n.table} INNER JOIN {users} ON ({column['user']} = {users}.{user_id}) "  # noqa: S608
            f"WHERE ({users}.{is_active} AND ({' OR '.join(branches)}))"
        )

    key = "directory-scoped:" + repr((shape, [(name, extra[name]) for name in names]))
    params: list[Any] = [[str(role) for role in staff]]
    for role, _scope_field, items in scoped:
        params += [str(role), [item for item in items if item is not None]]
    with connection.cursor() as cursor:
        cursor.execute(statement(key, RoleGrant, build, connection), params)
        rows = cursor.fetchall()
    width = len(_DIRECTORY_COLUMNS)
    directory = Directory(row[:width] for row in rows)
    decode = decode or {}
    for row in rows:
        facts = dict(zip(names, row[width:], strict=True))
        for name, function in decode.items():
            facts[name] = function(facts[name])
        directory.extra[row[0]] = facts
    return directory


_DIRECTORY_COLUMNS = ("user", "role", "organisation", "country", "region", "call", "supervisor")


def applicant_organisations(application: Any) -> list[Any]:
    """The authorities whose staff hear what the applicant hears: the lead authority and
    the co-applicant authorities (who read the application but do not act on it)."""
    if "co_applicants" in getattr(application, "_prefetched_objects_cache", {}):  # fetched by the transition
        return [application.organisation_id, *(o.pk for o in application.co_applicants.all())]
    return [application.organisation_id, *application.co_applicants.values_list("pk", flat=True)]
