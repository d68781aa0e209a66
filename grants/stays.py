"""The call dashboard's time in each state, cached per call and forgotten when the call's
applications move.

The median stays are computed from the whole transition log of a call's applications
(grants.web.staff.dashboard.median_stays: about a second for 100,000 applications). A
finished stay only changes when an application-level entry is logged, so the figures
are kept in the cache until then: every entry appended for an application of the call
forgets them once its transaction commits (``post_save`` of TransitionLog, which
``workflows.engine.append_log`` writes). ``TTL`` bounds what rows written around the
engine (a bulk load) could leave stale.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_save

from workflows.models import TransitionLog

logger = logging.getLogger(__name__)

#: Seconds the figures are kept at most.
TTL = 600
APPLICATION = "grants.application"

Stays = dict[str, tuple[float, int]]


def key(call_id: int) -> str:
    return f"grants:dashboard-stays:{call_id}"


def median_stays(call: Any, compute: Callable[[Any], Stays]) -> Stays:
    """The call's median stays from the cache, else ``compute(call)`` (then kept). A
    cache that cannot be reached is no error: the figures are computed."""
    # The call's creation time tells one database's call from another's with the same id.
    stamp = call.created_at.isoformat()
    try:
        cached = cache.get(key(call.pk))
    except Exception:  # the cache (Redis) is down: compute, as without a cache
        logger.warning("dashboard stays: cache unavailable, computing", exc_info=True)
        return compute(call)
    if isinstance(cached, tuple) and len(cached) == 2 and cached[0] == stamp:
        return dict(cached[1])
    figures = compute(call)
    try:
        cache.set(key(call.pk), (stamp, figures), TTL)
    except Exception:
        logger.warning("dashboard stays: cache unavailable, not kept", exc_info=True)
    return figures


def forget(call_id: int) -> None:
    try:
        cache.delete(key(call_id))
    except Exception:
        logger.warning("dashboard stays: cache unavailable, figures of call %s not forgotten", call_id, exc_info=True)


def _entry_written(sender: Any, instance: TransitionLog, created: bool, **kwargs: Any) -> None:
    if not created or instance.subject_type != APPLICATION or instance.application_id is None:
        return
    # The engine passes the locked application: its call is known without a query.
    call_id = instance.application.call_id  # type: ignore[union-attr]
    transaction.on_commit(partial(forget, call_id))


post_save.connect(_entry_written, sender=TransitionLog, dispatch_uid="grants.stays.entry_written")
