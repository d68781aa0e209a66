"""The engine's own records: the append-only transition log and the task queues."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflows.model_mixins import ChoiceLabels, CompiledInsert

GENESIS_HASH = "0" * 64
#: Where a task without a due date sorts (last): the API inbox orders by
#: ``Coalesce(due_at, FAR_FUTURE)``, the expression of the index task_open_queue_due_sort.
FAR_FUTURE = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


class TransitionLog(CompiledInsert, models.Model):
    """One fired transition. Append-only: PostgreSQL refuses UPDATE and DELETE on the
    table (a trigger, see migration 0002), and each row's hash chains to the previous
    row of the same application so an edit made around the trigger is detectable."""

    application = models.ForeignKey(
        "grants.Application",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="history",
        db_constraint=True,
    )
    subject_type = models.CharField(max_length=40)  # "grants.application", "grants.opinionrequest", …
    subject_id = models.CharField(max_length=40)
    transition = models.CharField(max_length=40)
    source = models.CharField(max_length=32)
    target = models.CharField(max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)  # kept even if the user is renamed
    role = models.CharField(max_length=16)  # the role under which it was done, or "system"
    at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("journal des transitions")
        verbose_name_plural = _("journal des transitions")
        indexes = [
            models.Index(fields=["application", "at", "id"], name="log_application_at"),
            models.Index(fields=["subject_type", "subject_id"], name="log_subject"),
            # perf (0004): the application-level entries of a history, covering what the
            # call dashboard's time-in-state reads (an index-only scan, no heap reads).
            models.Index(
                fields=["application", "at", "id"],
                include=["target"],
                condition=Q(subject_type="grants.application"),
                name="log_application_entries",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id} {self.transition} {self.source}→{self.target}"

    def canonical(self) -> str:
        """The fields covered by the hash, as canonical JSON."""
        body = {
            "application": str(self.application_id) if self.application_id else None,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "transition": self.transition,
            "source": self.source,
            "target": self.target,
            "actor": self.actor_id,
            "actor_name": self.actor_name,
            "role": self.role,
            "at": self.at.isoformat(),
            "comment": self.comment,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
        }
        return json.dumps(body, sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()


class TaskKind(models.TextChoices):
    CHECK_ELIGIBILITY = "check_eligibility", _("Vérifier la recevabilité")
    COMPLETE_APPLICATION = "complete_application", _("Compléter le dossier")
    GIVE_OPINION = "give_opinion", _("Rendre un avis")
    REVIEW = "review", _("Évaluer le dossier")
    SCHEDULE_COMMITTEE = "schedule_committee", _("Inscrire en comité")
    SIGN_DECISION = "sign_decision", _("Signer la décision")
    RECORD_COMMITMENT = "record_commitment", _("Enregistrer l'engagement")
    # The grant's life after the commitment.
    PAY_TRANCHE = "pay_tranche", _("Payer la tranche")
    SUBMIT_REPORT = "submit_report", _("Déposer le rapport")
    CHECK_REPORT = "check_report", _("Vérifier le rapport")
    DECIDE_AMENDMENT = "decide_amendment", _("Statuer sur l'avenant")
    # Joint funds: the partner government validates the project.
    VALIDATE_PROJECT = "validate_project", _("Valider le projet (gouvernement partenaire)")


class Task(ChoiceLabels, CompiledInsert, models.Model):
    """A unit of work in a queue (a role, optionally narrowed by a scope). Opened and
    closed only by transitions (workflows.tasks_service), never by hand."""

    class State(models.TextChoices):
        OPEN = "open", _("À faire")
        DONE = "done", _("Faite")
        CANCELLED = "cancelled", _("Annulée")

    kind = models.CharField(_("type"), max_length=24, choices=TaskKind.choices)
    state = models.CharField(_("état"), max_length=10, choices=State.choices, default=State.OPEN)
    application = models.ForeignKey("grants.Application", on_delete=models.CASCADE, related_name="tasks")
    subject_type = models.CharField(max_length=40, blank=True)
    subject_id = models.CharField(max_length=40, blank=True)
    # The queue: a role, narrowed by at most one scope item (see grants.RoleGrant).
    queue_role = models.CharField(max_length=16)
    scope_call = models.ForeignKey("grants.Call", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    scope_country = models.ForeignKey(
        "grants.Country", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    scope_region = models.ForeignKey("grants.Region", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    scope_organisation = models.ForeignKey(
        "grants.Organisation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # A task reserved for one person (a reviewer's review), or claimed from the queue.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    reserved = models.BooleanField(default=False, help_text="assignee set by the workflow, not by a claim")
    due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        verbose_name = _("tâche")
        verbose_name_plural = _("tâches")
        indexes = [
            # The inbox: open tasks of a queue ordered by due date (keyset on due_at, id).
            models.Index(fields=["queue_role", "due_at", "id"], condition=Q(state="open"), name="task_open_queue_due"),
            # The reminder sweep: open tasks by due date, whatever the queue.
            models.Index(fields=["due_at", "id"], condition=Q(state="open"), name="task_open_due"),
            models.Index(fields=["application", "state"], name="task_application_state"),
            # A person's open tasks by due date: a reviewer's inbox (its queue is the tasks
            # assigned to it) in keyset order, and the reviewers' loads beside the "assign a
            # reviewer" form (grants.evaluation), index-only through the included columns.
            models.Index(
                fields=["assignee", "due_at", "id"],
                include=["kind", "queue_role"],
                condition=Q(state="open"),
                name="task_open_assignee_due",
            ),
            models.Index(fields=["subject_type", "subject_id"], name="task_subject"),
            # perf (0004): the API inbox's order (tasks without a due date last), and the
            # scoped queues (an embassy's country, a prefecture's region, a call's
            # instructors) by due date, so the page's LIMIT is read from the index.
            models.Index(
                F("queue_role"),
                Coalesce("due_at", Value(FAR_FUTURE, output_field=models.DateTimeField())),
                F("id"),
                condition=Q(state="open"),
                name="task_open_queue_due_sort",
            ),
            models.Index(
                fields=["queue_role", "scope_country", "due_at", "id"],
                condition=Q(state="open"),
                name="task_open_country_due",
            ),
            models.Index(
                fields=["queue_role", "scope_region", "due_at", "id"],
                condition=Q(state="open"),
                name="task_open_region_due",
            ),
            models.Index(
                fields=["queue_role", "scope_call", "due_at", "id"],
                condition=Q(state="open"),
                name="task_open_call_due",
            ),
            # The inbox's counts per kind: a queue's open tasks by kind, overdue or not, with
            # the scopes a queue is cut by (index-only; issue 13).
            models.Index(
                fields=["queue_role", "kind"],
                include=["due_at", "scope_call", "scope_country", "scope_region"],
                condition=Q(state="open"),
                name="task_open_queue_kind",
            ),
            # "Has an overdue task" (grants.search): the overdue open tasks' applications,
            # read from the index alone.
            models.Index(
                fields=["due_at"],
                include=["application"],
                condition=Q(state="open"),
                name="task_open_due_application",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.application}"

    @property
    def is_overdue(self) -> bool:
        return self.state == self.State.OPEN and self.due_at is not None and self.due_at < timezone.now()

    def payload(self) -> dict[str, Any]:
        return {"kind": self.kind, "application": str(self.application_id), "due_at": self.due_at}
