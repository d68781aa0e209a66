"""The grant's life after the commitment: the Specs of the payments, the reports, the
amendments, and the decision's renunciation and closure (ARCHITECTURE.md, "The grant's
life after `recorded`"; the rules: DOMAIN.md, "After the decision").

Everything runs through ``workflows.engine.fire``: the application row is locked first
(the one lock order), so two writes on one grant never interleave. Automatic steps (a
tranche becoming payable, the balance's recomputation, the closure) are nested ``fire``
calls by the system inside the transition that causes them: one transaction, one log.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants import budget
from grants.documents.storage import save_new_file
from grants.machines.payload import end_of_day, parse_amount, parse_date, text
from grants.models import ZERO, Application, BudgetLine, Decision, Role
from grants.postaward import Amendment, Payment, Report
from workflows import tasks_service
from workflows.engine import Context, Field, Invalid, Spec, append_log, fire
from workflows.models import TaskKind
from workflows.registry import publish

SYSTEM = "system"
CENT = Decimal("0.01")
#: The grant is followed (paid, reported on, amended) only while it is engaged.
LIVE = (Decision.State.RECORDED,)
REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
#: Finance's time to pay a tranche once payable; the instructor's to check a report.
PAY_DAYS = 30
CHECK_DAYS = 30


# --- dates --------------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months (the 31st becomes the month's last day)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def extension_months(decision: Decision) -> int:
    return sum(
        Amendment.objects.filter(
            decision=decision, kind=Amendment.Kind.EXTENSION, state=Amendment.State.ACCEPTED
        ).values_list("months", flat=True)
    )


def project_end(application: Application, decision: Decision) -> dt.date:
    """The project's last day: its start, its duration and every accepted extension."""
    start = application.start_date or timezone.localdate()
    months = (application.duration_months or 12) + extension_months(decision)
    return add_months(start, months) - dt.timedelta(days=1)


