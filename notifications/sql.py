"""``INSERT … ON CONFLICT DO NOTHING RETURNING`` for many rows, on PostgreSQL and SQLite.

Django's ``bulk_create(ignore_conflicts=True)`` cannot say which rows it inserted, and
that is exactly what makes a reminder or a notification exactly-once: only the caller
whose insert returned the row acts on it; a concurrent caller's insert waits on the
unique index, then skips the row.

On PostgreSQL the rows travel as one JSON parameter expanded by ``jsonb_to_recordset``:
a statement with tens of thousands of ``%s`` placeholders costs more to parse on the
client (psycopg splits and converts each one) than the insert itself. Elsewhere
(the embedded SQLite) plain multi-row ``VALUES``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from django.db import connection, models

# Rows per statement: as many as fit in SQLite's 32,766 parameters / a sane JSON size.
MAX_PARAMETERS = 30_000
JSON_ROWS_PER_STATEMENT = 5_000


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    return cast("models.Field[Any, Any]", model._meta.get_field(name))


@functools.lru_cache(maxsize=1024)
def _isoformat(value: dt.date) -> str:
    return value.isoformat()  # full precision (DjangoJSONEncoder drops microseconds)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return _isoformat(value)  # the same few instants recur in a batch
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def insert_returning(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (Python values in ``names`` order: model instances' field values,
    foreign keys as IDs); rows that would break a unique constraint are skipped.
    Returns the ``returning`` fields of the rows actually inserted."""
    if not rows:
        return []
    qn = connection.ops.quote_name
    fields = [_field(model, n) for n in names]
    columns = [str(f.column) for f in fields]
    # Table and column names come from the model, never from input; values are parameters.
    head = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
    tail = f" ON CONFLICT DO NOTHING RETURNING {', '.join(qn(str(_field(model, n).column)) for n in returning)}"
    out: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            record = ", ".join(f"{qn(c)} {f.db_type(connection)}" for c, f in zip(columns, fields, strict=True))
            select = f"SELECT {', '.join(qn(c) for c in columns)} FROM jsonb_to_recordset(%s::jsonb) AS x({record})"  # noqa: S608
            for start in range(0, len(rows), JSON_ROWS_PER_STATEMENT):
                chunk = rows[start : start + JSON_ROWS_PER_STATEMENT]
                payload = json.dumps(
                    [dict(zip(columns, row, strict=True)) for row in chunk], default=_json_default, ensure_ascii=False
                )
                cursor.execute(head + select + tail, [payload])
                out.extend(tuple(r) for r in cursor.fetchall())
            return out
        row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
        per_statement = max(1, MAX_PARAMETERS // len(names))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [
                f.get_db_prep_value(value, connection, prepared=False)
                for row in chunk
                for f, value in zip(fields, row, strict=True)
            ]
            cursor.execute(head + "VALUES " + ", ".join([row_sql] * len(chunk)) + tail, params)
            out.extend(tuple(r) for r in cursor.fetchall())
    return out
