"""The call on opinion requests and decisions (issue 13): copied from the application
(whose call never changes), so that the call dashboard's late opinions and the envelope's
committed part read the call's rows from partial indexes of these tables alone instead of
every opinion / decision joined to the call's applications. And the applicant home's
counts per state, an index-only scan of (organisation, state); the dashboard's amount asked
by the call's applications in committee, another; a post's inbox's calls, a probe per call."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = [
    """UPDATE grants_opinionrequest r SET call_id = a.call_id
       FROM grants_application a WHERE a.id = r.application_id AND r.call_id IS NULL""",
    """UPDATE grants_decision d SET call_id = a.call_id
       FROM grants_application a WHERE a.id = d.application_id AND d.call_id IS NULL""",
]


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in BACKFILL:
            schema_editor.execute(sql)
        # The new foreign keys are deferred: check them now, or the NOT NULL below meets
        # "pending trigger events" in the same transaction.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")
        return
    Application = apps.get_model("grants", "Application")
    for name in ("OpinionRequest", "Decision"):
        model = apps.get_model("grants", name)
        for row in model.objects.filter(call__isnull=True).only("pk", "application_id"):
            call_id = Application.objects.filter(pk=row.application_id).values_list("call_id", flat=True).first()
            model.objects.filter(pk=row.pk).update(call_id=call_id)


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0016_newcomer"),
    ]

    operations = [
        migrations.AddField(
            model_name="opinionrequest",
            name="call",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="grants.call",
            ),
        ),
        migrations.AddField(
            model_name="decision",
            name="call",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="grants.call",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="opinionrequest",
            name="call",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="grants.call",
            ),
        ),
        migrations.AlterField(
            model_name="decision",
            name="call",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="grants.call",
            ),
        ),
        migrations.AddIndex(
            model_name="opinionrequest",
            index=models.Index(
                condition=models.Q(("state", "requested")),
                fields=["call", "due_at"],
                include=["authority", "country", "region"],
                name="opinion_call_open_due",
            ),
        ),
        migrations.AddIndex(
            model_name="opinionrequest",
            index=models.Index(
                condition=models.Q(("state", "expired")),
                fields=["call"],
                include=["authority", "country", "region"],
                name="opinion_call_expired",
            ),
        ),
        migrations.AddIndex(
            model_name="opinionrequest",
            index=models.Index(
                condition=models.Q(("state", "requested")),
                fields=["country", "call"],
                include=["authority"],
                name="opinion_open_country_call",
            ),
        ),
        migrations.AddIndex(
            model_name="opinionrequest",
            index=models.Index(
                condition=models.Q(("state", "requested")),
                fields=["region", "call"],
                include=["authority"],
                name="opinion_open_region_call",
            ),
        ),
        migrations.AddIndex(
            model_name="application",
            index=models.Index(fields=["organisation", "state"], name="application_org_state"),
        ),
        migrations.AddIndex(
            model_name="application",
            index=models.Index(
                condition=models.Q(("state", "in_committee")),
                fields=["call"],
                include=["requested_amount"],
                name="application_call_committee",
            ),
        ),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(
                condition=models.Q(("outcome", "approved")),
                fields=["call"],
                include=["amount", "state"],
                name="decision_call_approved",
            ),
        ),
    ]
