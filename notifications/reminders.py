"""The deadline sweep: reminders, escalations, draft reminders and opinion expiry.

Run every minute by beat (``notifications.sweep``) and by ``manage.py run_reminders``.

Steps are days relative to a due date (``Call.reminder_steps``, default −7, −2, 0, +3).
A step falls due at 00:00 Europe/Paris on its day; a positive step is an escalation to
the queue's supervisors. Each step is a ``Reminder`` row unique per (task, step),
inserted with ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (``notifications.sql``) in
the transaction that writes its notifications: only the sweep whose insert returned the row notifies, so
two sweeps at once, a second beat or a retried task send nothing twice. After downtime
only the latest due step is sent; the earlier ones are recorded as skipped. Steps
whose day had passed when the task was opened are skipped too (the task's own notice
has just told the people concerned).

Cost: one range scan of the partial index ``task_open_due`` (open tasks due before
now + the longest lead), minus, by an anti-join on the reminder rows, the tasks whose
series is complete or whose next step is not due yet (``Reminder.next_at``), read in
keyset batches; per batch a constant number of queries whatever its size (recipients
come from an in-memory ``Directory`` of role grants).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from grants.machines.opinion import EXPIRE_OPINION
from grants.models import Application, Call, Country, OpinionRequest, Region, Role
from grants.policy.audiences import Directory
from notifications import outbox, sql
from notifications.events import LEGAL_TASK_KINDS, MESSAGES
from notifications.models import Category, Reminder
from workflows.engine import TransitionError, fire
from workflows.models import Task

log = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
DEFAULT_STEPS = (-7, -2, 0, 3)
DRAFT_STEPS = (-7, -1)
BATCH = 1000


@dataclass
class SweepReport:
    at: dt.datetime
    expired: int = 0
    reminders: int = 0
    escalations: int = 0
    draft_reminders: int = 0
    notifications: int = 0
    skipped_steps: int = 0
    tasks_examined: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Reminder steps sent by this run (the ``sent: N`` of run_reminders)."""
        return self.reminders + self.escalations + self.draft_reminders


@dataclass(frozen=True)
class Plan:
    send: int | None
    skip: tuple[int, ...]
    final: bool
    next_at: dt.datetime | None = None  # when the following step falls due

    @property
    def last(self) -> int:
        """The step of the series' latest row (sent, or the last one skipped)."""
        return self.send if self.send is not None else self.skip[-1]


def normalise_steps(raw: Any) -> tuple[int, ...]:
    """A call's steps as sorted unique ints; a malformed setting falls back to the default."""
    if not isinstance(raw, list | tuple):
        return DEFAULT_STEPS
    steps = sorted({int(s) for s in raw if isinstance(s, int) and not isinstance(s, bool) and -365 <= s <= 365})
    return tuple(steps) or DEFAULT_STEPS


def step_instant(due_at: dt.datetime, step: int) -> dt.datetime:
    """When step ``step`` falls due: 00:00 Europe/Paris on the due date + ``step`` days."""
    day = due_at.astimezone(PARIS).date() + dt.timedelta(days=step)
    return dt.datetime.combine(day, dt.time.min, tzinfo=PARIS)


def plan_steps(
    steps: Sequence[int], *, due_at: dt.datetime, created_at: dt.datetime, at: dt.datetime, recorded: Iterable[int]
) -> Plan | None:
    """What to do now for one series: send the latest due step (if it was not due yet
    when the task opened) and record the earlier unrecorded ones as skipped."""
    instants = [step_instant(due_at, s) for s in steps]
    due = [s for s, instant in zip(steps, instants, strict=True) if instant <= at]
    if not due:
        return None
    latest = due[-1]
    done = set(recorded)
    if any(r >= latest for r in done):
        return None
    final = latest == steps[-1]
    next_at = None if final else instants[len(due)]
    if instants[len(due) - 1] > created_at:
        return Plan(send=latest, skip=tuple(s for s in due[:-1] if s not in done), final=final, next_at=next_at)
    return Plan(send=None, skip=tuple(s for s in due if s not in done), final=final, next_at=next_at)


