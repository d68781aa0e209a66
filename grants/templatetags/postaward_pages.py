"""The grant's follow-up on the existing pages (``{% load postaward_pages %}``): the
applicant's and the staff's application pages, the applicant's home (what is due next),
the call's dashboard; and signed amounts and shares for the gaps of a statement.

Each tag reads through the read policy (``grants.web.postaward``) with the signed-in
user of the request: a page that includes it shows only what that user may read.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import template
from django.db.models import Count, Q, Sum
from django.utils import timezone

from grants.models import ZERO, Decision
from grants.policy.postaward import visible_reports
from grants.postaward import Payment, Report
from grants.templatetags.french_format import NNBSP, _format_number, euros
from grants.web import postaward as pages

register = template.Library()

MINUS = "\u2212"


@register.filter
def signed_euros(value: Any) -> str:
    """A gap: "+1 200,00 €", "−1 200,00 €", "0,00 €"; None → "—"."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value)
    if amount > 0:
        return "+" + euros(amount)
    if amount < 0:
        return MINUS + euros(-amount)
    return euros(amount)


@register.filter
def signed_share(value: Any) -> str:
    """A gap as a share of its budget: Decimal("-0.125") → "−12,5 %"; None → "—"."""
    if value is None or value == "":
        return "—"
    share = (Decimal(value) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    text = _format_number(abs(share), 1, strip_zeros=True) + f"{NNBSP}%"
    if share > 0:
        return "+" + text
    if share < 0:
        return MINUS + text
    return text


@register.filter
def negate(value: Any) -> Any:
    return -Decimal(value) if value not in (None, "") else value


def _user(context: template.Context) -> Any:
    request = context.get("request")
    return getattr(request, "user", None)


@register.inclusion_tag("grants/postaward/_applicant_followup.html", takes_context=True)
def postaward_applicant(context: template.Context, app: Any) -> dict[str, Any]:
    """The applicant's application page: the schedule, the reports, the amendments and
    the actions of an engaged grant (nothing before the commitment)."""
    user = _user(context)
    decision = pages.decision_of(app)
    if user is None or decision is None or decision.state not in pages.FOLLOWED:
        return {"followup": None}
    from grants.models import Role
    from grants.policy import role_for

    acting = role_for(user, (Role.APPLICANT,), app) is not None
    return {"followup": pages.followup(user, decision), "app": app, "acting": acting, "request": context.get("request")}


@register.inclusion_tag("grants/postaward/_staff_followup.html", takes_context=True)
def postaward_staff(context: template.Context, app: Any) -> dict[str, Any]:
    """ "Suivi de la subvention" on the staff application page."""
    user = _user(context)
    decision = pages.decision_of(app)
    if user is None or decision is None or decision.state not in pages.FOLLOWED:
        return {"followup": None}
    return {"followup": pages.followup(user, decision), "app": app, "request": context.get("request")}


@register.inclusion_tag("grants/postaward/_applicant_due.html", takes_context=True)
def postaward_due(context: template.Context) -> dict[str, Any]:
    """The applicant's home: the reports its authority has to file, the nearest first."""
    user = _user(context)
    if user is None or not user.is_authenticated or context.get("no_reports_due"):
        return {"reports": []}
    today = timezone.localdate()
    reports = list(
        visible_reports(user)
        .filter(state__in=[Report.State.DUE, Report.State.RETURNED], decision__state=Decision.State.RECORDED)
        .select_related("application")
        .order_by("due_on", "pk")[:10]
    )
    for report in reports:
        pages.decorate_report(report, today)
    return {"reports": reports}


@register.inclusion_tag("grants/postaward/_call_figures.html", takes_context=True)
def postaward_call_figures(context: template.Context, call: Any) -> dict[str, Any]:
    """The call's dashboard: payments made against the committed amount, reports overdue."""
    user = _user(context)
    if user is None:
        return {"figures": None}
    today = timezone.localdate()
    payments = pages.payments_for(user).filter(application__call=call).order_by()
    totals = payments.aggregate(
        paid=Sum("amount", filter=Q(state=Payment.State.PAID) & ~Q(kind=Payment.Kind.RECOVERY)),
        payable=Sum("amount", filter=Q(state=Payment.State.PAYABLE) & ~Q(kind=Payment.Kind.RECOVERY)),
        scheduled=Sum("amount", filter=Q(state=Payment.State.SCHEDULED) & ~Q(kind=Payment.Kind.RECOVERY)),
        to_recover=Sum("amount", filter=Q(state=Payment.State.PAYABLE, kind=Payment.Kind.RECOVERY)),
        recovered=Sum("amount", filter=Q(state=Payment.State.PAID, kind=Payment.Kind.RECOVERY)),
    )
    committed = (
        Decision.objects.filter(
            call=call,
            outcome=Decision.Outcome.APPROVED,
            state__in=[Decision.State.RECORDED, Decision.State.CLOSED, Decision.State.RENOUNCED],
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    paid = totals["paid"] or ZERO
    overdue = list(
        visible_reports(user)
        .filter(
            application__call=call,
            state__in=[Report.State.DUE, Report.State.RETURNED],
            due_on__lt=today,
            decision__state=Decision.State.RECORDED,
        )
        .select_related("application", "application__organisation")
        .order_by("due_on", "pk")[:20]
    )
    counts = (
        visible_reports(user)
        .filter(application__call=call)
        .order_by()
        .aggregate(
            due=Count("pk", filter=Q(state__in=[Report.State.DUE, Report.State.RETURNED])),
            submitted=Count("pk", filter=Q(state=Report.State.SUBMITTED)),
            accepted=Count("pk", filter=Q(state=Report.State.ACCEPTED)),
        )
    )
    return {
        "figures": {
            "committed": committed,
            "paid": paid,
            "payable": totals["payable"] or ZERO,
            "scheduled": totals["scheduled"] or ZERO,
            "to_recover": -(totals["to_recover"] or ZERO),
            "recovered": -(totals["recovered"] or ZERO),
            "percent": min(100, int(paid * 100 / committed)) if committed > 0 else 0,
            "overdue": overdue,
            "counts": counts,
        },
        "call": call,
    }
