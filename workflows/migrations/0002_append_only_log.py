"""The transition log is append-only: on PostgreSQL a trigger refuses UPDATE and DELETE.

TRUNCATE stays possible for the test suite's flush (it needs table ownership anyway). On
the embedded SQLite default, equivalent triggers abort the statement. The hash chain (TransitionLog.hash) makes an edit done around
the trigger, e.g. by a superuser who disables it, detectable by `manage.py verify_audit`.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION workflows_transitionlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'workflows_transitionlog is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER workflows_transitionlog_no_update_delete
    BEFORE UPDATE OR DELETE ON workflows_transitionlog
    FOR EACH ROW EXECUTE FUNCTION workflows_transitionlog_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS workflows_transitionlog_no_update_delete ON workflows_transitionlog;
DROP FUNCTION IF EXISTS workflows_transitionlog_append_only();
"""


SQLITE_CREATE = [
    """CREATE TRIGGER workflows_transitionlog_no_update BEFORE UPDATE ON workflows_transitionlog
       BEGIN SELECT RAISE(ABORT, 'workflows_transitionlog is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER workflows_transitionlog_no_delete BEFORE DELETE ON workflows_transitionlog
       BEGIN SELECT RAISE(ABORT, 'workflows_transitionlog is append-only: DELETE refused'); END;""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS workflows_transitionlog_no_update;",
    "DROP TRIGGER IF EXISTS workflows_transitionlog_no_delete;",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("workflows", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
