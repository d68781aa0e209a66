"""Statements written once per process from a model's metadata.

A handful of reads run on every signed-in request (the session's row, the account's roles,
whether a staff account has a confirmed second factor). The ORM compiles each of them again
every time, ≈0.5 ms of CPU, ten times the statement's round trip. Their text is built here
once per database vendor from the model (table and column names quoted by the backend, never
from user input); the values always go as parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection as default_connection
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

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
