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

import hashlib
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

from workflows import registry
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
    # The hash of the root's last log entry, when a guard read it under the root's row
    # lock (submit reads it with the dossier): the entry appended follows it unread.
    chain_head: str | None = None
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def enqueue(self, job: str, *args: Any) -> None:
        """Ask for a registered background job, sent once the transaction commits."""
        self.after_commit.append(lambda: registry.run_job(job, *args))


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
class Field:
    """One payload field of a Spec: what the web form shows and the API documents."""

    name: str
    kind: str = "text"  # text | longtext | date | amount | session | reviewer
    label: Any = ""
    help: Any = ""
    required: bool = False


Apply = Callable[[Any, dict[str, Any], "Context"], Any]


@dataclass(frozen=True)
class Spec:
    """How the service runs one transition of one machine (``fsm=True``), or one write
    that is not a transition of the subject's machine (``fsm=False``: ``apply`` does it,
    allowed while the root is in ``states``). Everything the screens, the API and the
    history need to know of it is declared here, once."""

    model: type[Any]
    name: str
    roles: tuple[str, ...]
    label: Any = ""  # the action's label (a lazily translated string)
    validate: Validator = _no_payload
    guard: Guard = _no_guard
    # Keyword arguments for the django-fsm method, from the cleaned payload.
    fsm_kwargs: Callable[[dict[str, Any], Context], dict[str, Any]] = lambda cleaned, ctx: {}
    effects: Effect = _no_effect
    comment_field: str | None = None
    # The catalogue: what a history entry of this action says, and to whom.
    history_label: Any = ""
    public: bool = False  # an applicant's timeline shows it
    public_label: Any = ""  # the applicant's wording, when not the history label
    internal_comment: bool = False  # the comment is the delegation's own note
    fields: tuple[Field, ...] = ()
    confirm: Any = ""  # asked before an irreversible act ("" = none)
    fsm: bool = True
    apply: Apply | None = None
    states: tuple[str, ...] | None = None  # fsm=False: the root's states it is allowed in
    refusal: Any = ""  # what a refusal in the wrong state says ("" = the generic message)
    # fsm=True: what runs after the django-fsm method and before the row is saved (submit
    # numbers the reference there, so that the state and the reference are one UPDATE).
    prepare: Effect = _no_effect
    # fsm=True: the columns the transition writes besides ``state`` (and
    # ``state_changed_at``): the row is saved with one UPDATE of those only. None: every
    # column (a full save).
    update_fields: tuple[str, ...] | None = None

    @property
    def subject_type(self) -> str:
        return str(self.model._meta.label_lower)

    @property
    def entry_label(self) -> Any:
        return self.history_label or self.label or self.name


_MISSING = (ValueError, TypeError, DjangoValidationError, models.ObjectDoesNotExist)  # unknown or malformed ids


def _lock(spec: Spec, pk: Any) -> tuple[Any, Any]:
    """Lock the root row (the application), then the subject row. Raises NotFound."""
    return lock_root(spec.model, pk)


def lock_root(model: type[Any], pk: Any) -> tuple[Any, Any]:
    """The locks of a transition on ``model`` ``pk``: (subject, root). Raises NotFound."""
    try:
        return registry.domain().lock(model, pk)
    except _MISSING:
        raise NotFound(_("Introuvable.")) from None


def json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, bytes):
        # A file's content (a report's narrative): the log keeps its fingerprint.
        return f"sha256:{hashlib.sha256(value).hexdigest()}"
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
    prev_hash: str | None = None,
) -> TransitionLog:
    """Append one entry to the application's hash chain (the caller holds its row lock,
    so no other entry of this chain can be written concurrently). ``prev_hash``: the
    chain's last hash, when the caller read it under that lock (else it is read here)."""
    prev = prev_hash
    if prev is None:
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


def _state_ok(spec: Spec, subject: Any, root: Any) -> bool:
    if spec.fsm:
        return bool(can_proceed(getattr(subject, spec.name), check_conditions=False))
    return spec.states is None or getattr(root if root is not None else subject, "state", None) in spec.states


def _state_refusal(spec: Spec, subject: Any, root: Any) -> Conflict:
    holder = subject if spec.fsm or root is None else root
    source = getattr(holder, "state", "")
    choices = holder._meta.get_field("state").choices
    state_label = dict(choices).get(source, source) if choices else source
    template = (
        str(spec.refusal)
        if spec.refusal
        else _("L'action « %(action)s » n'est pas possible dans l'état « %(state)s ».")
    )
    return Conflict(template % {"action": spec.label or spec.name, "state": state_label})


