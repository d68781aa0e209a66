"""The one transition service.

``fire`` performs any transition of any machine in a single database transaction:
lock the rows (application first, then the companion: one order everywhere, so two
transitions never deadlock), check visibility (404), role and scope (403), state (409),
payload (400) and conditions (409 with readable reasons), run the django-fsm
transition, save, append the hash-chained log entry, then the transition's effects
(tasks, related rows, outbox notifications). Celery work is only ever enqueued
``on_commit``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed

from workflows.models import GENESIS_HASH, TransitionLog


class TransitionError(Exception):
    """Base of the errors a caller maps to an HTTP status (api) or a message (web)."""

    status = 409

    def __init__(
        self, message: str = "", *, unmet: list[str] | None = None, errors: dict[str, list[str]] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.unmet = unmet or ([message] if message else [])
        self.errors = errors or {}


class NotFound(TransitionError):
    status = 404


class Forbidden(TransitionError):
    status = 403


class Conflict(TransitionError):
    status = 409


class Invalid(TransitionError):
    status = 400


@dataclass
class Context:
    user: Any
    role: str
    now: datetime
    application: Any
    log: TransitionLog | None = None
    after_commit: list[Callable[[], None]] = field(default_factory=list)


Validator = Callable[[dict[str, Any], Any], dict[str, Any]]
Guard = Callable[[Any, dict[str, Any], Context], list[str]]
Effect = Callable[[Any, dict[str, Any], Context], None]


def _no_payload(payload: dict[str, Any], subject: Any) -> dict[str, Any]:
    return {}


def _no_guard(subject: Any, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    return []


def _no_effect(subject: Any, cleaned: dict[str, Any], ctx: Context) -> None:
    return None


@dataclass(frozen=True)
class Spec:
    """How the service runs one transition of one machine."""

    model: type[Any]
    name: str
    roles: tuple[str, ...]
    label: Any = ""  # a lazily translated string
    validate: Validator = _no_payload
    guard: Guard = _no_guard
    # Keyword arguments for the django-fsm method, from the cleaned payload.
    fsm_kwargs: Callable[[dict[str, Any], Context], dict[str, Any]] = lambda cleaned, ctx: {}
    effects: Effect = _no_effect
    comment_field: str | None = None


def _application_of(subject: Any) -> Any:
    from grants.models import Application

    return subject if isinstance(subject, Application) else subject.application


_MISSING = (ValueError, DjangoValidationError, models.ObjectDoesNotExist)  # unknown or malformed ids


def lock_application(pk: Any) -> Any:
    """Lock an application row (the first lock of every write). Raises NotFound."""
    from grants.models import Application

    try:
        return Application.objects.select_for_update(of=("self",)).select_related("call").get(pk=pk)
    except _MISSING:
        raise NotFound(_("Introuvable.")) from None


def _lock(spec: Spec, pk: Any) -> tuple[Any, Any]:
    """Lock the application row, then the subject row. Raises NotFound."""
    from grants.models import Application

    if spec.model is Application:
        subject = lock_application(pk)
        return subject, subject
    try:
        application_id = spec.model._default_manager.filter(pk=pk).values_list("application_id", flat=True).get()
    except _MISSING:
        raise NotFound(_("Introuvable.")) from None
    application = lock_application(application_id)
    subject = spec.model._default_manager.select_for_update(of=("self",)).get(pk=pk)
    subject.application = application
    return subject, application


def json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, models.Model):
        return str(value.pk)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def append_log(
    *,
    subject: Any,
    application: Any,
    transition: str,
    source: str,
    target: str,
    user: Any,
    role: str,
    comment: str = "",
    payload: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TransitionLog:
    """Append one entry to the application's hash chain (the caller holds its row lock,
    so no other entry of this chain can be written concurrently)."""
    chain = (
        TransitionLog.objects.filter(application=application)
        if application is not None
        else (
            TransitionLog.objects.filter(
                application__isnull=True, subject_type=subject._meta.label_lower, subject_id=str(subject.pk)
            )
        )
    )
    prev = chain.order_by("-pk").values_list("hash", flat=True).first() or GENESIS_HASH
    entry = TransitionLog(
        application=application,
        subject_type=subject._meta.label_lower,
        subject_id=str(subject.pk),
        transition=transition,
        source=source,
        target=target,
        actor=user,
        actor_name=user.get_username() if user is not None else "",
        role=role,
        at=at or timezone.now(),
        comment=comment,
        payload=json_safe(payload or {}),
        prev_hash=prev,
    )
    # Round-trip the payload through JSON first so the hash covers what is stored.
    entry.hash = entry.compute_hash()
    entry.save(force_insert=True)
    return entry


def check(spec: Spec, subject: Any, user: Any) -> tuple[str | None, list[str]]:
    """Whether ``user`` may fire ``spec`` on ``subject`` now, without payload: returns
    (role or None, unmet reasons). Used for ``available_transitions`` and UI buttons."""
    from grants import policy

    application = _application_of(subject)
    role = policy.role_for(user, spec.roles, application, subject)
    if role is None:
        return None, [_("Vous n'avez pas le droit de faire cette action.")]
    method = getattr(subject, spec.name)
    if not can_proceed(method, check_conditions=False):
        return role, [_("Action impossible dans l'état actuel du dossier.")]
    ctx = Context(user=user, role=role, now=timezone.now(), application=application)
    try:
        return role, spec.guard(subject, {}, ctx)
    except Invalid:
        return role, []  # only the payload is missing: the action is available


def fire(spec: Spec, pk: Any, *, user: Any, payload: dict[str, Any] | None = None) -> Any:
    """Run one transition. ``user=None`` is the system (sweeps, automatic transitions)."""
    from grants import policy

    payload = payload or {}
    with transaction.atomic():
        subject, application = _lock(spec, pk)
        if user is not None and not policy.can_view(user, application):
            raise NotFound(_("Introuvable."))
        role = policy.role_for(user, spec.roles, application, subject)
        if role is None:
            raise Forbidden(_("Vous n'avez pas le droit de faire cette action."))
        method = getattr(subject, spec.name)
        state_field = "state"
        source = getattr(subject, state_field)
        if not can_proceed(method, check_conditions=False):
            label = subject._meta.get_field(state_field).choices
            state_label = dict(label).get(source, source) if label else source
            raise Conflict(
                _("L'action « %(action)s » n'est pas possible dans l'état « %(state)s ».")
                % {"action": spec.label or spec.name, "state": state_label}
            )
        cleaned = spec.validate(payload, subject)
        ctx = Context(user=user, role=role, now=timezone.now(), application=application)
        reasons = spec.guard(subject, cleaned, ctx)
        if reasons:
            raise Conflict(_("Conditions non remplies."), unmet=reasons)
        method(**spec.fsm_kwargs(cleaned, ctx))
        target = getattr(subject, state_field)
        if hasattr(subject, "state_changed_at"):
            subject.state_changed_at = ctx.now
        try:
            subject.save()
        except ConcurrentTransition:
            raise Conflict(
                _("Le dossier a été modifié en même temps par quelqu'un d'autre. Rechargez la page.")
            ) from None
        ctx.log = append_log(
            subject=subject,
            application=application,
            transition=spec.name,
            source=source,
            target=target,
            user=user,
            role=role,
            comment=str(cleaned.get(spec.comment_field, "")) if spec.comment_field else "",
            payload={k: v for k, v in cleaned.items() if k != spec.comment_field},
            at=ctx.now,
        )
        spec.effects(subject, cleaned, ctx)
        for callback in ctx.after_commit:
            transaction.on_commit(callback)
    return subject
