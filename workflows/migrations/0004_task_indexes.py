"""Open tasks by queue in the API inbox's order (tasks without a due date last), the
scoped queues (country, region, call) by due date, and the application-level entries of
a history covering the call dashboard's time in each state (issue 13, docs/benchmarks.md)."""

import datetime

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0003_second_wave_task_kinds"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                models.F("queue_role"),
                django.db.models.functions.comparison.Coalesce(
                    "due_at",
                    models.Value(
                        datetime.datetime(9999, 12, 31, 0, 0, tzinfo=datetime.UTC),
                        output_field=models.DateTimeField(),
                    ),
                ),
                models.F("id"),
                condition=models.Q(("state", "open")),
                name="task_open_queue_due_sort",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("state", "open")),
                fields=["queue_role", "scope_country", "due_at", "id"],
                name="task_open_country_due",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("state", "open")),
                fields=["queue_role", "scope_region", "due_at", "id"],
                name="task_open_region_due",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("state", "open")),
                fields=["queue_role", "scope_call", "due_at", "id"],
                name="task_open_call_due",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("state", "open")),
                fields=["due_at"],
                include=("application",),
                name="task_open_due_application",
            ),
        ),
        migrations.AddIndex(
            model_name="transitionlog",
            index=models.Index(
                condition=models.Q(("subject_type", "grants.application")),
                fields=["application", "at", "id"],
                include=("target",),
                name="log_application_entries",
            ),
        ),
    ]
