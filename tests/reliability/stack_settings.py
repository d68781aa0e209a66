"""Settings of the processes a reliability test starts (gunicorn, Celery, manage.py):
the test settings, plus what lets a test observe and pace them from outside. Only
tests/reliability/infra.py ever names this module.

- ``RELIABILITY_MEDIA_ROOT``: the media directory (a tmpfs to fill, a restored copy…).
- ``RELIABILITY_MAILBOX``: every e-mail sent is one JSON line of this file
  (tests/reliability/mailbox.py), whichever process sent it.
- ``RELIABILITY_BEAT_SECONDS``: beat wakes the outbox relay, the deadline sweep and the
  documents sweep this often instead of every one to five minutes.
- The cache is production's (Redis at ``REDIS_URL``), not the suite's per-process
  memory: a Redis outage is felt where production feels it.
"""

import os
from pathlib import Path

from config.settings_test import *  # noqa: F403
from config.settings_test import CELERY_BEAT_SCHEDULE, REDIS_URL

if os.environ.get("RELIABILITY_MEDIA_ROOT"):
    MEDIA_ROOT = Path(os.environ["RELIABILITY_MEDIA_ROOT"])

if os.environ.get("RELIABILITY_MAILBOX"):
    EMAIL_BACKEND = "tests.reliability.mailbox.AppendBackend"
    RELIABILITY_MAILBOX = os.environ["RELIABILITY_MAILBOX"]

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

_beat_seconds = float(os.environ.get("RELIABILITY_BEAT_SECONDS") or 0)
if _beat_seconds:
    CELERY_BEAT_SCHEDULE = {
        name: {**entry, "schedule": _beat_seconds} if name != "notifications-digests" else entry
        for name, entry in CELERY_BEAT_SCHEDULE.items()
    }
