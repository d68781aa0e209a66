# The evaluation: conflict-of-interest declarations, the consensus, the evaluation summary.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0006_search"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="call",
            name="consensus_required",
            field=models.BooleanField(default=True, verbose_name="consensus requis avant comité"),
        ),
        migrations.AddField(
            model_name="review",
            name="declared_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="absence de conflit déclarée le"),
        ),
        migrations.AlterField(
            model_name="document",
            name="kind",
            field=models.CharField(
                choices=[
                    ("approval_letter", "Lettre de notification (attribution)"),
                    ("approval_letter_en", "Lettre de notification (traduction anglaise)"),
                    ("rejection_letter", "Lettre de notification (rejet)"),
                    ("ineligibility_notice", "Notification d'irrecevabilité"),
                    ("deposit_receipt", "Accusé de dépôt"),
                    ("committee_booklet", "Dossier de séance"),
                    ("evaluation_summary", "Synthèse de l'évaluation"),
                ],
                max_length=24,
                verbose_name="type",
            ),
        ),
        migrations.CreateModel(
            name="Consensus",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("scores", models.JSONField(default=dict, verbose_name="notes de consensus")),
                ("comment_for_applicant", models.TextField(blank=True, verbose_name="commentaire pour le porteur")),
                ("internal_comment", models.TextField(blank=True, verbose_name="commentaire interne")),
                ("recorded_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "application",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="consensus", to="grants.application"
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "consensus",
                "verbose_name_plural": "consensus",
            },
        ),
    ]
