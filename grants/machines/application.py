"""The application's machine: its transitions, their conditions and effects.

Conditions give readable reasons; effects open and close tasks, write related rows and
publish the events the outbox turns into notifications, all in the transition's
transaction (``workflows.engine.fire``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants import answers, budget
from grants.machines import dossier
from grants.machines.payload import comment_validate, end_of_day, parse_amount, parse_date, reason_validate, text
from grants.models import (
    ZERO,
    Application,
    AttachmentKind,
    Call,
    CommitteeSession,
    Consensus,
    Decision,
    OpinionRequest,
    Review,
    Role,
    Snapshot,
)
from grants.variants import variant_for
from workflows import tasks_service
from workflows.engine import Context, Field, Invalid, Spec, fire
from workflows.models import Task, TaskKind
from workflows.registry import publish

SYSTEM = "system"
A = Application.State


# --- submission conditions ----------------------------------------------------------------

# What the submission rules, the search document, the snapshot and the notifications'
# audience read of the dossier: fetched once (one query on PostgreSQL), then shared.
DOSSIER_PREFETCH = dossier.COMPANIONS


def prefetch_dossier(application: Application, *, chain_head: bool = False) -> str | None:
    """Fetch the dossier's companions and its call's eligible countries and questions once
    (what is already fetched is not fetched again); ``chain_head``: see ``dossier.prefetch``."""
    return dossier.prefetch(application, chain_head=chain_head)


def submission_unmet(application: Application, *, now: dt.datetime, check_closing: bool = True) -> list[str]:
    """Every reason the application cannot be submitted now (empty list: it can)."""
    prefetch_dossier(application)
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
    eligible = {c.iso2 for c in call.eligible_countries.all()}
    if eligible:
        for country in countries:
            if country.iso2 not in eligible:
                reasons.append(_("%(country)s n'est pas éligible à cet appel.") % {"country": country.name})
    if not application.partners.all():
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
    present = {a.kind for a in application.attachments.all()}
    labels = dict(AttachmentKind.choices)
    for kind in call.required_attachments:
        if kind not in present:
            reasons.append(_("Pièce obligatoire manquante : %(kind)s.") % {"kind": labels.get(kind, kind)})
    # The call's variant (grants.variants): a turnkey programme's lead and members.
    reasons.extend(variant_for(call).unmet("submit" if check_closing else "resubmit", application))
    reasons.extend(answers.missing(list(call.questions.all()), application.answers))  # the call's own questions
    if call.block_overdue_reports:
        # An authority late with a final report may not apply again (the call's setting).
        from grants.machines.postaward import overdue_final_reports

        reasons.extend(overdue_final_reports(application.organisation_id, timezone.localdate(now)))
    return reasons


def snapshot_data(application: Application) -> dict[str, Any]:
    prefetch_dossier(application)
    data = _snapshot_common(application)
    if variant_for(application.call).members:
        # A turnkey programme's member authorities and their resolutions, frozen too.
        resolutions = {
            a.member_id: a.original_name
            for a in application.attachments.all()
            if a.kind == AttachmentKind.COUNCIL_RESOLUTION and a.member_id is not None
        }
        data["members"] = [
            {
                "name": m.name,
                "siren": m.siren,
                "region": m.region_id,
                "contribution": f"{m.contribution:f}",
                "resolution": resolutions.get(m.pk, ""),
            }
            for m in application.members.all()
        ]
    return data


def _snapshot_common(application: Application) -> dict[str, Any]:
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
        "answers": dict(application.answers or {}),
    }


def _take_snapshot(application: Application, now: dt.datetime, *, first: bool = False) -> Snapshot:
    """The dossier as submitted, numbered; ``first``: the application has none yet (a
    draft's submission: no transition leads back to draft)."""
    data = snapshot_data(application)
    canonical = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))
    if first:
        number = 1
    else:
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
    ctx.enqueue("deposit_receipt", snapshot.pk)


# --- Application transitions --------------------------------------------------------------


def _submit_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    # The dossier and the head of the log chain in one read, under the application's lock.
    ctx.chain_head = prefetch_dossier(app, chain_head=True)
    return submission_unmet(app, now=ctx.now, check_closing=True)


