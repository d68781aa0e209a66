"""Transition service overhead: `submit` through the one transition service (row locks,
scope check, every budget rule, gap-free reference under the call's lock, snapshot, hash-chained
log, task, outbox) against a baseline in the same run: the bare django-fsm method and a save.

`run(n)` submits n complete drafts each way, and also times the availability check of every
application transition (`available_transitions` of the API) for one application.
"""

from __future__ import annotations

import statistics
import time
from typing import Any


def run(n: int = 200) -> dict[str, Any]:
    from django.db import transaction

    from grants import services
    from grants.models import Application
    from tests.factories import World
    from workflows.engine import check

    world = World()
    ours_drafts = [world.draft() for _ in range(n)]
    bare_drafts = [world.draft() for _ in range(n)]

    ours: list[float] = []
    for app in ours_drafts:
        started = time.perf_counter()
        services.application_transition(application_id=app.pk, name="submit", user=world.applicant)
        ours.append(time.perf_counter() - started)

    bare: list[float] = []
    for app in bare_drafts:
        started = time.perf_counter()
        with transaction.atomic():
            row = Application.objects.select_for_update().get(pk=app.pk)
            row.submit()
            row.save()
        bare.append(time.perf_counter() - started)

    app = ours_drafts[0]
    checks: list[float] = []
    for _ in range(20):
        started = time.perf_counter()
        for spec in services.APPLICATION_TRANSITIONS.values():
            check(spec, Application.objects.get(pk=app.pk), world.instructor)
        checks.append(time.perf_counter() - started)

    ours_median = statistics.median(ours)
    bare_median = statistics.median(bare)
    return {
        "submissions": n,
        "submit_median_s": round(ours_median, 5),
        "bare_fsm_save_median_s": round(bare_median, 5),
        "ratio": round(ours_median / bare_median, 2),
        "submit_throughput_per_s": round(1 / ours_median, 1),
        "available_transitions_median_s": round(statistics.median(checks), 5),
    }
