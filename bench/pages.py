"""The lists and pages, in-process: each page's server time (median of 7 through Django's
test client, after one warm-up), its query count and the time its queries took, against a
baseline measured in the same run: hand-written SQL returning the same rows (the median of
7 too). Then PostgreSQL's plan of the page's slowest query (EXPLAIN ANALYZE, BUFFERS).

Pages are addressed by their URL (the contract), never by the view that serves them.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.generate import INSTRUCTION_CALL, OPEN_CALL, World

# --- hand-written SQL of the same rows --------------------------------------------------------

APPS_COLUMNS = """
    a.id, a.reference, a.title, a.state, a.requested_amount, a.created_at, a.submitted_at, c.code, o.name,
    (SELECT array_agg(ac.country_id ORDER BY ac.country_id) FROM grants_application_countries ac
      WHERE ac.application_id = a.id) AS countries"""
RAW_API_APPLICATIONS = f"""
    SELECT {APPS_COLUMNS}
    FROM grants_application a JOIN grants_call c ON c.id = a.call_id JOIN grants_organisation o ON o.id = a.organisation_id
    WHERE a.state <> 'draft' ORDER BY a.created_at DESC LIMIT 21"""  # noqa: S608
RAW_API_SUBMITTED = f"""
    SELECT {APPS_COLUMNS}
    FROM grants_application a JOIN grants_call c ON c.id = a.call_id JOIN grants_organisation o ON o.id = a.organisation_id
    WHERE a.state = 'submitted' ORDER BY a.created_at DESC LIMIT 21"""  # noqa: S608
TASK_ROWS = """
    SELECT t.id, t.kind, t.due_at, t.assignee_id, u.username, a.id, a.reference, a.title, c.code, o.name,
      (SELECT array_agg(ac.country_id ORDER BY ac.country_id) FROM grants_application_countries ac
        WHERE ac.application_id = a.id) AS countries
    FROM workflows_task t JOIN grants_application a ON a.id = t.application_id JOIN grants_call c ON c.id = a.call_id
    JOIN grants_organisation o ON o.id = a.organisation_id LEFT JOIN auth_user u ON u.id = t.assignee_id
    WHERE t.state = 'open' AND {where} ORDER BY {order} LIMIT {limit}"""
TASK_COUNTS = """
    SELECT t.kind, COUNT(*), COUNT(*) FILTER (WHERE t.due_at < now()) FROM workflows_task t
    WHERE t.state = 'open' AND {where} GROUP BY t.kind"""


def _inbox(where: str) -> list[str]:
    return [
        TASK_COUNTS.format(where=where),
        TASK_ROWS.format(where=where, order="t.due_at ASC NULLS LAST, t.id", limit=51),
    ]


#: The page's rows: the 21 newest of each branch (led, co-applied), the 21 newest of both.
_HOME_PAGE = """(SELECT id, created_at FROM grants_application WHERE organisation_id = %(org)s
                ORDER BY created_at DESC, id DESC LIMIT 21)
               UNION ALL
               (SELECT a.id, a.created_at FROM grants_application_co_applicants ca
                JOIN grants_application a ON a.id = ca.application_id
                WHERE ca.organisation_id = %(org)s AND a.organisation_id <> %(org)s
                ORDER BY a.created_at DESC, a.id DESC LIMIT 21)
               ORDER BY created_at DESC, id DESC LIMIT 21"""
RAW_HOME = [
    # The counts per state: led, and co-applied without the led ones.
    """SELECT state, SUM(n) FROM (
           SELECT state, COUNT(*) AS n FROM grants_application WHERE organisation_id = %(org)s GROUP BY state
           UNION ALL
           SELECT a.state, COUNT(*) FROM grants_application_co_applicants ca
           JOIN grants_application a ON a.id = ca.application_id
           WHERE ca.organisation_id = %(org)s AND a.organisation_id <> %(org)s GROUP BY a.state) x
       GROUP BY state""",
    f"""SELECT a.id, a.reference, a.title, a.state, a.created_at, c.code, c.closes_at, s.date, d.state, d.outcome
       FROM ({_HOME_PAGE}) p JOIN grants_application a ON a.id = p.id JOIN grants_call c ON c.id = a.call_id
       LEFT JOIN grants_committeesession s ON s.id = a.session_id LEFT JOIN grants_decision d ON d.application_id = a.id
       ORDER BY a.created_at DESC, a.id DESC""",  # noqa: S608 - constant text
    f"""SELECT t.id, t.kind, t.due_at, t.application_id FROM workflows_task t
       WHERE t.state = 'open' AND t.application_id IN (SELECT id FROM ({_HOME_PAGE}) p)""",  # noqa: S608 - constant text
    """SELECT id, code, title, closes_at FROM grants_call
       WHERE state = 'published' AND opens_at <= now() AND closes_at > now()""",
]
RAW_DASHBOARD = [
    """SELECT state, COUNT(*) FROM grants_application WHERE call_id = %(call)s AND state <> 'draft' GROUP BY state""",
    # The same median of stays as the page (it is already hand-written SQL).
    """WITH entries AS (
           SELECT l.target AS state, l.at AS at,
                  LEAD(l.at) OVER (PARTITION BY l.application_id ORDER BY l.at, l.id) AS left_at
           FROM workflows_transitionlog l JOIN grants_application a ON a.id = l.application_id
           WHERE a.call_id = %(call)s AND l.subject_type = 'grants.application'
       ), stays AS (SELECT state, EXTRACT(EPOCH FROM (left_at - at)) AS secs FROM entries WHERE left_at IS NOT NULL),
       ranked AS (SELECT state, secs, ROW_NUMBER() OVER (PARTITION BY state ORDER BY secs) AS rn,
                         COUNT(*) OVER (PARTITION BY state) AS n FROM stays)
       SELECT state, AVG(secs), MAX(n) FROM ranked WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY state""",
    # Opinion requests and decisions carry their application's call (migration 0017).
    """SELECT r.authority, r.country_id, r.region_id,
              COUNT(*) FILTER (WHERE r.state = 'requested'), COUNT(*) FILTER (WHERE r.state = 'expired')
       FROM grants_opinionrequest r
       WHERE r.call_id = %(call)s AND (r.state = 'requested' AND r.due_at < now() OR r.state = 'expired')
       GROUP BY 1, 2, 3""",
    """SELECT SUM(d.amount) FROM grants_decision d WHERE d.call_id = %(call)s AND d.outcome = 'approved'""",
    """SELECT SUM(requested_amount) FROM grants_application WHERE call_id = %(call)s AND state = 'in_committee'""",
]
RAW_STAFF_APPLICATION = [
    """SELECT a.*, c.code, o.name, s.date FROM grants_application a JOIN grants_call c ON c.id = a.call_id
       JOIN grants_organisation o ON o.id = a.organisation_id LEFT JOIN grants_committeesession s ON s.id = a.session_id
       WHERE a.id = %(app)s""",
    "SELECT * FROM workflows_transitionlog WHERE application_id = %(app)s ORDER BY at, id",
    "SELECT * FROM workflows_task WHERE application_id = %(app)s ORDER BY due_at, id",
    "SELECT * FROM grants_opinionrequest WHERE application_id = %(app)s",
    "SELECT * FROM grants_review r JOIN auth_user u ON u.id = r.reviewer_id WHERE r.application_id = %(app)s",
    "SELECT * FROM grants_decision WHERE application_id = %(app)s",
    "SELECT * FROM grants_attachment WHERE application_id = %(app)s",
    "SELECT * FROM grants_budgetline WHERE application_id = %(app)s ORDER BY year, id",
    "SELECT * FROM grants_applicationpartner WHERE application_id = %(app)s",
    "SELECT country_id FROM grants_application_countries WHERE application_id = %(app)s",
    "SELECT * FROM grants_document WHERE application_id = %(app)s",
]


# A reviewer's own pages: its dashboard (four sections of one keyset page each, their counts)
# and its inbox (the open tasks assigned to it).
_REVIEW_ROWS = """
    SELECT r.id, r.state, r.assigned_at, r.declared_at, r.scores, r.recommendation, r.decline_reason,
      (SELECT t.due_at FROM workflows_task t WHERE t.kind = 'review' AND t.subject_type = 'grants.review'
        AND t.subject_id = r.id::text ORDER BY t.created_at DESC, t.id DESC LIMIT 1) AS due_at,
      a.id, a.reference, a.title, c.code, c.scoring_criteria, o.name
    FROM grants_review r JOIN grants_application a ON a.id = r.application_id
    JOIN grants_call c ON c.id = a.call_id JOIN grants_organisation o ON o.id = a.organisation_id
    WHERE r.reviewer_id = %(reviewer)s AND {where} ORDER BY {order} LIMIT 21"""
_OPEN_ORDER = "due_at ASC NULLS LAST, r.assigned_at, r.id"
_CLOSED_ORDER = "r.assigned_at DESC, r.id DESC"
RAW_REVIEWER_DASHBOARD = [
    """SELECT COUNT(*) FILTER (WHERE state = 'assigned' AND declared_at IS NULL),
              COUNT(*) FILTER (WHERE state = 'assigned' AND declared_at IS NOT NULL),
              COUNT(*) FILTER (WHERE state = 'submitted'), COUNT(*) FILTER (WHERE state = 'declined')
       FROM grants_review WHERE reviewer_id = %(reviewer)s""",
    """SELECT COUNT(*) FROM grants_review r WHERE r.reviewer_id = %(reviewer)s AND r.state = 'assigned'
       AND (SELECT t.due_at FROM workflows_task t WHERE t.kind = 'review' AND t.subject_type = 'grants.review'
            AND t.subject_id = r.id::text ORDER BY t.created_at DESC, t.id DESC LIMIT 1) < now()""",
    _REVIEW_ROWS.format(where="r.state = 'assigned' AND r.declared_at IS NULL", order=_OPEN_ORDER),
    _REVIEW_ROWS.format(where="r.state = 'assigned' AND r.declared_at IS NOT NULL", order=_OPEN_ORDER),
    _REVIEW_ROWS.format(where="r.state = 'submitted'", order=_CLOSED_ORDER),
    _REVIEW_ROWS.format(where="r.state = 'declined'", order=_CLOSED_ORDER),
    """SELECT ac.application_id, co.name_fr FROM grants_application_countries ac
       JOIN grants_country co ON co.iso2 = ac.country_id JOIN grants_review r ON r.application_id = ac.application_id
       WHERE r.reviewer_id = %(reviewer)s AND r.state = 'submitted' ORDER BY r.assigned_at DESC LIMIT 40""",
]
# The staff page of a submitted application adds the "assign a reviewer" form: every
# reviewer of the call with its load (open reviews, open review tasks) and its conflicts.
RAW_REVIEWER_LOADS = [
    """SELECT u.id, u.username, u.first_name, u.last_name FROM grants_rolegrant g JOIN auth_user u ON u.id = g.user_id
       WHERE g.role = 'reviewer' AND u.is_active ORDER BY u.username""",
    """SELECT reviewer_id, COUNT(*) FROM grants_review WHERE state = 'assigned' AND reviewer_id IN
       (SELECT user_id FROM grants_rolegrant WHERE role = 'reviewer') GROUP BY reviewer_id""",
    """SELECT assignee_id, MIN(due_at) FILTER (WHERE due_at >= now()), COUNT(*) FILTER (WHERE due_at < now())
       FROM workflows_task WHERE state = 'open' AND kind = 'review' AND assignee_id IN
       (SELECT user_id FROM grants_rolegrant WHERE role = 'reviewer') GROUP BY assignee_id""",
]

# The committee's, the signatory's and the finance department's lists. A session's page: the
# agenda's page of 50 (by reference), its counts, the whole agenda for the ranking (cumulative
# requests against the envelope) and what the call's approvals already commit.
_DECISION_ROWS = """
    SELECT d.id, d.state, d.outcome, d.amount, d.decided_at, d.delivered_at, a.id, a.reference, a.title, c.code,
      o.name, (SELECT array_agg(ac.country_id ORDER BY ac.country_id) FROM grants_application_countries ac
        WHERE ac.application_id = a.id) AS countries
    FROM grants_decision d JOIN grants_application a ON a.id = d.application_id JOIN grants_call c ON c.id = a.call_id
    JOIN grants_organisation o ON o.id = a.organisation_id
    WHERE {where} ORDER BY {order} LIMIT {limit}"""
RAW_SESSION_PAGE = [
    """SELECT s.id, s.date, s.state, c.code, c.envelope FROM grants_committeesession s
       JOIN grants_call c ON c.id = s.call_id WHERE s.id = %(session)s""",
    """SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'in_committee') FROM grants_application
       WHERE session_id = %(session)s""",
    """SELECT a.id, a.reference, a.title, a.state, a.requested_amount, o.name,
         (SELECT array_agg(ac.country_id ORDER BY ac.country_id) FROM grants_application_countries ac
          WHERE ac.application_id = a.id) AS countries
       FROM grants_application a JOIN grants_organisation o ON o.id = a.organisation_id
       WHERE a.session_id = %(session)s ORDER BY a.reference, a.id LIMIT 51""",
    """SELECT a.id, a.reference, a.title, o.name, a.requested_amount, a.submitted_at, k.scores
       FROM grants_application a JOIN grants_organisation o ON o.id = a.organisation_id
       LEFT JOIN grants_consensus k ON k.application_id = a.id WHERE a.session_id = %(session)s""",
    """SELECT SUM(d.amount) FROM grants_decision d JOIN grants_application a ON a.id = d.application_id
       WHERE d.call_id = (SELECT call_id FROM grants_committeesession WHERE id = %(session)s)
         AND d.outcome = 'approved' AND a.session_id <> %(session)s""",
]
RAW_SESSION_LIST = [
    """SELECT s.id, s.date, s.state, c.code FROM grants_committeesession s JOIN grants_call c ON c.id = s.call_id
       ORDER BY s.date DESC, s.id DESC LIMIT 51""",
    """SELECT session_id, state, COUNT(*) FROM grants_application WHERE session_id IN
       (SELECT id FROM grants_committeesession ORDER BY date DESC, id DESC LIMIT 51) GROUP BY 1, 2""",
]
RAW_SIGNATORY = [
    _DECISION_ROWS.format(where="d.state = 'draft'", order="d.decided_at, d.id", limit=51),
    _DECISION_ROWS.format(where="d.signed_by_id = %(signatory)s", order="d.signed_at DESC, d.id DESC", limit=20),
]
RAW_FINANCE = [
    _DECISION_ROWS.format(where="d.state = 'delivered' AND d.outcome = 'approved'",
                          order="d.delivered_at DESC, d.id DESC", limit=51),
]  # fmt: skip

# The staff list /dossiers/ and the API's search: the rows and columns the page shows, its
# filters and its keyset window (grants.search, grants.web.staff.dossiers), by hand.
DOSSIER_ROWS = """
    SELECT a.id, a.reference, a.title, a.state, a.requested_amount, a.submitted_at, a.answers, c.code, o.name,
      o.siren, r.name, CASE WHEN d.outcome = 'approved' THEN d.amount END, d.decided_at,
      (SELECT t.id FROM workflows_task t WHERE t.application_id = a.id AND t.state = 'open' AND t.due_at < now()
        LIMIT 1) IS NOT NULL AS overdue,
      (SELECT array_agg(ac.country_id ORDER BY ac.country_id) FROM grants_application_countries ac
        WHERE ac.application_id = a.id) AS countries
    FROM grants_application a JOIN grants_call c ON c.id = a.call_id JOIN grants_organisation o ON o.id = a.organisation_id
    LEFT JOIN grants_region r ON r.code = o.region_id LEFT JOIN grants_decision d ON d.application_id = a.id
    WHERE a.state <> 'draft' {where} ORDER BY {order} LIMIT {limit}"""
# What the page's filter form and bulk actions list: the calls, countries, regions and
# authorities of its selects, the reviewers of its "assign" action.
DOSSIER_FORM = [
    "SELECT code FROM grants_call WHERE state <> 'draft' ORDER BY opens_at DESC, code",
    "SELECT iso2, name_fr FROM grants_country WHERE iso2 <> 'FR' ORDER BY name_fr",
    "SELECT code, name FROM grants_region ORDER BY name",
    "SELECT id, name FROM grants_organisation WHERE kind = 'french_authority' ORDER BY name, id",
    """SELECT DISTINCT u.id, u.username, u.first_name, u.last_name FROM auth_user u
       JOIN grants_rolegrant g ON g.user_id = u.id WHERE g.role = 'reviewer' AND u.is_active ORDER BY u.username""",
]
NEWEST = "a.submitted_at DESC NULLS FIRST, a.id DESC"
OLDEST = "a.submitted_at ASC NULLS LAST, a.id ASC"
# A reference typed whole first (a word without a digit is no reference: newest first).
RELEVANCE = f"CASE WHEN upper(a.reference) = upper(%(q)s) THEN 0 ELSE 2 END, {NEWEST}"
FTS_MATCH = """a.id IN (SELECT id FROM grants_application
    WHERE to_tsvector('grants_french', COALESCE(search_text, '')) @@ to_tsquery('grants_french', %(tsquery)s))"""
# A reference (a word with digits): the full-text prefix, or a substring (the trigram index).
FTS_OR_SUBSTRING = """a.id IN (SELECT id FROM grants_application
    WHERE to_tsvector('grants_french', COALESCE(search_text, '')) @@ to_tsquery('grants_french', %(tsquery)s)
    UNION SELECT id FROM grants_application WHERE search_text LIKE %(like)s)"""


def _keyset(at: Any, *, backwards: bool) -> str:
    """(submitted_at, id) strictly after (before, backwards) the cursor, newest first, NULL
    (withdrawn before submission) the largest submitted_at."""
    if backwards:
        if at is None:
            return "AND a.submitted_at IS NULL AND a.id > %(id)s"
        return "AND (a.submitted_at IS NULL OR a.submitted_at > %(at)s OR a.submitted_at = %(at)s AND a.id > %(id)s)"
    if at is None:
        return "AND (a.submitted_at IS NOT NULL OR a.id < %(id)s)"
    return "AND (a.submitted_at < %(at)s OR a.submitted_at = %(at)s AND a.id < %(id)s)"


def choose_dossiers() -> dict[str, Any]:
    """The whole reference searched for (an application in the middle of the list) and the
    cursors of the list's second page and of the first page, reached back from the second."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from grants import search
    from grants.web.staff.common import PAGE_SIZE

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reference FROM grants_application WHERE reference IS NOT NULL ORDER BY reference "
            "OFFSET (SELECT COUNT(*) / 2 FROM grants_application WHERE reference IS NOT NULL) LIMIT 1"
        )
        row = cursor.fetchone()
    user = get_user_model().objects.get(username="bench-instructor")
    filters = search.Filters()
    ordering = search.ordering_for(filters)
    qs = search.applications(user, filters, include_drafts=False)
    first = search.window(qs, ordering, None, PAGE_SIZE)
    second = search.window(qs, ordering, first.next_cursor, PAGE_SIZE) if first.next_cursor else None
    out: dict[str, Any] = {"reference": row[0] if row else "", "next": None, "previous": None}
    for key, token in (("next", first.next_cursor), ("previous", second.previous_cursor if second else None)):
        if token:
            backwards, (at, pk) = search.decode_cursor(token, ordering)
            out[key] = {"cursor": token, "backwards": backwards, "at": at, "id": pk}
    return out


