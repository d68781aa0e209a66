"""The dossier a submission reads, in one query on PostgreSQL.

The submission rules, the search document, the snapshot and the notifications' audience
read an application's companions (its countries, partners, budget lines, attachments and
co-applicant authorities), its call's eligible countries and questions. On PostgreSQL they
are read by one statement: each companion a ``jsonb_agg`` of its rows (``to_jsonb``: every
column, numbers kept exact), in its model's order, and put in the instances' prefetch
caches exactly as ``prefetch_related`` puts them, so ``application.partners.all()`` and the
others read memory. The same statement may read the head of the application's log chain
(``chain_head=True``): the transition's log entry then follows it without reading it again.

The statement runs after the application's row lock, never inside the locking ``SELECT``:
a ``SELECT … FOR UPDATE`` that waited for another transaction's lock still evaluates its
subqueries in the snapshot taken before that transaction committed, so a companion, or the
chain's head, read there could be stale. A new statement sees what was committed.

Elsewhere (the embedded SQLite) the companions are prefetched by ``prefetch_related`` as
before, one query each.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, JSONField, Model, prefetch_related_objects

from grants.models import Application, ApplicationPartner, Attachment, BudgetLine, Call, Country, Organisation
from grants.questions import CallQuestion
from workflows.models import GENESIS_HASH, TransitionLog

#: The application's companions the dossier reads (its prefetch caches' names).
COMPANIONS = ("countries", "partners", "budget_lines", "attachments", "co_applicants")
#: The call's (its prefetch caches' names).
CALL_COMPANIONS = ("eligible_countries", "questions")


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field) and field.column, (model, name)
    return connection.ops.quote_name(field.column)


@cache
def _sections() -> dict[str, tuple[type[Model], str]]:
    """Each section's model and its scalar subquery: its rows as one JSON array, in the
    order of its model's ``Meta.ordering`` (the primary key last, for ties)."""
    through = Application.countries.through
    co_through = Application.co_applicants.through
    eligible_through = Call.eligible_countries.through

    def rows(alias: str, source: str, where: str, order: str) -> str:
        # Names from the models' metadata, values as parameters.
        return (
            f"(SELECT COALESCE(jsonb_agg(to_jsonb({alias}) ORDER BY {order}), '[]'::jsonb) "  # noqa: S608
            f"FROM {source} WHERE {where})"
        )

    country, organisation = _table(Country), _table(Organisation)
    return {
        "countries": (
            Country,
            rows(
                "c",
                f"{country} c JOIN {_table(through)} r ON r.{_column(through, 'country')} = c.{_column(Country, 'iso2')}",
                f"r.{_column(through, 'application')} = %(application)s",
                f"c.{_column(Country, 'name_fr')}, c.{_column(Country, 'iso2')}",
            ),
        ),
        "partners": (
            ApplicationPartner,
            rows(
                "p",
                f"{_table(ApplicationPartner)} p",
                f"p.{_column(ApplicationPartner, 'application')} = %(application)s",
                f"p.{_column(ApplicationPartner, 'position')}, p.{_column(ApplicationPartner, 'id')}",
            ),
        ),
        "budget_lines": (
            BudgetLine,
            rows(
                "b",
                f"{_table(BudgetLine)} b",
                f"b.{_column(BudgetLine, 'application')} = %(application)s",
                f"b.{_column(BudgetLine, 'year')}, b.{_column(BudgetLine, 'id')}",
            ),
        ),
        "attachments": (
            Attachment,
            rows(
                "a",
                f"{_table(Attachment)} a",
                f"a.{_column(Attachment, 'application')} = %(application)s",
                f"a.{_column(Attachment, 'kind')}, a.{_column(Attachment, 'uploaded_at')}, a.{_column(Attachment, 'id')}",
            ),
        ),
        "co_applicants": (
            Organisation,
            rows(
                "o",
                f"{organisation} o JOIN {_table(co_through)} r "
                f"ON r.{_column(co_through, 'organisation')} = o.{_column(Organisation, 'id')}",
                f"r.{_column(co_through, 'application')} = %(application)s",
                f"o.{_column(Organisation, 'name')}, o.{_column(Organisation, 'id')}",
            ),
        ),
        "eligible_countries": (
            Country,
            rows(
                "c",
                f"{country} c JOIN {_table(eligible_through)} r "
                f"ON r.{_column(eligible_through, 'country')} = c.{_column(Country, 'iso2')}",
                f"r.{_column(eligible_through, 'call')} = %(call)s",
                f"c.{_column(Country, 'name_fr')}, c.{_column(Country, 'iso2')}",
            ),
        ),
        "questions": (
            CallQuestion,
            rows(
                "q",
                f"{_table(CallQuestion)} q",
                f"q.{_column(CallQuestion, 'call')} = %(call)s",
                f"q.{_column(CallQuestion, 'position')}, q.{_column(CallQuestion, 'id')}",
            ),
        ),
    }


