"""Two per-row costs of Django and django-fsm-2 paid once per model instead.

``ChoiceLabels``: Django's ``Model._get_FIELD_display`` builds
``dict(make_hashable(field.flatchoices))`` on every call, and hashing each
``(value, lazy label)`` pair translates every label: a list of 50 tasks showing their kind
translated 600 labels for 50 shown (a fifth of the inbox's rendering in the profile). Here
the value → label map is built once per field (the labels stay lazy: the reader's language
still applies) and one label is translated per call.

``StateFieldsOnce``: django-fsm-2's ``ConcurrentTransitionMixin`` finds the state fields by
filtering every field of the model at each instance's creation (sixty fields for an
application, for each of the rows of a list). Here the filter runs once per model class.

``CompiledInsert``: ``save()`` of a new row has Django compile its ``INSERT`` again each
time (about 0.5 ms of Python for a row whose statement never changes shape: a log entry, a
snapshot, a task at each submission). Here the statement is compiled by Django once per
model, columns and database, then run with the values prepared as Django prepares them.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models.sql import InsertQuery
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django_fsm import FSMFieldMixin


class ChoiceLabels:
    """A mixin for models (before ``models.Model`` in the bases): the same result as
    Django's ``get_FOO_display()``, the value itself when it is not a choice."""

    def _get_FIELD_display(self, field: Any) -> Any:
        labels = field.__dict__.get("_choice_labels")
        if labels is None:
            labels = {make_hashable(value): label for value, label in field.flatchoices}
            field.__dict__["_choice_labels"] = labels
        value = getattr(self, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)


class StateFieldsOnce:
    """A mixin for models, before ``ConcurrentTransitionMixin`` in the bases: the same
    state fields, found once per model class."""

    @property
    def state_fields(self) -> tuple[Any, ...]:
        cls = type(self)
        fields: tuple[Any, ...] | None = cls.__dict__.get("_state_fields_once")
        if fields is None:
            fields = tuple(f for f in self._meta.fields if isinstance(f, FSMFieldMixin))  # type: ignore[attr-defined]
            cls._state_fields_once = fields  # type: ignore[attr-defined]
        return fields


class CompiledInsert:
    """A mixin for models (before ``models.Model`` in the bases): ``save()``'s INSERT, the
    SQL Django writes for it compiled once (per model, columns, returned columns and
    database), the values those of Django's insert compiler (each field's ``pre_save`` and
    ``get_db_prep_save``), the returned columns through their converters. Everything else
    of ``save()`` is Django's own (signals, related fields' checks, the instance's state).
    A value that is an expression, a field with its own placeholder or a database that
    cannot return the inserted columns take Django's path."""

    def _do_insert(self, manager: Any, using: str, fields: Any, returning_fields: Any, raw: bool) -> Any:
        connection = connections[using]
        if raw or not connection.features.can_return_columns_from_insert:
            return super()._do_insert(manager, using, fields, returning_fields, raw)  # type: ignore[misc]
        values = [field.pre_save(self, add=True) for field in fields]
        if any(
            hasattr(value, "resolve_expression") or hasattr(field, "get_placeholder")
            for field, value in zip(fields, values, strict=True)
        ):
            return super()._do_insert(manager, using, fields, returning_fields, raw)  # type: ignore[misc]
        key = (manager.model, using, tuple(fields), tuple(returning_fields or ()))
        compiled = _INSERTS.get(key)
        if compiled is None:
            query = InsertQuery(manager.model)
            obj: Any = self
            query.insert_values(fields, [obj], raw=True)  # the SQL only: no second pre_save
            compiler = query.get_compiler(using=using)
            compiler.returning_fields = returning_fields
            ((sql, _params),) = compiler.as_sql()
            table = manager.model._meta.db_table
            converters = compiler.get_converters([field.get_col(table) for field in returning_fields or ()])
            compiled = _INSERTS[key] = (sql, list(converters.items()), compiler.returning_params)
        sql, converters, returning_params = compiled
        params = [
            field.get_db_prep_save(value, connection=connection) for field, value in zip(fields, values, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if not returning_fields:
                return []
            ops: Any = connection.ops  # (not in django-stubs)
            row = list(ops.fetch_returned_insert_columns(cursor, returning_params))
        for position, (field_converters, expression) in converters:
            for converter in field_converters:
                row[position] = converter(row[position], expression, connection)
        return [tuple(row)]


# (model, database alias, fields, returned fields) -> (SQL, converters, returning params)
_INSERTS: dict[tuple[Any, ...], tuple[str, list[Any], Any]] = {}