COMMON_WORD = "eau"


def dossier_pages(chosen: dict[str, Any]) -> list[Page]:
    """/dossiers/ (no filter, a common word, a whole reference, two filters, the second page
    and back to the first) and the API's search, each with its hand-written SQL."""
    from urllib.parse import quote

    from grants import search

    ref = chosen["reference"]
    ref_token = search.fts_words(search.terms(ref))[0] if ref else "none"
    word = {"q": COMMON_WORD, "tsquery": f"{COMMON_WORD}:*"}
    by_ref = {"q": ref, "tsquery": f"{ref_token}:*", "like": f"%{ref_token}%"}
    rows = DOSSIER_ROWS.format
    out = [
        Page("dossiers", "Staff list /dossiers/ (instructor, no filter)", "/dossiers/", "bench-instructor",
             [rows(where="", order=NEWEST, limit=51), *DOSSIER_FORM]),
        Page("dossiers_q_word", f"Staff list /dossiers/?q={COMMON_WORD} (a common word)",
             f"/dossiers/?q={COMMON_WORD}", "bench-instructor",
             [rows(where=f"AND {FTS_MATCH}", order=NEWEST, limit=51), *DOSSIER_FORM], word, target_ms=100.0),
        Page("dossiers_q_reference", "Staff list /dossiers/?q=<a whole reference>", f"/dossiers/?q={quote(ref)}",
             "bench-instructor", [rows(where=f"AND {FTS_OR_SUBSTRING}", order=RELEVANCE, limit=51), *DOSSIER_FORM], by_ref,
             target_ms=100.0),
        Page("dossiers_filtered", "Staff list /dossiers/?state=approved&country=SN",
             "/dossiers/?state=approved&country=SN", "bench-instructor",
             [rows(where="AND a.state = 'approved' AND a.id IN "
                         "(SELECT application_id FROM grants_application_countries WHERE country_id = 'SN')",
                   order=NEWEST, limit=51), *DOSSIER_FORM]),
        Page("api_applications_q", f"API GET /api/v1/applications/?q={COMMON_WORD} (instructor)",
             f"/api/v1/applications/?q={COMMON_WORD}", "bench-instructor",
             [rows(where=f"AND {FTS_MATCH}", order=NEWEST, limit=21)], word, target_ms=100.0),
    ]  # fmt: skip
    for name, title, key in (
        ("dossiers_next", "Staff list /dossiers/?cursor=… (the second page)", "next"),
        ("dossiers_previous", "Staff list /dossiers/?cursor=… (back to the first page)", "previous"),
    ):
        position = chosen.get(key)
        if not position:
            continue
        backwards = position["backwards"]
        out.append(
            Page(name, title, f"/dossiers/?cursor={position['cursor']}", "bench-instructor",
                 [rows(where=_keyset(position["at"], backwards=backwards), order=OLDEST if backwards else NEWEST,
                       limit=51), *DOSSIER_FORM], {"at": position["at"], "id": position["id"]})
        )  # fmt: skip
    return out


