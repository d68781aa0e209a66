"""The committee session's machine (planned → open → closed) and its creation, a write
run by the engine on the call's row."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.evaluation import freeze_ranking
from grants.machines.payload import parse_date, text
from grants.models import Application, Call, CommitteeSession, Role
from workflows.engine import Context, Field, Invalid, Spec, append_log


def _create_validate(payload: dict[str, Any], call: Call) -> dict[str, Any]:
    raw = payload.get("date")
    if raw in (None, ""):
        raise Invalid(errors={"date": [_("Indiquez la date du comité.")]})
    day = raw if isinstance(raw, dt.date) else parse_date(raw, "date")
    return {"date": day, "title": text(payload, "title", required=False, max_length=200)}


def _create_apply(call: Call, cleaned: dict[str, Any], ctx: Context) -> CommitteeSession:
    session = CommitteeSession.objects.create(call=call, date=cleaned["date"], title=cleaned["title"])
    ctx.log = append_log(
        subject=session,
        application=None,
        transition="create",
        source="",
        target=session.state,
        user=ctx.user,
        role=ctx.role,
        at=ctx.now,
    )
    return session


def _close_guard(session: CommitteeSession, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    pending = list(
        session.applications.filter(state=Application.State.IN_COMMITTEE)
        .order_by("reference")
        .values_list("reference", flat=True)
    )
    if pending:
        return [
            _("Des dossiers inscrits n'ont pas encore de décision : %(list)s.")
            % {"list": ", ".join(str(r) for r in pending)}
        ]
    return []


def _close_effects(session: CommitteeSession, cleaned: dict[str, Any], ctx: Context) -> None:
    # The ranking goes into the minutes as it stands at the close (grants.evaluation).
    freeze_ranking(session, at=ctx.now)


SESSION_CREATE = Spec(
    Call,
    "create_session",
    (Role.SECRETARY, Role.ADMIN),
    gettext_lazy("Créer un comité"),
    validate=_create_validate,
    fsm=False,
    apply=_create_apply,
    states=(Call.State.PUBLISHED, Call.State.CLOSED),
    fields=(
        Field("date", "date", gettext_lazy("Date du comité"), required=True),
        Field("title", "text", gettext_lazy("Intitulé")),
    ),
)
SESSION_CREATED = Spec(
    CommitteeSession, "create", (Role.SECRETARY,), history_label=gettext_lazy("Comité créé"), fsm=False
)
SESSION_OPEN = Spec(
    CommitteeSession,
    "open",
    (Role.SECRETARY,),
    gettext_lazy("Ouvrir la séance"),
    fsm_kwargs=lambda c, ctx: {"at": ctx.now},
    history_label=gettext_lazy("Séance ouverte"),
)
SESSION_CLOSE = Spec(
    CommitteeSession,
    "close",
    (Role.SECRETARY,),
    gettext_lazy("Clore la séance"),
    guard=_close_guard,
    effects=_close_effects,
    history_label=gettext_lazy("Séance close"),
    confirm=gettext_lazy("Une séance close ne peut plus recevoir de décision. Clore ?"),
)

SPECS = (SESSION_CREATE, SESSION_CREATED, SESSION_OPEN, SESSION_CLOSE)
