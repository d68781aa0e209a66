"""Beat wakes the sweeps up; the tasks it names exist and take JSON-only arguments."""

from __future__ import annotations

from django.conf import settings

from config.celery import app


def test_beat_runs_the_sweep_and_the_relay_every_minute_and_the_digests_hourly() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE
    by_task = {entry["task"]: entry["schedule"] for entry in schedule.values()}
    ours = {"notifications.sweep": 60.0, "notifications.relay": 60.0, "notifications.digests": 3600.0}
    assert {name: by_task.get(name) for name in ours} == ours
    app.loader.import_default_modules()
    for name in ours:
        assert name in app.tasks
    assert "notifications.send" in app.tasks
