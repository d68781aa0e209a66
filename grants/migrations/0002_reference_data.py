from django.db import migrations


def load(apps, schema_editor):
    from grants import reference_data

    reference_data.load(apps)


class Migration(migrations.Migration):
    dependencies = [("grants", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
