"""The evaluation's helpers that are neither a transition nor a read rule.

* **Reviewer candidates** (`reviewer_candidates`): for the instructor's assignment form
  and the API, each reviewer that may still be assigned to an application with its
  current load (open reviews, next due date, overdue reviews) and its known conflicts
  (a conflict it declared on another application of the same lead authority; a member of
  the lead or a co-applicant authority; from the applicant's region when the call says
  so, ``Call.conflict_same_region``), and the call's minimum of reviews, met or not. A
  constant number of queries whatever the number of reviewers.
* **The session's ranking** (`session_ranking`): `grants.budget.ranking` while the
  session is planned or open; once it is closed, the ranking frozen at the close
  (`freeze_ranking`, the close's effect), never recomputed.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection, connections
from django.db.models import Count, DecimalField, F, Min, Q
from django.db.models.functions import Extract
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grants import budget
from grants.models import Application, CommitteeSession, Consensus, Review, Role, RoleGrant
from workflows.models import Task, TaskKind, TransitionLog
from workflows.statements import Names, statement

# --- reviewer candidates ------------------------------------------------------------------------

#: Known conflicts: code → what the instructor reads.
CONFLICT_LABELS = {
    "declared": _("conflit déclaré sur un autre dossier de cette collectivité"),
    "organisation": _("membre d'une collectivité du dossier"),
    "region": _("même région que le porteur"),
}


@dataclass
class Candidate:
    user_id: int
    username: str
    name: str
    open_reviews: int = 0
    next_due_at: dt.datetime | None = None
    overdue: int = 0
    conflicts: list[str] = field(default_factory=list)

    @property
    def conflict_labels(self) -> list[str]:
        return [str(CONFLICT_LABELS[code]) for code in self.conflicts]


@dataclass
class Candidates:
    reviewers: list[Candidate]
    submitted: int
    min_reviews: int
    in_progress: int

    @property
    def met(self) -> bool:
        return self.submitted >= self.min_reviews


def reviewer_candidates(application: Application, *, now: dt.datetime | None = None) -> Candidates:
    """Every active reviewer of the application's call not yet assigned to it (a declined
    review counts as assigned: it cannot be assigned twice), by username, with its load
    and its known conflicts; and the application's submitted reviews against the call's
    minimum. Five queries on PostgreSQL, whatever the number of reviewers (four when the
    application's co-applicants are already prefetched)."""
    now = now or timezone.now()
    app = application
    # The application's reviews: who is assigned, and how many are in each state.
    counts: Counter[str] = Counter()
    assigned: set[int] = set()
    for reviewer_id, state in Review.objects.filter(application=app).order_by().values_list("reviewer_id", "state"):
        assigned.add(reviewer_id)
        counts[state] += 1
    # Every role of every active reviewer (the reviewer grants make the candidates, all
    # its roles its organisations and regions), by username: one read for both.
    holders = RoleGrant.objects.filter(role=Role.REVIEWER, user__is_active=True).values("user_id")
    reviewers: dict[int, Candidate] = {}
    roles: list[tuple[int, Any, Any, Any]] = []
    for user_id, role, call_id, username, first_name, last_name, organisation_id, organisation_region, region_id in (
        RoleGrant.objects.filter(user_id__in=holders)
        .order_by("user__username", "pk")
        .values_list(
            "user_id",
            "role",
            "call_id",
            "user__username",
            "user__first_name",
            "user__last_name",
            "organisation_id",
            "organisation__region_id",
            "region_id",
        )
    ):
        roles.append((user_id, organisation_id, organisation_region, region_id))
        if role != Role.REVIEWER or user_id in assigned or user_id in reviewers:
            continue
        if call_id is not None and call_id != app.call_id:
            continue
        # User.get_full_name(), or the username when it has no name.
        name = f"{first_name} {last_name}".strip() or username
        reviewers[user_id] = Candidate(user_id=user_id, username=username, name=name)
    ids = list(reviewers)
    if ids:
        _load(reviewers, ids, now)
        _conflicts(reviewers, ids, app, [row for row in roles if row[0] in reviewers])
    return Candidates(
        reviewers=list(reviewers.values()),
        submitted=counts.get(Review.State.SUBMITTED, 0),
        min_reviews=app.call.min_reviews,
        in_progress=counts.get(Review.State.ASSIGNED, 0),
    )


def _load_sql(review: Names) -> str:
    """The reviewers' loads in one statement (PostgreSQL): their open reviews, and their
    open review tasks' next due date and overdue count (the ORM's two aggregates below,
    one round trip, written once)."""
    task = Names(Task, connection)
    return (
        f"SELECT {review['reviewer']}, COUNT(*), NULL, NULL FROM {review.table}"  # noqa: S608 - names from the models
        f" WHERE {review['reviewer']} = ANY(%s) AND {review['state']} = %s GROUP BY 1"
        f" UNION ALL SELECT {task['assignee']}, NULL, MIN({task['due_at']}) FILTER (WHERE {task['due_at']} >= %s),"
        f" COUNT({task['due_at']}) FILTER (WHERE {task['due_at']} < %s) FROM {task.table}"
        f" WHERE {task['kind']} = %s AND {task['state']} = %s AND {task['assignee']} = ANY(%s) GROUP BY 1"
    )


def _load(reviewers: dict[int, Candidate], ids: list[int], now: dt.datetime) -> None:
    # COUNT(*), not COUNT(id): index-only scans of review_reviewer_state and
    # task_open_assignee_due (the reviewers' loads grow with every call's reviews:
    # 35 ms at 100,000 applications reading the rows themselves).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                statement("reviewer-loads", Review, _load_sql),
                [ids, Review.State.ASSIGNED, now, now, TaskKind.REVIEW, Task.State.OPEN, ids],
            )
            for user_id, open_reviews, next_due, overdue in cursor.fetchall():
                candidate = reviewers[user_id]
                if open_reviews is not None:
                    candidate.open_reviews = open_reviews
                else:
                    candidate.next_due_at, candidate.overdue = next_due, overdue
        return
    for reviewer_id, n in (
        Review.objects.filter(reviewer_id__in=ids, state=Review.State.ASSIGNED)
        .values_list("reviewer_id")
        .annotate(n=Count("*"))
        .values_list("reviewer_id", "n")
    ):
        reviewers[reviewer_id].open_reviews = n
    rows = (
        Task.objects.filter(kind=TaskKind.REVIEW, state=Task.State.OPEN, assignee_id__in=ids)
        .values("assignee_id")
        .annotate(
            next_due=Min("due_at", filter=Q(due_at__gte=now)),
            overdue=Count("due_at", filter=Q(due_at__lt=now)),
        )
    )
    for row in rows:
        candidate = reviewers[row["assignee_id"]]
        candidate.next_due_at = row["next_due"]
        candidate.overdue = row["overdue"]


