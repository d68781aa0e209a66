"""The one lock order of every write: the application row first, then the subject's.

A committee session and a call have no application: their own row is the root.
"""

from __future__ import annotations

from typing import Any

from grants.models import Application


def lock(model: type[Any], pk: Any) -> tuple[Any, Any]:
    """(subject, root) locked FOR UPDATE, root first. Raises the model's DoesNotExist
    (or ValueError / ValidationError for a malformed id)."""
    if model is Application:
        # The lead authority too: the rules, the search document, the snapshot and the
        # notifications of an application's transitions read it.
        app = Application.objects.select_for_update(of=("self",)).select_related("call", "organisation").get(pk=pk)
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
