"""HTTP load test: locust (headless, bench/locustfile.py) against gunicorn, both on
127.0.0.1 only, on the generated database (PostgreSQL) and Redis (cache, broker).

gunicorn runs the production settings module (config.settings, DEBUG off, the real
password hasher: sign-in costs what it costs) with production's configuration
(config/gunicorn.py: threaded workers; ``server`` overrides its WEB_* variables, to
compare configurations back-to-back). The run is
bounded: ``users`` users spawned at ``rate``/s for ``duration`` seconds, then locust stops
by itself (a hard timeout kills it, and gunicorn is always stopped). Figures: requests/s,
p50/p95/p99 and errors of everything, of the pages alone (sign-in excluded), and per
endpoint; the machine's load average during the run and the CPU seconds locust itself
used (it shares the cores with gunicorn and PostgreSQL: a figure to read beside them).
"""

from __future__ import annotations

import csv
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.generate import PASSWORD, World

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accounts(world: World) -> dict[str, Any]:
    """Who signs in, and which applications each may open."""
    from django.db import connection

    rng = random.Random(11)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id::text FROM grants_application WHERE state <> 'draft' ORDER BY md5(id::text) LIMIT 300"
        )
        staff_apps = [row[0] for row in cursor.fetchall()]
        # What an instructor types in the list's search box: a word of a title, or a reference.
        cursor.execute(
            """SELECT title, reference FROM grants_application WHERE state <> 'draft' ORDER BY md5(reference) LIMIT 40"""
        )
        searches: list[str] = []
        for title, reference in cursor.fetchall():
            words = [w for w in title.split() if len(w) >= 6 and w.isalpha()]
            searches.append(rng.choice(words).lower() if words and len(searches) % 2 == 0 else reference)
        cursor.execute(
            """SELECT organisation_id, array_agg(id::text ORDER BY created_at DESC) FROM grants_application
               GROUP BY organisation_id HAVING COUNT(*) BETWEEN 2 AND 12 ORDER BY organisation_id LIMIT 60"""
        )
        applicants = [
            {"username": f"bench-applicant-{org:04d}", "applications": apps} for org, apps in cursor.fetchall()
        ]
    instructors = [name for name in world.accounts if name.startswith("bench-instructor")] + ["bench-secretary"]
    embassies = [f"bench-embassy-{c}" for c in ("sn", "ma", "bf", "bj", "tn") if f"bench-embassy-{c}" in world.accounts]
    rng.shuffle(applicants)
    return {
        "password": PASSWORD,
        "instructors": [{"username": name} for name in instructors],
        "embassies": [{"username": name} for name in embassies],
        "applicants": applicants,
        "staff_applications": staff_apps,
        "staff_searches": searches,
    }


