"""What the pages of every role show of a grant's life after the commitment: the
payments schedule, the reports and their due dates, the amendments, the financial
statement beside the budget (with its gaps), and the reading of a statement form.

Presentation only: every figure is computed here, on the server, from the rows the
read policy lets the user see (``grants.policy.postaward``); every rule stays in the
machines (``grants.machines.postaward``), which the services run. The gaps a page shows
while the applicant types are recomputed by a "Recalculer" submit: no rule in JavaScript.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from grants.machines import postaward as machine
from grants.machines.payload import parse_amount
from grants.models import ZERO, BudgetLine, Decision, Document
from grants.policy.postaward import visible_amendments, visible_payments, visible_reports
from grants.postaward import Amendment, Payment, Report
from workflows.engine import Invalid

CENT = Decimal("0.01")

PAYMENT_BADGES: dict[str, str] = {
    Payment.State.SCHEDULED: "fr-badge--info",
    Payment.State.PAYABLE: "fr-badge--warning",
    Payment.State.PAID: "fr-badge--success",
    Payment.State.CANCELLED: "",
}
REPORT_BADGES: dict[str, str] = {
    Report.State.DUE: "fr-badge--info",
    Report.State.SUBMITTED: "fr-badge--new",
    Report.State.RETURNED: "fr-badge--warning",
    Report.State.ACCEPTED: "fr-badge--success",
    Report.State.CANCELLED: "",
}
AMENDMENT_BADGES: dict[str, str] = {
    Amendment.State.REQUESTED: "fr-badge--new",
    Amendment.State.ACCEPTED: "fr-badge--success",
    Amendment.State.REFUSED: "fr-badge--error",
}
#: The grant can still be paid, reported on, amended (else read-only).
LIVE = (Decision.State.RECORDED,)
FOLLOWED = (Decision.State.RECORDED, Decision.State.CLOSED, Decision.State.RENOUNCED)


def decision_of(application: Any) -> Decision | None:
    try:
        decision: Decision = application.decision
    except Decision.DoesNotExist:
        return None
    return decision


# --- the grant's follow-up (schedule, reports, amendments) -------------------------------------


@dataclass
class Followup:
    decision: Decision
    payments: list[Payment]
    reports: list[Report]
    amendments: list[Amendment]
    paid_total: Decimal
    recovered_total: Decimal
    remaining: Decimal
    next_report: Report | None
    live: bool
    explanations: list[str] = field(default_factory=list)


def followup(user: Any, decision: Decision, *, today: dt.date | None = None) -> Followup:
    """The grant's schedule, reports and amendments as ``user`` may read them."""
    today = today or timezone.localdate()
    payments = list(visible_payments(user).filter(decision=decision).order_by("number", "pk"))
    reports = list(visible_reports(user).filter(decision=decision).order_by("due_on", "pk"))
    amendments = list(visible_amendments(user).filter(decision=decision).order_by("number", "pk"))
    for payment in payments:
        payment.badge = PAYMENT_BADGES.get(payment.state, "")  # type: ignore[attr-defined]
        payment.explained = machine.explain(payment)  # type: ignore[attr-defined]
        payment.is_recovery = payment.kind == Payment.Kind.RECOVERY  # type: ignore[attr-defined]
        payment.shown_amount = -payment.amount if payment.kind == Payment.Kind.RECOVERY else payment.amount  # type: ignore[attr-defined]
    for report in reports:
        decorate_report(report, today)
    avenants = (
        amendment_documents(user, decision) if any(a.state == Amendment.State.ACCEPTED for a in amendments) else {}
    )
    for amendment in amendments:
        amendment.badge = AMENDMENT_BADGES.get(amendment.state, "")  # type: ignore[attr-defined]
        amendment.document = avenants.get(amendment.number)  # type: ignore[attr-defined]
    paid = sum((p.amount for p in payments if p.state == Payment.State.PAID and p.kind != Payment.Kind.RECOVERY), ZERO)
    recovered = sum(
        (-p.amount for p in payments if p.state == Payment.State.PAID and p.kind == Payment.Kind.RECOVERY), ZERO
    )
    remaining = sum(
        (
            p.amount
            for p in payments
            if p.state in (Payment.State.SCHEDULED, Payment.State.PAYABLE) and p.kind != Payment.Kind.RECOVERY
        ),
        ZERO,
    )
    waiting = [r for r in reports if r.state in (Report.State.DUE, Report.State.RETURNED)]
    return Followup(
        decision=decision,
        payments=payments,
        reports=reports,
        amendments=amendments,
        paid_total=paid,
        recovered_total=recovered,
        remaining=remaining,
        next_report=min(waiting, key=lambda r: r.due_on) if waiting else None,
        live=decision.state in LIVE,
        explanations=[p.explained for p in payments if p.explained],  # type: ignore[attr-defined]
    )


