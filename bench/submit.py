"""`submit` on the generated database: through the product's transition service
(grants.services.application_transition: row locks, scope check, every submission rule,
gap-free reference under the call's lock, snapshot, hash-chained log entry, task, outbox
rows) against a baseline in the same run: a hand-written SQL transaction doing the same
writes (lock the application and the call, number, update, snapshot, log entry with its
hash, eligibility task, the same notification rows), without the rules' reads.

Both take complete drafts of the open call from the pool the generator made (one
authority), half each, alternating so that neither side gets the warmer cache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import statistics
import time
from typing import Any

from bench.generate import OPEN_CALL, World


def _hand_written(app_id: str, user_id: int, username: str) -> None:
    """The writes of one submission, in SQL, in one transaction."""
    from django.db import connection, transaction

    from workflows.models import GENESIS_HASH, TransitionLog

    now = dt.datetime.now(dt.UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT call_id, organisation_id, title FROM grants_application WHERE id = %s AND state = 'draft' FOR UPDATE",
            [app_id],
        )
        call_id, organisation_id, title = cursor.fetchone()
        cursor.execute(
            "UPDATE grants_call SET last_reference_number = last_reference_number + 1 WHERE id = %s "
            "RETURNING code, last_reference_number, eligibility_deadline_days",
            [call_id],
        )
        code, number, deadline = cursor.fetchone()
        reference = f"{code}-{number:05d}"
        cursor.execute(
            "UPDATE grants_application SET state = 'submitted', reference = %s, reference_number = %s, "
            "submitted_at = %s, state_changed_at = %s, updated_at = %s WHERE id = %s",
            [reference, number, now, now, now, app_id],
        )
        # The snapshot: what was submitted, from the rows (one query per companion table).
        cursor.execute(
            "SELECT year, category, label, amount FROM grants_budgetline WHERE application_id = %s", [app_id]
        )
        lines = [{"year": y, "category": c, "label": lb, "amount": f"{a:f}"} for y, c, lb, a in cursor.fetchall()]
        cursor.execute("SELECT name, country_id FROM grants_applicationpartner WHERE application_id = %s", [app_id])
        partners = [{"name": n, "country": c} for n, c in cursor.fetchall()]
        cursor.execute("SELECT kind, original_name, sha256 FROM grants_attachment WHERE application_id = %s", [app_id])
        attachments = [{"kind": k, "name": n, "sha256": s} for k, n, s in cursor.fetchall()]
        data = {"reference": reference, "call": code, "title": title, "budget": {"lines": lines}}
        data.update(partners=partners, attachments=attachments)
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        cursor.execute(
            "INSERT INTO grants_snapshot (application_id, number, data, sha256, created_at) "
            "VALUES (%s, 1, %s, %s, %s) RETURNING id",
            [app_id, canonical, hashlib.sha256(canonical.encode()).hexdigest(), now],
        )
        cursor.execute(
            "SELECT hash FROM workflows_transitionlog WHERE application_id = %s ORDER BY id DESC LIMIT 1", [app_id]
        )
        row = cursor.fetchone()
        entry = TransitionLog(
            application_id=app_id,
            subject_type="grants.application",
            subject_id=app_id,
            transition="submit",
            source="draft",
            target="submitted",
            actor_id=user_id,
            actor_name=username,
            role="applicant",
            at=now,
            comment="",
            payload={},
            prev_hash=row[0] if row else GENESIS_HASH,
        )
        cursor.execute(
            "INSERT INTO workflows_transitionlog (application_id, subject_type, subject_id, transition, source, "
            "target, actor_id, actor_name, role, at, comment, payload, prev_hash, hash) "
            "VALUES (%s, 'grants.application', %s, 'submit', 'draft', 'submitted', %s, %s, 'applicant', %s, '', "
            "'{}', %s, %s) RETURNING id",
            [app_id, app_id, user_id, username, now, entry.prev_hash, entry.compute_hash()],
        )
        log_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO workflows_task (kind, state, application_id, subject_type, subject_id, queue_role, "
            "scope_call_id, reserved, due_at, created_at) "
            "VALUES ('check_eligibility', 'open', %s, '', '', 'instructor', %s, false, %s, %s)",
            [app_id, call_id, now + dt.timedelta(days=deadline), now],
        )
        params = json.dumps({"reference": reference, "title": title, "call": code, "submitted_at": now.isoformat()})
        # One receipt per applicant of the authority, one notice per instructor of the call.
        cursor.execute(
            """INSERT INTO notifications_notification (recipient_id, event, message, category, application_id,
                   subject_type, subject_id, params, dedupe_key, created_at, email_state, attempts, next_attempt_at,
                   last_error)
               SELECT DISTINCT g.user_id, 'submitted', m.message, m.category, %(app)s::uuid, '', '', %(params)s::jsonb,
                      'submitted:' || %(log)s || '::' || m.message || ':' || g.user_id, %(now)s, 'pending', 0,
                      %(now)s, ''
               FROM grants_rolegrant g
               JOIN (VALUES ('applicant', 'receipt', 'status'), ('instructor', 'submitted_staff', 'instruction'))
                    AS m(role, message, category) ON m.role = g.role
               WHERE (g.role = 'applicant' AND g.organisation_id = %(org)s)
                  OR (g.role = 'instructor' AND (g.call_id IS NULL OR g.call_id = %(call)s)
                      AND g.organisation_id IS NULL AND g.country_id IS NULL AND g.region_id IS NULL)""",
            {"app": app_id, "params": params, "log": log_id, "now": now, "org": organisation_id, "call": call_id},
        )


def access_forget(user: Any) -> None:
    """A request's user starts without cached grants: so does each submission here."""
    if hasattr(user, "_grant_scopes"):
        del user._grant_scopes


