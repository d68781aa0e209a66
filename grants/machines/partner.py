"""Joint funds (grants.variants JOINT_FUND): asking the partner government to validate.

Not a transition of the application (it stays ``awaiting_opinions``): a write run by
the engine all the same, logged in the application's history. The system runs it once
the embassies' (and the prefecture's) requests are all closed; the instructor may run it
earlier, or again for a country whose request expired or was cancelled (relaunch). One
OpinionRequest of authority ``partner`` per project country, due after the call's
opinion deadline, with a ``validate_project`` task in the partner's queue of that
country; the partner gives its verdict through the opinion machine (``give``), and the
existing sweep reminds and expires it like an embassy's opinion.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.models import Application, Country, OpinionRequest, Role
from grants.variants import latest_partner_requests, variant_for
from workflows import tasks_service
from workflows.engine import Context, Spec, append_log
from workflows.models import TaskKind
from workflows.registry import publish

SYSTEM = "system"
#: A country's partner request still counts (is not to be asked again) in these states.
LIVE = (OpinionRequest.State.REQUESTED, OpinionRequest.State.GIVEN)


def countries_to_ask(application: Application, *, relaunch: bool) -> list[Country]:
    """The project countries whose partner government is to be asked now: those never
    asked (the system, at the end of the opinions), and also those whose latest request
    expired or was cancelled (``relaunch``, the instructor)."""
    latest = latest_partner_requests(application)
    result = []
    for country in application.countries.order_by("iso2"):
        request = latest.get(country.iso2)
        if request is None or (relaunch and request.state not in LIVE):
            result.append(country)
    return result


def _guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    if not variant_for(app.call).partner_validation:
        return [_("Cet appel n'est pas un fonds conjoint : aucun gouvernement partenaire ne valide ses projets.")]
    if not countries_to_ask(app, relaunch=ctx.role != SYSTEM):
        return [_("La validation du gouvernement partenaire est déjà demandée pour chaque pays du projet.")]
    return []


def _apply(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[OpinionRequest]:
    due = ctx.now + dt.timedelta(days=app.call.opinion_deadline_days)
    created = []
    for country in countries_to_ask(app, relaunch=ctx.role != SYSTEM):
        request = OpinionRequest.objects.create(
            application=app,
            call_id=app.call_id,
            authority=OpinionRequest.Authority.PARTNER,
            country=country,
            due_at=due,
            requested_at=ctx.now,
        )
        tasks_service.open_task(
            kind=TaskKind.VALIDATE_PROJECT,
            application=app,
            subject=request,
            queue_role=Role.PARTNER,
            scope_country=country,
            due_at=due,
        )
        created.append(request)
    ctx.log = append_log(
        subject=app,
        application=app,
        transition=REQUEST_PARTNER_VALIDATION.name,
        source=app.state,
        target=app.state,
        user=ctx.user,
        role=ctx.role,
        payload={"countries": [r.country_id for r in created], "due_at": due},
        at=ctx.now,
    )
    for request in created:
        publish("partner_validation_requested", application=app, subject=request, actor=ctx.user)
    return created


REQUEST_PARTNER_VALIDATION = Spec(
    Application,
    "request_partner_validation",
    (Role.INSTRUCTOR, SYSTEM),
    gettext_lazy("Demander la validation du gouvernement partenaire"),
    guard=_guard,
    fsm=False,
    apply=_apply,
    states=(Application.State.AWAITING_OPINIONS,),
    history_label=gettext_lazy("Validation demandée au gouvernement partenaire"),
    public=True,
    refusal=gettext_lazy("La validation du gouvernement partenaire se demande pendant la phase d'avis."),
)

SPECS = (REQUEST_PARTNER_VALIDATION,)
