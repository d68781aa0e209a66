"""Statements written once per process from a model's metadata.

A handful of reads run on every signed-in request (the session's row, the account's roles,
whether a staff account has a confirmed second factor). The ORM compiles each of them again
every time, ≈0.5 ms of CPU, ten times the statement's round trip. Their text is built here
once per database vendor from the model (table and column names quoted by the backend, never
from user input); the values always go as parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection as default_connection
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.query import get_related_populators

_STATEMENTS: dict[tuple[str, str], str] = {}  # (name, database vendor) -> the statement


class Names:
    """A model's quoted table and column names on one connection."""

    def __init__(self, model: type[models.Model], connection: BaseDatabaseWrapper):
        self._model, self._quote = model, connection.ops.quote_name
        self.table = self._quote(model._meta.db_table)

    def __getitem__(self, field: str) -> str:
        return self._quote(str(self._model._meta.get_field(field).column))  # type: ignore[union-attr]


def statement(
    name: str,
    model: type[models.Model],
    build: Callable[[Names], str],
    connection: BaseDatabaseWrapper | Any = None,
) -> str:
    """The statement ``name``, ``build(names)`` the first time on this vendor."""
    connection = connection or default_connection
    key = (name, connection.vendor)
    sql = _STATEMENTS.get(key)
    if sql is None:
        sql = _STATEMENTS[key] = build(Names(model, connection))
    return sql


# --- a model query compiled once -------------------------------------------------------------


class Query:
    """A queryset compiled once (its SQL, its columns' converters, how a row becomes its
    instances: the steps of Django's ``ModelIterable``), run again with other values.

    For a hot read whose shape never changes (a transition's locking ``SELECT``): the ORM
    would compile the same SQL again every time. The rows become instances exactly as the
    queryset's would (``Model.from_db``, ``select_related``'s populators, the fields'
    ``from_db_value``)."""

    def __init__(self, queryset: models.QuerySet[Any], connection: BaseDatabaseWrapper):
        compiler = queryset.query.get_compiler(connection=connection)
        self.sql, _params = compiler.as_sql()
        select, klass_info = compiler.select, compiler.klass_info
        assert klass_info is not None and not compiler.annotation_col_map, queryset
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self._start, self._end = fields[0], fields[-1] + 1
        self._init_list = [s[0].target.attname for s in select[self._start : self._end]]
        # (django-stubs describe a later signature with a fetch mode.)
        self._populators = get_related_populators(klass_info, select, connection.alias)  # type: ignore[call-arg]
        expressions = [s[0] for s in select[0 : compiler.col_count]]
        self._converters = list(compiler.get_converters(expressions).items())

    def fetch(self, params: Sequence[Any], connection: BaseDatabaseWrapper) -> list[Any]:
        """The instances of the rows for ``params`` (values in the compiled order, already
        prepared for the database as the ORM's lookups prepare them)."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        found = []
        for values in rows:
            row = list(values)
            for position, (converters, expression) in self._converters:
                value = row[position]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[position] = value
            obj = self.model.from_db(connection.alias, self._init_list, row[self._start : self._end])
            for populator in self._populators:
                populator.populate(row, obj)
            found.append(obj)
        return found


_QUERIES: dict[tuple[str, str], Query] = {}  # (name, database alias) -> the compiled query


def query(name: str, build: Callable[[], models.QuerySet[Any]], connection: BaseDatabaseWrapper | Any = None) -> Query:
    """The query ``name``, ``build()`` compiled the first time on this database."""
    connection = connection or default_connection
    key = (name, connection.alias)
    compiled = _QUERIES.get(key)
    if compiled is None:
        compiled = _QUERIES[key] = Query(build(), connection)
    return compiled
