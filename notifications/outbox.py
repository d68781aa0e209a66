"""The transactional outbox.

``record_event`` (through ``services.emit``) runs inside the transition's transaction: it
writes one ``Notification`` per (message, recipient) with a unique ``dedupe_key`` and
registers, on commit, the Celery tasks that e-mail them. If the broker is down at that
moment the rows simply stay ``pending``: the relay (beat, every minute) picks them up
with ``SELECT … FOR UPDATE SKIP LOCKED``. Sending is at-least-once (a crash between the
SMTP answer and the commit re-sends), marking is exactly-once (the row is locked and
skipped once sent).

Retries live in the database, not in Celery countdowns: a transient failure sets
``next_attempt_at`` with an exponential backoff and the relay tries again then; after
``MAX_ATTEMPTS`` the row is ``failed`` with its error, visible in the admin.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import smtplib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.fields import ArrayField
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Count, F, Field, JSONField, Model
from django.db.models.expressions import RawSQL
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from grants.models import Decision, Document, OpinionRequest, Review, Role, RoleGrant
from grants.policy.audiences import Directory, applicant_organisations, load_scoped, scope_query
from notifications import rendering, sql
from notifications.events import (
    APPLICANTS,
    AUDIENCE_ROLES,
    AUTHORITY,
    MESSAGES,
    REVIEWER,
    ROUTES,
    message_for,
)
from notifications.models import LOCKED_CATEGORIES, Mode, Notification, NotificationSettings, Preference
from workflows.models import TransitionLog

log = logging.getLogger(__name__)

E = Notification.EmailState
MAX_ATTEMPTS = 6
# Minutes before the next try after the n-th failure: 1, 4, 16, 64, 256 (about 5 h in all).
BACKOFF_MINUTES = (1, 4, 16, 64, 256)
# The relay stops picking rows after this long, well inside its task's time limit.
RELAY_BUDGET_SECONDS = 40.0
# One Celery message carries the IDs of a transaction's rows (up to this many a message).
BATCH_SIZE = 100

# Named transient errors of the e-mail backend: retried with backoff.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (smtplib.SMTPException, ConnectionError, OSError, TimeoutError)
# Permanent: the server refused the address; retrying cannot help.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (smtplib.SMTPRecipientsRefused,)


@dataclass
class Draft:
    """A notification to write."""

    recipient_id: int
    event: str
    message: str
    category: str
    params: dict[str, Any]
    dedupe_key: str
    application_id: Any = None
    subject_type: str = ""
    subject_id: str = ""


# --- writing (inside the caller's transaction) ---------------------------------------------


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def application_params(application: Any) -> dict[str, Any]:
    return {
        "application": str(application.pk),
        "reference": application.reference or "",
        "title": application.title,
        "call": application.call.code,
        "organisation": application.organisation.name,
    }


def subject_params(subject: Any) -> dict[str, Any]:
    if isinstance(subject, OpinionRequest):
        country = subject.country
        return {
            "authority": subject.authority,
            "country_fr": country.name_fr if country else "",
            "country_en": country.name_en if country else "",
            "region": subject.region.name if subject.region_id else "",
            "due_at": _iso(subject.due_at),
        }
    if isinstance(subject, Review):
        reviewer = subject.reviewer
        return {"reviewer": reviewer.get_full_name() or reviewer.get_username()}
    if isinstance(subject, Decision):
        params: dict[str, Any] = {
            "outcome": subject.outcome,
            "decision_id": subject.pk,
            "commitment_number": subject.commitment_number,
        }
        if subject.outcome == Decision.Outcome.APPROVED:
            params["amount"] = f"{subject.amount:f}"
            params["approved"] = "1"
        document = Document.objects.filter(decision=subject).values("pk", "verification_code").first()
        if document:
            params["document_id"] = document["pk"]
            params["verification_code"] = document["verification_code"]
        # The evaluation summary delivered with the letter (grants.documents.issuing).
        summary = (
            Document.objects.filter(application_id=subject.application_id, kind=Document.Kind.EVALUATION_SUMMARY)
            .values_list("verification_code", flat=True)
            .first()
        )
        if summary:
            params["summary_code"] = summary
        return params
    return postaward_params(subject)


def postaward_params(subject: Any) -> dict[str, Any]:
    """A payment's, a report's or an amendment's facts (grants.postaward)."""
    from grants.machines.postaward import explain
    from grants.postaward import Amendment, Payment, Report

    if isinstance(subject, Payment):
        recovery = subject.kind == Payment.Kind.RECOVERY
        return {
            "number": subject.number,
            "amount": f"{abs(subject.amount):f}",
            "paid_on": _iso(subject.paid_on),
            "explanation": explain(subject),
            "recovery": "1" if recovery else "",
            "tranche": "" if recovery else "1",
        }
    if isinstance(subject, Report):
        final = subject.kind == Report.Kind.FINAL
        return {
            "number": subject.number,
            "final": "1" if final else "",
            "interim": "" if final else "1",
            "due_date": _iso(subject.due_on),
            "message": subject.return_message,
        }
    if isinstance(subject, Amendment):
        return {"number": subject.number, "reason": subject.decision_reason or subject.reason}
    return {}