@dataclass
class Page:
    name: str
    title: str
    path: str
    user: str
    raw: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    target_ms: float = 50.0


def pages(world: World, *, home_org: int, staff_app: str) -> list[Page]:
    call_id = world.calls[OPEN_CALL]["id"]
    applicant = f"bench-applicant-{home_org:04d}"
    return [
        Page("api_applications", "API GET /api/v1/applications/ (instructor)", "/api/v1/applications/",
             "bench-instructor", [RAW_API_APPLICATIONS]),
        Page("embassy_inbox", "Embassy inbox /tasks/ (Senegal)", "/tasks/", "bench-embassy-sn",
             _inbox("t.queue_role = 'embassy' AND t.scope_country_id = 'SN'")),
        Page("instructor_inbox", "Instructor inbox /tasks/", "/tasks/", "bench-instructor",
             _inbox("t.queue_role = 'instructor'")),
        Page("applicant_home", "Applicant home / (an authority with a handful of applications)", "/", applicant,
             RAW_HOME, {"org": home_org}, target_ms=30.0),
        Page("call_dashboard", f"Call dashboard /appels/{OPEN_CALL}/tableau-de-bord/",
             f"/appels/{OPEN_CALL}/tableau-de-bord/", "bench-instructor", RAW_DASHBOARD, {"call": call_id}),
        Page("api_applications_submitted", "API GET /api/v1/applications/?state=submitted (instructor)",
             "/api/v1/applications/?state=submitted", "bench-instructor", [RAW_API_SUBMITTED]),
        Page("api_tasks", "API GET /api/v1/tasks/ (instructor)", "/api/v1/tasks/", "bench-instructor",
             [TASK_ROWS.format(where="t.queue_role = 'instructor'",
                               order="COALESCE(t.due_at, '9999-12-31'::timestamptz), t.id", limit=21)]),
        Page("staff_application", "Staff application page /dossiers/<id>/instruction/",
             f"/dossiers/{staff_app}/instruction/", "bench-instructor", RAW_STAFF_APPLICATION, {"app": staff_app}),
    ]  # fmt: skip


