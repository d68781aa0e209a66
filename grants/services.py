"""Writes: every transition of the domain's machines, declared as a ``Spec`` run by the
one transition service (``workflows.engine.fire``), plus the few non-transition writes
(drafts, attachments, reviewer assignment, committee sessions).

Each public function is ``<entity>_<verb>`` and keyword-only. Views, serializers and
tasks call these and nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants import budget
from grants.models import (
    ZERO,
    Application,
    AttachmentKind,
    Call,
    CommitteeSession,
    Decision,
    OpinionRequest,
    Review,
    Role,
    RoleGrant,
    Snapshot,
)
from notifications.services import emit
from workflows import tasks_service
from workflows.engine import (
    Conflict,
    Context,
    Forbidden,
    Invalid,
    NotFound,
    Spec,
    append_log,
    fire,
    lock_application,
)
from workflows.models import Task, TaskKind

SYSTEM = "system"
A = Application.State


# --- payload helpers ----------------------------------------------------------------------


def _text(payload: dict[str, Any], name: str, *, required: bool, max_length: int = 5000) -> str:
    value = payload.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(errors={name: [_("Ce champ doit être un texte.")]})
    value = value.strip()
    if required and not value:
        raise Invalid(errors={name: [_("Ce champ est obligatoire.")]})
    if len(value) > max_length:
        raise Invalid(errors={name: [_("Ce texte dépasse %(max)s caractères.") % {"max": max_length}]})
    return value


def parse_amount(value: Any, field: str) -> Decimal:
    """A euro amount from a decimal string (or int); floats are refused (no binary drift)."""
    if isinstance(value, bool | float) or value is None:
        raise Invalid(errors={field: [_('Montant invalide : indiquez un nombre décimal en euros, par ex. "1250.50".')]})
    try:
        amount = Decimal(str(value).strip().replace(",", ".").replace(" ", "").replace("\u00a0", ""))
    except (InvalidOperation, ValueError):
        raise Invalid(
            errors={field: [_('Montant invalide : indiquez un nombre décimal en euros, par ex. "1250.50".')]}
        ) from None
    if not amount.is_finite():
        raise Invalid(errors={field: [_("Montant invalide.")]})
    if amount < 0:
        raise Invalid(errors={field: [_("Le montant ne peut pas être négatif.")]})
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise Invalid(errors={field: [_("Le montant a au plus deux décimales (centimes).")]})
    if amount >= Decimal("1e12"):
        raise Invalid(errors={field: [_("Montant trop élevé.")]})
    return amount.quantize(Decimal("0.01"))


def parse_date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(errors={field: [_("Date invalide : format attendu AAAA-MM-JJ.")]}) from None


def _end_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59, 59)))


# --- submission conditions ----------------------------------------------------------------


def submission_unmet(application: Application, *, now: dt.datetime, check_closing: bool = True) -> list[str]:
    """Every reason the application cannot be submitted now (empty list: it can)."""
    call = application.call
    reasons: list[str] = []
    if check_closing:
        if call.state != Call.State.PUBLISHED or now < call.opens_at:
            reasons.append(_("L'appel à projets n'est pas ouvert aux dépôts."))
        elif now >= call.closes_at:
            reasons.append(
                _("L'appel à projets est clos depuis le %(date)s.")
                % {"date": timezone.localtime(call.closes_at).strftime("%d/%m/%Y %H:%M")}
            )
    if not application.title.strip():
        reasons.append(_("Le titre du projet est obligatoire."))
    if not application.summary.strip():
        reasons.append(_("Le résumé du projet est obligatoire."))
    countries = list(application.countries.all())
    eligible = set(call.eligible_countries.values_list("iso2", flat=True))
    if eligible:
        for country in countries:
            if country.iso2 not in eligible:
                reasons.append(_("%(country)s n'est pas éligible à cet appel.") % {"country": country.name})
    if not application.partners.exists():
        reasons.append(_("Indiquez au moins une collectivité partenaire étrangère."))
    if application.start_date is None:
        reasons.append(_("La date de début du projet est obligatoire."))
    duration = application.duration_months
    if duration is None:
        reasons.append(_("La durée du projet est obligatoire."))
    elif not call.min_duration_months <= duration <= call.max_duration_months:
        reasons.append(
            _("La durée du projet (%(d)s mois) doit être comprise entre %(min)s et %(max)s mois.")
            % {"d": duration, "min": call.min_duration_months, "max": call.max_duration_months}
        )
    reasons.extend(budget.unmet(application))
    present = set(application.attachments.values_list("kind", flat=True))
    labels = dict(AttachmentKind.choices)
    for kind in call.required_attachments:
        if kind not in present:
            reasons.append(_("Pièce obligatoire manquante : %(kind)s.") % {"kind": labels.get(kind, kind)})
    return reasons


def snapshot_data(application: Application) -> dict[str, Any]:
    return {
        "reference": application.reference,
        "call": application.call.code,
        "organisation": application.organisation.name,
        "co_applicants": sorted(o.name for o in application.co_applicants.all()),
        "title": application.title,
        "summary": application.summary,
        "objectives": application.objectives,
        "themes": application.themes,
        "sdg_targets": application.sdg_targets,
        "gender_marker": application.gender_marker,
        "countries": sorted(c.iso2 for c in application.countries.all()),
        "partners": [{"name": p.name, "country": p.country_id} for p in application.partners.all()],
        "start_date": application.start_date.isoformat() if application.start_date else None,
        "duration_months": application.duration_months,
        "budget": {
            "lines": [
                {
                    "year": ln.year,
                    "category": ln.category,
                    "label": ln.label,
                    "amount": f"{ln.amount:f}",
                    "country": ln.country_id,
                }
                for ln in application.budget_lines.all()
            ],
            "funding": {
                "own_cash": f"{application.own_cash:f}",
                "own_in_kind": f"{application.own_in_kind:f}",
                "partner": f"{application.partner_funding:f}",
                "other": f"{application.other_funding:f}",
                "requested": f"{application.requested_amount:f}",
            },
        },
        "attachments": [
            {"kind": a.kind, "name": a.original_name, "sha256": a.sha256} for a in application.attachments.all()
        ],
    }


def _take_snapshot(application: Application, now: dt.datetime) -> Snapshot:
    data = snapshot_data(application)
    canonical = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))
    number = (application.snapshots.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    return Snapshot.objects.create(
        application=application,
        number=number,
        data=data,
        sha256=hashlib.sha256(canonical.encode()).hexdigest(),
        created_at=now,
    )


def _open_eligibility_task(application: Application, ctx: Context) -> None:
    tasks_service.open_task(
        kind=TaskKind.CHECK_ELIGIBILITY,
        application=application,
        queue_role=Role.INSTRUCTOR,
        scope_call=application.call,
        due_at=ctx.now + dt.timedelta(days=application.call.eligibility_deadline_days),
    )


def _after_commit_receipt(ctx: Context, snapshot: Snapshot) -> None:
    from grants import tasks as grant_tasks

    snapshot_id = snapshot.pk
    ctx.after_commit.append(lambda: grant_tasks.enqueue_receipt(snapshot_id))


# --- Application transitions --------------------------------------------------------------


def _submit_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    return submission_unmet(app, now=ctx.now, check_closing=True)


def _submit_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    # Gap-free per-call numbering: the call row is locked (after the application row, the
    # one lock order) so concurrent submissions to one call take numbers one at a time,
    # and a rolled-back submission gives its number back.
    call = Call.objects.select_for_update().get(pk=app.call_id)
    call.last_reference_number += 1
    Call.objects.filter(pk=call.pk).update(last_reference_number=call.last_reference_number)
    app.reference_number = call.last_reference_number
    app.reference = f"{call.code}-{call.last_reference_number:05d}"
    app.save(update_fields=["reference", "reference_number", "submitted_at", "updated_at"])
    snapshot = _take_snapshot(app, ctx.now)
    _open_eligibility_task(app, ctx)
    emit("submitted", application=app, actor=ctx.user)
    _after_commit_receipt(ctx, snapshot)


def _request_completion_validate(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    message = _text(payload, "message", required=True)
    due = payload.get("due_date")
    today = timezone.localdate()
    due_date = parse_date(due, "due_date") if due not in (None, "") else today + dt.timedelta(days=15)
    if due_date < today:
        raise Invalid(errors={"due_date": [_("La date limite ne peut pas être dans le passé.")]})
    return {"message": message, "due_date": due_date}


def _request_completion_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(app, TaskKind.CHECK_ELIGIBILITY)
    tasks_service.open_task(
        kind=TaskKind.COMPLETE_APPLICATION,
        application=app,
        queue_role=Role.APPLICANT,
        scope_organisation=app.organisation,
        due_at=_end_of_day(cleaned["due_date"]),
    )
    emit("completion_requested", application=app, actor=ctx.user)


def _resubmit_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    return submission_unmet(app, now=ctx.now, check_closing=False)


def _resubmit_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(app, TaskKind.COMPLETE_APPLICATION)
    snapshot = _take_snapshot(app, ctx.now)
    _open_eligibility_task(app, ctx)
    emit("resubmitted", application=app, actor=ctx.user)
    _after_commit_receipt(ctx, snapshot)


def _reason_validate(payload: dict[str, Any], subject: Any) -> dict[str, Any]:
    return {"reason": _text(payload, "reason", required=True)}


def _declare_ineligible_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(app, TaskKind.CHECK_ELIGIBILITY)
    tasks_service.cancel_tasks(app, TaskKind.COMPLETE_APPLICATION)
    emit("ineligible", application=app, actor=ctx.user, extra={"reason": cleaned["reason"]})
    from grants import tasks as grant_tasks

    app_id, log_id = str(app.pk), ctx.log.pk if ctx.log else None
    ctx.after_commit.append(lambda: grant_tasks.enqueue_ineligibility_notice(app_id, log_id))


def _declare_eligible_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(app, TaskKind.CHECK_ELIGIBILITY)
    call = app.call
    due = ctx.now + dt.timedelta(days=call.opinion_deadline_days)
    requests: list[OpinionRequest] = []
    for country in app.countries.order_by("iso2"):
        requests.append(
            OpinionRequest.objects.create(
                application=app,
                authority=OpinionRequest.Authority.EMBASSY,
                country=country,
                due_at=due,
                requested_at=ctx.now,
            )
        )
    region = app.organisation.region
    if call.prefecture_opinion_required and region is not None:
        requests.append(
            OpinionRequest.objects.create(
                application=app,
                authority=OpinionRequest.Authority.PREFECTURE,
                region=region,
                due_at=due,
                requested_at=ctx.now,
            )
        )
    for request in requests:
        tasks_service.open_task(
            kind=TaskKind.GIVE_OPINION,
            application=app,
            subject=request,
            queue_role=request.authority,
            scope_country=request.country,
            scope_region=request.region,
            due_at=due,
        )
        emit("opinion_requested", application=app, subject=request, actor=ctx.user)
    emit("eligible", application=app, actor=ctx.user)
    if not requests:
        _auto_close_opinions(app)


def _close_opinions_validate(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    return {"comment": _text(payload, "comment", required=False)}


def _close_opinions_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    # The instructor may end the opinion phase early, but must say why.
    if ctx.role != SYSTEM and not cleaned.get("comment"):
        raise Invalid(errors={"comment": [_("Indiquez pourquoi la phase d'avis est close avant son terme.")]})
    return []


def _cancel_open_requests(app: Application, ctx: Context) -> None:
    for request in (
        OpinionRequest.objects.select_for_update()
        .filter(application=app, state=OpinionRequest.State.REQUESTED)
        .order_by("pk")
    ):
        request.cancel()
        request.save()
        append_log(
            subject=request,
            application=app,
            transition="cancel",
            source=OpinionRequest.State.REQUESTED,
            target=OpinionRequest.State.CANCELLED,
            user=ctx.user,
            role=ctx.role,
            at=ctx.now,
        )
    tasks_service.cancel_tasks(app, TaskKind.GIVE_OPINION)


def _open_review_task(review: Review, app: Application, now: dt.datetime) -> None:
    tasks_service.open_task(
        kind=TaskKind.REVIEW,
        application=app,
        subject=review,
        queue_role=Role.REVIEWER,
        assignee=review.reviewer,
        scope_call=app.call,
        due_at=now + dt.timedelta(days=app.call.review_deadline_days),
    )


def _maybe_open_schedule_task(app: Application) -> None:
    submitted = app.reviews.filter(state=Review.State.SUBMITTED).count()
    already = Task.objects.filter(application=app, kind=TaskKind.SCHEDULE_COMMITTEE, state=Task.State.OPEN).exists()
    if app.state == A.UNDER_REVIEW and submitted >= app.call.min_reviews and not already:
        tasks_service.open_task(
            kind=TaskKind.SCHEDULE_COMMITTEE,
            application=app,
            queue_role=Role.SECRETARY,
            scope_call=app.call,
            due_at=None,
        )


def _close_opinions_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    _cancel_open_requests(app, ctx)
    for review in app.reviews.filter(state=Review.State.ASSIGNED).select_related("reviewer"):
        _open_review_task(review, app, ctx.now)
    _maybe_open_schedule_task(app)
    emit("opinions_closed", application=app, actor=ctx.user)


def _schedule_validate(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    raw = payload.get("session")
    if raw in (None, ""):
        raise Invalid(errors={"session": [_("Ce champ est obligatoire.")]})
    try:
        session = CommitteeSession.objects.get(pk=int(raw))
    except (CommitteeSession.DoesNotExist, ValueError, TypeError):
        raise Invalid(errors={"session": [_("Comité de sélection introuvable.")]}) from None
    if session.call_id != app.call_id:
        raise Invalid(errors={"session": [_("Ce comité ne concerne pas l'appel à projets du dossier.")]})
    return {"session": session}


def _schedule_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    reasons = []
    session = cleaned.get("session")
    if session is not None and session.state == CommitteeSession.State.CLOSED:
        reasons.append(_("Ce comité de sélection est clos."))
    submitted = app.reviews.filter(state=Review.State.SUBMITTED).count()
    if submitted < app.call.min_reviews:
        reasons.append(
            _("Évaluations rendues : %(n)s sur les %(min)s requises avant le comité.")
            % {"n": submitted, "min": app.call.min_reviews}
        )
    return reasons


def _schedule_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(app, TaskKind.SCHEDULE_COMMITTEE)
    tasks_service.cancel_tasks(app, TaskKind.REVIEW)
    emit("scheduled", application=app, actor=ctx.user, extra={"session": cleaned["session"].pk})


def committed_amount(call: Call) -> Decimal:
    return (
        Decision.objects.filter(application__call=call, outcome=Decision.Outcome.APPROVED).aggregate(
            total=Sum("amount")
        )["total"]
        or ZERO
    )


def _approve_validate(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    if payload.get("amount") in (None, ""):
        raise Invalid(errors={"amount": [_("Ce champ est obligatoire.")]})
    amount = parse_amount(payload.get("amount"), "amount")
    if amount <= 0:
        raise Invalid(errors={"amount": [_("Le montant attribué doit être positif.")]})
    cleaned: dict[str, Any] = {"amount": amount, "comment": _text(payload, "comment", required=False)}
    raw_tranches = payload.get("tranches")
    if raw_tranches not in (None, "", []):
        if not isinstance(raw_tranches, list):
            raise Invalid(errors={"tranches": [_("Indiquez une liste de montants, un par année du projet.")]})
        amounts = [
            parse_amount(item.get("amount") if isinstance(item, dict) else item, "tranches") for item in raw_tranches
        ]
        if sum(amounts, ZERO) != amount:
            raise Invalid(errors={"tranches": [_("Les tranches doivent totaliser exactement le montant attribué.")]})
        cleaned["tranches"] = amounts
    return cleaned


def _approve_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    amount: Decimal | None = cleaned.get("amount")
    if amount is None:  # availability check without payload
        return [r.message for r in budget.evaluate(app) if not r.ok and r.code not in {"balance"}]
    reasons: list[str] = []
    if amount > app.requested_amount:
        reasons.append(
            _("Le montant attribué (%(amount)s) dépasse le montant demandé (%(requested)s).")
            % {"amount": budget.fmt_euros(amount), "requested": budget.fmt_euros(app.requested_amount)}
        )
    reasons.extend(r.message for r in budget.evaluate(app, requested=amount) if not r.ok and r.code != "balance")
    # The envelope: lock the call row so two approvals cannot both pass the check.
    call = Call.objects.select_for_update().get(pk=app.call_id)
    committed = committed_amount(call)
    if committed + amount > call.envelope:
        reasons.append(
            _("L'enveloppe de l'appel serait dépassée : %(committed)s déjà engagés sur %(envelope)s, reste %(left)s.")
            % {
                "committed": budget.fmt_euros(committed),
                "envelope": budget.fmt_euros(call.envelope),
                "left": budget.fmt_euros(call.envelope - committed),
            }
        )
    return reasons


def _create_decision(app: Application, ctx: Context, **fields: Any) -> Decision:
    decision = Decision.objects.create(
        application=app, session=app.session, decided_at=ctx.now, decided_by=ctx.user, **fields
    )
    tasks_service.open_task(
        kind=TaskKind.SIGN_DECISION,
        application=app,
        subject=decision,
        queue_role=Role.SIGNATORY,
        scope_call=app.call,
        due_at=ctx.now + dt.timedelta(days=7),
    )
    emit("decision_to_sign", application=app, subject=decision, actor=ctx.user)
    return decision


def _approve_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    amount: Decimal = cleaned["amount"]
    fig = budget.figures(app)
    if "tranches" in cleaned:
        # One amount per project year as decided; the last year's is split 80 % / 20 %
        # (balance on the final report) exactly like the computed schedule.
        years = sorted(fig.years) or [1]
        amounts = cleaned["tranches"]
        per_year = {years[min(i, len(years) - 1)]: ZERO for i in range(len(amounts))}
        for index, part in enumerate(amounts):
            per_year[years[min(index, len(years) - 1)]] += part
        tranches = budget.tranche_schedule(amount, per_year, exact=True)
    else:
        tranches = budget.tranche_schedule(amount, fig.years)
    rate = (amount / fig.total_expenses).quantize(Decimal("0.000001")) if fig.total_expenses else Decimal(0)
    _create_decision(app, ctx, outcome=Decision.Outcome.APPROVED, amount=amount, rate=rate, tranches=tranches)


def _reject_validate(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    return {"reasons": _text(payload, "reasons", required=True)}


def _reject_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    _create_decision(app, ctx, outcome=Decision.Outcome.REJECTED, reasons=cleaned["reasons"])


def _comment_validate(payload: dict[str, Any], subject: Any) -> dict[str, Any]:
    return {"comment": _text(payload, "comment", required=False)}


def _defer_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    _maybe_open_schedule_task(app)
    emit("deferred", application=app, actor=ctx.user)


def _withdraw_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    _cancel_open_requests(app, ctx)
    tasks_service.cancel_tasks(app)
    emit("withdrawn", application=app, actor=ctx.user)


def _reinstate_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    if not app.reference:
        return [_("Ce dossier n'a jamais été déposé : il ne peut pas être rétabli.")]
    return []


def _reinstate_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    _open_eligibility_task(app, ctx)
    emit("reinstated", application=app, actor=ctx.user)


SUBMIT = Spec(
    Application, "submit", (Role.APPLICANT,), gettext_lazy("Déposer"), guard=_submit_guard, effects=_submit_effects
)
REQUEST_COMPLETION = Spec(
    Application,
    "request_completion",
    (Role.INSTRUCTOR,),
    gettext_lazy("Demander des compléments"),
    validate=_request_completion_validate,
    fsm_kwargs=lambda c, ctx: {"message": c["message"], "due_date": c["due_date"]},
    effects=_request_completion_effects,
    comment_field="message",
)
RESUBMIT = Spec(
    Application,
    "resubmit",
    (Role.APPLICANT,),
    gettext_lazy("Redéposer"),
    guard=_resubmit_guard,
    effects=_resubmit_effects,
)
DECLARE_INELIGIBLE = Spec(
    Application,
    "declare_ineligible",
    (Role.INSTRUCTOR,),
    gettext_lazy("Déclarer irrecevable"),
    validate=_reason_validate,
    effects=_declare_ineligible_effects,
    comment_field="reason",
)
DECLARE_ELIGIBLE = Spec(
    Application,
    "declare_eligible",
    (Role.INSTRUCTOR,),
    gettext_lazy("Déclarer recevable"),
    effects=_declare_eligible_effects,
)
CLOSE_OPINIONS = Spec(
    Application,
    "close_opinions",
    (Role.INSTRUCTOR, SYSTEM),
    gettext_lazy("Clore la phase d'avis"),
    validate=_close_opinions_validate,
    guard=_close_opinions_guard,
    effects=_close_opinions_effects,
    comment_field="comment",
)
SCHEDULE = Spec(
    Application,
    "schedule",
    (Role.SECRETARY,),
    gettext_lazy("Inscrire en comité"),
    validate=_schedule_validate,
    guard=_schedule_guard,
    fsm_kwargs=lambda c, ctx: {"session": c["session"]},
    effects=_schedule_effects,
)
APPROVE = Spec(
    Application,
    "approve",
    (Role.SECRETARY,),
    gettext_lazy("Retenir"),
    validate=_approve_validate,
    guard=_approve_guard,
    effects=_approve_effects,
    comment_field="comment",
)
REJECT = Spec(
    Application,
    "reject",
    (Role.SECRETARY,),
    gettext_lazy("Ne pas retenir"),
    validate=_reject_validate,
    effects=_reject_effects,
    comment_field="reasons",
)
DEFER = Spec(
    Application,
    "defer",
    (Role.SECRETARY,),
    gettext_lazy("Ajourner"),
    validate=_comment_validate,
    effects=_defer_effects,
    comment_field="comment",
)
WITHDRAW = Spec(
    Application,
    "withdraw",
    (Role.APPLICANT,),
    gettext_lazy("Retirer"),
    validate=_comment_validate,
    effects=_withdraw_effects,
    comment_field="comment",
)
REINSTATE = Spec(
    Application,
    "reinstate",
    (Role.ADMIN,),
    gettext_lazy("Rétablir"),
    validate=_reason_validate,
    guard=_reinstate_guard,
    effects=_reinstate_effects,
    comment_field="reason",
)

APPLICATION_TRANSITIONS: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        SUBMIT,
        REQUEST_COMPLETION,
        RESUBMIT,
        DECLARE_INELIGIBLE,
        DECLARE_ELIGIBLE,
        CLOSE_OPINIONS,
        SCHEDULE,
        APPROVE,
        REJECT,
        DEFER,
        WITHDRAW,
        REINSTATE,
    )
}


def _auto_close_opinions(app: Application) -> None:
    """close_opinions fires by itself once no request is left open (given or expired)."""
    still_open = OpinionRequest.objects.filter(application=app, state=OpinionRequest.State.REQUESTED).exists()
    current = Application.objects.filter(pk=app.pk).values_list("state", flat=True).get()
    if not still_open and current == A.AWAITING_OPINIONS:
        fire(CLOSE_OPINIONS, app.pk, user=None, payload={})


# --- OpinionRequest -----------------------------------------------------------------------


def _give_validate(payload: dict[str, Any], request: OpinionRequest) -> dict[str, Any]:
    verdict = payload.get("verdict")
    if verdict not in OpinionRequest.Verdict.values:
        raise Invalid(errors={"verdict": [_("Choisissez un avis : favorable, réservé ou défavorable.")]})
    comment = _text(payload, "comment", required=verdict != OpinionRequest.Verdict.FAVORABLE)
    return {"verdict": verdict, "comment": comment}


def _give_effects(request: OpinionRequest, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.GIVE_OPINION, subject=request)
    emit("opinion_given", application=ctx.application, subject=request, actor=ctx.user)
    _auto_close_opinions(ctx.application)


def _expire_effects(request: OpinionRequest, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.cancel_tasks(ctx.application, TaskKind.GIVE_OPINION, subject=request)
    emit("opinion_expired", application=ctx.application, subject=request)
    _auto_close_opinions(ctx.application)


GIVE_OPINION = Spec(
    OpinionRequest,
    "give",
    (Role.EMBASSY, Role.PREFECTURE),
    gettext_lazy("Rendre l'avis"),
    validate=_give_validate,
    fsm_kwargs=lambda c, ctx: {**c, "user": ctx.user},
    effects=_give_effects,
    comment_field="comment",
)
EXPIRE_OPINION = Spec(OpinionRequest, "expire", (SYSTEM,), gettext_lazy("Avis non rendu"), effects=_expire_effects)


# --- Review -------------------------------------------------------------------------------


def _review_submit_validate(payload: dict[str, Any], review: Review) -> dict[str, Any]:
    criteria = [c["code"] for c in review.application.call.scoring_criteria]
    scores = payload.get("scores")
    errors: dict[str, list[str]] = {}
    if not isinstance(scores, dict):
        errors["scores"] = [_("Donnez une note de 0 à 5 pour chaque critère.")]
    else:
        unknown = sorted(set(scores) - set(criteria))
        missing = [c for c in criteria if c not in scores]
        bad = [
            c
            for c in criteria
            if c in scores
            and (isinstance(scores[c], bool) or not isinstance(scores[c], int) or not 0 <= scores[c] <= 5)
        ]
        messages = []
        if missing:
            messages.append(_("Critères non notés : %(list)s.") % {"list": ", ".join(missing)})
        if unknown:
            messages.append(_("Critères inconnus : %(list)s.") % {"list": ", ".join(unknown)})
        if bad:
            messages.append(_("Les notes sont des entiers de 0 à 5 (%(list)s).") % {"list": ", ".join(bad)})
        if messages:
            errors["scores"] = messages
    recommendation = payload.get("recommendation")
    if recommendation not in Review.Recommendation.values:
        errors["recommendation"] = [_("Choisissez une recommandation : yes, maybe ou no.")]
    if errors:
        raise Invalid(errors=errors)
    return {
        "scores": {c: scores[c] for c in criteria},  # type: ignore[index]
        "recommendation": recommendation,
        "comment": _text(payload, "comment", required=False),
    }


def _review_submit_effects(review: Review, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.REVIEW, subject=review)
    emit("review_submitted", application=ctx.application, subject=review, actor=ctx.user)
    _maybe_open_schedule_task(ctx.application)


def _review_decline_effects(review: Review, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.cancel_tasks(ctx.application, TaskKind.REVIEW, subject=review)
    emit("review_declined", application=ctx.application, subject=review, actor=ctx.user)


REVIEW_SUBMIT = Spec(
    Review,
    "submit",
    (Role.REVIEWER,),
    gettext_lazy("Rendre l'évaluation"),
    validate=_review_submit_validate,
    fsm_kwargs=lambda c, ctx: dict(c),
    effects=_review_submit_effects,
    comment_field="comment",
)
REVIEW_DECLINE = Spec(
    Review,
    "decline",
    (Role.REVIEWER,),
    gettext_lazy("Décliner"),
    validate=_reason_validate,
    fsm_kwargs=lambda c, ctx: {"reason": c["reason"]},
    effects=_review_decline_effects,
    comment_field="reason",
)


# --- Decision -----------------------------------------------------------------------------


def _sign_effects(decision: Decision, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.SIGN_DECISION, subject=decision)
    emit("decision_signed", application=ctx.application, subject=decision, actor=ctx.user)
    from grants import tasks as grant_tasks

    decision_id = decision.pk
    ctx.after_commit.append(lambda: grant_tasks.enqueue_decision_render(decision_id))


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
    emit("decision_delivered", application=ctx.application, subject=decision)


COMMITMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


def _record_validate(payload: dict[str, Any], decision: Decision) -> dict[str, Any]:
    number = _text(payload, "commitment_number", required=True, max_length=64)
    if not COMMITMENT_RE.match(number):
        raise Invalid(
            errors={"commitment_number": [_("Numéro d'engagement invalide : lettres, chiffres et . _ / - uniquement.")]}
        )
    return {"commitment_number": number}


def _record_effects(decision: Decision, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.RECORD_COMMITMENT, subject=decision)
    emit("decision_recorded", application=ctx.application, subject=decision, actor=ctx.user)


DECISION_SIGN = Spec(
    Decision,
    "sign",
    (Role.SIGNATORY,),
    gettext_lazy("Signer"),
    fsm_kwargs=lambda c, ctx: {"user": ctx.user},
    effects=_sign_effects,
)
DECISION_DELIVER = Spec(Decision, "deliver", (SYSTEM,), gettext_lazy("Notifier"), effects=_deliver_effects)
DECISION_RECORD = Spec(
    Decision,
    "record",
    (Role.FINANCE,),
    gettext_lazy("Enregistrer l'engagement"),
    validate=_record_validate,
    fsm_kwargs=lambda c, ctx: dict(c),
    effects=_record_effects,
)


# --- public service functions -------------------------------------------------------------


def application_transition(
    *, application_id: Any, name: str, user: Any, payload: dict[str, Any] | None = None
) -> Application:
    spec = APPLICATION_TRANSITIONS.get(name)
    if spec is None:
        raise NotFound(_("Action inconnue : %(name)s.") % {"name": name})
    result: Application = fire(spec, application_id, user=user, payload=payload)
    return result


def opinion_give(*, opinion_id: int, user: Any, verdict: str, comment: str = "") -> OpinionRequest:
    result: OpinionRequest = fire(GIVE_OPINION, opinion_id, user=user, payload={"verdict": verdict, "comment": comment})
    return result


def opinion_expire(*, opinion_id: int) -> OpinionRequest:
    result: OpinionRequest = fire(EXPIRE_OPINION, opinion_id, user=None)
    return result


def review_submit(*, review_id: int, user: Any, payload: dict[str, Any]) -> Review:
    result: Review = fire(REVIEW_SUBMIT, review_id, user=user, payload=payload)
    return result


def review_decline(*, review_id: int, user: Any, reason: str) -> Review:
    result: Review = fire(REVIEW_DECLINE, review_id, user=user, payload={"reason": reason})
    return result


def decision_sign(*, decision_id: int, user: Any) -> Decision:
    result: Decision = fire(DECISION_SIGN, decision_id, user=user)
    return result


def decision_deliver(*, decision_id: int) -> Decision:
    result: Decision = fire(DECISION_DELIVER, decision_id, user=None)
    return result


def decision_record(*, decision_id: int, user: Any, commitment_number: str) -> Decision:
    result: Decision = fire(DECISION_RECORD, decision_id, user=user, payload={"commitment_number": commitment_number})
    return result


# States in which an instructor may still assign a reviewer (the screens show the form then).
REVIEWER_ASSIGNABLE_STATES = (A.SUBMITTED, A.AWAITING_OPINIONS, A.UNDER_REVIEW)


def review_assign(*, application_id: Any, reviewer_username: str, user: Any) -> Review:
    """Assign a committee member to review an application (instructor)."""
    from grants import policy

    reviewer_username = (reviewer_username or "").strip()
    if not reviewer_username:
        raise Invalid(errors={"reviewer": [_("Ce champ est obligatoire.")]})
    with transaction.atomic():
        app = lock_application(application_id)
        if not policy.can_view(user, app):
            raise NotFound(_("Introuvable."))
        role = policy.role_for(user, (Role.INSTRUCTOR,), app)
        if role is None:
            raise Forbidden(_("Vous n'avez pas le droit de faire cette action."))
        if app.state not in REVIEWER_ASSIGNABLE_STATES:
            raise Conflict(_("On ne peut plus assigner d'évaluateur à ce dossier dans son état actuel."))
        reviewer = get_user_model().objects.filter(username=reviewer_username, is_active=True).first()
        grants = RoleGrant.objects.filter(user=reviewer, role=Role.REVIEWER) if reviewer else RoleGrant.objects.none()
        if reviewer is None or (
            not grants.filter(call__isnull=True).exists() and not grants.filter(call=app.call).exists()
        ):
            raise Invalid(errors={"reviewer": [_("Aucun évaluateur de cet appel ne porte cet identifiant.")]})
        if Review.objects.filter(application=app, reviewer=reviewer).exists():
            raise Conflict(_("Cet évaluateur est déjà assigné à ce dossier."))
        now = timezone.now()
        review = Review.objects.create(application=app, reviewer=reviewer, assigned_by=user, assigned_at=now)
        append_log(
            subject=review,
            application=app,
            transition="assign",
            source="",
            target=Review.State.ASSIGNED,
            user=user,
            role=role,
            payload={"reviewer": reviewer.get_username()},
            at=now,
        )
        if app.state == A.UNDER_REVIEW:
            _open_review_task(review, app, now)
        emit("review_assigned", application=app, subject=review, actor=user)
    return review


def session_create(*, call_code: str, date: dt.date, user: Any, title: str = "") -> CommitteeSession:
    from grants import policy

    call = Call.objects.filter(code=call_code).first()
    s = policy.scopes(user)
    if call is None or not (s.covers_call(Role.SECRETARY, call.pk) or Role.ADMIN in s.roles):
        raise Invalid(errors={"call": [_("Appel à projets introuvable.")]})
    with transaction.atomic():
        session = CommitteeSession.objects.create(call=call, date=date, title=title)
        append_log(
            subject=session,
            application=None,
            transition="create",
            source="",
            target=session.state,
            user=user,
            role=Role.SECRETARY if Role.SECRETARY in s.roles else Role.ADMIN,
        )
    return session


def session_transition(*, session_id: int, name: str, user: Any) -> CommitteeSession:
    from grants import policy

    if name not in ("open", "close"):
        raise NotFound(_("Action inconnue : %(name)s.") % {"name": name})
    with transaction.atomic():
        session = CommitteeSession.objects.select_for_update().filter(pk=session_id).first()
        s = policy.scopes(user)
        if session is None or not s.covers_call(Role.SECRETARY, session.call_id):
            raise NotFound(_("Introuvable."))
        method = getattr(session, name)
        from django_fsm import can_proceed

        if not can_proceed(method, check_conditions=False):
            raise Conflict(_("Action impossible dans l'état actuel du comité."))
        if name == "close" and session.applications.filter(state=A.IN_COMMITTEE).exists():
            raise Conflict(
                _("Des dossiers inscrits n'ont pas encore de décision."),
                unmet=[str(a) for a in session.applications.filter(state=A.IN_COMMITTEE)],
            )
        source = session.state
        method()
        session.save()
        append_log(
            subject=session,
            application=None,
            transition=name,
            source=source,
            target=session.state,
            user=user,
            role=Role.SECRETARY,
        )
    return session