def event_params(
    event: str, *, application: Any, subject: Any, extra: dict[str, Any], now: dt.datetime
) -> dict[str, Any]:
    """The facts a message needs, frozen now (user text included, escaped at rendering)."""
    params = application_params(application)
    params.update(subject_params(subject))
    if event in ("submitted", "resubmitted"):
        params["submitted_at"] = now.isoformat()
    elif event == "completion_requested":
        params["message"] = application.completion_message
        params["due_date"] = _iso(application.completion_due)
    elif event in ("ineligible", "review_conflict"):
        params["reason"] = str(extra.get("reason", ""))
    elif event == "opinions_closed":
        counts = dict(
            OpinionRequest.objects.filter(application=application)
            .values_list("state")
            .annotate(n=Count("pk"))
            .values_list("state", "n")
        )
        params["given"] = counts.get(OpinionRequest.State.GIVEN, 0)
        params["expired"] = counts.get(OpinionRequest.State.EXPIRED, 0)
    elif event == "decision_renounced":
        params["reason"] = str(extra.get("reason", ""))
    elif event == "scheduled":
        session = application.session
        params["session_date"] = _iso(session.date) if session is not None else ""
    elif event == "call_extended":
        params["closes_at"] = _iso(extra.get("closes_at"))
    return params


def _audience(route_audience: str, directory: Directory, application: Any, subject: Any) -> set[int]:
    if route_audience == APPLICANTS:
        found: set[int] = set()
        for organisation_id in applicant_organisations(application):
            found |= directory.members(Role.APPLICANT, organisation_id=organisation_id)
        return found
    if route_audience == AUTHORITY and isinstance(subject, OpinionRequest):
        return directory.members(subject.authority, country_id=subject.country_id, region_id=subject.region_id)
    if route_audience == REVIEWER and isinstance(subject, Review):
        return {subject.reviewer_id} if subject.reviewer.is_active else set()
    role = AUDIENCE_ROLES.get(route_audience)
    return directory.members(role, call_id=application.call_id) if role else set()