def amendment_documents(user: Any, decision: Decision) -> dict[int, Any]:
    """The issued avenants ``user`` may download, by amendment number (the document
    policy decides; the reference ends with "-AV<number>")."""
    from grants.policy import application_documents

    found: dict[int, Any] = {}
    for document in application_documents(user, decision.application, decision):
        if document.kind == Document.Kind.AMENDMENT and "-AV" in document.reference:
            number = document.reference.rsplit("-AV", 1)[1]
            if number.isdigit():
                found[int(number)] = document
    return found


def decorate_report(report: Report, today: dt.date | None = None) -> Report:
    today = today or timezone.localdate()
    report.badge = REPORT_BADGES.get(report.state, "")  # type: ignore[attr-defined]
    report.overdue = report.state in (Report.State.DUE, Report.State.RETURNED) and report.due_on < today  # type: ignore[attr-defined]
    return report


# --- the financial statement beside the budget ----------------------------------------------------


@dataclass
class StatementRow:
    category: str
    label: str
    year: int
    budget: Decimal
    name: str  # the form input's name
    typed: str = ""  # what the user typed, kept as typed
    actual: Decimal | None = None
    error: str = ""

    @property
    def gap(self) -> Decimal | None:
        return None if self.actual is None else self.actual - self.budget

    @property
    def gap_share(self) -> Decimal | None:
        """The gap as a share of the budget line (None when the line had no budget)."""
        if self.actual is None or self.budget <= 0:
            return None
        return ((self.actual - self.budget) / self.budget).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@dataclass
class Statement:
    rows: list[StatementRow]
    years: int
    budget_total: Decimal
    actual_total: Decimal | None
    errors: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # the free line, as typed

    @property
    def gap_total(self) -> Decimal | None:
        return None if self.actual_total is None else self.actual_total - self.budget_total

    @property
    def gap_total_share(self) -> Decimal | None:
        if self.actual_total is None or self.budget_total <= 0:
            return None
        return ((self.actual_total - self.budget_total) / self.budget_total).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )

    def expenses(self) -> list[dict[str, Any]]:
        """The statement as the service takes it: ``[{category, year, amount}]``."""
        lines = [
            {"category": r.category, "year": r.year, "amount": f"{r.actual:f}"}
            for r in self.rows
            if r.actual is not None
        ]
        return lines


CATEGORY_LABELS = dict(BudgetLine.Category.choices)


def input_name(category: str, year: int) -> str:
    return f"exp-{category}-{year}"


def budget_by_line(decision: Decision) -> dict[tuple[str, int], Decimal]:
    """The budget in force (the signed one, or the last accepted budget change) by
    (category, year)."""
    totals: dict[tuple[str, int], Decimal] = {}
    for line in machine.current_budget(decision):
        key = (str(line["category"]), int(line["year"]))
        totals[key] = totals.get(key, ZERO) + Decimal(str(line["amount"]))
    return totals


