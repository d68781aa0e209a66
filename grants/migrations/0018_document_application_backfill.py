"""Every issued document of an application carries it (grants.policy.documents reads them
by ``application_id`` alone): fill it from the decision or the snapshot where a row lacks it.
The issuing code has always set it, so this normally updates nothing."""

from typing import Any

from django.db import migrations


def backfill(apps: Any, schema_editor: Any) -> None:
    document = apps.get_model("grants", "Document")
    for row in document.objects.filter(application__isnull=True, decision__isnull=False).select_related("decision"):
        row.application_id = row.decision.application_id
        row.save(update_fields=["application"])
    for row in document.objects.filter(application__isnull=True, snapshot__isnull=False).select_related("snapshot"):
        row.application_id = row.snapshot.application_id
        row.save(update_fields=["application"])


class Migration(migrations.Migration):
    dependencies = [("grants", "0017_call_on_opinions_decisions")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