def _insert_steps(plans: Sequence[tuple[Any, Plan]], *, drafts: bool, at: dt.datetime) -> set[tuple[Any, int]]:
    """Record the steps of ``plans`` ((task id or application id, plan) pairs), skipping
    rows another sweep already wrote; return the (subject id, step) of the *sent* rows
    this insert created. Rows are sorted so concurrent sweeps lock in one order."""
    rows: list[tuple[Any, ...]] = []
    for subject_id, plan in sorted(plans, key=lambda p: str(p[0])):
        task_id, application_id = (None, subject_id) if drafts else (subject_id, None)
        latest = plan.last
        for step in (*plan.skip, *(() if plan.send is None else (plan.send,))):
            is_latest = step == latest
            rows.append(
                (
                    task_id,
                    application_id,
                    step,
                    Reminder.Outcome.SENT if step == plan.send else Reminder.Outcome.SKIPPED,
                    plan.next_at if is_latest else None,
                    plan.final and is_latest,
                    at,
                )
            )
    inserted = sql.insert_returning(
        Reminder,
        ("task", "application", "step", "outcome", "next_at", "final", "at"),
        rows,
        returning=("task", "application", "step", "outcome"),
    )
    created: set[tuple[Any, int]] = set()
    for task_id, application_id, step, outcome in inserted:
        if outcome == Reminder.Outcome.SENT:
            created.add((task_id if task_id is not None else uuid.UUID(str(application_id)), step))
    return created


# --- opinion expiry ------------------------------------------------------------------------


def expire_opinions(at: dt.datetime, report: SweepReport) -> None:
    """Expire the opinion requests past due (system transition; the last one closes the
    opinion phase and the application moves on to review). Served by opinion_open_due."""
    cursor: tuple[dt.datetime, int] | None = None
    while True:
        qs = OpinionRequest.objects.filter(state=OpinionRequest.State.REQUESTED, due_at__lte=at)
        if cursor is not None:
            qs = qs.filter(Q(due_at__gt=cursor[0]) | Q(due_at=cursor[0], pk__gt=cursor[1]))
        batch = list(qs.order_by("due_at", "pk").values_list("due_at", "pk")[:200])
        for _due_at, opinion_id in batch:
            try:
                fire(EXPIRE_OPINION, opinion_id, user=None)
                report.expired += 1
            except TransitionError as exc:  # given or expired meanwhile (another sweep)
                log.info("sweep: opinion %s not expired: %s", opinion_id, exc.message)
        if len(batch) < 200:
            return
        cursor = batch[-1]


# --- task reminders ------------------------------------------------------------------------

TASK_FIELDS = (
    "id",
    "kind",
    "due_at",
    "created_at",
    "application_id",
    "application__call_id",
    "application__call__code",
    "application__reference",
    "application__title",
    "application__organisation_id",
    "queue_role",
    "scope_call_id",
    "scope_country_id",
    "scope_region_id",
    "scope_organisation_id",
    "assignee_id",
    "subject_id",
)


class _Names:
    """Country and region names, loaded once per sweep (small tables)."""

    def __init__(self) -> None:
        self.countries = {iso2: (fr, en) for iso2, fr, en in Country.objects.values_list("iso2", "name_fr", "name_en")}
        self.regions = dict(Region.objects.values_list("code", "name"))


def _queue_users(directory: Directory, row: dict[str, Any]) -> set[int]:
    if row["assignee_id"] is not None:
        return {row["assignee_id"]}
    return directory.members(
        row["queue_role"],
        call_id=row["scope_call_id"] or row["application__call_id"],
        organisation_id=row["scope_organisation_id"],
        country_id=row["scope_country_id"],
        region_id=row["scope_region_id"],
    )


def _task_params(row: dict[str, Any], step: int, names: _Names) -> dict[str, Any]:
    country = names.countries.get(row["scope_country_id"] or "", ("", ""))
    return {
        "application": str(row["application_id"]),
        "reference": row["application__reference"] or "",
        "title": row["application__title"],
        "call": row["application__call__code"],
        "task_kind": row["kind"],
        "task_id": row["id"],
        "task_subject_id": row["subject_id"],
        "queue_role": row["queue_role"],
        "country_fr": country[0],
        "country_en": country[1],
        "region": names.regions.get(row["scope_region_id"] or "", ""),
        "due_at": row["due_at"].isoformat(),
        "step": step,
    }


