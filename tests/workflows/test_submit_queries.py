"""The submission's queries (issue #13): the dossier is read once and shared by the rules,
the search document, the snapshot and the notifications; the state and the reference are
one UPDATE. The count is pinned, and does not grow with the size of the dossier."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from grants import policy, services
from grants.models import Application, AttachmentKind, Snapshot
from grants.writes import drafts
from notifications.models import Notification
from tests.factories import PDF_BYTES, World
from workflows.models import Task, TaskKind, TransitionLog

# 10 statements (lock with the call and the lead authority; the user's grants, the
# visibility then decided from the locked row; the dossier in one statement: its five
# companions, the call's eligible countries and questions and the head of the log chain;
# the reference number; one UPDATE; the log entry; snapshot; task; the notifications'
# audience with its e-mails and preferences, and rows) + the test's SAVEPOINT and RELEASE.
SUBMIT_QUERIES = 12


def _big_draft(world: World) -> Application:
    lines = [
        {"year": year, "category": category, "label": f"{category} {year}", "amount": "12500.00"}
        for year in (1, 2)
        for category in ("staff", "equipment", "travel", "services")
    ]
    app = world.draft(
        partners=[
            {"name": "Commune de Saint-Louis", "country": "SN"},
            {"name": "Commune de Podor", "country": "SN"},
            {"name": "Région de Matam", "country": "SN"},
        ],
        budget={
            "lines": lines,
            "funding": {
                "own_cash": "15000.00",
                "own_in_kind": "5000.00",
                "partner": "10000.00",
                "other": "45000.00",
                "requested": "25000.00",
            },
        },
    )
    for i in range(3):
        drafts.attachment_add(
            application_id=app.pk,
            user=world.applicant,
            kind=AttachmentKind.OTHER,
            name=f"annexe-{i}.pdf",
            content=PDF_BYTES,
        )
    app.co_applicants.add(world.rennes)
    return app


def _submit(world: World, app: Application) -> tuple[Application, int]:
    policy.forget(world.applicant)  # a request's user starts without cached grants
    with CaptureQueriesContext(connection) as captured:
        done = services.application_transition(application_id=app.pk, name="submit", user=world.applicant)
    return done, len(captured)


def test_submit_query_count_is_pinned(world: World, django_assert_max_num_queries: Any) -> None:
    app = world.draft()
    policy.forget(world.applicant)
    with django_assert_max_num_queries(SUBMIT_QUERIES):
        services.application_transition(application_id=app.pk, name="submit", user=world.applicant)
    app.refresh_from_db()
    assert app.state == Application.State.SUBMITTED
    assert app.reference == f"{world.call.code}-00001"
    # Every write of the submission is there, once.
    assert Snapshot.objects.filter(application=app, number=1).count() == 1
    assert Task.objects.filter(application=app, kind=TaskKind.CHECK_ELIGIBILITY).count() == 1
    assert TransitionLog.objects.filter(application=app, transition="submit").count() == 1
    assert Notification.objects.filter(application=app, message="receipt", recipient=world.applicant).exists()


def test_submit_queries_do_not_grow_with_the_dossier(world: World) -> None:
    small, small_queries = _submit(world, world.draft())
    big, big_queries = _submit(world, _big_draft(world))
    assert big_queries == small_queries <= SUBMIT_QUERIES
    # What was read once is what was written: the big dossier's snapshot, search
    # document and notifications hold its companions.
    big.refresh_from_db()
    assert big.reference == f"{world.call.code}-00002"
    data = Snapshot.objects.get(application=big).data
    assert len(data["budget"]["lines"]) == 8
    assert [p["name"] for p in data["partners"]] == ["Commune de Saint-Louis", "Commune de Podor", "Région de Matam"]
    assert len(data["attachments"]) == len(world.call.required_attachments) + 3
    assert data["co_applicants"] == ["Rennes Métropole"]
    assert "region de matam" in big.search_text and "rennes metropole" in big.search_text
    assert big.search_text.startswith(big.reference.lower())
    # The co-applicant's staff hear of it too (the audience read from the shared dossier).
    assert Notification.objects.filter(application=big, recipient=world.applicant2, message="receipt").exists()
    assert not Notification.objects.filter(application=small, recipient=world.applicant2).exists()


def test_resubmit_writes_the_application_row_with_one_update(world: World) -> None:
    app = world.advance(world.draft(), Application.State.INCOMPLETE)
    assert app.completion_message
    title = app.title
    policy.forget(world.applicant)
    with CaptureQueriesContext(connection) as captured:
        services.application_transition(application_id=app.pk, name="resubmit", user=world.applicant)
    writes = [q["sql"] for q in captured if q["sql"].startswith('UPDATE "grants_application"')]
    assert len(writes) == 1
    # Only the columns the transition changes (a concurrent draft edit is not overwritten
    # with what was read), the state guarded as before.
    assert '"title"' not in writes[0] and '"completion_message"' in writes[0]
    app.refresh_from_db()
    assert (app.state, app.completion_message, app.completion_due) == (Application.State.SUBMITTED, "", None)
    assert app.title == title and app.search_text.startswith(app.reference.lower())
    assert Snapshot.objects.filter(application=app).count() == 2
    assert Task.objects.filter(application=app, kind=TaskKind.CHECK_ELIGIBILITY, state="open").count() == 1
