"""Decision letters from the models, and a signing batch rendered by real Celery workers.

    .venv/bin/python -m bench.pdf_batch [--quick]     # standalone: own throw-away database
    (or through `make bench`, bench/run.py, which sets the database up and calls run())

`run()` returns, from one run on one machine (compare ratios, not seconds):

- `letter_from_models_median_s`: an approval letter's context built from the models
  (`grants.documents.issuing.decision_letter_context`: application, organisation, partners,
  countries, budget figures, tranches) and rendered by `grants.documents.pdf.render_pdf` (Django
  template, QR code, locked-down fetcher, shared FontConfiguration, PDF/A-3b);
- `bare_weasyprint_median_s`: the same HTML through bare `weasyprint.HTML(string=html).write_pdf()`
  (no stylesheet, default fetcher, plain PDF), and `bare_with_assets_median_s` with the
  stylesheet and logo loaded; `overhead_ratio` = ours / bare;
- `issue_median_s`: the whole `grants.documents.issuing.issue_decision_letter` in-process
  (context, render, file written, Document row, `signed → delivered` transition with its
  finance task and outbox rows);
- for 1 and for 2 worker processes (separate `celery worker -c 1` processes on the `pdf`
  queue, prefetch 1, real Redis): `batch_<k>w_s`, the time from the commit that signs
  `batch` decisions (100) to the last one delivered, and `batch_<k>w_per_s`, letters per
  second; `speedup_2w` = batch_1w_s / batch_2w_s.

The database is the one Django is configured with (DATABASE_URL; bench/run.py makes a
throw-away `test_…` database from it); `database` in the result names it.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _world(envelope: Decimal) -> Any:
    """A `tests.factories.World` with a call large enough for the batch.

    Another benchmark of the same run may already have created the world's users and
    authorities (unique usernames and SIRENs): then they are reused with a new call.
    """
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from grants.models import CommitteeSession, Organisation
    from tests.factories import CallFactory, World

    if not Organisation.objects.filter(siren="216901231").exists():
        return World(envelope=envelope)
    world = World.__new__(World)
    world.call = CallFactory(envelope=envelope)
    world.lyon = Organisation.objects.get(siren="216901231")
    users = {u.username: u for u in get_user_model().objects.all()}
    for attribute, username in {
        "applicant": "applicant",
        "instructor": "instructor",
        "embassy_sn": "embassy-sn",
        "embassy_ma": "embassy-ma",
        "reviewer1": "reviewer1",
        "secretary": "secretary",
        "signatory": "signatory",
        "finance": "finance",
    }.items():
        setattr(world, attribute, users[username])
    world.session = CommitteeSession.objects.create(call=world.call, date=timezone.localdate() + dt.timedelta(days=20))
    return world


def _approved_decisions(world: Any, count: int) -> list[int]:
    from grants.models import Decision

    ids = []
    for index in range(count):
        app = world.advance(world.draft(title=f"Projet de coopération n° {index + 1}"), "approved")
        ids.append(Decision.objects.get(application=app).pk)
    return ids


def _sign(world: Any, decision_ids: list[int]) -> None:
    """Sign in one transaction: its commit enqueues every render at once (as a batch screen would)."""
    from django.db import transaction

    from grants import services

    with transaction.atomic():
        for decision_id in decision_ids:
            services.decision_sign(decision_id=decision_id, user=world.signatory)


def _purge_broker() -> None:
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("pdf", "default", "unacked", "unacked_index")


def _worker_env() -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    user = db.get("USER") or ""
    auth = f"{user}:{db.get('PASSWORD')}@" if db.get("PASSWORD") else (f"{user}@" if user else "")
    env = dict(os.environ)
    env.pop("GRANTS_TEST_RENDER_DELAY", None)
    env["DATABASE_URL"] = f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    env["REDIS_URL"] = settings.CELERY_BROKER_URL
    env["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings_test")
    return env


def _start_workers(count: int) -> list[tuple[subprocess.Popen[bytes], str]]:
    from config.celery import app

    workers = []
    log = (ROOT / "var" / "bench-pdf-workers.log").open("ab")  # worker warnings and errors
    for index in range(count):
        hostname = f"bench-pdf-{os.getpid()}-{count}-{index}@localhost"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "pdf",
                "-c",
                "1",
                "-n",
                hostname,
                "-l",
                os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=_worker_env(),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        workers.append((proc, hostname))
    deadline = time.monotonic() + 90
    for proc, hostname in workers:
        while not app.control.ping(destination=[hostname], timeout=0.5):
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop_workers(workers)
                raise RuntimeError(f"celery worker {hostname} did not start")
    return workers


def _stop_workers(workers: list[tuple[subprocess.Popen[bytes], str]]) -> None:
    for proc, _ in workers:
        proc.terminate()
    for proc, _ in workers:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _batch_seconds(world: Any, decision_ids: list[int], workers: int, timeout: float) -> dict[str, float]:
    from grants.documents.issuing import batch_progress

    _purge_broker()
    running = _start_workers(workers)
    try:
        started = time.perf_counter()
        _sign(world, decision_ids)
        committed = time.perf_counter()
        deadline = committed + timeout
        while True:
            progress = batch_progress(decision_ids)
            if progress["delivered"] + progress["failed"] == len(decision_ids):
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"batch not rendered within {timeout} s: {progress}")
            time.sleep(0.2)
        finished = time.perf_counter()
    finally:
        _stop_workers(running)
    if progress["failed"]:
        raise RuntimeError(f"{progress['failed']} letters failed to render")
    return {"sign_s": committed - started, "render_s": finished - committed}


def _interleaved_medians(actions: list[Callable[[], object]], n: int) -> list[float]:
    """The median of n timings of each action after one warm-up each (as bench/pdf_render.py
    does), the timings taken round by round so a noisy neighbour slows every variant alike."""
    for action in actions:
        action()  # warm-up: imports, fontconfig, caches
    timings: list[list[float]] = [[] for _ in actions]
    for _ in range(n):
        for index, action in enumerate(actions):
            timings[index].append(_timed(action))
    return [statistics.median(series) for series in timings]


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _database() -> str:
    from django.db import connection

    db = connection.settings_dict
    return f"{db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']} on {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"


def run(quick: bool = False, batch: int | None = None, n: int | None = None) -> dict[str, Any]:
    import logging

    import weasyprint
    from django.utils import timezone

    from grants.documents import issuing, pdf
    from grants.models import Decision

    batch = batch or (10 if quick else 100)
    n = n or (3 if quick else 10)
    letters = 5 if quick else 20  # timings of one letter, per variant
    for name in ("weasyprint", "weasyprint.progress", "fontTools", "grants.documents.issuing"):
        logging.getLogger(name).setLevel(logging.CRITICAL)

    world = _world(Decimal("1000000000.00"))
    started = time.perf_counter()
    ids = _approved_decisions(world, 2 * batch + n)
    setup_s = time.perf_counter() - started
    batch_1w, batch_2w, in_process = ids[:batch], ids[batch : 2 * batch], ids[2 * batch :]

    # In-process: the whole issue (render, store, deliver) of n signed decisions.
    _sign(world, in_process)
    issue_times = []
    for decision_id in in_process:
        t0 = time.perf_counter()
        assert issuing.issue_decision_letter(decision_id) == issuing.ISSUED
        issue_times.append(time.perf_counter() - t0)

    # One letter from the models vs bare WeasyPrint on the very same HTML.
    decision = Decision.objects.get(pk=in_process[0])

    def from_models() -> object:
        fresh = Decision.objects.select_related(
            "application__call", "application__organisation", "session", "signed_by"
        ).get(pk=decision.pk)
        template, context = issuing.decision_letter_context(
            fresh, code="BENC-HMAR-KAAA-AAAA-AAAA-AAAA", issued_at=timezone.now()
        )
        return pdf.render_pdf(template, context)

    template, context = issuing.decision_letter_context(
        decision, code="BENC-HMAR-KAAA-AAAA-AAAA-AAAA", issued_at=timezone.now()
    )
    html = pdf.render_template_html(template, context)
    ours, bare, bare_assets = _interleaved_medians(
        [
            from_models,
            lambda: weasyprint.HTML(string=html).write_pdf(),
            lambda: weasyprint.HTML(string=html, base_url=pdf.ASSET_BASE_URL).write_pdf(),
        ],
        letters,
    )

    timeout = max(120.0, 10.0 * batch)
    one = _batch_seconds(world, batch_1w, 1, timeout)
    two = _batch_seconds(world, batch_2w, 2, timeout)
    return {
        "database": _database(),
        "batch": batch,
        "letter_from_models_median_s": round(ours, 4),
        "bare_weasyprint_median_s": round(bare, 4),
        "bare_with_assets_median_s": round(bare_assets, 4),
        "overhead_ratio": round(ours / bare, 3),
        "issue_median_s": round(statistics.median(issue_times), 4),
        "batch_1w_s": round(one["render_s"], 2),
        "batch_1w_per_s": round(batch / one["render_s"], 2),
        "batch_2w_s": round(two["render_s"], 2),
        "batch_2w_per_s": round(batch / two["render_s"], 2),
        "speedup_2w": round(one["render_s"] / two["render_s"], 2),
        "sign_batch_s": round(one["sign_s"], 2),
        "setup_s": round(setup_s, 1),
        "cpus": os.cpu_count() or 0,
    }


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a batch of 10 instead of 100")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench.run import _setup, _teardown

    old_config = _setup()
    try:
        print(json.dumps(run(quick=args.quick), indent=2))
    finally:
        _teardown(old_config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
