"""The staff's lists at scale (issue 13, docs/benchmarks.md): every application but
drafts newest first, and one state newest first, each read from an index with the page's
LIMIT (the scope is applied without a ``pk IN (SELECT …)`` wrapper: grants.policy); and
the background spreadsheet exports of that list (grants.export_jobs)."""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import grants.export_jobs


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0014_evaluation_summary"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
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
        migrations.CreateModel(
            name="ExportJob",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("format", models.CharField(max_length=8)),
                ("query", models.TextField(blank=True)),
                ("language", models.CharField(default="fr", max_length=8)),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "En attente"),
                            ("running", "En préparation"),
                            ("done", "Prêt"),
                            ("failed", "Échec"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("file", models.FileField(blank=True, max_length=200, upload_to=grants.export_jobs.export_path)),
                ("error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "verbose_name": "export de dossiers",
                "verbose_name_plural": "exports de dossiers",
                "indexes": [models.Index(fields=["requested_by", "-created_at"], name="export_job_requester")],
            },
        ),
    ]
