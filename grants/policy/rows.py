"""A ``Q`` of the read policy evaluated on a row already loaded, instead of in SQL.

Not a second copy of any rule: the policy's own ``Q`` objects are evaluated, with the
few lookups they use on a model's own columns (``exact``, ``in``, ``isnull``, through
one relation already fetched with ``select_related``). Anything else — a subquery, a
relation not loaded, another lookup — is unknown (``None``), and the caller asks the
database as before.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, Q
from django.db.models.constants import LOOKUP_SEP

UNKNOWN = None
_LOOKUPS = frozenset({"exact", "in", "isnull"})
_MISSING = object()


def _value(instance: Model, path: list[str]) -> Any:
    """The value at ``path`` (``pk``, a column, or a loaded relation's column)."""
    current: Any = instance
    for i, name in enumerate(path):
        if current is None:
            return None
        if name == "pk":
            return current.pk
        try:
            field = current._meta.get_field(name)
        except Exception:
            return _MISSING
        if field.is_relation:
            if i == len(path) - 1:
                if not (field.many_to_one or field.one_to_one) or not field.concrete:
                    return _MISSING
                return getattr(current, field.attname)  # organisation -> organisation_id
            if not field.is_cached(current):  # type: ignore[union-attr]
                return _MISSING  # not loaded: reading it would query
            current = getattr(current, name)
        elif i == len(path) - 1:
            return getattr(current, field.attname)
        else:
            return _MISSING
    return current


def _lookup(instance: Model, key: str, expected: Any) -> bool | None:
    path = key.split(LOOKUP_SEP)
    lookup = path.pop() if len(path) > 1 and path[-1] in _LOOKUPS else "exact"
    if not isinstance(expected, str | int | bool | list | tuple | set | frozenset) and expected is not None:
        return UNKNOWN  # a subquery, an expression
    value = _value(instance, path)
    if value is _MISSING:
        return UNKNOWN
    if lookup == "isnull":
        return (value is None) == bool(expected)
    if lookup == "in":
        if isinstance(expected, str) or not isinstance(expected, list | tuple | set | frozenset):
            return UNKNOWN
        return value in expected
    if isinstance(expected, list | tuple | set | frozenset):
        return UNKNOWN
    if expected is None:
        return value is None  # field=None means IS NULL
    return value is not None and value == expected


def matches(q: Q, instance: Model) -> bool | None:
    """Whether ``instance`` satisfies ``q``: True, False, or None (unknown from the row)."""
    results: list[bool | None] = []
    for child in q.children:
        if isinstance(child, Q):
            results.append(matches(child, instance))
        elif isinstance(child, tuple) and len(child) == 2:
            results.append(_lookup(instance, str(child[0]), child[1]))
        else:
            results.append(UNKNOWN)  # an expression: not evaluated here
    if not results:
        result: bool | None = True  # an empty Q matches every row
    elif q.connector == Q.OR:
        result = True if True in results else UNKNOWN if UNKNOWN in results else False
    else:
        result = False if False in results else UNKNOWN if UNKNOWN in results else True
    if q.negated and result is not None:
        return not result
    return result
