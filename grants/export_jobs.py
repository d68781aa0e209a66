"""A spreadsheet export of the staff's list, built by a background job (XLSX or ODS of up
to every application: grants.web.staff.export_jobs). The file is kept in the media
storage under a generated name and served to its requester only."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflows.model_mixins import ChoiceLabels


def export_path(instance: ExportJob, filename: str) -> str:
    # A generated name: nothing the user typed reaches the file system.
    return f"exports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{instance.format}"


class ExportJob(ChoiceLabels, models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("En attente")
        RUNNING = "running", _("En préparation")
        DONE = "done", _("Prêt")
        FAILED = "failed", _("Échec")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    format = models.CharField(max_length=8)
    # The list's filters as its URL said them (parsed again by the job: grants.search).
    query = models.TextField(blank=True)
    language = models.CharField(max_length=8, default="fr")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    file = models.FileField(upload_to=export_path, max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("export de dossiers")
        verbose_name_plural = _("exports de dossiers")
        indexes = [models.Index(fields=["requested_by", "-created_at"], name="export_job_requester")]

    def __str__(self) -> str:
        return f"{self.format} {self.state} {self.created_at:%Y-%m-%d %H:%M}"
