"""The one lock order of every write: the application row first, then the subject's.

A committee session and a call have no application: their own row is the root.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import connection, transaction
from django.db.models.query import MAX_GET_RESULTS

from grants.models import Application
from workflows.statements import query


def _application_lock() -> Any:
    # What ``.get(pk=…)`` runs (no ordering, at most MAX_GET_RESULTS rows); the value is a
    # parameter, replaced at each run.
    queryset = (
        Application.objects.select_for_update(of=("self",))
        .select_related("call", "organisation")
        .filter(pk=uuid.UUID(int=0))
        .order_by()
    )
    return queryset[:MAX_GET_RESULTS]


def lock_application(pk: Any) -> Application:
    """The application ``pk`` with its call and lead authority, its row locked FOR UPDATE:
    the ORM's ``select_for_update(of=("self",)).select_related("call", "organisation")
    .get(pk=pk)``, its statement compiled once per process (a transition's first read,
    about a millisecond of the ORM's compilation each time). Raises as ``get`` does."""
    if connection.get_autocommit() and connection.features.supports_transactions:
        raise transaction.TransactionManagementError("select_for_update cannot be used outside of a transaction.")
    field = Application._meta.pk
    assert field is not None
    # The lookup's own preparation (a malformed id: ValidationError, as the ORM's filter).
    value = field.get_db_prep_value(field.get_prep_value(pk), connection, prepared=True)
    found = query("application-lock", _application_lock, connection).fetch([value], connection)
    if not found:  # one row at most: the primary key
        raise Application.DoesNotExist(f"{Application._meta.object_name} matching query does not exist.")
    return found[0]


def lock(model: type[Any], pk: Any) -> tuple[Any, Any]:
    """(subject, root) locked FOR UPDATE, root first. Raises the model's DoesNotExist
    (or ValueError / ValidationError for a malformed id)."""
    if model is Application:
        # The lead authority too: the rules, the search document, the snapshot and the
        # notifications of an application's transitions read it.
        app = lock_application(pk)
        return app, app
    if any(f.name == "application" for f in model._meta.get_fields()):
        application_id = model._default_manager.filter(pk=pk).values_list("application_id", flat=True).get()
        app = Application.objects.select_for_update(of=("self",)).select_related("call").get(pk=application_id)
        subject = model._default_manager.select_for_update(of=("self",)).get(pk=pk)
        subject.application = app
        return subject, app
    subject = model._default_manager.select_for_update(of=("self",)).get(pk=pk)
    return subject, None


def root_of(subject: Any) -> Any:
    if isinstance(subject, Application):
        return subject
    return getattr(subject, "application", None)