def run(world: World, *, n: int = 100) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from grants import services
    from grants.models import Application
    from notifications.models import Notification
    from workflows.models import Task, TransitionLog

    pool = list(world.submit_pool)
    n = min(n, len(pool) // 2)
    if n == 0:
        return {"error": "no drafts in the submission pool"}
    applicant = get_user_model().objects.get(pk=world.applicants[world.submit_org])  # type: ignore[attr-defined]
    ours: list[float] = []
    hand: list[float] = []
    before = {m.__name__: m.objects.count() for m in (TransitionLog, Task, Notification)}
    notifications_service = 0
    queries_service: list[int] = []
    queries_hand: list[int] = []
    for i in range(n):
        service_id, sql_id = pool[2 * i], pool[2 * i + 1]
        if i % 2:
            service_id, sql_id = sql_id, service_id
        counted = Notification.objects.count()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            services.application_transition(application_id=service_id, name="submit", user=applicant)
            ours.append(time.perf_counter() - started)
        queries_service.append(len(captured))
        notifications_service += Notification.objects.count() - counted
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            _hand_written(sql_id, applicant.pk, applicant.username)
            hand.append(time.perf_counter() - started)
        queries_hand.append(len(captured))
        access_forget(applicant)
    after = {m.__name__: m.objects.count() for m in (TransitionLog, Task, Notification)}
    submitted = Application.objects.filter(pk__in=pool[: 2 * n], state="submitted").count()
    ours_ms = statistics.median(ours) * 1000
    hand_ms = statistics.median(hand) * 1000
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_reference_number FROM grants_call WHERE code = %s", [OPEN_CALL])
        last_number = cursor.fetchone()[0]
    return {
        "submissions_each_way": n,
        "submitted_ok": submitted == 2 * n,
        "service_median_ms": round(ours_ms, 2),
        "service_p95_ms": round(sorted(ours)[int(0.95 * (len(ours) - 1))] * 1000, 2),
        "hand_written_sql_median_ms": round(hand_ms, 2),
        "ratio": round(ours_ms / hand_ms, 2) if hand_ms else None,
        "service_queries": statistics.median(queries_service),
        "hand_written_queries": statistics.median(queries_hand),
        "notifications_per_submit_service": round(notifications_service / n, 2),
        "rows_written": {k: after[k] - before[k] for k in before},
        "call_last_reference_number": last_number,
        "target_median_ms": 12.0,
        "target_ratio": 3.0,
    }