def project_years(application: Application, decision: Decision) -> int:
    months = (application.duration_months or 12) + extension_months(decision)
    return max(1, -(-months // 12))


def interim_due(application: Application, year: int) -> dt.date:
    """An interim report closes project year ``year``: due ``interim_report_days`` after it."""
    start = application.start_date or timezone.localdate()
    end_of_year = add_months(start, 12 * year) - dt.timedelta(days=1)
    return end_of_year + dt.timedelta(days=application.call.interim_report_days)


def final_due(application: Application, decision: Decision) -> dt.date:
    # Months counted from the day after the end: ends 30 June, six months → due 31 December.
    after = project_end(application, decision) + dt.timedelta(days=1)
    return add_months(after, application.call.final_report_months) - dt.timedelta(days=1)


# --- the schedule, created with the commitment --------------------------------------------------


def _open_report_task(report: Report, application: Application) -> None:
    tasks_service.open_task(
        kind=TaskKind.SUBMIT_REPORT,
        application=application,
        subject=report,
        queue_role=Role.APPLICANT,
        scope_organisation=application.organisation,
        due_at=end_of_day(report.due_on),
    )


def on_commitment(decision: Decision, ctx: Context) -> None:
    """The commitment is recorded: one payment per tranche of the schedule, one interim
    report per later tranche and one final report; the first tranche becomes payable."""
    application = ctx.application
    payments = []
    for tranche in decision.tranches:
        condition = str(tranche["condition"])
        amount = Decimal(str(tranche["amount"]))
        payments.append(
            Payment.objects.create(
                decision=decision,
                application=application,
                number=int(tranche["number"]),
                kind=Payment.Kind.BALANCE if condition == Payment.Condition.FINAL_REPORT else Payment.Kind.TRANCHE,
                year=int(tranche.get("year") or 1),
                condition=condition,
                amount=amount,
                planned_amount=amount,
            )
        )
    interim_years = sorted({p.year for p in payments if p.condition == Payment.Condition.INTERIM_REPORT})
    for year in interim_years:
        # The tranche of project year ``year`` waits for the report closing year ``year - 1``.
        report = Report.objects.create(
            decision=decision,
            application=application,
            kind=Report.Kind.INTERIM,
            number=year - 1,
            due_on=interim_due(application, year - 1),
        )
        _open_report_task(report, application)
    final = Report.objects.create(
        decision=decision,
        application=application,
        kind=Report.Kind.FINAL,
        number=0,
        due_on=final_due(application, decision),
    )
    _open_report_task(final, application)
    for payment in payments:
        if payment.condition == Payment.Condition.SIGNATURE:
            fire(PAYMENT_MAKE_PAYABLE, payment.pk, user=None)


# --- payments -----------------------------------------------------------------------------------


def _make_payable_effects(payment: Payment, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.open_task(
        kind=TaskKind.PAY_TRANCHE,
        application=ctx.application,
        subject=payment,
        queue_role=Role.FINANCE,
        scope_call=ctx.application.call,
        due_at=ctx.now + dt.timedelta(days=PAY_DAYS),
    )
    publish("payment_payable", application=ctx.application, subject=payment)


def _pay_validate(payload: dict[str, Any], payment: Payment) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    paid_on: dt.date | None = None
    reference = ""
    try:
        raw = payload.get("paid_on")
        if raw in (None, ""):
            raise Invalid(errors={"paid_on": [_("Ce champ est obligatoire.")]})
        paid_on = parse_date(raw, "paid_on")
        if paid_on > timezone.localdate():
            raise Invalid(errors={"paid_on": [_("La date de paiement ne peut pas être dans le futur.")]})
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        reference = text(payload, "payment_reference", required=True, max_length=64)
        if not REFERENCE_RE.match(reference):
            raise Invalid(
                errors={"payment_reference": [_("Référence invalide : lettres, chiffres et . _ / - uniquement.")]}
            )
    except Invalid as exc:
        errors.update(exc.errors)
    if payload.get("amount") not in (None, ""):
        # Finance may restate the amount it pays: it must be the tranche's, never more.
        try:
            raw_amount = payload["amount"]
            negative = isinstance(raw_amount, str) and raw_amount.startswith("-")
            amount = parse_amount(raw_amount[1:] if negative else raw_amount, "amount")
            amount = -amount if negative else amount
            if abs(amount) > abs(payment.amount):
                errors["amount"] = [
                    _("Le montant dépasse celui du versement (%(amount)s).")
                    % {"amount": budget.fmt_euros(payment.amount)}
                ]
            elif amount != payment.amount:
                errors["amount"] = [
                    _("Un versement se paie en une fois : %(amount)s.") % {"amount": budget.fmt_euros(payment.amount)}
                ]
        except Invalid as exc:
            errors.update(exc.errors)
    if errors:
        raise Invalid(errors=errors)
    return {"paid_on": paid_on, "payment_reference": reference}


def _live_guard(subject: Any, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    decision = subject if isinstance(subject, Decision) else subject.decision
    if decision.state not in LIVE:
        return [
            _("La subvention est « %(state)s » : elle ne peut plus être modifiée.")
            % {"state": decision.get_state_display()}
        ]
    return []


def _pay_guard(payment: Payment, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    decision = payment.decision
    # A recovery is followed until reimbursed, after a renunciation too.
    if payment.kind == Payment.Kind.RECOVERY and decision.state == Decision.State.RENOUNCED:
        return []
    return _live_guard(payment, cleaned, ctx)


def _pay_effects(payment: Payment, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.PAY_TRANCHE, subject=payment)
    publish("payment_paid", application=ctx.application, subject=payment, actor=ctx.user)
    close_if_done(payment.decision_id)


def _cancel_validate(payload: dict[str, Any], payment: Payment) -> dict[str, Any]:
    return {"reason": text(payload, "reason", required=False)}


def _cancel_effects(payment: Payment, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.cancel_tasks(ctx.application, TaskKind.PAY_TRANCHE, subject=payment)


PAYMENT_MAKE_PAYABLE = Spec(
    Payment,
    "make_payable",
    (SYSTEM,),
    gettext_lazy("Rendre payable"),
    effects=_make_payable_effects,
    history_label=gettext_lazy("Versement rendu payable"),
    public=True,
    public_label=gettext_lazy("Versement mis en paiement"),
)
PAYMENT_PAY = Spec(
    Payment,
    "pay",
    (Role.FINANCE,),
    gettext_lazy("Payer"),
    validate=_pay_validate,
    guard=_pay_guard,
    fsm_kwargs=lambda c, ctx: {**c, "user": ctx.user},
    effects=_pay_effects,
    history_label=gettext_lazy("Versement payé"),
    public=True,
    fields=(
        Field("paid_on", "date", gettext_lazy("Date de paiement"), required=True),
        Field(
            "payment_reference",
            "text",
            gettext_lazy("Référence du paiement"),
            gettext_lazy("Lettres, chiffres et . _ / - ; par ex. DP-2026-0042."),
            required=True,
        ),
    ),
    confirm=gettext_lazy("Le paiement enregistré est définitif. Confirmer ?"),
    refusal=gettext_lazy("Ce versement ne peut pas être payé : il est « %(state)s »."),
)
PAYMENT_CANCEL = Spec(
    Payment,
    "cancel",
    (SYSTEM,),
    gettext_lazy("Annuler le versement"),
    validate=_cancel_validate,
    fsm_kwargs=lambda c, ctx: dict(c),
    effects=_cancel_effects,
    comment_field="reason",
    history_label=gettext_lazy("Versement annulé"),
    public=True,
)


# --- reports ------------------------------------------------------------------------------------


def _expense_error(index: int, message: str) -> Invalid:
    return Invalid(errors={"expenses": [_("Ligne %(n)s : %(message)s") % {"n": index + 1, "message": message}]})


def clean_expenses(raw: Any, report: Report) -> list[dict[str, Any]]:
    """The financial statement: ``[{category, year, amount}]`` (a list, or its JSON text),
    each category known, each year a project year, each amount exact and not negative
    (floats refused). 400 on ``expenses`` naming the line and the reason."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw, parse_float=lambda s: float(s))
        except ValueError:
            raise Invalid(errors={"expenses": [_("Les dépenses doivent être une liste JSON.")]}) from None
    if not isinstance(raw, list) or not raw:
        raise Invalid(errors={"expenses": [_("Indiquez au moins une ligne de dépenses réalisées.")]})
    years = project_years(report.application, report.decision)
    categories = dict(BudgetLine.Category.choices)
    seen: set[tuple[str, int]] = set()
    lines = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _expense_error(index, _("chaque ligne est un objet {category, year, amount}."))
        category = item.get("category")
        if category not in categories:
            raise _expense_error(
                index, _("catégorie inconnue (%(list)s).") % {"list": ", ".join(BudgetLine.Category.values)}
            )
        year = item.get("year")
        if isinstance(year, str) and year.isdigit():
            year = int(year)
        if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= years:
            raise _expense_error(index, _("l'année du projet va de 1 à %(max)s.") % {"max": years})
        try:
            amount = parse_amount(item.get("amount"), "expenses")
        except Invalid as exc:
            raise _expense_error(index, exc.errors["expenses"][0]) from None
        if (category, year) in seen:
            raise _expense_error(index, _("cette catégorie figure deux fois pour la même année."))
        seen.add((category, year))
        lines.append({"category": category, "year": year, "amount": f"{amount:f}"})
    return lines


def clean_narrative(payload: dict[str, Any]) -> dict[str, Any]:
    """The technical narrative: a document recognised from its bytes (the attachments'
    rules: PDF, ODT, DOCX…; web code and archive bombs refused)."""
    from django.conf import settings

    from grants.writes.drafts import content_refusal, sniff

    content = payload.get("narrative") or b""
    if not isinstance(content, bytes) or not content:
        raise Invalid(errors={"narrative": [_("Joignez le compte rendu technique (un document).")]})
    if len(content) > settings.UPLOAD_MAX_BYTES:
        raise Invalid(
            errors={
                "narrative": [
                    _("Le fichier dépasse la taille maximale de %(mb)s Mo.")
                    % {"mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)}
                ]
            }
        )
    mime = sniff(content)
    if mime is None or mime.startswith("image/"):
        raise Invalid(errors={"narrative": [_("Format refusé : le compte rendu est un document PDF, ODT ou DOCX.")]})
    refusal = content_refusal(content, mime)
    if refusal:
        raise Invalid(errors={"narrative": [refusal]})
    name = str(payload.get("narrative_name") or "").replace("\x00", "").strip()[:255] or "compte-rendu"
    return {"narrative": content, "narrative_name": name, "narrative_type": mime}


def _report_validate(payload: dict[str, Any], report: Report) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    try:
        cleaned["expenses"] = clean_expenses(payload.get("expenses"), report)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        cleaned.update(clean_narrative(payload))
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors=errors)
    return cleaned


def _report_kwargs(cleaned: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {"expenses": cleaned["expenses"], "user": ctx.user}


def _report_submit_effects(report: Report, cleaned: dict[str, Any], ctx: Context) -> None:
    # A resubmission stores a new file; the returned one is kept (its fingerprint is logged).
    save_new_file(report.narrative, "narrative", ContentFile(cleaned["narrative"]))
    report.narrative_name = cleaned["narrative_name"]
    report.narrative_type = cleaned["narrative_type"]
    report.narrative_size = len(cleaned["narrative"])
    report.save(update_fields=["narrative", "narrative_name", "narrative_type", "narrative_size"])
    tasks_service.close_tasks(ctx.application, TaskKind.SUBMIT_REPORT, subject=report)
    tasks_service.open_task(
        kind=TaskKind.CHECK_REPORT,
        application=ctx.application,
        subject=report,
        queue_role=Role.INSTRUCTOR,
        scope_call=ctx.application.call,
        due_at=ctx.now + dt.timedelta(days=CHECK_DAYS),
    )
    publish("report_submitted", application=ctx.application, subject=report, actor=ctx.user)


def _return_validate(payload: dict[str, Any], report: Report) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    try:
        cleaned["message"] = text(payload, "message", required=True)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        raw = payload.get("due_date")
        if raw in (None, ""):
            raise Invalid(errors={"due_date": [_("Ce champ est obligatoire.")]})
        due = parse_date(raw, "due_date")
        if due <= timezone.localdate():
            raise Invalid(errors={"due_date": [_("La nouvelle échéance doit être postérieure à aujourd'hui.")]})
        cleaned["due_date"] = due
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors=errors)
    return cleaned


def _return_effects(report: Report, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.CHECK_REPORT, subject=report)
    _open_report_task(report, ctx.application)
    publish("report_returned", application=ctx.application, subject=report, actor=ctx.user)


def _accept_effects(report: Report, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.CHECK_REPORT, subject=report)
    publish("report_accepted", application=ctx.application, subject=report, actor=ctx.user)
    if report.kind == Report.Kind.INTERIM:
        waiting = Payment.objects.filter(
            decision_id=report.decision_id,
            condition=Payment.Condition.INTERIM_REPORT,
            year=report.number + 1,
            state=Payment.State.SCHEDULED,
        )
        for payment_id in waiting.values_list("pk", flat=True):
            fire(PAYMENT_MAKE_PAYABLE, payment_id, user=None)
        return
    # The final report covers the whole project: an interim report still open is moot.
    for interim_id in Report.objects.filter(
        decision_id=report.decision_id,
        kind=Report.Kind.INTERIM,
        state__in=[Report.State.DUE, Report.State.RETURNED, Report.State.SUBMITTED],
    ).values_list("pk", flat=True):
        fire(REPORT_CANCEL, interim_id, user=None)
    recompute_balance(report)
    close_if_done(report.decision_id)


REPORT_FIELDS = (
    Field("narrative", "file", gettext_lazy("Compte rendu technique"), gettext_lazy("PDF, ODT ou DOCX."), True),
    Field("expenses", "expenses", gettext_lazy("Dépenses réalisées"), required=True),
)
REPORT_SUBMIT = Spec(
    Report,
    "submit",
    (Role.APPLICANT,),
    gettext_lazy("Déposer le rapport"),
    validate=_report_validate,
    guard=_live_guard,
    fsm_kwargs=_report_kwargs,
    effects=_report_submit_effects,
    history_label=gettext_lazy("Rapport déposé"),
    public=True,
    fields=REPORT_FIELDS,
)
REPORT_RESUBMIT = Spec(
    Report,
    "resubmit",
    (Role.APPLICANT,),
    gettext_lazy("Redéposer le rapport"),
    validate=_report_validate,
    guard=_live_guard,
    fsm_kwargs=_report_kwargs,
    effects=_report_submit_effects,
    history_label=gettext_lazy("Rapport redéposé"),
    public=True,
    fields=REPORT_FIELDS,
)
REPORT_RETURN = Spec(
    Report,
    "return",
    (Role.INSTRUCTOR,),
    gettext_lazy("Renvoyer le rapport"),
    validate=_return_validate,
    guard=_live_guard,
    fsm_kwargs=lambda c, ctx: dict(c),
    effects=_return_effects,
    comment_field="message",
    history_label=gettext_lazy("Rapport renvoyé pour compléments"),
    public=True,
    fields=(
        Field("message", "longtext", gettext_lazy("Ce qu'il faut reprendre"), required=True),
        Field("due_date", "date", gettext_lazy("Nouvelle échéance"), required=True),
    ),
)
REPORT_ACCEPT = Spec(
    Report,
    "accept",
    (Role.INSTRUCTOR,),
    gettext_lazy("Accepter le rapport"),
    guard=_live_guard,
    effects=_accept_effects,
    history_label=gettext_lazy("Rapport accepté"),
    public=True,
    confirm=gettext_lazy("Accepter ce rapport rend payable la tranche qui l'attend. Confirmer ?"),
)


def _report_cancel_effects(report: Report, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.cancel_tasks(ctx.application, TaskKind.SUBMIT_REPORT, TaskKind.CHECK_REPORT, subject=report)


REPORT_CANCEL = Spec(
    Report,
    "cancel",
    (SYSTEM,),
    gettext_lazy("Annuler le rapport"),
    effects=_report_cancel_effects,
    history_label=gettext_lazy("Rapport sans objet"),
)


# --- the balance --------------------------------------------------------------------------------


def eligible_rate(application: Application, decision: Decision) -> Decimal:
    """The call's rate for this project (its cap, DOMAIN.md), else the decision's own."""
    rate = budget.figures(application).cap_rate
    return rate if rate is not None else decision.rate


def recompute_balance(report: Report) -> None:
    """The final report is accepted: what the delegation owes is at most the granted
    amount and at most the call's rate applied to the actual expenses. The unpaid
    tranches are folded into the balance; if more was paid than is due, a recovery."""
    decision = Decision.objects.get(pk=report.decision_id)
    application = report.application
    actual = report.expenses_total
    rate = eligible_rate(application, decision)
    by_rate = (actual * rate).quantize(CENT, rounding=ROUND_DOWN)
    due = min(decision.amount, by_rate)
    payments = list(Payment.objects.filter(decision=decision).order_by("number"))
    paid = sum((p.amount for p in payments if p.state == Payment.State.PAID), ZERO)
    balance_amount = due - paid
    figures = {
        "actual": f"{actual:f}",
        "rate": f"{rate:f}",
        "by_rate": f"{by_rate:f}",
        "granted": f"{decision.amount:f}",
        "due": f"{due:f}",
        "paid": f"{paid:f}",
        "balance": f"{balance_amount:f}",
    }
    balance = next((p for p in payments if p.kind == Payment.Kind.BALANCE), None)
    for payment in payments:
        if payment.kind == Payment.Kind.TRANCHE and payment.state in (Payment.State.SCHEDULED, Payment.State.PAYABLE):
            fire(PAYMENT_CANCEL, payment.pk, user=None, payload={"reason": str(_("Repris dans le solde."))})
    if balance is None:
        number = max((p.number for p in payments), default=0) + 1
        balance = Payment.objects.create(
            decision=decision,
            application=application,
            number=number,
            kind=Payment.Kind.BALANCE,
            year=project_years(application, decision),
            condition=Payment.Condition.FINAL_REPORT,
            amount=ZERO,
            planned_amount=ZERO,
        )
    if balance_amount > 0:
        Payment.objects.filter(pk=balance.pk).update(amount=balance_amount, explanation=json.dumps(figures))
        fire(PAYMENT_MAKE_PAYABLE, balance.pk, user=None)
        return
    Payment.objects.filter(pk=balance.pk).update(explanation=json.dumps(figures))
    if balance.state == Payment.State.SCHEDULED:
        fire(PAYMENT_CANCEL, balance.pk, user=None, payload={"reason": str(_("Aucun solde n'est dû."))})
    if balance_amount < 0:
        _issue_recovery(decision, application, balance_amount, figures)


def _issue_recovery(decision: Decision, application: Application, amount: Decimal, figures: dict[str, Any]) -> None:
    number = (
        Payment.objects.filter(decision=decision).order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    recovery = Payment.objects.create(
        decision=decision,
        application=application,
        number=number,
        kind=Payment.Kind.RECOVERY,
        year=project_years(application, decision),
        condition=Payment.Condition.RECOVERY,
        amount=amount,
        planned_amount=amount,
        explanation=json.dumps(figures),
    )
    fire(PAYMENT_MAKE_PAYABLE, recovery.pk, user=None)


def explain(payment: Payment) -> str:
    """How a balance or a recovery was computed, in words, in the reader's language."""
    if not payment.explanation:
        return ""
    f = {k: (Decimal(v) if k != "renounced" else v) for k, v in json.loads(payment.explanation).items()}
    euros = budget.fmt_euros
    if f.get("renounced"):
        return _("Projet non réalisé : déjà versé %(paid)s ; à reverser %(back)s.") % {
            "paid": euros(f["paid"]),
            "back": euros(-f["balance"]),
        }
    parts = [
        _("Dépenses réalisées %(actual)s × %(rate)s = %(by_rate)s")
        % {"actual": euros(f["actual"]), "rate": budget.fmt_percent(f["rate"]), "by_rate": euros(f["by_rate"])}
    ]
    if f["granted"] < f["by_rate"]:
        parts.append(_("plafonné au montant attribué %(granted)s") % {"granted": euros(f["granted"])})
    parts.append(_("déjà versé %(paid)s") % {"paid": euros(f["paid"])})
    if f["balance"] >= 0:
        parts.append(_("solde %(balance)s") % {"balance": euros(f["balance"])})
    else:
        parts.append(_("à reverser %(back)s") % {"back": euros(-f["balance"])})
    return " ; ".join(str(p) for p in parts) + "."


# --- closure and renunciation -------------------------------------------------------------------


def close_if_done(decision_id: int) -> None:
    """Close the grant once its final report is accepted and nothing is left to pay or
    to recover."""
    decision = Decision.objects.get(pk=decision_id)
    if decision.state != Decision.State.RECORDED:
        return
    if not Report.objects.filter(decision=decision, kind=Report.Kind.FINAL, state=Report.State.ACCEPTED).exists():
        return
    if Payment.objects.filter(decision=decision, state__in=[Payment.State.SCHEDULED, Payment.State.PAYABLE]).exists():
        return
    fire(DECISION_CLOSE, decision.pk, user=None)


def _renounce_effects(decision: Decision, cleaned: dict[str, Any], ctx: Context) -> None:
    reason = str(_("Renonciation au projet."))
    paid = ZERO
    for payment in Payment.objects.filter(decision=decision).order_by("number"):
        if payment.state == Payment.State.PAID:
            paid += payment.amount
        elif payment.state in (Payment.State.SCHEDULED, Payment.State.PAYABLE):
            fire(PAYMENT_CANCEL, payment.pk, user=None, payload={"reason": reason})
    for report_id in Report.objects.filter(
        decision=decision, state__in=[Report.State.DUE, Report.State.RETURNED, Report.State.SUBMITTED]
    ).values_list("pk", flat=True):
        fire(REPORT_CANCEL, report_id, user=None)
    tasks_service.cancel_tasks(ctx.application, TaskKind.DECIDE_AMENDMENT)
    publish(
        "decision_renounced",
        application=ctx.application,
        subject=decision,
        actor=ctx.user,
        extra={"reason": cleaned["reason"]},
    )
    if paid > 0:
        figures = {"renounced": True, "paid": f"{paid:f}", "balance": f"{-paid:f}"}
        _issue_recovery(decision, ctx.application, -paid, figures)


DECISION_RENOUNCE = Spec(
    Decision,
    "renounce",
    (Role.APPLICANT,),
    gettext_lazy("Renoncer au projet"),
    validate=lambda p, d: {"reason": text(p, "reason", required=True)},
    effects=_renounce_effects,
    comment_field="reason",
    history_label=gettext_lazy("Renonciation au projet"),
    public=True,
    fields=(Field("reason", "longtext", gettext_lazy("Pourquoi le projet ne sera pas réalisé"), required=True),),
    confirm=gettext_lazy(
        "La renonciation est définitive : les tranches non versées sont annulées et ce qui a été versé "
        "devra être reversé. Renoncer ?"
    ),
    refusal=gettext_lazy("On ne peut renoncer qu'à une subvention engagée : elle est « %(state)s »."),
)
DECISION_CLOSE = Spec(
    Decision,
    "close",
    (SYSTEM,),
    gettext_lazy("Solder"),
    effects=lambda d, c, ctx: publish("decision_closed", application=ctx.application, subject=d),
    history_label=gettext_lazy("Subvention soldée"),
    public=True,
)


# --- amendments ---------------------------------------------------------------------------------


def current_budget(decision: Decision) -> list[dict[str, Any]]:
    """The budget in force: the last accepted budget change's lines, else the signed one."""
    latest = (
        Amendment.objects.filter(decision=decision, kind=Amendment.Kind.BUDGET_CHANGE, state=Amendment.State.ACCEPTED)
        .order_by("-number")
        .first()
    )
    if latest is not None:
        return list(latest.lines)
    return [
        {"year": line.year, "category": line.category, "label": line.label, "amount": f"{line.amount:f}"}
        for line in BudgetLine.objects.filter(application_id=decision.application_id).order_by("year", "pk")
    ]


def by_category(lines: list[dict[str, Any]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for line in lines:
        totals[line["category"]] = totals.get(line["category"], ZERO) + Decimal(str(line["amount"]))
    return totals


def moved_share(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> Decimal:
    """The share of the budget moved between categories: the increases, over the old total."""
    before, after = by_category(old), by_category(new)
    total = sum(before.values(), ZERO)
    if total <= 0:
        return Decimal("1")
    moved = sum((max(ZERO, after.get(c, ZERO) - before.get(c, ZERO)) for c in {*before, *after}), ZERO)
    return (moved / total).quantize(Decimal("0.0001"))


def _clean_lines(raw: Any, decision: Decision) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise Invalid(errors={"lines": [_("Indiquez les lignes du nouveau budget.")]})
    years = project_years(decision.application, decision)
    out = []
    for index, item in enumerate(raw):
        prefix = _("Ligne %(n)s : ") % {"n": index + 1}
        if not isinstance(item, dict) or item.get("category") not in BudgetLine.Category.values:
            raise Invalid(errors={"lines": [prefix + _("catégorie inconnue.")]})
        year = item.get("year")
        if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= years:
            raise Invalid(errors={"lines": [prefix + _("l'année du projet va de 1 à %(max)s.") % {"max": years}]})
        label = str(item.get("label") or "").strip()[:250] or str(dict(BudgetLine.Category.choices)[item["category"]])
        try:
            amount = parse_amount(item.get("amount"), "lines")
        except Invalid as exc:
            raise Invalid(errors={"lines": [prefix + exc.errors["lines"][0]]}) from None
        out.append({"year": year, "category": item["category"], "label": label, "amount": f"{amount:f}"})
    return out


def _request_validate(payload: dict[str, Any], decision: Decision) -> dict[str, Any]:
    kind = payload.get("kind")
    if kind not in Amendment.Kind.values:
        raise Invalid(errors={"kind": [_("Type inconnu (%(list)s).") % {"list": ", ".join(Amendment.Kind.values)}]})
    cleaned: dict[str, Any] = {"kind": kind, "reason": text(payload, "reason", required=True)}
    call = decision.application.call
    if kind == Amendment.Kind.EXTENSION:
        months = payload.get("months")
        if isinstance(months, str) and months.isdigit():
            months = int(months)
        if isinstance(months, bool) or not isinstance(months, int) or months < 1:
            raise Invalid(errors={"months": [_("Indiquez un nombre entier de mois (au moins 1).")]})
        left = call.max_extension_months - extension_months(decision)
        if months > left:
            raise Invalid(
                errors={
                    "months": [
                        _("Au plus %(max)s mois de prolongation en tout pour cet appel ; il en reste %(left)s.")
                        % {"max": call.max_extension_months, "left": max(0, left)}
                    ]
                }
            )
        cleaned["months"] = months
    elif kind == Amendment.Kind.BUDGET_CHANGE:
        lines = _clean_lines(payload.get("lines"), decision)
        share = moved_share(current_budget(decision), lines)
        if share <= call.budget_change_threshold:
            raise Invalid(
                errors={
                    "lines": [
                        _(
                            "Ce changement déplace %(share)s du budget, pas plus de %(max)s : il ne demande pas "
                            "d'avenant, déclarez-le avec le rapport."
                        )
                        % {"share": budget.fmt_percent(share), "max": budget.fmt_percent(call.budget_change_threshold)}
                    ]
                }
            )
        cleaned["lines"], cleaned["moved_share"] = lines, share
    else:
        cleaned["text"] = text(payload, "text", required=True)
    return cleaned


def _request_apply(decision: Decision, cleaned: dict[str, Any], ctx: Context) -> Amendment:
    number = (
        Amendment.objects.filter(decision=decision).order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    amendment = Amendment.objects.create(
        decision=decision,
        application=ctx.application,
        number=number,
        kind=cleaned["kind"],
        months=cleaned.get("months", 0),
        lines=cleaned.get("lines", []),
        moved_share=cleaned.get("moved_share", ZERO),
        text=cleaned.get("text", ""),
        reason=cleaned["reason"],
        requested_by=ctx.user,
        requested_at=ctx.now,
    )
    ctx.log = append_log(
        subject=amendment,
        application=ctx.application,
        transition="request",
        source="",
        target=Amendment.State.REQUESTED,
        user=ctx.user,
        role=ctx.role,
        comment=cleaned["reason"],
        payload={k: v for k, v in cleaned.items() if k != "reason"},
        at=ctx.now,
    )
    tasks_service.open_task(
        kind=TaskKind.DECIDE_AMENDMENT,
        application=ctx.application,
        subject=amendment,
        queue_role=Role.INSTRUCTOR,
        scope_call=ctx.application.call,
        due_at=ctx.now + dt.timedelta(days=CHECK_DAYS),
    )
    publish("amendment_requested", application=ctx.application, subject=amendment, actor=ctx.user)
    return amendment


def _accept_guard(amendment: Amendment, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    reasons = _live_guard(amendment, cleaned, ctx)
    if amendment.kind == Amendment.Kind.EXTENSION:
        call = ctx.application.call
        already = extension_months(amendment.decision)
        if already + amendment.months > call.max_extension_months:
            reasons.append(
                _("Prolongation impossible : %(done)s mois déjà accordés, au plus %(max)s en tout.")
                % {"done": already, "max": call.max_extension_months}
            )
    return reasons


def _amendment_accept_effects(amendment: Amendment, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.DECIDE_AMENDMENT, subject=amendment)
    if amendment.kind == Amendment.Kind.EXTENSION:
        # The end moves: the final report's due date follows (and its open task).
        decision = Decision.objects.get(pk=amendment.decision_id)
        due = final_due(ctx.application, decision)
        for report in Report.objects.filter(
            decision=decision, kind=Report.Kind.FINAL, state__in=[Report.State.DUE, Report.State.RETURNED]
        ):
            Report.objects.filter(pk=report.pk).update(due_on=due)
            tasks_service.close_tasks(ctx.application, TaskKind.SUBMIT_REPORT, subject=report, state="cancelled")
            report.due_on = due
            _open_report_task(report, ctx.application)
    publish("amendment_accepted", application=ctx.application, subject=amendment, actor=ctx.user)
    # The avenant: rendered, stored and verifiable like the letters (grants.documents.amendments).
    ctx.enqueue("amendment_document", amendment.pk)


def _amendment_refuse_effects(amendment: Amendment, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.DECIDE_AMENDMENT, subject=amendment)
    publish("amendment_refused", application=ctx.application, subject=amendment, actor=ctx.user)


AMENDMENT_REQUEST = Spec(
    Decision,
    "request_amendment",
    (Role.APPLICANT,),
    gettext_lazy("Demander un avenant"),
    validate=_request_validate,
    guard=_live_guard,
    fsm=False,
    apply=_request_apply,
    history_label=gettext_lazy("Avenant demandé"),
    public=True,
    fields=(
        Field("kind", "text", gettext_lazy("Type de modification"), required=True),
        Field("months", "text", gettext_lazy("Mois de prolongation")),
        Field("text", "longtext", gettext_lazy("Modification demandée")),
        Field("reason", "longtext", gettext_lazy("Motif"), required=True),
    ),
)
AMENDMENT_ACCEPT = Spec(
    Amendment,
    "accept",
    (Role.INSTRUCTOR,),
    gettext_lazy("Accepter l'avenant"),
    validate=lambda p, a: {"reason": text(p, "reason", required=False)},
    guard=_accept_guard,
    fsm_kwargs=lambda c, ctx: dict(c),
    effects=_amendment_accept_effects,
    comment_field="reason",
    history_label=gettext_lazy("Avenant accepté"),
    public=True,
)
AMENDMENT_REFUSE = Spec(
    Amendment,
    "refuse",
    (Role.INSTRUCTOR,),
    gettext_lazy("Refuser l'avenant"),
    validate=lambda p, a: {"reason": text(p, "reason", required=True)},
    guard=_live_guard,
    fsm_kwargs=lambda c, ctx: dict(c),
    effects=_amendment_refuse_effects,
    comment_field="reason",
    history_label=gettext_lazy("Avenant refusé"),
    public=True,
    fields=(Field("reason", "longtext", gettext_lazy("Motif du refus"), required=True),),
)


# --- the blocking rule --------------------------------------------------------------------------


def overdue_final_reports(organisation_id: int, today: dt.date) -> list[str]:
    """Why an authority may not submit to a call with ``block_overdue_reports``: each of
    its final reports past due, named with its due date."""
    late = Report.objects.filter(
        application__organisation_id=organisation_id,
        kind=Report.Kind.FINAL,
        state__in=[Report.State.DUE, Report.State.RETURNED],
        due_on__lt=today,
        decision__state=Decision.State.RECORDED,
    ).select_related("application")
    return [
        _("Le rapport final du dossier %(reference)s était attendu le %(date)s : déposez-le avant tout nouveau dépôt.")
        % {"reference": r.application.reference, "date": r.due_on.strftime("%d/%m/%Y")}
        for r in late
    ]


SPECS = (
    PAYMENT_MAKE_PAYABLE,
    PAYMENT_PAY,
    PAYMENT_CANCEL,
    REPORT_SUBMIT,
    REPORT_RESUBMIT,
    REPORT_RETURN,
    REPORT_ACCEPT,
    REPORT_CANCEL,
    DECISION_RENOUNCE,
    DECISION_CLOSE,
    AMENDMENT_REQUEST,
    AMENDMENT_ACCEPT,
    AMENDMENT_REFUSE,
)


# --- the financial statement: actual spending beside the budget ---------------------------------


def statement(decision: Decision, expenses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per category (the budget in force, the actual spending, the gap and its
    share of the budget), then the total: what the applicant sees while filing and the
    instructor while checking. ``expenses`` are cleaned lines (``clean_expenses``)."""
    planned, actual = by_category(current_budget(decision)), by_category(expenses)
    rows = []
    for code, label in BudgetLine.Category.choices:
        if code not in planned and code not in actual:
            continue
        rows.append(_row(code, str(label), planned.get(code, ZERO), actual.get(code, ZERO)))
    rows.append(_row("total", str(_("Total")), sum(planned.values(), ZERO), sum(actual.values(), ZERO)))
    return rows


def _row(code: str, label: str, planned: Decimal, actual: Decimal) -> dict[str, Any]:
    gap = actual - planned
    share = (gap / planned) if planned > 0 else None
    return {
        "category": code,
        "label": label,
        "budget": planned,
        "actual": actual,
        "gap": gap,
        "gap_share": share.quantize(Decimal("0.0001")) if share is not None else None,
        "gap_label": budget.fmt_percent(share) if share is not None else "",
    }