def _submit_prepare(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    """Number the reference before the row is saved (the engine then writes the state,
    the reference and the search document in one UPDATE).

    Gap-free per-call numbering: the call row is locked (after the application row, the
    one lock order) by the UPDATE that takes the next number, so concurrent submissions
    to one call take numbers one at a time, and a rolled-back submission gives its number
    back."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE grants_call SET last_reference_number = last_reference_number + 1 "
            "WHERE id = %s RETURNING last_reference_number, code",
            [app.call_id],
        )
        number, code = cursor.fetchone()
    app.call.last_reference_number = number
    app.reference_number = number
    app.reference = f"{code}-{number:05d}"


def _submit_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    snapshot = _take_snapshot(app, ctx.now, first=True)
    _open_eligibility_task(app, ctx)
    # The notifications' key is the log entry just appended (no need to read it back).
    publish("submitted", application=app, actor=ctx.user, extra={"anchor": ctx.log.pk if ctx.log else None})
    _after_commit_receipt(ctx, snapshot)


def _request_completion_validate(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    message = text(payload, "message", required=True)
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
        due_at=end_of_day(cleaned["due_date"]),
    )
    publish("completion_requested", application=app, actor=ctx.user)


def _resubmit_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    return submission_unmet(app, now=ctx.now, check_closing=False)


def _resubmit_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(app, TaskKind.COMPLETE_APPLICATION)
    snapshot = _take_snapshot(app, ctx.now)
    _open_eligibility_task(app, ctx)
    publish("resubmitted", application=app, actor=ctx.user)
    _after_commit_receipt(ctx, snapshot)


def _declare_ineligible_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(app, TaskKind.CHECK_ELIGIBILITY)
    tasks_service.cancel_tasks(app, TaskKind.COMPLETE_APPLICATION)
    publish("ineligible", application=app, actor=ctx.user, extra={"reason": cleaned["reason"]})
    ctx.enqueue("ineligibility_notice", str(app.pk), ctx.log.pk if ctx.log else None)


def _declare_eligible_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(app, TaskKind.CHECK_ELIGIBILITY)
    call = app.call
    due = ctx.now + dt.timedelta(days=call.opinion_deadline_days)
    requests: list[OpinionRequest] = []
    for country in app.countries.order_by("iso2"):
        requests.append(
            OpinionRequest.objects.create(
                application=app,
                call=call,
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
                call=call,
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
        publish("opinion_requested", application=app, subject=request, actor=ctx.user)
    publish("eligible", application=app, actor=ctx.user)
    if not requests:
        auto_close_opinions(app)


def _close_opinions_validate(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    return {"comment": text(payload, "comment", required=False)}


def _close_opinions_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    # The call's variant first (a joint fund waits for the partner government), so that
    # the reasons show on the button even before the instructor's comment is typed.
    reasons = variant_for(app.call).unmet("close_opinions", app)
    if reasons:
        return reasons
    # The instructor may end the opinion phase early, but must say why.
    if ctx.role != SYSTEM and not cleaned.get("comment"):
        raise Invalid(errors={"comment": [_("Indiquez pourquoi la phase d'avis est close avant son terme.")]})
    return []


def _cancel_open_requests(app: Application, ctx: Context) -> None:
    """Every request still open is cancelled through the opinion machine (same
    transaction; the application row is already locked)."""
    from grants.machines.opinion import CANCEL_OPINION

    for pk in (
        OpinionRequest.objects.filter(application=app, state=OpinionRequest.State.REQUESTED)
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        fire(CANCEL_OPINION, pk, user=None)


def open_review_task(review: Review, app: Application, now: dt.datetime) -> None:
    tasks_service.open_task(
        kind=TaskKind.REVIEW,
        application=app,
        subject=review,
        queue_role=Role.REVIEWER,
        assignee=review.reviewer,
        scope_call=app.call,
        due_at=now + dt.timedelta(days=app.call.review_deadline_days),
    )


def maybe_open_schedule_task(app: Application) -> None:
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
        open_review_task(review, app, ctx.now)
    maybe_open_schedule_task(app)
    publish("opinions_closed", application=app, actor=ctx.user)


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
    # The consensus comes after the reviews: asked for once they are in.
    elif app.call.consensus_required and not Consensus.objects.filter(application=app).exists():
        reasons.append(_("Le consensus des évaluations n'est pas enregistré (il est requis avant le comité)."))
    return reasons


def _schedule_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(app, TaskKind.SCHEDULE_COMMITTEE)
    tasks_service.cancel_tasks(app, TaskKind.REVIEW)
    publish("scheduled", application=app, actor=ctx.user, extra={"session": cleaned["session"].pk})


def _approve_validate(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    if payload.get("amount") in (None, ""):
        raise Invalid(errors={"amount": [_("Ce champ est obligatoire.")]})
    amount = parse_amount(payload.get("amount"), "amount")
    if amount <= 0:
        raise Invalid(errors={"amount": [_("Le montant attribué doit être positif.")]})
    cleaned: dict[str, Any] = {"amount": amount, "comment": text(payload, "comment", required=False)}
    cleaned.update(_partner_amount(payload, app))
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


def _partner_amount(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    """Joint funds: the partner government's co-financing, entered with the delegation's
    amount (required there, at least zero); refused on another call."""
    raw = payload.get("partner_amount")
    if variant_for(app.call).partner_validation:
        if raw in (None, ""):
            raise Invalid(
                errors={"partner_amount": [_("Indiquez le cofinancement du gouvernement partenaire (0 si aucun).")]}
            )
        return {"partner_amount": parse_amount(raw, "partner_amount")}
    if raw not in (None, "") and parse_amount(raw, "partner_amount") != 0:
        raise Invalid(
            errors={
                "partner_amount": [
                    _("Cet appel n'est pas un fonds conjoint : aucun cofinancement de gouvernement partenaire.")
                ]
            }
        )
    return {}


def _session_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    """Outcomes are recorded only while the application's committee session is open."""
    session = app.session
    if session is None or session.state != CommitteeSession.State.OPEN:
        return [
            _("La séance du comité n'est pas ouverte : ouvrez-la avant d'enregistrer une décision.")
            if session is None or session.state == CommitteeSession.State.PLANNED
            else _("La séance du comité est close.")
        ]
    return []


def _approve_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    reasons = _session_guard(app, cleaned, ctx) + variant_for(app.call).unmet("approve", app)
    # The envelope and the rate cap measure the delegation's amount only (a joint fund's
    # partner co-financing is beside it).
    amount: Decimal | None = cleaned.get("amount")
    if amount is None:  # availability check without payload
        return reasons + [r.message for r in budget.evaluate(app) if not r.ok and r.code not in {"balance"}]
    if amount > app.requested_amount:
        reasons.append(
            _("Le montant attribué (%(amount)s) dépasse le montant demandé (%(requested)s).")
            % {"amount": budget.fmt_euros(amount), "requested": budget.fmt_euros(app.requested_amount)}
        )
    reasons.extend(r.message for r in budget.evaluate(app, requested=amount) if not r.ok and r.code != "balance")
    # The envelope: lock the call row so two approvals cannot both pass the check.
    call = Call.objects.select_for_update().get(pk=app.call_id)
    committed = budget.committed_amount(call)
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
        application=app,
        call_id=app.call_id,
        session=app.session,
        decided_at=ctx.now,
        decided_by=ctx.user,
        **fields,
    )
    tasks_service.open_task(
        kind=TaskKind.SIGN_DECISION,
        application=app,
        subject=decision,
        queue_role=Role.SIGNATORY,
        scope_call=app.call,
        due_at=ctx.now + dt.timedelta(days=7),
    )
    publish("decision_to_sign", application=app, subject=decision, actor=ctx.user)
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
    _create_decision(
        app,
        ctx,
        outcome=Decision.Outcome.APPROVED,
        amount=amount,
        rate=rate,
        tranches=tranches,
        partner_amount=cleaned.get("partner_amount", ZERO),
    )


