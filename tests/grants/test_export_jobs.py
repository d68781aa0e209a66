"""The staff list's spreadsheets (XLSX, ODS) built in the background: asked from the list,
built by a real Celery worker, fetched by their requester only, memory bounded."""

from __future__ import annotations

import io
import subprocess
import time
import tracemalloc
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from grants.export_jobs import ExportJob
from grants.models import Application
from grants.web.staff import export_jobs
from tests.factories import World
from tests.grants.test_staff_performance import bulk_applications

S = Application.State
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _start(client: Client, fmt: str, query: str = "", **extra: Any) -> Any:
    return client.post(reverse("dossiers-export-start", args=[fmt]), {"query": query}, **extra)


def _job_of(response: Any) -> ExportJob:
    assert response.status_code == 302, response.status_code
    job_id = response["Location"].rstrip("/").split("/")[-1]
    return ExportJob.objects.get(pk=job_id)


@pytest.mark.worker
def test_a_real_worker_builds_the_xlsx_of_the_filtered_list_for_its_requester_only(
    celery_worker_process: subprocess.Popen[bytes], world: World, client: Client
) -> None:
    bulk_applications(world, 12, S.SUBMITTED)
    kept = bulk_applications(world, 3, S.UNDER_REVIEW)
    Application.objects.filter(pk=kept[0].pk).update(title='=HYPERLINK("http://evil")', requested_amount="1234.56")
    client.force_login(world.instructor)
    job = _job_of(_start(client, "xlsx", "state=under_review"))
    assert job.requested_by == world.instructor and job.query == "state=under_review"
    page = client.get(reverse("dossiers-export-job", args=[job.pk])).content.decode()
    assert "Export XLSX des dossiers" in page
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in (ExportJob.State.DONE, ExportJob.State.FAILED):
            break
        time.sleep(0.5)
    assert job.state == ExportJob.State.DONE, job.error
    # A generated name in the media storage, never the user's text.
    assert job.file.name.startswith("exports/") and job.file.name.endswith(".xlsx")
    page = client.get(reverse("dossiers-export-job", args=[job.pk])).content.decode()
    assert "Votre fichier est prêt" in page
    response = client.get(reverse("dossiers-export-file", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="dossiers-')
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + 3  # the header and the three applications under review only
    titles = [row[1] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil")' in titles  # neutralised, never a formula
    amounts = [row[8] for row in rows[1:]]
    assert Decimal("1234.56") in [Decimal(str(a)) for a in amounts]
    # Another staff member: the job and its file do not exist for it.
    client.force_login(world.secretary)
    assert client.get(reverse("dossiers-export-job", args=[job.pk])).status_code == 404
    assert client.get(reverse("dossiers-export-file", args=[job.pk])).status_code == 404


def test_the_ods_job_builds_a_valid_spreadsheet_and_its_page_reads_in_english(world: World, client: Client) -> None:
    bulk_applications(world, 4, S.SUBMITTED)
    client.force_login(world.instructor)
    job = _job_of(_start(client, "ods", "", **EN))
    assert job.language == "en"
    page = client.get(reverse("dossiers-export-job", args=[job.pk]), **EN).content.decode()
    assert "Export being prepared" in page
    assert export_jobs.build(job.pk) == ExportJob.State.DONE
    assert export_jobs.build(job.pk) == ExportJob.State.DONE  # once: a second delivery changes nothing
    job.refresh_from_db()
    response = client.get(reverse("dossiers-export-file", args=[job.pk]))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
    content = archive.read("content.xml").decode()
    assert content.count("<table:table-row>") == 1 + 4
    assert "Reference" in content  # the headers in the requester's language
    page = client.get(reverse("dossiers-export-job", args=[job.pk]), **EN).content.decode()
    assert "Your file is ready" in page


def test_a_file_not_ready_or_an_unknown_format_is_not_found_and_a_bad_filter_is_refused(
    world: World, client: Client
) -> None:
    client.force_login(world.instructor)
    job = _job_of(_start(client, "xlsx"))
    assert client.get(reverse("dossiers-export-file", args=[job.pk])).status_code == 404  # still pending
    assert _start(client, "csv").status_code == 404  # the CSV streams, it is no job
    assert _start(client, "pdf").status_code == 404
    response = _start(client, "xlsx", "requested_min=beaucoup")
    assert response.status_code == 400
    assert ExportJob.objects.count() == 1
    client.force_login(world.applicant)
    assert _start(client, "xlsx").status_code == 403


def test_the_list_asks_for_the_spreadsheets_with_its_filters(world: World, client: Client) -> None:
    bulk_applications(world, 2, S.SUBMITTED)
    client.force_login(world.instructor)
    html = client.get(reverse("dossiers"), {"country": "SN"}).content.decode()
    assert f'action="{reverse("dossiers-export-start", args=["xlsx"])}"' in html
    assert 'name="query" value="country=SN"' in html


def _peak_bytes(job_id: Any) -> int:
    tracemalloc.start()
    try:
        assert export_jobs.build(job_id) == ExportJob.State.DONE
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_building_a_spreadsheet_holds_the_same_memory_for_1100_or_3300_rows(
    world: World, client: Client, fmt: str
) -> None:
    """The rows are read by chunks of ``dossiers.CHUNK`` (500) and written to disk: past
    a couple of chunks, three times the rows take about the same memory."""
    client.force_login(world.instructor)
    bulk_applications(world, 1100, S.SUBMITTED)
    _peak_bytes(_job_of(_start(client, fmt)).pk)  # warm-up: imports, caches
    small = _peak_bytes(_job_of(_start(client, fmt)).pk)
    bulk_applications(world, 2200, S.SUBMITTED)
    large = _peak_bytes(_job_of(_start(client, fmt)).pk)
    # Measured (tracemalloc peak): XLSX 12.6 → 12.8 MB, ODS 12.8 → 13.0 MB.
    assert large < small * 1.25, (small, large)