def record_event(event: str, *, application: Any, subject: Any, actor: Any, extra: dict[str, Any]) -> list[int]:
    """Write the notifications of ``event`` (inside the caller's transaction)."""
    routes = ROUTES.get(event)
    if not routes:
        log.warning("notifications: no route for event %r", event)
        return []
    now = timezone.now()
    params = event_params(event, application=application, subject=subject, extra=extra, now=now)
    roles = {Role.APPLICANT} | {AUDIENCE_ROLES[r.audience] for r in routes if r.audience in AUDIENCE_ROLES}
    if isinstance(subject, OpinionRequest):
        roles.add(subject.authority)
    # The grants, with each grantee's e-mail and preferences: one query.
    directory = _directory(
        roles,
        organisation_ids=applicant_organisations(application),
        country_ids=[getattr(subject, "country_id", None)],
        region_ids=[getattr(subject, "region_id", None)],
    )
    # The transition's own log entry (just appended, under the application's lock) makes
    # the key: one event occurrence, whatever replays it.
    anchor = extra.get("anchor") or (  # an event of the call (issue 15) brings its own log entry
        TransitionLog.objects.filter(application=application).order_by("-pk").values_list("pk", flat=True).first()
    )
    subject_type = subject._meta.label_lower if subject is not None else ""
    subject_id = str(subject.pk) if subject is not None else ""
    actor_id = getattr(actor, "pk", None)
    drafts: list[Draft] = []
    seen: set[tuple[str, int]] = set()
    for route in routes:
        if route.when and not params.get(route.when):
            continue
        code = message_for(route, params)
        users = _audience(route.audience, directory, application, subject)
        if not route.include_actor and actor_id is not None:
            users.discard(actor_id)
        for user_id in sorted(users):
            if (code, user_id) in seen:
                continue
            seen.add((code, user_id))
            drafts.append(
                Draft(
                    recipient_id=user_id,
                    event=event,
                    message=code,
                    category=MESSAGES[code].category,
                    params=params,
                    dedupe_key=f"{event}:{anchor}:{subject_type}:{subject_id}:{code}:{user_id}",
                    application_id=application.pk,
                    subject_type=subject_type,
                    subject_id=subject_id,
                )
            )
    return create(drafts, known=directory.extra)


def email_state(*, email: str, category: str, mode: str | None) -> str:
    if not email:
        return E.SKIPPED
    if category in LOCKED_CATEGORIES or mode in (None, Mode.IMMEDIATE):
        return E.PENDING
    return E.DIGEST if mode == Mode.DIGEST else E.SKIPPED


NOTIFICATION_COLUMNS = (
    "recipient",
    "event",
    "message",
    "category",
    "application",
    "subject_type",
    "subject_id",
    "params",
    "dedupe_key",
    "created_at",
    "email_state",
    "attempts",
    "next_attempt_at",
    "last_error",
)


@cache
def _preferences_array() -> str:
    """Each grantee's preferences as an array of {category, mode} (PostgreSQL), on the
    grants' rows of ``Directory.load`` (its table is the query's, unaliased). Written
    once: an ``ArraySubquery(JSONObject(…))`` compiled the same subquery for each event
    (0.6 ms of a submission's Python)."""
    qn = connection.ops.quote_name

    def column(model: type[Model], name: str) -> str:
        field = model._meta.get_field(name)
        assert isinstance(field, Field) and field.column, (model, name)
        return qn(field.column)

    category, mode, user = (column(Preference, name) for name in ("category", "mode", "user"))
    return (
        f"ARRAY(SELECT jsonb_build_object('category', p.{category}, 'mode', p.{mode}) "  # noqa: S608
        f"FROM {qn(Preference._meta.db_table)} p "
        f"WHERE p.{user} = {qn(RoleGrant._meta.db_table)}.{column(RoleGrant, 'user')})"
    )


# What ``create`` needs of a recipient, read with the audience's grants
# (``Directory.load(extra=…)``): the e-mail address and, on PostgreSQL, every preference
# (an array subquery; the embedded SQLite reads the preferences in a query of their own).
def recipient_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {"email": F("user__email")}
    if connection.vendor == "postgresql":
        facts["preferences"] = RawSQL(_preferences_array(), (), output_field=ArrayField(JSONField()))  # noqa: S611
    return facts


def _directory(
    roles: set[str], *, organisation_ids: list[Any], country_ids: list[Any], region_ids: list[Any]
) -> Directory:
    """The audience's grants with each grantee's ``recipient_facts()``: on PostgreSQL one
    statement written once (``audiences.load_scoped``), elsewhere the ORM's query."""
    scope = {"organisation_ids": organisation_ids, "country_ids": country_ids, "region_ids": region_ids}
    if connection.vendor != "postgresql":
        return Directory.load(scope_query(roles, **scope), extra=recipient_facts())
    return load_scoped(roles, **scope, extra=_facts_sql(), decode={"preferences": _decode_preferences})


