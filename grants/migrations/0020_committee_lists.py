"""A committee session's agenda read one page at a time by reference, and its
applications counted per state (the session list) from an index, not every row; a
signatory's latest signatures newest first without sorting all of them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("grants", "0019_dossiers_filter_index")]
    operations = [
        migrations.AddIndex(
            model_name="application",
            index=models.Index(fields=["session", "reference", "id"], name="application_session_reference"),
        ),
        migrations.AddIndex(
            model_name="application",
            index=models.Index(fields=["session", "state"], name="application_session_state"),
        ),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(fields=["signed_by", "-signed_at", "-id"], name="decision_signed_by_signed_at"),
        ),
    ]
