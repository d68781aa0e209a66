"""The call dashboard for instructors: applications per state, overdue opinions by
country, the median time spent in each state, the envelope's use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from grants import budget, policy
from grants import stays as stays_cache
from grants.models import ZERO, Application, Call, OpinionRequest, Role
from grants.web.staff.common import STATE_BADGES, Key, keyset_page, staff_render, staff_view
from workflows.models import TransitionLog

DASHBOARD_ROLES = (Role.INSTRUCTOR, Role.SECRETARY, Role.ADMIN)
CALL_KEYS = (Key("opens_at", "datetime", descending=True), Key("id", "int", descending=True))


@require_GET
@staff_view(*DASHBOARD_ROLES)
def dashboards(request: HttpRequest) -> HttpResponse:
    qs = policy.dashboard_calls(request.user)
    page = keyset_page(qs, CALL_KEYS, request.GET.get("cursor"))
    return staff_render(request, "grants/staff/dashboards.html", {"page": page}, active="dashboards")


@dataclass(frozen=True)
class StateStay:
    state: str
    label: str
    badge: str
    current: int
    median_seconds: float | None
    stays: int

    @property
    def median_text(self) -> str:
        return duration_text(self.median_seconds)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        minutes = max(1, round(seconds / 60))
        return ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes}
    if seconds < 86400:
        hours = round(seconds / 3600, 1)
        return _("%(n)s h") % {"n": f"{hours:g}".replace(".", ",")}
    days = round(seconds / 86400, 1)
    return ngettext("%(n)s jour", "%(n)s jours", int(days) or 1) % {"n": f"{days:g}".replace(".", ",")}


def median_stays(call: Call) -> dict[str, tuple[float, int]]:
    """Median seconds spent in each state by the call's applications, from the
    transition log, in SQL: a window gives each application-level entry the time of the
    next one (the stay ends when the state is left), then the middle row(s) of each
    state's sorted stays. Works on PostgreSQL and SQLite; memory stays with the database.
    Stays still going on (no next entry) are not counted."""
    log = TransitionLog._meta.db_table
    apps = Application._meta.db_table
    if connection.vendor == "postgresql":
        seconds = "EXTRACT(EPOCH FROM (left_at - at))"
    else:
        seconds = "(julianday(left_at) - julianday(at)) * 86400.0"
    sql = f"""
        WITH entries AS (
            SELECT l.target AS state, l.at AS at,
                   LEAD(l.at) OVER (PARTITION BY l.application_id ORDER BY l.at, l.id) AS left_at
            FROM {log} l JOIN {apps} a ON a.id = l.application_id
            WHERE a.call_id = %s AND l.subject_type = %s
        ), stays AS (
            SELECT state, {seconds} AS secs FROM entries WHERE left_at IS NOT NULL
        ), ranked AS (
            SELECT state, secs,
                   ROW_NUMBER() OVER (PARTITION BY state ORDER BY secs) AS rn,
                   COUNT(*) OVER (PARTITION BY state) AS n
            FROM stays
        )
        SELECT state, AVG(secs), MAX(n) FROM ranked
        WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
        GROUP BY state
    """  # noqa: S608 - table names come from the models, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [call.pk, "grants.application"])
        return {state: (float(avg), int(n)) for state, avg, n in cursor.fetchall()}


def _call_or_404(user: Any, code: str) -> Call:
    call = policy.dashboard_calls(user).filter(code=code).first()
    if call is None:
        raise Http404(_("Introuvable."))
    return call


@require_GET
@staff_view(*DASHBOARD_ROLES)
def call_dashboard(request: HttpRequest, code: str) -> HttpResponse:
    call = _call_or_404(request.user, code)
    now = timezone.now()
    # Drafts are the applicants' own: not counted here (instructors do not see them).
    # The counts an index-only scan of application_call_state (COUNT(*): the index holds
    # no id), what the applications in committee ask for one of application_call_committee.
    per_state: dict[str, int] = dict(
        Application.objects.filter(call=call)
        .exclude(state=Application.State.DRAFT)
        .order_by()
        .values_list("state")
        .annotate(n=Count("*"))
    )
    pending = (
        Application.objects.filter(call=call, state=Application.State.IN_COMMITTEE)
        .order_by()
        .aggregate(total=Sum("requested_amount"))["total"]
        or ZERO
    )
    medians = stays_cache.median_stays(call, median_stays)
    stays = [
        StateStay(
            state=code_,
            label=str(label),
            badge=STATE_BADGES.get(code_, ""),
            current=per_state.get(code_, 0),
            median_seconds=medians.get(code_, (None, 0))[0],
            stays=medians.get(code_, (None, 0))[1],
        )
        for code_, label in Application.State.choices
        if code_ != Application.State.DRAFT
    ]
    late = list(
        OpinionRequest.objects.filter(call=call)
        .filter(Q(state=OpinionRequest.State.REQUESTED, due_at__lt=now) | Q(state=OpinionRequest.State.EXPIRED))
        .order_by()
        .values("authority", "country__iso2", "country__name_fr", "country__name_en", "region__name")
        .annotate(
            overdue=Count("pk", filter=Q(state=OpinionRequest.State.REQUESTED)),
            expired=Count("pk", filter=Q(state=OpinionRequest.State.EXPIRED)),
        )
        .order_by("-overdue", "-expired", "country__iso2", "region__name")
    )
    english = (request.LANGUAGE_CODE or "fr").startswith("en")
    for row in late:
        row["name"] = (row["country__name_en"] if english else row["country__name_fr"]) or row["region__name"]
    committed = budget.committed_amount(call)
    envelope = {
        "envelope": call.envelope,
        "committed": committed,
        "remaining": call.envelope - committed,
        "pending": pending,
        "percent": min(100, int(committed * 100 / call.envelope)) if call.envelope > 0 else 100,
    }
    return staff_render(
        request,
        "grants/staff/dashboard.html",
        {
            "call": call,
            "stays": stays,
            "total": sum(per_state.values()),
            "late": late,
            "envelope": envelope,
            "generated_at": now,
        },
        active="dashboards",
    )
