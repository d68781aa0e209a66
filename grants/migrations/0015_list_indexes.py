"""The staff's lists at scale (issue 13, docs/benchmarks.md): every application but
drafts newest first, and one state newest first, each read from an index with the page's
LIMIT (the scope is applied without a ``pk IN (SELECT …)`` wrapper: grants.policy)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0010_second_wave_settings"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="application",
            index=models.Index(
                condition=models.Q(("state", "draft"), _negated=True),
                fields=["-created_at", "-id"],
                name="application_visible_created",
            ),
        ),
        migrations.AddIndex(
            model_name="application",
            index=models.Index(fields=["state", "-created_at", "-id"], name="application_state_created"),
        ),
    ]