def _task_drafts(row: dict[str, Any], step: int, directory: Directory, names: _Names) -> list[outbox.Draft]:
    params = _task_params(row, step, names)
    legal = row["kind"] in LEGAL_TASK_KINDS
    out: list[tuple[str, set[int]]] = []
    queue = _queue_users(directory, row)
    if step < 0:
        out.append(("task_reminder", queue))
    elif step == 0:
        out.append(("task_due_today", queue))
    else:
        supervisors = directory.supervisors(
            row["queue_role"],
            call_id=row["scope_call_id"] or row["application__call_id"],
            organisation_id=row["scope_organisation_id"],
            country_id=row["scope_country_id"],
            region_id=row["scope_region_id"],
        )
        out.append(("task_overdue", queue - supervisors))
        out.append(("task_escalated", supervisors))
        # Staff are told their delay went up the line; an applicant is just told it is late.
        params["escalated"] = "1" if supervisors and row["queue_role"] != Role.APPLICANT else ""
    drafts = []
    for code, users in out:
        category = Category.LEGAL if legal and code != "task_escalated" else MESSAGES[code].category
        for user_id in sorted(users):
            drafts.append(
                outbox.Draft(
                    recipient_id=user_id,
                    event="task_escalated" if code == "task_escalated" else "task_reminder",
                    message=code,
                    category=category,
                    params=params,
                    dedupe_key=f"reminder:{row['id']}:{step}:{code}:{user_id}",
                    application_id=row["application_id"],
                    subject_type="workflows.task",
                    subject_id=str(row["id"]),
                )
            )
    return drafts


def _call_steps() -> dict[int, tuple[int, ...]]:
    return {pk: normalise_steps(raw) for pk, raw in Call.objects.values_list("pk", "reminder_steps")}


def remind_tasks(at: dt.datetime, report: SweepReport) -> None:
    steps_by_call = _call_steps()
    lead_days = max([0, *(-steps[0] for steps in steps_by_call.values())]) if steps_by_call else -DEFAULT_STEPS[0]
    # A step falls due at 00:00 on its day, up to a day before due_at - lead: one more day.
    horizon = at + dt.timedelta(days=lead_days + 1)
    # Skipped in SQL: tasks whose series is complete or whose next step is not due yet.
    base = Task.objects.filter(state=Task.State.OPEN, due_at__lte=horizon).filter(
        ~Exists(Reminder.objects.filter(Q(final=True) | Q(next_at__gt=at), task_id=OuterRef("pk")))
    )
    lookups: tuple[Directory, _Names] | None = None  # loaded at the first batch with work
    cursor: tuple[dt.datetime, int] | None = None
    while True:
        qs = base
        if cursor is not None:
            qs = qs.filter(Q(due_at__gt=cursor[0]) | Q(due_at=cursor[0], id__gt=cursor[1]))
        rows = list(qs.order_by("due_at", "id").values(*TASK_FIELDS)[:BATCH])
        if not rows:
            return
        cursor = (rows[-1]["due_at"], rows[-1]["id"])
        report.tasks_examined += len(rows)
        recorded: dict[int, set[int]] = defaultdict(set)
        for task_id, step in Reminder.objects.filter(task_id__in=[r["id"] for r in rows]).values_list(
            "task_id", "step"
        ):
            recorded[task_id].add(step)
        plans: list[tuple[dict[str, Any], Plan]] = []
        for row in rows:
            steps = steps_by_call.get(row["application__call_id"], DEFAULT_STEPS)
            plan = plan_steps(
                steps, due_at=row["due_at"], created_at=row["created_at"], at=at, recorded=recorded[row["id"]]
            )
            if plan is not None:
                plans.append((row, plan))
        if plans:
            lookups = lookups or (Directory.load(), _Names())
            _apply_task_plans(plans, at, *lookups, report)
        if len(rows) < BATCH:
            return


def _apply_task_plans(
    plans: list[tuple[dict[str, Any], Plan]], at: dt.datetime, directory: Directory, names: _Names, report: SweepReport
) -> None:
    with transaction.atomic():
        created = _insert_steps([(row["id"], plan) for row, plan in plans], drafts=False, at=at)
        drafts: list[outbox.Draft] = []
        for row, plan in plans:
            if plan.send is None or (row["id"], plan.send) not in created:
                continue
            if plan.send > 0:
                report.escalations += 1
            else:
                report.reminders += 1
            report.skipped_steps += len(plan.skip)
            drafts.extend(_task_drafts(row, plan.send, directory, names))
        outbox.create(drafts)
        report.notifications += len(drafts)


