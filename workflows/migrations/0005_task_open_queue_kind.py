"""The inbox's counts per kind (issue 13): an index-only scan of a queue's open tasks by
kind, with their due date (overdue or not) and the scopes a queue is cut by."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0004_task_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("state", "open")),
                fields=["queue_role", "kind"],
                include=["due_at", "scope_call", "scope_country", "scope_region"],
                name="task_open_queue_kind",
            ),
        ),
    ]