def _co_applicants(app: Application) -> list[Any]:
    """The application's co-applicant authorities' ids (from its prefetch when it has one)."""
    if "co_applicants" in getattr(app, "_prefetched_objects_cache", {}):
        return [organisation.pk for organisation in app.co_applicants.all()]
    return list(app.co_applicants.values_list("pk", flat=True))


def _conflicts(
    reviewers: dict[int, Candidate], ids: list[int], app: Application, roles: list[tuple[int, Any, Any, Any]]
) -> None:
    """``roles``: (user, organisation, the organisation's region, region) of every role
    the candidates hold."""
    authorities = {app.organisation_id, *_co_applicants(app)}
    region = app.organisation.region_id
    found: dict[int, set[str]] = defaultdict(set)
    # A conflict declared on any application of the same lead authority.
    for actor_id in (
        TransitionLog.objects.filter(
            transition="declare",
            subject_type="grants.review",
            payload__conflict=True,
            application__organisation_id=app.organisation_id,
            actor_id__in=ids,
        )
        .values_list("actor_id", flat=True)
        .distinct()
    ):
        found[actor_id].add("declared")
    # The reviewer's organisations and regions, from every role it holds.
    for user_id, organisation_id, organisation_region, grant_region in roles:
        if organisation_id is not None and organisation_id in authorities:
            found[user_id].add("organisation")
        if app.call.conflict_same_region and region and region in (organisation_region, grant_region):
            found[user_id].add("region")
    for user_id, codes in found.items():
        reviewers[user_id].conflicts = [code for code in CONFLICT_LABELS if code in codes]


# --- the session's ranking ----------------------------------------------------------------------