@cache
def _facts_sql() -> dict[str, str]:
    """``recipient_facts()`` as SQL on the grants' rows (PostgreSQL)."""
    qn = connection.ops.quote_name
    user = get_user_model()
    email = user._meta.get_field("email")
    assert isinstance(email, Field) and email.column
    return {"email": f"{qn(user._meta.db_table)}.{qn(email.column)}", "preferences": _preferences_array()}


def _decode_preferences(value: Any) -> list[Any] | None:
    # What the ORM's ArrayField(JSONField()) gives: each jsonb decoded (Django's
    # connection leaves json undecoded).
    if value is None:
        return None
    return [json.loads(item) if isinstance(item, str) else item for item in value]


def _recipients(
    user_ids: Sequence[int], known: dict[int, dict[str, Any]] | None
) -> tuple[dict[int, str], dict[tuple[int, str], str]]:
    """The recipients' e-mails and (user, category) modes: from ``known`` (the audience's
    query, ``recipient_facts()``) when given, read for the others."""
    known = known or {}
    emails: dict[int, str] = {}
    modes: dict[tuple[int, str], str] = {}
    preferences_to_read = []
    for user_id in user_ids:
        if user_id in known:
            emails[user_id] = known[user_id]["email"]
            if "preferences" not in known[user_id]:  # not read with the grants (SQLite)
                preferences_to_read.append(user_id)
            for pair in known[user_id].get("preferences") or ():
                modes[(user_id, pair["category"])] = pair["mode"]
    missing = [user_id for user_id in user_ids if user_id not in known]
    if missing:
        emails.update(get_user_model().objects.filter(pk__in=missing).values_list("pk", "email"))
    if missing or preferences_to_read:
        for user_id, category, mode in Preference.objects.filter(user_id__in=missing + preferences_to_read).values_list(
            "user_id", "category", "mode"
        ):
            modes[(user_id, category)] = mode
    return emails, modes


def create(drafts: Sequence[Draft], *, known: dict[int, dict[str, Any]] | None = None) -> list[int]:
    """Insert the rows (a replayed key is skipped) and send the immediate e-mails after
    commit. Must run inside a transaction: the rows share the caller's fate. Returns
    the IDs of the rows this call inserted. ``known``: the recipients' ``recipient_facts()``
    already read (by user ID), so as not to read them again."""
    if not drafts:
        return []
    now = timezone.now()
    user_ids = sorted({d.recipient_id for d in drafts})
    emails, modes = _recipients(user_ids, known)
    rows = [
        (
            d.recipient_id,
            d.event,
            d.message,
            str(d.category),
            d.application_id,
            d.subject_type,
            d.subject_id,
            d.params,
            d.dedupe_key,
            now,
            email_state(
                email=emails.get(d.recipient_id) or "",
                category=d.category,
                mode=modes.get((d.recipient_id, d.category)),
            ),
            0,
            now,
            "",
        )
        for d in sorted(drafts, key=lambda d: d.dedupe_key)  # one lock order for concurrent writers
    ]
    inserted = sql.insert_returning(Notification, NOTIFICATION_COLUMNS, rows, returning=("id", "email_state"))
    ids = sorted(pk for pk, state in inserted if state == E.PENDING)
    if ids:
        transaction.on_commit(partial(enqueue, ids))
    return [pk for pk, _state in inserted]


def enqueue(ids: Sequence[int]) -> int:
    """Hand the rows to Celery (after commit): one message for a transaction's rows (a
    batch of IDs, each delivered on its own by ``deliver_many``). Never raises: when the
    broker is down the rows stay pending and the relay sends them."""
    from notifications import tasks

    messages = 0
    try:
        for start in range(0, len(ids), BATCH_SIZE):
            tasks.send_notifications.apply_async((list(ids[start : start + BATCH_SIZE]),), retry=False)
            messages += 1
    except Exception as exc:  # kombu OperationalError, redis ConnectionError, OSError…
        log.warning("notifications: broker unavailable (%s); the relay will send %d row(s)", exc, len(ids))
    return messages


