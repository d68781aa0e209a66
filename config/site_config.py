"""The DSFR site configuration (``dsfr.models.DsfrConfig``: site title, tagline, notice
banner…) in the template context, without a query per page.

django-dsfr's own context processor reads it on every request, twice when no row has
the current language (the usual case: none at all). The rows are few and rarely edited
(the admin, ``seed_demo``): each process keeps them for ``TTL_SECONDS`` and forgets them
as soon as it saves or deletes one itself; another process sees an edit within
``TTL_SECONDS``. The choice is django-dsfr's: the row of the current language, else
the first row, else None.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.translation import get_language
from dsfr.models import DsfrConfig

TTL_SECONDS = 60.0
_rows: tuple[float, list[DsfrConfig]] | None = None


def configs() -> list[DsfrConfig]:
    """Every row, by primary key (read at most once per ``TTL_SECONDS`` per process)."""
    global _rows
    held = _rows
    now = time.monotonic()
    if held is None or now - held[0] > TTL_SECONDS:
        held = _rows = (now, list(DsfrConfig.objects.order_by("pk")))
    return held[1]


def clear() -> None:
    global _rows
    _rows = None


def preload(rows: list[DsfrConfig]) -> None:
    """Hold ``rows`` as if just read (the test suite: its database starts with none)."""
    global _rows
    _rows = (time.monotonic(), list(rows))


@receiver(post_save, sender=DsfrConfig, dispatch_uid="config.site_config.saved")
@receiver(post_delete, sender=DsfrConfig, dispatch_uid="config.site_config.deleted")
def _forget(**kwargs: Any) -> None:
    clear()


def site_config(request: HttpRequest) -> dict[str, Any]:
    rows = configs()
    language = get_language()
    config = next((row for row in rows if row.language == language), rows[0] if rows else None)
    return {"SITE_CONFIG": config}
