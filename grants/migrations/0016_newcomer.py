"""The day a committee session really sat (``opened_at``, filled from the log of its
opening), and the English labels of the default scoring criteria (``label_en``)."""

from django.db import migrations, models

#: The default grid's English labels, by criterion code (grants.models.default_scoring_criteria).
LABELS_EN = {
    "sdg": "Relevance to the SDGs",
    "partnership": "Quality of the partnership",
    "monitoring": "Monitoring and evaluation",
    "reciprocity": "Reciprocity",
    "gender": "Gender equality",
    "sustainability": "Sustainability",
}


def fill(apps, schema_editor):
    CommitteeSession = apps.get_model("grants", "CommitteeSession")
    TransitionLog = apps.get_model("workflows", "TransitionLog")
    opened = (
        TransitionLog.objects.filter(subject_type="grants.committeesession", transition="open")
        .order_by("at")
        .values_list("subject_id", "at")
    )
    for subject_id, at in opened:
        if subject_id.isdigit():
            CommitteeSession.objects.filter(pk=int(subject_id), opened_at__isnull=True).update(opened_at=at)
    Call = apps.get_model("grants", "Call")
    for call in Call.objects.all().only("pk", "scoring_criteria"):
        criteria = call.scoring_criteria or []
        changed = False
        for criterion in criteria:
            if isinstance(criterion, dict) and not criterion.get("label_en") and criterion.get("code") in LABELS_EN:
                criterion["label_en"] = LABELS_EN[criterion["code"]]
                changed = True
        if changed:
            Call.objects.filter(pk=call.pk).update(scoring_criteria=criteria)


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0015_list_indexes"),
        ("workflows", "0003_second_wave_task_kinds"),
    ]

    operations = [
        migrations.AddField(
            model_name="committeesession",
            name="opened_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="ouverte le"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