# --- sending ------------------------------------------------------------------------------


def language_of(user_id: int) -> str:
    language = NotificationSettings.objects.filter(user_id=user_id).values_list("language", flat=True).first()
    return language or "fr"


APPLICANT_MESSAGES = frozenset(
    {
        "receipt",
        "resubmitted_receipt",
        "completion_requested",
        "eligible",
        "ineligible",
        "withdrawn",
        "reinstated",
        "decision_delivered_approved",
        "decision_delivered_rejected",
        "draft_reminder",
    }
)


def _first_path(candidates: Iterable[tuple[str, dict[str, Any]]]) -> str:
    for name, kwargs in candidates:
        if all(v not in (None, "") for v in kwargs.values()):
            try:
                return reverse(name, kwargs=kwargs)
            except NoReverseMatch:
                continue
    return "/"


def target_path(notification: Notification, roles: Iterable[str] = ()) -> str:
    """Where opening a notification leads the reader (holding ``roles``): its work page
    when there is one (the opinion, the review, the signature or finance list), else
    the application. Built from IDs and URL names only, never from user text."""
    app_id = notification.application_id
    if app_id is None:
        return "/"
    params = notification.params or {}
    roles = set(roles)
    kind = params.get("task_kind")
    subject_id = notification.subject_id if notification.subject_type != "workflows.task" else ""
    subject_id = subject_id or str(params.get("task_subject_id") or "")
    if notification.message in APPLICANT_MESSAGES or params.get("queue_role") == Role.APPLICANT:
        candidates: list[tuple[str, dict[str, Any]]] = []
        if notification.message.startswith("decision_delivered_"):
            candidates.append(("applicant-document", {"pk": app_id, "document_id": params.get("document_id")}))
        candidates.append(("applicant-application", {"pk": app_id}))
        return _first_path(candidates)
    candidates = []
    if roles & {Role.EMBASSY, Role.PREFECTURE, Role.PARTNER} and (
        notification.subject_type == "grants.opinionrequest" or kind in ("give_opinion", "validate_project")
    ):
        candidates.append(("opinion", {"opinion_id": subject_id}))
    if Role.REVIEWER in roles and (notification.subject_type == "grants.review" or kind == "review"):
        candidates.append(("review", {"review_id": subject_id}))
    if Role.SIGNATORY in roles and (notification.message == "decision_to_sign" or kind == "sign_decision"):
        candidates.append(("signatory", {}))
    if Role.FINANCE in roles and (notification.message == "decision_delivered_finance" or kind == "record_commitment"):
        candidates.append(("finance", {}))
    candidates.append(("staff-application", {"application_id": app_id}))
    return _first_path(candidates)


def open_url(notification: Notification) -> str:
    return settings.SITE_URL + reverse("notifications:open", args=[notification.pk])


def _safe_filename(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "document"


def _attachment(notification: Notification) -> tuple[str, bytes] | None:
    """The signed decision PDF for finance, when the document is stored."""
    decision_id = (notification.params or {}).get("decision_id")
    if notification.message != "decision_delivered_finance" or not decision_id:
        return None
    document = Document.objects.filter(decision_id=decision_id).first()
    if document is None or not document.file:
        return None
    try:
        with document.file.open("rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        log.error("notifications: document %s has no file; sending without attachment", document.pk)
        return None
    return f"{_safe_filename(document.reference)}.pdf", content


def build_email(notification: Notification) -> EmailMultiAlternatives:
    attachment = _attachment(notification)
    params = dict(notification.params or {})
    params["document"] = "1" if attachment else ""
    rendered = rendering.render(
        notification.message,
        params,
        language=language_of(notification.recipient_id),
        url=open_url(notification),
    )
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient.email],
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
    )
    email.attach_alternative(rendered.html, "text/html")
    if attachment:
        email.attach(attachment[0], attachment[1], "application/pdf")
    return email


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


