"""gunicorn's configuration in production (docs/operations.md, "Processes"), also used by
the HTTP load test (bench/load.py): ``gunicorn -c config/gunicorn.py config.wsgi``.

Threaded workers (``gthread``): a request spends part of its time waiting for
PostgreSQL and Redis, when another thread of the same process can run; and a thread
keeps the browser's connection open between pages (keep-alive) instead of a new TCP
connection for each. Defaults for a machine of ``cpu_count()`` cores; each can be set
from the environment (the measurement behind them: docs/decisions.md, "gunicorn on two
cores"). Every thread holds its own database connection (``CONN_MAX_AGE``): PostgreSQL
must allow ``WEB_WORKERS × WEB_THREADS`` connections per machine, plus the workers'.
"""

from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("WEB_BIND") or "127.0.0.1:8000"
worker_class = os.environ.get("WEB_WORKER_CLASS") or "gthread"
# One process per core, eight threads each: on 2 cores it answered the load test with half the
# p95 of 2 × cores processes of 4 threads, and a quarter of that of 5 sync workers.
workers = _int("WEB_WORKERS", multiprocessing.cpu_count())
threads = _int("WEB_THREADS", 8)
# A request longer than this is killed (and logged): PDFs are rendered by Celery, not here.
timeout = _int("WEB_TIMEOUT", 60)
graceful_timeout = 30
keepalive = 5  # seconds an idle browser connection is kept (behind the proxy: its upstream keep-alive)
# Each worker is replaced after about this many requests: bounds any slow memory growth.
max_requests = _int("WEB_MAX_REQUESTS", 5000)
max_requests_jitter = max_requests // 10
accesslog = None  # the HTTPS proxy logs the requests
loglevel = os.environ.get("WEB_LOG_LEVEL") or "info"
