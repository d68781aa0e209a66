"""A committee session's agenda read one page at a time by reference, and its
applications counted per state (the session list) from an index, not every row."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("grants", "0018_document_application_backfill")]
    operations = [
        migrations.AddIndex(
            model_name="application",
            index=models.Index(fields=["session", "reference", "id"], name="application_session_reference"),
        ),
        migrations.AddIndex(
            model_name="application",
            index=models.Index(fields=["session", "state"], name="application_session_state"),
        ),
    ]