def reviewer_pages(world: World, chosen: dict[str, Any]) -> list[Page]:
    """The busiest reviewer's dashboard and inbox, and the staff page of a submitted
    application (its "assign a reviewer" form reads every reviewer's load)."""
    reviewer = chosen["reviewer"]
    out = [
        Page("reviewer_dashboard", f"Reviewer dashboard /evaluations/ ({chosen['reviewer_reviews']:,} reviews)",
             "/evaluations/", chosen["reviewer_username"], RAW_REVIEWER_DASHBOARD, {"reviewer": reviewer}),
        Page("reviewer_inbox", "Reviewer inbox /tasks/", "/tasks/", chosen["reviewer_username"],
             _inbox(f"t.queue_role = 'reviewer' AND t.assignee_id = {int(reviewer)}")),
    ]  # fmt: skip
    if chosen.get("session"):
        out.append(
            Page("session_page", f"Committee session page /comites/<id>/ ({chosen['session_applications']:,} on its agenda)",
                 f"/comites/{chosen['session']}/", "bench-secretary", RAW_SESSION_PAGE, {"session": chosen["session"]})
        )  # fmt: skip
    out += [
        Page("session_list", "Committee sessions /comites/", "/comites/", "bench-secretary", RAW_SESSION_LIST),
        Page("signatory", "Signatory /signature/", "/signature/", "bench-signatory", RAW_SIGNATORY,
             {"signatory": chosen.get("signatory", 0)}),
        Page("finance", "Finance /finances/", "/finances/", "bench-finance", RAW_FINANCE),
    ]  # fmt: skip
    if chosen.get("submitted_app"):
        app = chosen["submitted_app"]
        out.append(
            Page("staff_application_submitted", "Staff application page of a submitted application",
                 f"/dossiers/{app}/instruction/", "bench-instructor", [*RAW_STAFF_APPLICATION, *RAW_REVIEWER_LOADS],
                 {"app": app})
        )  # fmt: skip
    return out


