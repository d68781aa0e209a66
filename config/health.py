"""`/healthz`: database, broker and at least one live worker, each with a short timeout."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app

log = logging.getLogger(__name__)
PING_TIMEOUT_SECONDS = 1.5


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not answering"
        log.warning("healthz: database unavailable: %s", exc)
        return "unavailable"
    return "ok"


def check_broker() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception as exc:
        log.warning("healthz: broker unavailable: %s", exc)
        return "unavailable"
    return "ok"


def check_worker() -> str:
    try:
        replies = celery_app.control.ping(timeout=PING_TIMEOUT_SECONDS, limit=1)
    except Exception as exc:
        log.warning("healthz: worker ping failed: %s", exc)
        return "unavailable"
    return "ok" if replies else "no worker answered"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    status = {"database": check_database(), "broker": check_broker()}
    # Without a broker no worker can answer: say so rather than wait for the ping timeout.
    status["worker"] = check_worker() if status["broker"] == "ok" else "unavailable"
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse(status, status=200 if healthy else 503)
