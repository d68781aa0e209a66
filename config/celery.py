"""The Celery application: one app, JSON only, two queues (`default`, `pdf`)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("grants")
# Every CELERY_* Django setting configures the app (see config/settings.py).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="config.ping", ignore_result=False, acks_late=True)
def ping(value: str) -> str:
    """Round-trip probe used by the test suite and operators: echoes its argument."""
    return f"pong:{value}"
