"""The exports of the staff list, every visible row (100,000 at 100,000): the CSV streamed
by ``/dossiers/export/csv/`` (consumed chunk by chunk through Django's test client), the
XLSX and ODS files of the background job (``grants.web.staff.export_jobs.build`` run
synchronously), against a baseline measured in the same run: hand-written SQL read through
a psycopg server-side cursor and written with the csv module.

Each export runs in its own subprocess, so its peak memory is its own: the peak RSS
(``VmHWM``, reset once Django is set up and connected: ``/proc/self/clear_refs``) less the
RSS before the export, and, in a second run, the peak of Python's allocations (tracemalloc,
which slows allocations down: the time reported is the first run's). Target: memory below
200 MB for 100,000 rows.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
USER = "bench-instructor"
KINDS = ("csv", "xlsx", "ods", "baseline")
TARGET_MB = 200.0
TRACE_MAX_ROWS = 20_000

#: The columns of the export (grants.web.staff.dossiers.EXPORT_COLUMNS), in the list's order.
RAW_EXPORT = """
    SELECT a.reference, a.title, c.code, o.name, o.siren, r.name,
      (SELECT string_agg(ac.country_id, ', ' ORDER BY ac.country_id) FROM grants_application_countries ac
        WHERE ac.application_id = a.id),
      a.state, a.requested_amount, CASE WHEN d.outcome = 'approved' THEN d.amount END, a.submitted_at, d.decided_at,
      (SELECT t.id FROM workflows_task t WHERE t.application_id = a.id AND t.state = 'open' AND t.due_at < now()
        LIMIT 1) IS NOT NULL,
      a.answers
    FROM grants_application a JOIN grants_call c ON c.id = a.call_id JOIN grants_organisation o ON o.id = a.organisation_id
    LEFT JOIN grants_region r ON r.code = o.region_id LEFT JOIN grants_decision d ON d.application_id = a.id
    WHERE a.state <> 'draft' ORDER BY a.submitted_at DESC NULLS FIRST, a.id DESC"""


def _status(field: str) -> int:
    """A field of /proc/self/status, in bytes (0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux ≥ 4.0)


def _client() -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=USER))
    return client


def _warm_up(kind: str) -> Any:
    """What the first request would otherwise time: imports (the URLconf, its views,
    openpyxl; the interpreter may not cache bytecode), the session. Returns the client."""
    from django.urls import resolve

    resolve("/dossiers/export/csv/")
    if kind == "xlsx":
        import openpyxl  # noqa: F401
    return _client() if kind == "csv" else None


def _csv_export(client: Any) -> dict[str, Any]:
    response = client.get("/dossiers/export/csv/")
    size = lines = 0
    header = b""
    for chunk in response.streaming_content:
        if not header:
            header = bytes(chunk).split(b"\r\n", 1)[0]
        size += len(chunk)
        lines += chunk.count(b"\r\n")
    # (the test client closes the response once its content is consumed)
    return {
        "status": response.status_code,
        "bytes": size,
        "rows": lines - 1,
        "header": header.decode("utf-8-sig").split(","),
    }


def _job_export(fmt: str) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from grants.export_jobs import ExportJob
    from grants.web.staff import export_jobs

    job = ExportJob.objects.create(requested_by=get_user_model().objects.get(username=USER), format=fmt)
    state = export_jobs.build(job.pk)
    job.refresh_from_db()
    out: dict[str, Any] = {"state": state}
    if state != ExportJob.State.DONE:
        out["error"] = job.error or str(state)
    if job.file:
        out["bytes"] = job.file.size
        if os.environ.get("BENCH_EXPORT_COUNT_ROWS"):
            out["rows"] = _count_rows(job.file.path, fmt)
        job.file.delete(save=False)
    job.delete()
    return out


def _count_rows(path: str, fmt: str) -> int:
    """The data rows of a spreadsheet (the tests, on a tiny database)."""
    if fmt == "xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        return sum(1 for _ in book.active.iter_rows()) - 1
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return archive.read("content.xml").count(b"<table:table-row>") - 1