#: The tie-break rule, stored with a frozen ranking (docs/evaluation.md, "Ranking").
RANKING_RULE = "consensus_desc,requested_asc,submitted_asc,reference_asc"
RANKING_RULE_TEXT = _(
    "Note de consensus décroissante ; à note égale, le montant demandé le plus faible, puis le dépôt le plus "
    "ancien, puis la référence. Un dossier sans consensus vient après tous les dossiers notés."
)


class RankingRow(NamedTuple):
    """One row of a ranking (a tuple: a 9,000-row agenda makes 9,000 of them)."""

    application: str  # the application's id (a UUID, as text)
    reference: str
    title: str
    organisation: str
    weighted_score: Decimal | None
    requested: Decimal
    cumulative_requested: Decimal
    within_envelope: bool


@dataclass(frozen=True)
class SessionRanking:
    rows: list[RankingRow]
    available: Decimal  # the envelope the line is drawn against
    rule: str
    frozen_at: dt.datetime | None  # None: computed now (the session is not closed)

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None


class _Organisation(NamedTuple):
    name: str


class AgendaEntry(NamedTuple):
    """An agenda's application as the ranking reads it: six values, not a model
    instance (an agenda holds up to 9,000 applications)."""

    pk: Any
    reference: str | None
    title: str
    requested_amount: Decimal
    #: The submission's instant as seconds since the epoch (numeric, to the microsecond):
    #: the ranking only orders by it, and a datetime per row cost more to read than the
    #: rest of the row (psycopg parses each timestamp in Python under Django's loader).
    #: On the embedded SQLite (no epoch extraction), the datetime itself.
    submitted_at: Decimal | dt.datetime | None
    organisation: _Organisation


#: ``submitted_at`` as seconds since the epoch, in UTC (no local time's DST shift).
_SUBMITTED_EPOCH = Extract("submitted_at", "epoch", tzinfo=dt.UTC, output_field=DecimalField())


def agenda_entries(applications: Any, *, labels: bool = True) -> list[AgendaEntry]:
    """``applications`` (a queryset of an agenda) read as the ranking's values; without
    ``labels``, no title nor organisation (a page reads those of the rows it shows)."""
    epoch = connections[applications.db].vendor == "postgresql"
    qs = applications.annotate(_submitted=_SUBMITTED_EPOCH if epoch else F("submitted_at"))
    if not labels:
        return [
            AgendaEntry(pk, reference, "", requested, submitted, _NO_ORGANISATION)
            for pk, reference, requested, submitted in qs.values_list(
                "pk", "reference", "requested_amount", "_submitted"
            )
        ]
    return [
        AgendaEntry(pk, reference, title, requested, submitted, _Organisation(organisation))
        for pk, reference, title, requested, submitted, organisation in qs.values_list(
            "pk", "reference", "title", "requested_amount", "_submitted", "organisation__name"
        )
    ]


_NO_ORGANISATION = _Organisation("")


def _agenda(session: CommitteeSession) -> Any:
    return (
        Application.objects.filter(session=session)
        .exclude(reference__isnull=True)
        .select_related("organisation")
        .order_by("reference_number", "reference")
    )


def _ranked(session: CommitteeSession, applications: Any) -> tuple[list[budget.RankedApplication], Decimal]:
    available = budget.available_envelope(session.call, session.pk)
    # The session's consensus sheets by the session (not an IN list of every application
    # ranked: 9,000 parameters); only those of ``applications`` are looked up.
    sheets = dict(Consensus.objects.filter(application__session=session).values_list("application_id", "scores"))
    return budget.ranking(session.call, session.pk, applications, available=available, sheets=sheets), available


def _ranking_row(row: budget.RankedApplication) -> RankingRow:
    return RankingRow(
        application=str(row.application.pk),
        reference=row.application.reference or "",
        title=row.application.title,
        organisation=row.application.organisation.name,
        weighted_score=row.weighted_score,
        requested=row.requested,
        cumulative_requested=row.cumulative_requested,
        within_envelope=row.within_envelope,
    )


def _live(session: CommitteeSession, applications: Any) -> SessionRanking:
    ranked, available = _ranked(session, applications)
    return SessionRanking([_ranking_row(row) for row in ranked], available, RANKING_RULE, None)


