"""Spreadsheet exports of the staff's list (XLSX, ODS) as background jobs.

A request never holds 100,000 rows: ``POST /dossiers/exports/<fmt>/`` records the
list's filters in an ``ExportJob`` and, once committed, enqueues the Celery task
``grants.export_dossiers`` (registered with the engine as the background job
``export_dossiers``). The worker reads the rows by chunks into a temporary file
(grants.web.staff.dossiers: openpyxl's write-only mode, ODS written into the archive
chunk by chunk), stores it in the media storage under a generated name, and marks the
job done. The job's page (``/dossiers/exports/<id>/``) tells its requester where it
stands and links to the file; any other user gets a 404. The CSV stays streamed in the
request (``/dossiers/export/csv/``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import shared_task
from django.core.files import File
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from grants import search
from grants.documents.storage import save_new_file
from grants.export_jobs import ExportJob
from grants.web.staff import dossiers
from grants.web.staff.common import staff_render, staff_view
from grants.web.staff.spreadsheets import FORMATS
from workflows import registry

logger = logging.getLogger(__name__)

#: The formats built in the background (the CSV streams in the request).
JOB_FORMATS = ("xlsx", "ods")
JOB = "export_dossiers"
#: A job still pending after this long was never picked up (broker down when it was
#: asked): viewing its page asks for it again.
STALE_SECONDS = 120
#: A running job older than this died with its worker: it may be run again.
DEAD_SECONDS = 3600


# --- the job ----------------------------------------------------------------------------------------


def build(job_id: Any) -> str:
    """Build the job's file once: a job already done, failed or being built by a live
    worker is left alone (returns its state)."""
    now = timezone.now()
    claimed = ExportJob.objects.filter(pk=job_id, state=ExportJob.State.PENDING).update(
        state=ExportJob.State.RUNNING, started_at=now
    ) or ExportJob.objects.filter(
        pk=job_id, state=ExportJob.State.RUNNING, started_at__lt=now - dt.timedelta(seconds=DEAD_SECONDS)
    ).update(started_at=now)
    job = ExportJob.objects.select_related("requested_by").filter(pk=job_id).first()
    if job is None or not claimed:
        return job.state if job is not None else "missing"
    try:
        with translation.override(job.language or "fr"):
            filters = search.parse_filters(QueryDict(job.query))
            rows = search.ordered(dossiers._rows(job.requested_by, filters), search.ordering_for(filters))
            labels = dossiers._Labels()
            handle = dossiers.xlsx_file(rows, labels) if job.format == "xlsx" else dossiers.ods_file(rows, labels)
        with handle:
            save_new_file(job.file, f"export.{job.format}", File(handle))
    except Exception as exc:
        logger.exception("export job %s failed", job_id)
        ExportJob.objects.filter(pk=job_id).update(
            state=ExportJob.State.FAILED, error=f"{type(exc).__name__}: {exc}"[:500], finished_at=timezone.now()
        )
        return ExportJob.State.FAILED
    ExportJob.objects.filter(pk=job_id).update(
        state=ExportJob.State.DONE, file=job.file.name, finished_at=timezone.now()
    )
    return ExportJob.State.DONE


@shared_task(name="grants.export_dossiers", acks_late=True, soft_time_limit=1800, time_limit=1900)
def export_dossiers(job_id: str) -> str:
    return build(job_id)


def _enqueue(job_id: Any) -> None:
    try:
        export_dossiers.delay(str(job_id))
    except Exception:  # the broker is down: the job's page asks again (STALE_SECONDS)
        logger.warning("export job %s not enqueued", job_id, exc_info=True)


registry.register_job(JOB, _enqueue)


# --- the pages ----------------------------------------------------------------------------------------


def _own_job(request: HttpRequest, job_id: Any) -> ExportJob:
    job = ExportJob.objects.filter(pk=job_id, requested_by_id=request.user.pk).first()
    if job is None:  # somebody else's or none: never say which
        raise Http404(_("Introuvable."))
    return job


@require_POST
@staff_view()
def export_start(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """Record the list's filters (checked now: a bad filter is the list again with its
    reasons, 400) and ask for the file."""
    if fmt not in JOB_FORMATS:
        raise Http404(_("Format inconnu."))
    params = QueryDict(request.POST.get("query", ""))
    try:
        search.parse_filters(params)
    except search.FilterError:
        request.GET = params  # the list shows the filters and why they are refused
        context, status = dossiers._list_context(request)
        return staff_render(request, "grants/staff/dossiers.html", context, active="dossiers", status=status)
    language = (translation.get_language() or "fr")[:8]
    user = request.user
    assert user.is_authenticated  # staff_view
    with transaction.atomic():
        job = ExportJob.objects.create(requested_by=user, format=fmt, query=params.urlencode(), language=language)
        transaction.on_commit(lambda: registry.run_job(JOB, job.pk))
    return redirect("dossiers-export-job", job_id=job.pk)


@require_GET
@staff_view()
def export_job(request: HttpRequest, job_id: Any) -> HttpResponse:
    job = _own_job(request, job_id)
    if job.state == ExportJob.State.PENDING and (timezone.now() - job.created_at).total_seconds() > STALE_SECONDS:
        registry.run_job(JOB, job.pk)
    waiting = job.state in (ExportJob.State.PENDING, ExportJob.State.RUNNING)
    return staff_render(
        request,
        "grants/staff/export_job.html",
        {"job": job, "waiting": waiting, "list_query": job.query, "label": job.format.upper()},
        active="dossiers",
    )


def download_name(job: ExportJob) -> str:
    # A fixed prefix and the time it was asked: no user text reaches the name.
    return dossiers.export_filename(FORMATS[job.format][1], job.created_at)


@require_GET
@staff_view()
def export_file(request: HttpRequest, job_id: Any) -> HttpResponseBase:
    job = _own_job(request, job_id)
    if job.state != ExportJob.State.DONE or not job.file:
        raise Http404(_("Le fichier n'est pas prêt."))
    try:
        handle = job.file.open("rb")
    except FileNotFoundError:
        raise Http404(_("Le fichier n'est plus disponible.")) from None
    return FileResponse(handle, as_attachment=True, filename=download_name(job), content_type=FORMATS[job.format][0])