def _fresh_cache(redis_url: str) -> None:
    """The sign-in throttle counts failures per address in the cache (Redis): a run starts
    from an empty one, on its own Redis database (never database 0, the default)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    if int(client.connection_pool.connection_kwargs.get("db", 0)) == 0:
        raise RuntimeError(f"refusing to flush Redis database 0 ({redis_url}): give the benchmark its own")
    client.flushdb()


def _wait_until_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/accounts/login/", timeout=5) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer on {url} within {timeout:.0f} s")


def _stats(path: Path) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = row["Name"] if row["Type"] else "Aggregated"
            rows[name] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 1),
                "p50_ms": float(row["50%"]),
                "p95_ms": float(row["95%"]),
                "p99_ms": float(row["99%"]),
            }
    return rows


class _LoadAverage:
    """The 1-minute load average, sampled every few seconds while the load runs."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every,), daemon=True)

    def _sample(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> _LoadAverage:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, float | None]:
        if not self.samples:
            return {"mean": None, "max": None}
        return {"mean": round(sum(self.samples) / len(self.samples), 2), "max": round(max(self.samples), 2)}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _gunicorn_config(env: dict[str, str]) -> dict[str, Any]:
    """What config/gunicorn.py resolves to under ``env`` (the same file production uses)."""
    code = (
        "import json, runpy; c = runpy.run_path('config/gunicorn.py'); "
        "print(json.dumps({k: c[k] for k in ('worker_class', 'workers', 'threads', 'keepalive')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout))


def run(
    world: World,
    *,
    users: int = 50,
    rate: float = 10,
    duration: int = 120,
    workers: int | None = None,
    server: dict[str, str] | None = None,
) -> dict[str, Any]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    auth = f"{db.get('USER') or 'postgres'}" + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "WEB_LOG_LEVEL": "warning",
            **(server or {}),
        }
    )
    if workers:
        env["WEB_WORKERS"] = str(workers)
    gunicorn_config = _gunicorn_config(env)
    _fresh_cache(env["REDIS_URL"])
    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    config = workdir / "accounts.json"
    config.write_text(json.dumps(_accounts(world)), encoding="utf-8")
    gunicorn = subprocess.Popen(
        [
            str(BIN / "gunicorn"), "-c", str(ROOT / "config" / "gunicorn.py"), "config.wsgi:application",
            "--bind", f"127.0.0.1:{port}",
            "--no-control-socket",  # its default path is one per user, shared with any other gunicorn
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(workdir / "gunicorn.log").open("w"),
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait_until_up(url)
        # Warm-up, not measured: each worker imports the URLconf and views on its first requests.
        for _ in range(4 * gunicorn_config["workers"]):
            with urllib.request.urlopen(f"{url}/accounts/login/", timeout=30) as response:  # noqa: S310 - loopback
                response.read()
        locust_env = dict(env, BENCH_LOAD_CONFIG=str(config), BENCH_LOAD_PAGES=str(workdir / "pages.json"))
        started = time.monotonic()
        cpu_before = _children_cpu_s()
        with _LoadAverage() as load_average:
            subprocess.run(
                [
                    str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "--host", url,
                    "-u", str(users), "-r", str(rate), "-t", f"{duration}s", "--stop-timeout", "10",
                    "--csv", str(workdir / "load"), "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
                ],
                cwd=ROOT, env=locust_env, timeout=duration + 120, check=True, stdout=subprocess.DEVNULL,
                stderr=(workdir / "locust.log").open("w"),
            )  # fmt: skip
        # locust has exited and was waited for; gunicorn is still running, so not counted yet.
        locust_cpu_s = _children_cpu_s() - cpu_before
        elapsed = time.monotonic() - started
    finally:
        try:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            gunicorn.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(gunicorn.pid, signal.SIGKILL)
    per_name = _stats(workdir / "load_stats.csv")
    total = per_name.pop("Aggregated", {})
    pages = json.loads((workdir / "pages.json").read_text()) if (workdir / "pages.json").exists() else {}
    return {
        "users": users,
        "spawn_rate": rate,
        "duration_s": duration,
        "wall_s": round(elapsed, 1),
        "gunicorn_workers": gunicorn_config["workers"],
        "gunicorn": gunicorn_config,
        "load_average": load_average.figures(),
        "locust_cpu_s": round(locust_cpu_s, 1),
        "locust_cpu_share": round(locust_cpu_s / elapsed / (os.cpu_count() or 1), 3) if elapsed else None,
        "requests": total.get("requests"),
        "errors": total.get("failures"),
        "rps": total.get("rps"),
        "p50_ms": total.get("p50_ms"),
        "p95_ms": total.get("p95_ms"),
        "p99_ms": total.get("p99_ms"),
        "pages": pages.get("all", {}),
        "pages_steady": pages.get("steady", {}),
        "steady_from_s": pages.get("steady_from_s"),
        "sign_ins": pages.get("sign_ins"),
        "endpoints": per_name,
        "target_p95_ms": 300,
        "meets_target": total.get("failures") == 0 and (pages.get("steady", {}).get("p95_ms") or 1e9) <= 300,
        "logs": str(workdir),
    }