def _baseline() -> dict[str, Any]:
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection  # psycopg 3
    size = rows = 0
    with tempfile.TemporaryFile("w+", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["reference", "title", "call", "organisation", "siren", "region", "countries", "state",
                         "requested", "granted", "submitted_at", "decided_at", "overdue", "answers"])  # fmt: skip
        with raw.transaction(), raw.cursor(name="bench_export") as cursor:
            cursor.itersize = 2000
            cursor.execute(RAW_EXPORT)
            for row in cursor:
                writer.writerow(
                    [
                        ""
                        if v is None
                        else v.isoformat()
                        if hasattr(v, "isoformat")
                        else json.dumps(v)
                        if isinstance(v, dict)
                        else v
                        for v in row
                    ]
                )
                rows += 1
        size = out.tell()
    return {"bytes": size, "rows": rows}


def measure_one(kind: str, *, trace: bool = False) -> dict[str, Any]:
    """One export in this process (Django set up): time, bytes, rows, memory."""
    import tracemalloc

    from django.conf import settings
    from django.db import connection

    settings.DEBUG = False  # no query log growing with the rows
    connection.ensure_connection()
    client = _warm_up(kind)
    rss_before = _status("VmRSS")
    _reset_peak()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    if kind == "csv":
        result = _csv_export(client)
    elif kind == "baseline":
        result = _baseline()
    else:
        result = _job_export(kind)
    seconds = time.perf_counter() - started
    if trace:
        result["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 2)
        tracemalloc.stop()
    peak = _status("VmHWM")
    result.update(
        seconds=round(seconds, 3),
        rss_before_mb=round(rss_before / 2**20, 1),
        rss_peak_mb=round(peak / 2**20, 1),
        rss_growth_mb=round(max(peak - rss_before, 0) / 2**20, 1),
    )
    return result


def _subprocess(kind: str, *, trace: bool) -> dict[str, Any]:
    """``measure_one`` in a fresh interpreter on the current database (its peak is its own)."""
    from django.db import connection

    db = connection.settings_dict
    url = (
        f"postgres://{db.get('USER') or 'postgres'}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/"
        f"{db['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = [sys.executable, "-m", "bench.exports", kind] + (["--trace"] if trace else [])
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": (done.stderr or done.stdout)[-2000:]}
    return dict(json.loads(lines[-1]))


def run(*, isolated: bool = True, trace: bool | None = None, kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    """Every export of the instructor's whole list (every non-draft application), each in
    its own subprocess (``isolated``; in this process for the tests, whose data the
    subprocess cannot see), then again under tracemalloc (``trace``; by default up to
    ``TRACE_MAX_ROWS`` rows: tracemalloc makes every allocation several times slower, the
    CSV of 10,000 rows took 5 times longer under it, so the RSS alone above)."""
    from django.contrib.auth import get_user_model

    from grants import search

    user = get_user_model().objects.get(username=USER)
    visible = search.applications(user, search.Filters(), include_drafts=False).count()
    if trace is None:
        trace = visible <= TRACE_MAX_ROWS
    results: dict[str, Any] = {"visible_rows": visible, "target_mb": TARGET_MB, "traced": trace}
    for kind in kinds:
        figures = _subprocess(kind, trace=False) if isolated else measure_one(kind)
        if trace and "error" not in figures:
            traced = _subprocess(kind, trace=True) if isolated else measure_one(kind, trace=True)
            figures["tracemalloc_peak_mb"] = traced.get("tracemalloc_peak_mb")
            figures["seconds_traced"] = traced.get("seconds")
        rows = figures.get("rows", visible)
        if figures.get("seconds"):
            figures["rows_per_s"] = round(rows / figures["seconds"])
            figures["mb"] = round(figures.get("bytes", 0) / 2**20, 2)
        figures["memory_mb"] = max(figures.get("rss_growth_mb") or 0, figures.get("tracemalloc_peak_mb") or 0)
        figures["meets_target"] = "error" not in figures and figures["memory_mb"] < TARGET_MB
        results[kind] = figures
        print(
            f"  export {kind}: {figures.get('seconds')} s, {figures.get('mb')} MB, {rows} rows, "
            f"RSS +{figures.get('rss_growth_mb')} MB, tracemalloc {figures.get('tracemalloc_peak_mb')} MB"
            + (f" ERROR {figures['error'][-300:]}" if "error" in figures else ""),
            flush=True,
        )
    base = results.get("baseline", {}).get("seconds")
    for kind in ("csv", "xlsx", "ods"):
        if kind in results and base and results[kind].get("seconds"):
            results[kind]["vs_baseline"] = round(results[kind]["seconds"] / base, 2)
    return results


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    import django

    django.setup()
    print(json.dumps(measure_one(argv[0], trace="--trace" in argv), default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
