"""The deadline sweep: one row per (task, step), catch-up without bursts, escalation to
the queue's supervisors, draft reminders before closing, opinion expiry, run_reminders."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grants.models import Application, OpinionRequest, Review, Role, RoleGrant
from notifications import outbox
from notifications.models import Category, Notification, Reminder
from notifications.reminders import PARIS, plan_steps, step_instant, sweep, sweep_report
from tests.factories import UserFactory, World, grant
from workflows.models import Task, TaskKind

S = Application.State
DAY = dt.timedelta(days=1)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "enqueue", lambda ids: 0)


def reminders_to(user: Any) -> list[str]:
    return list(
        Notification.objects.filter(recipient=user, event__in=["task_reminder", "task_escalated"])
        .order_by("pk")
        .values_list("message", flat=True)
    )


def steps_of(task: Task) -> dict[int, str]:
    return dict(Reminder.objects.filter(task=task).values_list("step", "outcome"))


def opinion_task(world: World) -> Task:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    return Task.objects.get(application=app, kind=TaskKind.GIVE_OPINION, state=Task.State.OPEN)


def test_a_step_falls_due_at_midnight_paris_time_on_its_day() -> None:
    due = dt.datetime(2026, 3, 30, 14, 32, tzinfo=PARIS)
    assert step_instant(due, -2) == dt.datetime(2026, 3, 28, 0, 0, tzinfo=PARIS)
    assert step_instant(due, 3) == dt.datetime(2026, 4, 2, 0, 0, tzinfo=PARIS)
    # Across the change to summer time (29 March 2026) the day stays the local day.
    assert step_instant(dt.datetime(2026, 3, 29, 22, 30, tzinfo=dt.UTC), 0).date() == dt.date(2026, 3, 30)


def test_a_sweep_at_due_minus_one_day_sends_the_two_day_reminder_and_a_second_sends_nothing(world: World) -> None:
    task = opinion_task(world)
    assert task.due_at is not None
    assert sweep(at=task.due_at - DAY) == 1
    assert steps_of(task) == {-7: "skipped", -2: "sent"}  # catch-up: -7 is recorded, not sent
    assert reminders_to(world.embassy_sn) == ["task_reminder"]  # expired first: no "due today"
    assert sweep(at=task.due_at - DAY) == 0
    assert sweep(at=task.due_at - DAY + dt.timedelta(hours=1)) == 0
    assert reminders_to(world.embassy_sn) == ["task_reminder"]  # expired first: no "due today"
    reminder = Notification.objects.get(recipient=world.embassy_sn, message="task_reminder")
    assert reminder.category == Category.REMINDERS
    assert (reminder.params["country_fr"], reminder.params["task_kind"]) == ("Sénégal", "give_opinion")


def test_each_step_is_sent_on_its_day_and_none_is_skipped(world: World) -> None:
    task = opinion_task(world)
    assert task.due_at is not None
    assert sweep(at=step_instant(task.due_at, -7)) == 1
    assert sweep(at=step_instant(task.due_at, -2) - dt.timedelta(seconds=1)) == 0
    assert sweep(at=step_instant(task.due_at, -2)) == 1
    assert steps_of(task) == {-7: "sent", -2: "sent"}
    assert sweep(at=step_instant(task.due_at, 0)) == 1
    assert reminders_to(world.embassy_sn) == ["task_reminder", "task_reminder", "task_due_today"]


def test_catch_up_after_downtime_sends_only_the_latest_due_step_once(world: World) -> None:
    RoleGrant.objects.filter(user=world.instructor, role=Role.INSTRUCTOR).update(supervisor=False)
    chief = UserFactory(username="chief")
    grant(chief, Role.INSTRUCTOR, supervisor=True)
    app = world.advance(world.draft(), S.SUBMITTED)
    task = Task.objects.get(application=app, kind=TaskKind.CHECK_ELIGIBILITY)
    assert task.due_at is not None
    down_until = task.due_at + 4 * DAY  # the platform was off for three weeks
    assert sweep(at=down_until) == 1
    assert steps_of(task) == {-7: "skipped", -2: "skipped", 0: "skipped", 3: "sent"}
    assert reminders_to(world.instructor) == ["task_overdue"]
    assert reminders_to(chief) == ["task_escalated"]
    overdue = Notification.objects.get(recipient=world.instructor, message="task_overdue")
    assert overdue.params["escalated"] == "1"  # "the delay has been reported" is true
    assert sweep(at=down_until + 30 * DAY) == 0
    assert Reminder.objects.get(task=task, step=3).final
    escalation = Notification.objects.get(recipient=chief, message="task_escalated")
    assert escalation.params["queue_role"] == Role.INSTRUCTOR


def test_an_overdue_review_escalates_to_the_call_s_supervising_instructors(world: World) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    task = Task.objects.get(application=app, kind=TaskKind.REVIEW)
    assert task.due_at is not None
    assert sweep(at=step_instant(task.due_at, 3)) == 1
    assert reminders_to(world.reviewer1) == ["task_overdue"]
    assert reminders_to(world.instructor) == ["task_escalated"]  # supervisor=True in the world
    assert reminders_to(world.reviewer2) == []


def test_a_task_opened_inside_its_window_is_not_reminded_of_steps_already_past(world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    tomorrow = timezone.localdate() + DAY
    world.fire(app, "request_completion", world.instructor, message="Joindre le budget.", due_date=str(tomorrow))
    task = Task.objects.get(application=app, kind=TaskKind.COMPLETE_APPLICATION)
    assert task.due_at is not None
    assert sweep(at=timezone.now()) == 0  # the request itself was the notice
    assert sweep(at=step_instant(task.due_at, 0)) == 1
    assert steps_of(task) == {-7: "skipped", -2: "skipped", 0: "sent"}
    (notice,) = Notification.objects.filter(recipient=world.applicant, message="task_due_today")
    assert notice.category == Category.LEGAL  # a legal deadline: cannot be muted


def test_a_call_s_own_steps_replace_the_default(world: World) -> None:
    world.call.reminder_steps = [-1]
    world.call.save()
    app = world.advance(world.draft(), S.SUBMITTED)
    task = Task.objects.get(application=app, kind=TaskKind.CHECK_ELIGIBILITY)
    assert task.due_at is not None
    assert sweep(at=task.due_at - 3 * DAY) == 0
    assert sweep(at=task.due_at - DAY) == 1
    assert steps_of(task) == {-1: "sent"}
    assert sweep(at=task.due_at + 10 * DAY) == 0  # -1 was the whole series


def test_expiry_at_the_due_date_moves_the_application_to_review(world: World) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    request = OpinionRequest.objects.get(application=app)
    assert sweep(at=request.due_at - 3 * DAY) == 1
    assert OpinionRequest.objects.get(pk=request.pk).state == OpinionRequest.State.REQUESTED
    report = sweep_report(at=request.due_at)
    assert report.expired == 1
    assert OpinionRequest.objects.get(pk=request.pk).state == OpinionRequest.State.EXPIRED
    assert Application.objects.get(pk=app.pk).state == S.UNDER_REVIEW
    assert Task.objects.filter(application=app, kind=TaskKind.REVIEW, state=Task.State.OPEN).exists()
    assert Notification.objects.filter(recipient=world.embassy_sn, message="opinion_expired").count() == 1
    assert Notification.objects.filter(recipient=world.instructor, message="opinion_expired").count() == 1
    assert reminders_to(world.embassy_sn) == ["task_reminder"]  # expired first: no "due today"
    assert sweep_report(at=request.due_at).expired == 0


def test_drafts_are_reminded_seven_days_and_one_day_before_the_call_closes(world: World) -> None:
    draft = world.draft()
    other_org_draft = world.draft(world.applicant2)
    closes = world.call.closes_at
    assert sweep(at=step_instant(closes, -7) - dt.timedelta(minutes=1)) == 0
    assert sweep(at=step_instant(closes, -7)) == 2
    assert sweep(at=step_instant(closes, -7) + DAY) == 0
    world.fire(other_org_draft, "submit", world.applicant2)
    assert sweep_report(at=step_instant(closes, -1)).draft_reminders == 1
    assert sweep_report(at=closes + DAY).draft_reminders == 0
    mine = Notification.objects.filter(recipient=world.applicant, message="draft_reminder")
    assert mine.count() == 2
    assert {n.application_id for n in mine} == {draft.pk}
    assert Notification.objects.filter(recipient=world.applicant2, message="draft_reminder").count() == 1


def test_plan_steps_sends_the_latest_due_and_skips_the_rest() -> None:
    due = dt.datetime(2026, 5, 20, 12, 0, tzinfo=PARIS)
    created = due - 30 * DAY
    plan = plan_steps((-7, -2, 0, 3), due_at=due, created_at=created, at=due + DAY, recorded={-7})
    assert plan is not None
    assert (plan.send, plan.skip, plan.final) == (0, (-2,), False)
    assert plan_steps((-7, -2, 0, 3), due_at=due, created_at=created, at=due + DAY, recorded={0}) is None
    assert plan_steps((-7, -2, 0, 3), due_at=due, created_at=created, at=due - 10 * DAY, recorded=()) is None


def test_the_sweep_makes_as_many_queries_for_thirty_due_tasks_as_for_three(world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    due = timezone.now() + 5 * DAY

    def make_tasks(n: int) -> None:
        Task.objects.bulk_create(
            Task(
                kind=TaskKind.GIVE_OPINION,
                application=app,
                queue_role=Role.EMBASSY,
                scope_country_id="SN",
                due_at=due + dt.timedelta(minutes=i),
                created_at=timezone.now() - 30 * DAY,
            )
            for i in range(n)
        )

    make_tasks(3)
    with CaptureQueriesContext(connection) as small:
        assert sweep(at=timezone.now()) == 3
    make_tasks(30)
    with CaptureQueriesContext(connection) as large:
        assert sweep(at=timezone.now()) == 30
    assert len(large.captured_queries) == len(small.captured_queries)


def test_run_reminders_prints_sent_last(world: World) -> None:
    task = opinion_task(world)
    assert task.due_at is not None
    out = io.StringIO()
    at = timezone.localtime(task.due_at - DAY, PARIS).isoformat()
    call_command("run_reminders", "--at", at, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert lines[-1] == "sent: 1"
    out = io.StringIO()
    call_command("run_reminders", "--at", at, stdout=out)
    assert out.getvalue().strip().splitlines()[-1] == "sent: 0"


def test_run_reminders_reads_an_instant_without_offset_as_paris_time(world: World) -> None:
    out = io.StringIO()
    call_command("run_reminders", "--at", "2026-03-14T08:00:00", stdout=out)
    assert "at: 2026-03-14T08:00:00+01:00" in out.getvalue()
    assert out.getvalue().strip().splitlines()[-1] == "sent: 0"


def test_run_reminders_refuses_a_malformed_instant(world: World) -> None:
    with pytest.raises(CommandError, match="ISO-8601"):
        call_command("run_reminders", "--at", "demain matin", stdout=io.StringIO())


def test_withdrawn_applications_are_no_longer_chased(world: World) -> None:
    task = opinion_task(world)
    world.fire(Application.objects.get(pk=task.application_id), "withdraw", world.applicant)
    assert task.due_at is not None
    assert sweep(at=task.due_at - DAY) == 0
    assert not Reminder.objects.exists()


def test_reviews_assigned_before_the_review_phase_are_chased_once_it_opens(world: World) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    review = Review.objects.get(application=app)
    task = Task.objects.get(application=app, kind=TaskKind.REVIEW, subject_id=str(review.pk))
    assert task.assignee == world.reviewer1
    assert task.due_at is not None
    assert sweep(at=step_instant(task.due_at, -2)) == 1
    assert reminders_to(world.reviewer1) == ["task_reminder"]
