"""The decision's machine: signed by the delegate, delivered once its letter is stored,
recorded by finance with the legal commitment's number (approvals only)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.machines.payload import text
from grants.models import Decision, Role
from workflows import tasks_service
from workflows.engine import Context, Field, Invalid, Spec
from workflows.models import TaskKind
from workflows.registry import publish

SYSTEM = "system"


def _sign_effects(decision: Decision, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.SIGN_DECISION, subject=decision)
    publish("decision_signed", application=ctx.application, subject=decision, actor=ctx.user)
    ctx.enqueue("decision_letter", decision.pk)


def _deliver_effects(decision: Decision, cleaned: dict[str, Any], ctx: Context) -> None:
    if decision.outcome == Decision.Outcome.APPROVED:
        tasks_service.open_task(
            kind=TaskKind.RECORD_COMMITMENT,
            application=ctx.application,
            subject=decision,
            queue_role=Role.FINANCE,
            scope_call=ctx.application.call,
            due_at=ctx.now + dt.timedelta(days=14),
        )
    publish("decision_delivered", application=ctx.application, subject=decision)


COMMITMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


def _record_validate(payload: dict[str, Any], decision: Decision) -> dict[str, Any]:
    number = text(payload, "commitment_number", required=True, max_length=64)
    if not COMMITMENT_RE.match(number):
        raise Invalid(
            errors={"commitment_number": [_("Numéro d'engagement invalide : lettres, chiffres et . _ / - uniquement.")]}
        )
    return {"commitment_number": number}


def _record_guard(decision: Decision, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    if decision.outcome != Decision.Outcome.APPROVED:
        return [_("Un engagement ne s'enregistre que pour une décision attributive : cette décision est un rejet.")]
    return []


def _record_effects(decision: Decision, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.RECORD_COMMITMENT, subject=decision)
    publish("decision_recorded", application=ctx.application, subject=decision, actor=ctx.user)
    # The grant's life begins: its payments and reports (grants.machines.postaward).
    from grants.machines.postaward import on_commitment

    on_commitment(decision, ctx)


DECISION_SIGN = Spec(
    Decision,
    "sign",
    (Role.SIGNATORY,),
    gettext_lazy("Signer"),
    fsm_kwargs=lambda c, ctx: {"user": ctx.user},
    effects=_sign_effects,
    history_label=gettext_lazy("Décision signée"),
    confirm=gettext_lazy("La signature est définitive : la lettre sera générée puis notifiée. Signer ?"),
)
DECISION_DELIVER = Spec(
    Decision,
    "deliver",
    (SYSTEM,),
    gettext_lazy("Notifier"),
    effects=_deliver_effects,
    history_label=gettext_lazy("Décision notifiée"),
    public=True,
)
DECISION_RECORD = Spec(
    Decision,
    "record",
    (Role.FINANCE,),
    gettext_lazy("Enregistrer l'engagement"),
    validate=_record_validate,
    guard=_record_guard,
    fsm_kwargs=lambda c, ctx: dict(c),
    effects=_record_effects,
    history_label=gettext_lazy("Engagement enregistré"),
    fields=(
        Field(
            "commitment_number",
            "text",
            gettext_lazy("Numéro d'engagement juridique"),
            gettext_lazy("Lettres, chiffres et . _ / - ; par ex. EJ-2026-0042."),
            required=True,
        ),
    ),
)

SPECS = (DECISION_SIGN, DECISION_DELIVER, DECISION_RECORD)
