"""Opening and closing tasks. Called only from transition effects (inside the
transition's transaction), never from views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from workflows import registry
from workflows.engine import Conflict, Forbidden, NotFound
from workflows.models import Task


def open_task(
    *,
    kind: str,
    application: Any,
    queue_role: str,
    due_at: datetime | None,
    subject: Any = None,
    scope_call: Any = None,
    scope_country: Any = None,
    scope_region: Any = None,
    scope_organisation: Any = None,
    assignee: Any = None,
) -> Task:
    return Task.objects.create(
        kind=kind,
        application=application,
        queue_role=queue_role,
        due_at=due_at,
        subject_type=subject._meta.label_lower if subject is not None else "",
        subject_id=str(subject.pk) if subject is not None else "",
        scope_call=scope_call,
        scope_country=scope_country,
        scope_region=scope_region,
        scope_organisation=scope_organisation,
        assignee=assignee,
        reserved=assignee is not None,
    )


def _open(application: Any, kinds: tuple[str, ...] | None = None, subject: Any = None) -> QuerySet[Task]:
    qs = Task.objects.filter(application=application, state=Task.State.OPEN)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    if subject is not None:
        qs = qs.filter(subject_type=subject._meta.label_lower, subject_id=str(subject.pk))
    return qs


def close_tasks(application: Any, *kinds: str, subject: Any = None, state: str = Task.State.DONE) -> int:
    # A plain UPDATE: tasks carry no machine of their own, and the application row lock
    # held by the transition serialises every change to this application's tasks.
    return _open(application, kinds or None, subject).update(state=state, closed_at=timezone.now())


def cancel_tasks(application: Any, *kinds: str, subject: Any = None) -> int:
    return close_tasks(application, *kinds, subject=subject, state=Task.State.CANCELLED)


def queue_filter(user: Any) -> Q:
    """The Q selecting the tasks in the queues of ``user``: the domain's read policy
    decides (registered in ``workflows.registry``)."""
    return registry.domain().queue_filter(user)


def inbox(user: Any) -> QuerySet[Task]:
    """Open tasks of the user's queues, overdue first then by due date (the partial
    index task_open_queue_due serves it)."""
    return Task.objects.filter(queue_filter(user), state=Task.State.OPEN).order_by("due_at", "id")


def claim(task_id: int, *, user: Any) -> Task:
    from django.db import transaction

    with transaction.atomic():
        task = Task.objects.select_for_update().filter(queue_filter(user), pk=task_id).first()
        if task is None:
            raise NotFound(_("Introuvable."))
        if task.state != Task.State.OPEN:
            raise Conflict(_("Cette tâche n'est plus ouverte."))
        if task.reserved and task.assignee_id != user.pk:
            raise Forbidden(_("Cette tâche est réservée à une autre personne."))
        if task.assignee_id not in (None, user.pk):
            raise Conflict(_("Cette tâche est déjà prise en charge par %(name)s.") % {"name": task.assignee})
        task.assignee = user
        task.save(update_fields=["assignee"])
    return task


def unclaim(task_id: int, *, user: Any) -> Task:
    from django.db import transaction

    with transaction.atomic():
        task = Task.objects.select_for_update().filter(queue_filter(user), pk=task_id).first()
        if task is None:
            raise NotFound(_("Introuvable."))
        if task.reserved:
            raise Forbidden(_("Cette tâche vous est attribuée par le circuit : elle ne peut pas être rendue."))
        if task.assignee_id != user.pk:
            raise Conflict(_("Vous n'avez pas pris en charge cette tâche."))
        task.assignee = None
        task.save(update_fields=["assignee"])
    return task