def check(spec: Spec, subject: Any, user: Any) -> tuple[str | None, list[str]]:
    """Whether ``user`` may fire ``spec`` on ``subject`` now, without payload: returns
    (role or None, unmet reasons). The one source of every button, of
    ``available_transitions`` and ``blocked_transitions``."""
    domain = registry.domain()
    root = domain.root_of(subject)
    role = domain.role_for(user, spec.roles, subject, root)
    if role is None:
        return None, [_("Vous n'avez pas le droit de faire cette action.")]
    if not _state_ok(spec, subject, root):
        return role, [_("Action impossible dans l'état actuel du dossier.")]
    ctx = Context(user=user, role=role, now=timezone.now(), application=root)
    try:
        return role, [str(r) for r in spec.guard(subject, {}, ctx)]
    except Invalid:
        return role, []  # only the payload is missing: the action is available


def offered(spec: Spec, subject: Any, user: Any) -> bool:
    """Whether the action is offered to ``user`` now (in scope and in the right state),
    even if some condition is still unmet."""
    domain = registry.domain()
    root = domain.root_of(subject)
    return domain.role_for(user, spec.roles, subject, root) is not None and _state_ok(spec, subject, root)


def available(spec: Spec, subject: Any, user: Any) -> bool:
    role, reasons = check(spec, subject, user)
    return role is not None and not reasons


def _is_yes(value: Any) -> bool:
    """Whether an answer ticks a confirmation (a web checkbox posts "1" or "on"; JSON true)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "on", "yes", "y"}


def confirmation_refusal(spec: Spec, payload: dict[str, Any]) -> dict[str, list[str]]:
    """The ``confirm`` error of a payload, if any. A Spec with ``confirm`` asks it before an
    irreversible act: a caller that shows the question (the web forms always do) passes
    the answer as ``confirm``, which must then be yes; a caller that does not show it (a
    system sweep, an API client following the contract's bodies) leaves the key out."""
    if not spec.confirm or "confirm" not in payload or _is_yes(payload["confirm"]):
        return {}
    return {"confirm": [_("Cette confirmation est requise pour continuer.")]}


def fire(spec: Spec, pk: Any, *, user: Any, payload: dict[str, Any] | None = None) -> Any:
    """Run one transition (or one ``fsm=False`` write). ``user=None`` is the system
    (sweeps, automatic transitions). ``payload["confirm"]``: the answer to the Spec's
    confirmation, when the caller asked it (see ``confirmation_refusal``)."""
    payload = dict(payload or {})
    confirmed = bool(spec.confirm) and "confirm" in payload and _is_yes(payload["confirm"])
    refusal = confirmation_refusal(spec, payload)
    payload.pop("confirm", None)
    domain = registry.domain()
    with transaction.atomic():
        subject, root = _lock(spec, pk)
        if user is not None and not domain.can_view(user, subject, root):
            raise NotFound(_("Introuvable."))
        role = domain.role_for(user, spec.roles, subject, root)
        if role is None:
            raise Forbidden(_("Vous n'avez pas le droit de faire cette action."))
        if not _state_ok(spec, subject, root):
            raise _state_refusal(spec, subject, root)
        try:
            cleaned = spec.validate(payload, subject)
        except Invalid as error:
            if refusal:  # every payload error at once: the fields and the confirmation
                raise Invalid(error.message, errors={**error.errors, **refusal}) from None
            raise
        if refusal:
            raise Invalid(_("Données invalides."), errors=refusal)
        ctx = Context(user=user, role=role, now=timezone.now(), application=root)
        reasons = spec.guard(subject, cleaned, ctx)
        if reasons:
            raise Conflict(_("Conditions non remplies."), unmet=[str(r) for r in reasons])
        if not spec.fsm:
            assert spec.apply is not None, spec
            result = spec.apply(subject, cleaned, ctx)
            spec.effects(subject, cleaned, ctx)
            for callback in ctx.after_commit:
                transaction.on_commit(callback)
            return result
        method = getattr(subject, spec.name)
        source = subject.state
        method(**spec.fsm_kwargs(cleaned, ctx))
        target = subject.state
        spec.prepare(subject, cleaned, ctx)
        update_fields: set[str] | None = None
        if spec.update_fields is not None:
            update_fields = {"state", *spec.update_fields}
        if hasattr(subject, "state_changed_at"):
            subject.state_changed_at = ctx.now
            if update_fields is not None:
                update_fields.add("state_changed_at")
        try:
            subject.save(update_fields=update_fields)
        except ConcurrentTransition:
            raise Conflict(
                _("Le dossier a été modifié en même temps par quelqu'un d'autre. Rechargez la page.")
            ) from None
        ctx.log = append_log(
            subject=subject,
            application=root,
            transition=spec.name,
            source=source,
            target=target,
            user=user,
            role=role,
            comment=str(cleaned.get(spec.comment_field, "")) if spec.comment_field else "",
            # A confirmation given (the sworn statement, the signature's) is kept in the chain.
            payload={
                **{k: v for k, v in cleaned.items() if k != spec.comment_field},
                **({"confirmed": True} if confirmed else {}),
            },
            at=ctx.now,
            prev_hash=ctx.chain_head if root is not None else None,
        )
        spec.effects(subject, cleaned, ctx)
        for callback in ctx.after_commit:
            transaction.on_commit(callback)
    return subject
