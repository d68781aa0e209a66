"""Settings for the test suite: the real services, PostgreSQL and Redis.

`make test` runs on PostgreSQL and Redis from DATABASE_URL / REDIS_URL, else the local
defaults. tests/conftest.py stops the run at once, naming the service, when one does
not answer.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/grants")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast users in tests
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = VAR_DIR / "test-media"  # noqa: F405
# Throttling counters per test process, cleared before each test (tests/conftest.py): a
# shared Redis cache would carry failed sign-ins from one run into the next.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
