"""The opinion request's machine: an embassy's (or a prefecture's) opinion on a project,
and a joint fund's partner government's validation of it (authority ``partner``,
grants.machines.partner): one machine, the same verdicts, due dates and expiry."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.machines.payload import text
from grants.models import OpinionRequest, Role
from workflows import tasks_service
from workflows.engine import Context, Field, Invalid, Spec
from workflows.models import TaskKind
from workflows.registry import publish

SYSTEM = "system"
#: The task each request opens in its authority's queue (grants.machines.application,
#: grants.machines.partner): closed or cancelled with the request.
REQUEST_TASKS = (TaskKind.GIVE_OPINION, TaskKind.VALIDATE_PROJECT)


def _auto_close(ctx: Context) -> None:
    # The application's machine, one way: it closes the phase once no request is open.
    from grants.machines.application import auto_close_opinions

    auto_close_opinions(ctx.application)


def _give_validate(payload: dict[str, Any], request: OpinionRequest) -> dict[str, Any]:
    verdict = payload.get("verdict")
    if verdict not in OpinionRequest.Verdict.values:
        raise Invalid(errors={"verdict": [_("Choisissez un avis : favorable, réservé ou défavorable.")]})
    comment = text(payload, "comment", required=verdict != OpinionRequest.Verdict.FAVORABLE)
    return {"verdict": verdict, "comment": comment}


def _give_effects(request: OpinionRequest, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, *REQUEST_TASKS, subject=request)
    publish("opinion_given", application=ctx.application, subject=request, actor=ctx.user)
    _auto_close(ctx)


def _expire_effects(request: OpinionRequest, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.cancel_tasks(ctx.application, *REQUEST_TASKS, subject=request)
    # A partner government's expired validation: the project waits (grants.variants).
    expired = (
        "partner_validation_expired" if request.authority == OpinionRequest.Authority.PARTNER else "opinion_expired"
    )
    publish(expired, application=ctx.application, subject=request)
    _auto_close(ctx)


def _cancel_effects(request: OpinionRequest, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.cancel_tasks(ctx.application, *REQUEST_TASKS, subject=request)


GIVE_OPINION = Spec(
    OpinionRequest,
    "give",
    (Role.EMBASSY, Role.PREFECTURE, Role.PARTNER),
    gettext_lazy("Rendre l'avis"),
    validate=_give_validate,
    fsm_kwargs=lambda c, ctx: {**c, "user": ctx.user},
    effects=_give_effects,
    comment_field="comment",
    history_label=gettext_lazy("Avis rendu"),
    fields=(
        Field("verdict", "verdict", gettext_lazy("Avis"), required=True),
        Field(
            "comment",
            "longtext",
            gettext_lazy("Commentaire"),
            gettext_lazy("Obligatoire pour un avis réservé ou défavorable."),
        ),
    ),
)
EXPIRE_OPINION = Spec(
    OpinionRequest,
    "expire",
    (SYSTEM,),
    gettext_lazy("Avis non rendu"),
    effects=_expire_effects,
    history_label=gettext_lazy("Avis non rendu dans le délai"),
)
CANCEL_OPINION = Spec(
    OpinionRequest,
    "cancel",
    (SYSTEM,),
    gettext_lazy("Annuler la demande d'avis"),
    effects=_cancel_effects,
    history_label=gettext_lazy("Demande d'avis annulée"),
)

SPECS = (GIVE_OPINION, EXPIRE_OPINION, CANCEL_OPINION)