def _send_locked(notification: Notification, now: dt.datetime) -> str:
    """Send one locked pending row and record the outcome on it."""
    if not notification.recipient.email or not notification.recipient.is_active:
        notification.email_state = E.SKIPPED
        notification.save(update_fields=["email_state"])
        return "skipped"
    notification.attempts += 1
    fields = ["attempts", "email_state", "last_error", "next_attempt_at", "sent_at"]
    try:
        build_email(notification).send(fail_silently=False)
    except PERMANENT_ERRORS as exc:
        notification.email_state = E.FAILED
        notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        log.warning("notifications: %s refused for good: %s", notification.pk, exc)
        result = "failed"
    except TRANSIENT_ERRORS as exc:
        notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if notification.attempts >= MAX_ATTEMPTS:
            notification.email_state = E.FAILED
            result = "failed"
            log.error("notifications: %s failed after %d attempts: %s", notification.pk, notification.attempts, exc)
        else:
            notification.next_attempt_at = now + _backoff(notification.attempts)
            result = "retry"
            log.info("notifications: %s will be retried at %s: %s", notification.pk, notification.next_attempt_at, exc)
    except Exception as exc:  # a bug (template, data): retrying would not help
        notification.email_state = E.FAILED
        notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        log.exception("notifications: %s could not be built or sent", notification.pk)
        result = "failed"
    else:
        notification.email_state = E.SENT
        notification.sent_at = now
        notification.last_error = ""
        result = "sent"
    notification.save(update_fields=fields)
    return result


def _lockable() -> Any:
    # Lock only the notification row (the user row is only read).
    return Notification.objects.select_for_update(skip_locked=True, of=("self",)).select_related("recipient")


def deliver(notification_id: int, *, now: dt.datetime | None = None) -> str:
    """Send one notification if it is still pending and due. Safe to run any number of
    times, concurrently: the row lock (SKIP LOCKED) and its state decide who sends."""
    now = now or timezone.now()
    with transaction.atomic():
        notification = _lockable().filter(pk=notification_id, email_state=E.PENDING).first()
        if notification is None:
            return "skipped"  # sent, failed, not e-mailed, or being sent right now
        if notification.next_attempt_at > now:
            return "not_due"  # a backoff is running: the relay will try at next_attempt_at
        return _send_locked(notification, now)


def deliver_many(ids: Iterable[int], *, now: dt.datetime | None = None) -> int:
    """Deliver each row on its own (its own lock and transaction): one that fails
    unexpectedly (its transaction rolled back, the row still pending for the relay) does
    not keep the others from being sent. Returns how many were sent."""
    sent = 0
    for notification_id in ids:
        try:
            if deliver(notification_id, now=now) == "sent":
                sent += 1
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: the relay sends the rest
        except Exception:
            log.exception("notifications: %s could not be delivered; the relay will retry it", notification_id)
    return sent


def relay(*, now: dt.datetime | None = None, limit: int = 1000, budget_seconds: float = RELAY_BUDGET_SECONDS) -> int:
    """Send what is pending and due, one row per short transaction, each row claimed
    with ``SELECT … FOR UPDATE SKIP LOCKED`` (served by notification_outbox_due) so that
    several relays and the after-commit tasks never send one row twice."""
    now = now or timezone.now()
    started = time.monotonic()
    sent = 0
    for _ in range(limit):
        if time.monotonic() - started > budget_seconds:
            break
        with transaction.atomic():
            notification = (
                _lockable()
                .filter(email_state=E.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at", "id")
                .first()
            )
            if notification is None:
                break
            if _send_locked(notification, now) == "sent":
                sent += 1
    return sent


def retry_failed(ids: Iterable[int]) -> int:
    """Put failed rows back in the outbox (an operator's action after fixing the cause)."""
    return Notification.objects.filter(pk__in=list(ids), email_state=E.FAILED).update(
        email_state=E.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