def choose(world: World) -> dict[str, Any]:
    """The authority of the applicant home (a handful of applications: the one closest to
    five) and the staff page's application (the longest history of the call in instruction)."""
    from django.db import connection

    counts = sorted(world.org_apps.items(), key=lambda item: (abs(item[1] - 5), item[0]))
    home_org = counts[0][0]
    biggest = max(world.org_apps.items(), key=lambda item: item[1])
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT l.application_id FROM workflows_transitionlog l JOIN grants_application a ON a.id = l.application_id
               WHERE a.call_id = %s AND a.state = 'approved' GROUP BY l.application_id
               ORDER BY COUNT(*) DESC, l.application_id LIMIT 1""",
            [world.calls[INSTRUCTION_CALL]["id"]],
        )
        row = cursor.fetchone()
        # The reviewer with the most reviews; the oldest submitted application.
        cursor.execute(
            """SELECT u.id, u.username, COUNT(*) FROM grants_review r JOIN auth_user u ON u.id = r.reviewer_id
               GROUP BY u.id, u.username ORDER BY COUNT(*) DESC, u.id LIMIT 1"""
        )
        reviewer = cursor.fetchone() or (0, "bench-reviewer-01", 0)
        cursor.execute("SELECT id FROM grants_application WHERE state = 'submitted' ORDER BY submitted_at, id LIMIT 1")
        submitted = cursor.fetchone()
        # The session with the longest agenda that is not closed (the secretary's working page).
        cursor.execute(
            """SELECT s.id, COUNT(a.id) FROM grants_committeesession s LEFT JOIN grants_application a ON a.session_id = s.id
               WHERE s.state <> 'closed' GROUP BY s.id ORDER BY COUNT(a.id) DESC, s.id LIMIT 1"""
        )
        session = cursor.fetchone() or (None, 0)
        cursor.execute("SELECT id FROM auth_user WHERE username = 'bench-signatory'")
        signatory = cursor.fetchone()
    return {
        "session": session[0],
        "session_applications": session[1],
        "signatory": signatory[0] if signatory else 0,
        "reviewer": reviewer[0],
        "reviewer_username": reviewer[1],
        "reviewer_reviews": reviewer[2],
        "submitted_app": str(submitted[0]) if submitted else "",
        "home_org": home_org,
        "home_org_applications": counts[0][1],
        "biggest_org": biggest[0],
        "biggest_org_applications": biggest[1],
        "staff_app": str(row[0]) if row else "",
    }


# --- measuring -------------------------------------------------------------------------------


class _Recorder:
    """An execute wrapper: the time of each query, and the statements for EXPLAIN."""

    def __init__(self) -> None:
        self.queries: list[tuple[float, str, Any]] = []

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((time.perf_counter() - started, sql, params))


def _raw_once(sqls: list[str], params: dict[str, Any]) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for sql in sqls:
            cursor.execute(sql, params if "%(" in sql else None)
            cursor.fetchall()
    return time.perf_counter() - started


def explain(sql: str, params: Any) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


KEY_WORDS = (
    "Scan", "Sort", "Join", "Aggregate", "Limit", "WindowAgg", "Hash", "Execution Time", "Rows Removed", "Filter:",
    "Index Cond",
)  # fmt: skip


def _execution_ms(plan: str) -> float:
    for line in plan.splitlines():
        if line.strip().startswith("Execution Time:"):
            return float(line.split(":")[1].split()[0])
    return 0.0


def key_lines(plan: str, limit: int = 18) -> list[str]:
    skip = ("Worker ", "Sort Method", "Buckets:", "Hash Cond")
    lines = [
        line.rstrip()
        for line in plan.splitlines()
        if any(word in line for word in KEY_WORDS) and not line.strip().startswith(skip)
    ]
    return lines[:limit]


def measure(page: Page, client: Any, *, repeat: int = 7, with_explain: bool = True) -> dict[str, Any]:
    from django.db import connection

    response = client.get(page.path)  # warm-up: caches, the first compile of templates
    status = response.status_code
    totals: list[float] = []
    sql_times: list[float] = []
    counts: list[int] = []
    last: _Recorder | None = None
    for _ in range(repeat):
        recorder = _Recorder()
        with connection.execute_wrapper(recorder):
            started = time.perf_counter()
            response = client.get(page.path)
            totals.append(time.perf_counter() - started)
        status = response.status_code
        sql_times.append(sum(q[0] for q in recorder.queries))
        counts.append(len(recorder.queries))
        last = recorder
    raw = [_raw_once(page.raw, page.params) for _ in range(repeat)]
    median_ms = statistics.median(totals) * 1000
    sql_ms = statistics.median(sql_times) * 1000
    raw_ms = statistics.median(raw) * 1000
    result: dict[str, Any] = {
        "title": page.title,
        "path": page.path,
        "status": status,
        "median_ms": round(median_ms, 2),
        "min_ms": round(min(totals) * 1000, 2),
        "p_max_ms": round(max(totals) * 1000, 2),
        "queries": counts[-1],
        "queries_constant_over_runs": len(set(counts)) == 1,
        "sql_ms": round(sql_ms, 2),
        "raw_sql_ms": round(raw_ms, 2),
        "sql_vs_raw": round(sql_ms / raw_ms, 2) if raw_ms else None,
        "page_vs_raw": round(median_ms / raw_ms, 2) if raw_ms else None,
        "target_ms": page.target_ms,
        "meets_target": status == 200 and median_ms <= page.target_ms,
    }
    if last is not None and last.queries:
        slowest = sorted(last.queries, key=lambda q: q[0], reverse=True)
        result["slowest_queries_ms"] = [round(q[0] * 1000, 2) for q in slowest[:3]]
        if with_explain:
            # The plan of the query the database spends longest on (by EXPLAIN ANALYZE, not
            # by the noisy client-side timing): every SELECT of the page is explained once.
            plans = []
            for _seconds, sql, params in last.queries:
                if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                try:
                    plan = explain(sql, params)
                except Exception as exc:  # a plan is evidence, not a reason to lose the figures
                    plan = f"EXPLAIN failed: {exc}"
                plans.append((_execution_ms(plan), sql, plan))
            if plans:
                ms, sql, plan = max(plans, key=lambda p: p[0])
                result["main_query_execution_ms"] = ms
                result["main_query_sql"] = sql
                result["plan"] = plan
                result["plan_key_lines"] = key_lines(plan)
                result["explained_sql_total_ms"] = round(sum(p[0] for p in plans), 2)
    return result


def run(world: World, *, repeat: int = 7, with_explain: bool = True, only: list[str] | None = None) -> dict[str, Any]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    chosen = choose(world)
    users = get_user_model().objects
    # The machine is shared: its load when measuring goes with the figures.
    results: dict[str, Any] = {"chosen": chosen, "load_average": [round(x, 2) for x in os.getloadavg()]}
    old_debug = settings.DEBUG
    settings.DEBUG = False
    try:
        dossiers = choose_dossiers()
        results["chosen_dossiers"] = {"reference": dossiers["reference"]}
        listed = [
            *pages(world, home_org=chosen["home_org"], staff_app=chosen["staff_app"]),
            *dossier_pages(dossiers),
            *reviewer_pages(world, chosen),
        ]
        for page in listed:
            if only and page.name not in only:
                continue
            client = Client()
            client.force_login(users.get(username=page.user))
            results[page.name] = measure(page, client, repeat=repeat, with_explain=with_explain)
            print(
                f"  {page.name}: {results[page.name]['median_ms']} ms, {results[page.name]['queries']} queries, "
                f"SQL {results[page.name]['sql_ms']} ms vs raw {results[page.name]['raw_sql_ms']} ms",
                flush=True,
            )
        # The same home for the busiest authority: the page lists every application it has.
        if not only or "applicant_home_biggest" in only:
            page = Page(
                "applicant_home_biggest", "Applicant home / (the busiest authority)", "/",
                f"bench-applicant-{chosen['biggest_org']:04d}", RAW_HOME, {"org": chosen["biggest_org"]}, 30.0,
            )  # fmt: skip
            client = Client()
            client.force_login(users.get(username=page.user))
            results[page.name] = measure(page, client, repeat=repeat, with_explain=with_explain)
    finally:
        settings.DEBUG = old_debug
    return results