def statement(report: Report, data: Any = None) -> Statement:
    """The statement's rows: one per category and project year of the budget, plus the
    categories the report already declares; ``data`` (a POST) is read and checked field
    by field, what was typed kept as typed. Without ``data``, the report's own expenses."""
    decision = report.decision
    years = machine.project_years(report.application, decision)
    budgets = budget_by_line(decision)
    declared = {(str(e["category"]), int(e["year"])): Decimal(str(e["amount"])) for e in report.expenses or []}
    keys = sorted(
        {*budgets, *declared},
        key=lambda k: (k[1], list(CATEGORY_LABELS).index(k[0]) if k[0] in CATEGORY_LABELS else 99),
    )
    rows: list[StatementRow] = []
    errors: dict[str, str] = {}
    for category, year in keys:
        name = input_name(category, year)
        row = StatementRow(
            category=category,
            label=str(CATEGORY_LABELS.get(category, category)),
            year=year,
            budget=budgets.get((category, year), ZERO),
            name=name,
        )
        if data is None:
            if (category, year) in declared:
                row.actual = declared[(category, year)]
                row.typed = _typed(row.actual)
        else:
            row.typed = str(data.get(name, "")).strip()
            if row.typed:
                try:
                    row.actual = parse_amount(row.typed, name)
                except Invalid as exc:
                    row.error = exc.errors[name][0]
                    errors[name] = row.error
        rows.append(row)
    extra: dict[str, str] = {}
    if data is not None:
        extra = {k: str(data.get(f"extra_{k}", "")).strip() for k in ("category", "year", "amount")}
        if extra["amount"] or extra["category"]:
            _read_extra(extra, rows, years, errors)
    actuals = [r.actual for r in rows if r.actual is not None]
    return Statement(
        rows=rows,
        years=years,
        budget_total=sum(budgets.values(), ZERO),
        actual_total=sum(actuals, ZERO) if actuals else None,
        errors=errors,
        extra=extra,
    )


def _typed(amount: Decimal) -> str:
    return f"{amount:f}".replace(".", ",")


def _read_extra(extra: dict[str, str], rows: list[StatementRow], years: int, errors: dict[str, str]) -> None:
    """The free line: a spending in a category (or a year) the budget did not plan."""
    category, year_text, amount_text = extra["category"], extra["year"], extra["amount"]
    if category not in CATEGORY_LABELS:
        errors["extra_category"] = _("Catégorie inconnue : choisissez une catégorie de la liste.")
        return
    if not year_text.isdigit() or not 1 <= int(year_text) <= years:
        errors["extra_year"] = _("L'année du projet va de 1 à %(max)s.") % {"max": years}
        return
    year = int(year_text)
    if not amount_text:
        errors["extra_amount"] = _("Indiquez le montant dépensé.")
        return
    try:
        amount = parse_amount(amount_text, "extra_amount")
    except Invalid as exc:
        errors["extra_amount"] = exc.errors["extra_amount"][0]
        return
    for row in rows:
        if row.category == category and row.year == year:
            if row.actual is not None:
                errors["extra_category"] = _(
                    "Cette catégorie figure déjà pour cette année : saisissez-la dans sa ligne."
                )
                return
            row.actual, row.typed = amount, amount_text
            return
    rows.append(
        StatementRow(
            category=category,
            label=str(CATEGORY_LABELS[category]),
            year=year,
            budget=ZERO,
            name=input_name(category, year),
            typed=amount_text,
            actual=amount,
        )
    )
    extra.clear()


def service_errors(errors: dict[str, list[str]]) -> dict[str, str]:
    """The service's 400 (``expenses``: "Ligne N : …") kept on the form as it is."""
    return {name: " ".join(messages) for name, messages in errors.items()}


# --- queries the finance page and the dashboard share -----------------------------------------------


def payments_for(user: Any) -> QuerySet[Payment]:
    return visible_payments(user).select_related(
        "decision", "application", "application__call", "application__organisation"
    )


def task_link(task: Any) -> str:
    """Where the inbox sends a post-award task: the payments page, the report's or the
    amendment's page ("" for any other task)."""
    kind, subject = task.kind, task.subject_id
    if not subject:
        return ""
    if kind == "pay_tranche":
        return reverse("payments") + f"?etat=payable#payment-{subject}"
    if kind == "check_report":
        return reverse("staff-report", args=[task.application_id, int(subject)])
    if kind == "decide_amendment":
        return reverse("staff-amendment", args=[task.application_id, int(subject)])
    if kind == "submit_report":
        return reverse("applicant-report", args=[task.application_id, int(subject)])
    return ""
