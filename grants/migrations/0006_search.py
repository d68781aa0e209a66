"""The search document of applications (grants.search).

Everywhere: the ``search_text`` column, filled for the existing rows.

On PostgreSQL only (every other operation checks ``schema_editor.connection.vendor``; on
the embedded SQLite they do nothing and the search falls back to ``LIKE``): the
``unaccent`` and ``pg_trgm`` extensions, the ``grants_french`` full-text configuration
(``french`` with ``unaccent`` before the stemmer) and two GIN indexes on the column, one
for the full-text match, one (trigrams) for substrings. The indexes are not declared in
the model's state: Django would otherwise try to rebuild them on SQLite whenever a later
migration remakes the table.
"""

from typing import Any

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.contrib.postgres.search import SearchVector
from django.db import migrations, models

CONFIG = "grants_french"
FTS_INDEX = "application_search_fts"
TRGM_INDEX = "application_search_trgm"


def _indexes() -> list[GinIndex]:
    return [
        # The same expression as grants.search's SearchVector, so the planner uses it.
        GinIndex(SearchVector("search_text", config=CONFIG), name=FTS_INDEX),
        GinIndex(fields=["search_text"], opclasses=["gin_trgm_ops"], name=TRGM_INDEX),
    ]


def create_search(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = pg_catalog.french)")
    schema_editor.execute(
        f"ALTER TEXT SEARCH CONFIGURATION {CONFIG} ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem"
    )
    application = apps.get_model("grants", "Application")
    for index in _indexes():
        schema_editor.add_index(application, index)


def drop_search(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    application = apps.get_model("grants", "Application")
    for index in _indexes():
        schema_editor.remove_index(application, index)
    schema_editor.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}")


def backfill(apps: Any, schema_editor: Any) -> None:
    """Fill ``search_text`` of the existing rows, 500 at a time in primary-key order."""
    from grants.search import normalise

    application = apps.get_model("grants", "Application")
    last = None
    while True:
        qs = application.objects.order_by("pk")
        if last is not None:
            qs = qs.filter(pk__gt=last)
        batch = list(qs.select_related("organisation").prefetch_related("co_applicants", "partners")[:500])
        if not batch:
            return
        for app in batch:
            texts = [app.reference or "", app.title, app.summary, app.objectives]
            texts += [app.organisation.name, app.organisation.siren]
            for co in app.co_applicants.all():
                texts += [co.name, co.siren]
            texts += [p.name for p in app.partners.all()]
            app.search_text = normalise(" ".join(t for t in texts if t))
        application.objects.bulk_update(batch, ["search_text"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0005_document_kind_english"),
    ]

    operations = [
        # Django's extension operations do nothing off PostgreSQL.
        UnaccentExtension(),
        TrigramExtension(),
        migrations.AddField(
            model_name="application",
            name="search_text",
            field=models.TextField(blank=True, db_default="", default="", editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(create_search, drop_search),
    ]