def live_ranking_page(
    session: CommitteeSession, applications: Any, start: int, size: int
) -> tuple[SessionRanking, list[bool]]:
    """``frozen_ranking_page`` of a session not closed: the ranking of ``applications``
    (agenda entries) computed whole, only the rows ``start:start + size`` converted (the
    others stay ``None``), and every row's ``within_envelope``."""
    ranked, available = _ranked(session, applications)
    rows: list[Any] = [None] * len(ranked)
    for index in range(max(start, 0), min(start + size, len(ranked))):
        rows[index] = _ranking_row(ranked[index])
    return SessionRanking(rows, available, RANKING_RULE, None), [row.within_envelope for row in ranked]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def freeze_ranking(session: CommitteeSession, *, at: dt.datetime) -> None:
    """Store the session's ranking as it stands now (the close's effect; the session row
    is locked by the engine). A session frozen once is never frozen again."""
    if session.frozen_ranking is not None:
        return
    live = _live(session, agenda_entries(_agenda(session)))
    session.frozen_ranking = {
        "rule": live.rule,
        "available": _money(live.available),
        "rows": [
            {
                "application": row.application,
                "reference": row.reference,
                "title": row.title,
                "organisation": row.organisation,
                "weighted_score": _money(row.weighted_score),
                "requested": _money(row.requested),
                "cumulative_requested": _money(row.cumulative_requested),
                "within_envelope": row.within_envelope,
            }
            for row in live.rows
        ],
    }
    session.ranking_frozen_at = at
    CommitteeSession.objects.filter(pk=session.pk).update(frozen_ranking=session.frozen_ranking, ranking_frozen_at=at)


def _decimal(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def session_ranking(session: CommitteeSession, applications: Any = None) -> SessionRanking:
    """The session's ranking: frozen once closed, else computed over ``applications``
    (default: the whole agenda). A frozen ranking keeps only the rows of ``applications``
    when given (the caller's visible ones), with the figures as frozen."""
    if session.frozen_ranking is None:
        return _live(session, agenda_entries(_agenda(session)) if applications is None else applications)
    rows = [frozen_row(item) for item in frozen_items(session, applications)]
    return SessionRanking(rows, *_frozen_header(session))


def frozen_items(session: CommitteeSession, applications: Any = None) -> list[dict[str, Any]]:
    """A closed session's frozen rows as stored (restricted to ``applications`` when
    given): a page converts only the rows it shows (``frozen_row``)."""
    frozen = session.frozen_ranking or {}
    keep = None if applications is None else {str(pk) for pk in _ids(applications)}
    return [item for item in frozen.get("rows") or [] if keep is None or str(item["application"]) in keep]


def frozen_row(item: dict[str, Any]) -> RankingRow:
    return RankingRow(
        application=str(item["application"]),
        reference=str(item.get("reference") or ""),
        title=str(item.get("title") or ""),
        organisation=str(item.get("organisation") or ""),
        weighted_score=_decimal(item.get("weighted_score")),
        requested=_decimal(item["requested"]) or Decimal("0.00"),
        cumulative_requested=_decimal(item["cumulative_requested"]) or Decimal("0.00"),
        within_envelope=bool(item["within_envelope"]),
    )


def _frozen_header(session: CommitteeSession) -> tuple[Decimal, str, dt.datetime]:
    frozen = session.frozen_ranking or {}
    return (
        _decimal(frozen.get("available")) or Decimal("0.00"),
        str(frozen.get("rule") or RANKING_RULE),
        session.ranking_frozen_at or session.created_at,
    )


def frozen_ranking_page(
    session: CommitteeSession, applications: Any, start: int, size: int
) -> tuple[SessionRanking, list[bool]]:
    """A closed session's ranking with only the rows ``start:start + size`` converted
    (the others stay ``None``), and every row's ``within_envelope`` (the line's place)."""
    items = frozen_items(session, applications)
    rows: list[Any] = [None] * len(items)
    for index in range(max(start, 0), min(start + size, len(items))):
        rows[index] = frozen_row(items[index])
    return SessionRanking(rows, *_frozen_header(session)), [bool(item["within_envelope"]) for item in items]


def _ids(applications: Any) -> list[Any]:
    if hasattr(applications, "values_list"):
        return list(applications.values_list("pk", flat=True))
    return [a.pk for a in applications]