# --- draft reminders -----------------------------------------------------------------------


def remind_drafts(at: dt.datetime, report: SweepReport) -> None:
    """Applicants with an unsubmitted draft: reminded 7 days and 1 day before the call closes."""
    lead = -DRAFT_STEPS[0] + 1
    calls = Call.objects.filter(
        state=Call.State.PUBLISHED, closes_at__gt=at, closes_at__lte=at + dt.timedelta(days=lead)
    ).values_list("pk", "code", "closes_at")
    directory: Directory | None = None
    for call_id, code, closes_at in calls:
        base = Application.objects.filter(call_id=call_id, state=Application.State.DRAFT).filter(
            ~Exists(
                Reminder.objects.filter(
                    Q(final=True) | Q(next_at__gt=at), application_id=OuterRef("pk"), task__isnull=True
                )
            )
        )
        last_id: uuid.UUID | None = None
        while True:
            qs = base.filter(pk__gt=last_id) if last_id is not None else base
            drafts = list(qs.order_by("pk").values("pk", "title", "organisation_id", "created_at")[:BATCH])
            if not drafts:
                break
            last_id = drafts[-1]["pk"]
            recorded: dict[Any, set[int]] = defaultdict(set)
            for app_id, step in Reminder.objects.filter(
                application_id__in=[d["pk"] for d in drafts], task__isnull=True
            ).values_list("application_id", "step"):
                recorded[app_id].add(step)
            plans = []
            for draft in drafts:
                plan = plan_steps(
                    DRAFT_STEPS, due_at=closes_at, created_at=draft["created_at"], at=at, recorded=recorded[draft["pk"]]
                )
                if plan is not None:
                    plans.append((draft, plan))
            if plans:
                if directory is None:
                    directory = Directory.load(Q(role=Role.APPLICANT))
                _apply_draft_plans(plans, at, code, closes_at, directory, report)
            if len(drafts) < BATCH:
                break


def _apply_draft_plans(
    plans: list[tuple[dict[str, Any], Plan]],
    at: dt.datetime,
    code: str,
    closes_at: dt.datetime,
    directory: Directory,
    report: SweepReport,
) -> None:
    with transaction.atomic():
        created = _insert_steps([(draft["pk"], plan) for draft, plan in plans], drafts=True, at=at)
        notes: list[outbox.Draft] = []
        for draft, plan in plans:
            if plan.send is None or (draft["pk"], plan.send) not in created:
                continue
            report.draft_reminders += 1
            params = {
                "application": str(draft["pk"]),
                "title": draft["title"],
                "call": code,
                "closes_at": closes_at.isoformat(),
                "step": plan.send,
            }
            for user_id in sorted(directory.members(Role.APPLICANT, organisation_id=draft["organisation_id"])):
                notes.append(
                    outbox.Draft(
                        recipient_id=user_id,
                        event="draft_reminder",
                        message="draft_reminder",
                        category=MESSAGES["draft_reminder"].category,
                        params=params,
                        dedupe_key=f"draft_reminder:{draft['pk']}:{plan.send}:{user_id}",
                        application_id=draft["pk"],
                        subject_type="grants.application",
                        subject_id=str(draft["pk"]),
                    )
                )
        outbox.create(notes)
        report.notifications += len(notes)


# --- the sweep -------------------------------------------------------------------------------


def sweep_report(*, at: dt.datetime | None = None) -> SweepReport:
    at = at or timezone.now()
    if timezone.is_naive(at):
        at = timezone.make_aware(at, PARIS)
    report = SweepReport(at=at)
    # Expiry first: an opinion due now is closed rather than reminded "due today".
    expire_opinions(at, report)
    remind_tasks(at, report)
    remind_drafts(at, report)
    return report


def sweep(*, at: dt.datetime | None = None) -> int:
    """Run the sweep as of ``at`` (default now); returns the reminder steps sent."""
    return sweep_report(at=at).sent