def _reject_validate(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    return {"reasons": text(payload, "reasons", required=True)}


def _reject_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    _create_decision(app, ctx, outcome=Decision.Outcome.REJECTED, reasons=cleaned["reasons"])


def _defer_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    maybe_open_schedule_task(app)
    publish("deferred", application=app, actor=ctx.user)


def _withdraw_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    _cancel_open_requests(app, ctx)
    tasks_service.cancel_tasks(app)
    publish("withdrawn", application=app, actor=ctx.user)


def _reinstate_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    if not app.reference:
        return [_("Ce dossier n'a jamais été déposé : il ne peut pas être rétabli.")]
    return []


def _reinstate_effects(app: Application, cleaned: dict[str, Any], ctx: Context) -> None:
    _open_eligibility_task(app, ctx)
    publish("reinstated", application=app, actor=ctx.user)


SUBMIT = Spec(
    Application,
    "submit",
    (Role.APPLICANT,),
    gettext_lazy("Déposer"),
    guard=_submit_guard,
    prepare=_submit_prepare,
    update_fields=("reference", "reference_number", "submitted_at", "updated_at"),
    effects=_submit_effects,
    history_label=gettext_lazy("Dossier déposé"),
    public=True,
    confirm=gettext_lazy(
        "J'atteste sur l'honneur l'exactitude des informations fournies et que je suis habilité(e) à "
        "déposer ce dossier au nom de la collectivité."
    ),
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
    history_label=gettext_lazy("Compléments demandés"),
    public=True,
    fields=(
        Field(
            "message",
            "longtext",
            gettext_lazy("Compléments demandés"),
            gettext_lazy("Ce message est envoyé au porteur de projet."),
            required=True,
        ),
        Field("due_date", "date", gettext_lazy("Date limite"), gettext_lazy("Par défaut : dans 15 jours.")),
    ),
)
RESUBMIT = Spec(
    Application,
    "resubmit",
    (Role.APPLICANT,),
    gettext_lazy("Redéposer"),
    guard=_resubmit_guard,
    # What the django-fsm method clears: one UPDATE, as for submit.
    update_fields=("completion_message", "completion_due", "updated_at"),
    effects=_resubmit_effects,
    history_label=gettext_lazy("Dossier complété et redéposé"),
    public=True,
    public_label=gettext_lazy("Compléments transmis, dossier redéposé"),
    confirm=gettext_lazy(
        "J'atteste sur l'honneur l'exactitude des informations fournies et que je suis habilité(e) à "
        "déposer ce dossier au nom de la collectivité."
    ),
)
DECLARE_INELIGIBLE = Spec(
    Application,
    "declare_ineligible",
    (Role.INSTRUCTOR,),
    gettext_lazy("Déclarer irrecevable"),
    validate=reason_validate,
    effects=_declare_ineligible_effects,
    comment_field="reason",
    history_label=gettext_lazy("Dossier déclaré irrecevable"),
    public=True,
    fields=(
        Field(
            "reason",
            "longtext",
            gettext_lazy("Motif de l'irrecevabilité"),
            gettext_lazy("Ce motif figure dans la notification envoyée au porteur de projet."),
            required=True,
        ),
    ),
    confirm=gettext_lazy("Le porteur de projet recevra une notification d'irrecevabilité. Confirmer ?"),
)
DECLARE_ELIGIBLE = Spec(
    Application,
    "declare_eligible",
    (Role.INSTRUCTOR,),
    gettext_lazy("Déclarer recevable"),
    effects=_declare_eligible_effects,
    history_label=gettext_lazy("Dossier déclaré recevable"),
    public=True,
    public_label=gettext_lazy("Dossier recevable"),
    confirm=gettext_lazy("Les demandes d'avis partiront aux ambassades (et à la préfecture). Confirmer ?"),
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
    history_label=gettext_lazy("Phase d'avis close"),
    public=True,
    public_label=gettext_lazy("Dossier en évaluation"),
    internal_comment=True,
    fields=(
        Field(
            "comment",
            "longtext",
            gettext_lazy("Motif de la clôture anticipée"),
            gettext_lazy("Les demandes d'avis encore ouvertes seront annulées."),
            required=True,
        ),
    ),
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
    history_label=gettext_lazy("Inscrit en comité"),
    public=True,
    public_label=gettext_lazy("Dossier transmis au comité"),
    internal_comment=True,
    fields=(Field("session", "session", gettext_lazy("Comité de sélection"), required=True),),
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
    history_label=gettext_lazy("Retenu par le comité"),
    public=True,
    public_label=gettext_lazy("Dossier retenu par le comité"),
    internal_comment=True,
    fields=(
        Field(
            "amount",
            "amount",
            gettext_lazy("Montant attribué (€)"),
            gettext_lazy("Au plus le montant demandé et le plafond de cofinancement, par ex. 25 000,00."),
            required=True,
        ),
        Field(
            "tranches",
            "tranches",
            gettext_lazy("Échéancier"),
            gettext_lazy("API : un montant par année du projet, totalisant le montant attribué."),
        ),
        # Joint funds only (grants.variants): the staff form shows it for them.
        Field(
            "partner_amount",
            "amount",
            gettext_lazy("Cofinancement du gouvernement partenaire (€)"),
            gettext_lazy("Fonds conjoint : à côté du montant de la délégation, hors enveloppe."),
        ),
        Field("comment", "longtext", gettext_lazy("Commentaire interne")),
    ),
)
REJECT = Spec(
    Application,
    "reject",
    (Role.SECRETARY,),
    gettext_lazy("Ne pas retenir"),
    validate=_reject_validate,
    guard=_session_guard,
    effects=_reject_effects,
    comment_field="reasons",
    history_label=gettext_lazy("Non retenu par le comité"),
    public=True,
    public_label=gettext_lazy("Dossier non retenu par le comité"),
    fields=(
        Field(
            "reasons",
            "longtext",
            gettext_lazy("Motifs du rejet"),
            gettext_lazy("Ces motifs figurent dans la lettre envoyée au porteur de projet."),
            required=True,
        ),
    ),
)
DEFER = Spec(
    Application,
    "defer",
    (Role.SECRETARY,),
    gettext_lazy("Ajourner"),
    validate=comment_validate,
    guard=_session_guard,
    effects=_defer_effects,
    comment_field="comment",
    history_label=gettext_lazy("Ajourné par le comité"),
    public=True,
    public_label=gettext_lazy("Examen reporté à un prochain comité"),
    internal_comment=True,
    fields=(Field("comment", "longtext", gettext_lazy("Commentaire interne")),),
)
WITHDRAW = Spec(
    Application,
    "withdraw",
    (Role.APPLICANT,),
    gettext_lazy("Retirer"),
    validate=comment_validate,
    effects=_withdraw_effects,
    comment_field="comment",
    history_label=gettext_lazy("Dossier retiré"),
    public=True,
    fields=(Field("comment", "longtext", gettext_lazy("Commentaire")),),
    confirm=gettext_lazy("Le retrait est définitif. Confirmer ?"),
)
REINSTATE = Spec(
    Application,
    "reinstate",
    (Role.ADMIN,),
    gettext_lazy("Rétablir"),
    validate=reason_validate,
    guard=_reinstate_guard,
    effects=_reinstate_effects,
    comment_field="reason",
    history_label=gettext_lazy("Dossier rétabli"),
    public=True,
    fields=(Field("reason", "longtext", gettext_lazy("Motif"), required=True),),
)
# Not a transition of the machine: the draft's creation, logged by grants.writes.drafts.
CREATE = Spec(
    Application,
    "create",
    (Role.APPLICANT,),
    gettext_lazy("Créer le brouillon"),
    history_label=gettext_lazy("Brouillon créé"),
    public=True,
    fsm=False,
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
SPECS = (*APPLICATION_TRANSITIONS.values(), CREATE)


def auto_close_opinions(app: Application) -> None:
    """close_opinions fires by itself once no request is left open (given or expired).

    A joint fund (grants.variants) asks its partner government first, once the other
    opinions are in, and moves on only once each partner request is given: an expired
    one leaves the application waiting for the instructor to relaunch it."""
    still_open = OpinionRequest.objects.filter(application=app, state=OpinionRequest.State.REQUESTED).exists()
    current = Application.objects.filter(pk=app.pk).values_list("state", flat=True).get()
    if still_open or current != A.AWAITING_OPINIONS:
        return
    variant = variant_for(app.call)
    if variant.partner_validation:
        from grants.machines.partner import REQUEST_PARTNER_VALIDATION, countries_to_ask

        if countries_to_ask(app, relaunch=False):
            fire(REQUEST_PARTNER_VALIDATION, app.pk, user=None)
            return
        if variant.unmet("close_opinions", app):
            return
    fire(CLOSE_OPINIONS, app.pk, user=None, payload={})