@cache
def _statement(names: tuple[str, ...], head: bool) -> str:
    sections = _sections()
    pairs = [f"'{name}', {sections[name][1]}" for name in names]
    if head:
        log = _table(TransitionLog)
        # Names from the models' metadata, values as parameters.
        pairs.append(
            f"'head', (SELECT {_column(TransitionLog, 'hash')} FROM {log} "  # noqa: S608
            f"WHERE {_column(TransitionLog, 'application')} = %(application)s "
            f"ORDER BY {_column(TransitionLog, 'id')} DESC LIMIT 1)"
        )
    return f"SELECT jsonb_build_object({', '.join(pairs)})"


def _floats(value: Any) -> Any:
    """A JSON column's value as ``json.loads`` reads it: its numbers with a fraction as
    floats (the statement is decoded with ``Decimal`` for the numeric columns;
    ``float(Decimal(text))`` is ``float(text)``, both correctly rounded)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    return value


def _instances(model: type[Model], rows: list[dict[str, Any]]) -> list[Any]:
    """Model instances from ``to_jsonb`` rows, each value as the column's field reads it."""
    fields = [(f, str(f.column), isinstance(f, JSONField)) for f in model._meta.concrete_fields]
    names = [f.attname for f, _column, _json in fields]
    alias = connection.alias
    return [
        model.from_db(
            alias,
            names,
            [_floats(row[column]) if json_column else f.to_python(row[column]) for f, column, json_column in fields],
        )
        for row in rows
    ]


def _cache(instance: Any, name: str, objects: list[Any]) -> None:
    """Put ``objects`` where ``prefetch_related(name)`` puts them on ``instance``."""
    manager = getattr(instance, name)
    queryset = manager.get_queryset()
    queryset._result_cache = objects
    queryset._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[name] = queryset
    field = getattr(manager, "field", None)  # a reverse foreign key's (a many-to-many manager has none)
    if field is not None and field.many_to_one:
        for obj in objects:  # each row knows its application, as prefetched
            field.set_cached_value(obj, instance)


def _fetched(instance: Model) -> dict[str, Any]:
    return getattr(instance, "_prefetched_objects_cache", {})


def prefetch(application: Application, *, chain_head: bool = False) -> str | None:
    """Fetch the dossier's companions and its call's once (what is already fetched is not
    fetched again). ``chain_head``: also return the hash of the application's last log
    entry (``GENESIS_HASH`` if none), read in the same statement on PostgreSQL, None
    elsewhere (the log entry then reads it itself). The caller holds the application's
    row lock when it asks for the head."""
    call = application.call
    missing = [name for name in COMPANIONS if name not in _fetched(application)]
    call_missing = [name for name in CALL_COMPANIONS if name not in _fetched(call)]
    if connection.vendor != "postgresql":
        if missing:
            prefetch_related_objects([application], *missing)
        if call_missing:
            prefetch_related_objects([call], *call_missing)
        return None
    if not missing and not call_missing and not chain_head:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            _statement((*missing, *call_missing), chain_head),
            {"application": application.pk, "call": call.pk},
        )
        data = json.loads(cursor.fetchone()[0], parse_float=Decimal)
    sections = _sections()
    for name in missing:
        _cache(application, name, _instances(sections[name][0], data[name]))
    for name in call_missing:
        _cache(call, name, _instances(sections[name][0], data[name]))
    if chain_head:
        return str(data["head"] or GENESIS_HASH)
    return None
