"""Django's database sessions, the row read by a statement written once per process.

Every request with a session cookie reads its row. Django's backend builds that SELECT
through the ORM each time: ≈0.5 ms of CPU, ten times the statement's round trip. This
store reads the same row (this key, not expired: ``expire_date > now``) with the
statement's text built once from the model, its parameters prepared as the ORM prepares
them (an aware datetime for PostgreSQL, UTC text for SQLite). Everything else, the
writes, key rotation, ``clearsessions``, is Django's backend unchanged: the same table,
the same rows, the same encoding, so the sessions open before a deploy stay open.

``SESSION_ENGINE = "config.sessions"`` (config/settings.py).
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.base_session import AbstractBaseSession
from django.contrib.sessions.models import Session
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from workflows.statements import Names, statement


def _build_select(n: Names) -> str:
    return f"SELECT {n['session_data']} FROM {n.table} WHERE {n['session_key']} = %s AND {n['expire_date']} > %s"  # noqa: S608


def _select(connection: BaseDatabaseWrapper) -> str:
    """``SELECT session_data … WHERE session_key = %s AND expire_date > %s`` (names from the model)."""
    return statement("session-data", Session, _build_select, connection)


def read_session_data(connection: BaseDatabaseWrapper, session_key: str) -> str | None:
    """The encoded data of the unexpired session ``session_key``, or None."""
    now = Session._meta.get_field("expire_date").get_db_prep_value(timezone.now(), connection, prepared=False)
    with connection.cursor() as cursor:
        cursor.execute(_select(connection), [session_key, now])
        row = cursor.fetchone()
    return None if row is None else str(row[0])


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> AbstractBaseSession | None:
        key = self.session_key
        data = None if key is None else read_session_data(connections[router.db_for_read(self.model)], key)
        if key is None or data is None:
            self._session_key = None  # as Django's: no row, or an expired one, is a new session
            return None
        return self.model(session_key=key, session_data=data)
