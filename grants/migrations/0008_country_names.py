"""Country names as French spells them: "Groenland" (was "Groënland"). A fresh database
loads the corrected reference CSV; this updates existing ones."""

from django.db import migrations

CORRECTIONS = {"GL": "Groenland"}


def correct(apps, schema_editor):  # type: ignore[no-untyped-def]
    Country = apps.get_model("grants", "Country")
    for iso2, name in CORRECTIONS.items():
        Country.objects.filter(iso2=iso2).update(name_fr=name)


class Migration(migrations.Migration):
    dependencies = [("grants", "0007_evaluation")]

    operations = [migrations.RunPython(correct, migrations.RunPython.noop)]
