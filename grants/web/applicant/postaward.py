"""The applicant's pages of a grant after the commitment: file (or refile) a report
with its financial statement beside the budget, ask for an amendment, renounce the
project. Reads through ``grants.policy``, writes through ``grants.services``; the gaps of
the statement are computed on the server (``grants.web.postaward.statement``).

A closed or renounced grant is read-only: its pages still show what was filed, never a
form.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from grants import services
from grants.machines import postaward as machine
from grants.models import ZERO, Application, BudgetLine, Decision
from grants.policy.postaward import visible_reports
from grants.postaward import Amendment, Payment, Report
from grants.web import postaward as pages
from grants.web.applicant.views import _application, applicant_required
from workflows.engine import TransitionError

#: At most this many bytes are read of an upload (the service refuses above its own cap).
READ_LIMIT = 64 * 1024 * 1024


def _grant(request: HttpRequest, pk: Any) -> tuple[Application, Decision]:
    """The lead authority's application and its engaged (or finished) grant, else 404."""
    app = _application(request, pk, Application.objects.select_related("call", "organisation", "decision"))
    decision = pages.decision_of(app)
    if decision is None or decision.state not in pages.FOLLOWED:
        raise Http404
    return app, decision


def _raise_for(error: TransitionError) -> None:
    if error.status == 404:
        raise Http404(error.message)
    if error.status == 403:
        raise PermissionDenied(error.message)


def _followup_url(app: Application) -> str:
    return reverse("applicant-application", args=[app.pk]) + "#suivi"


def _anchor(name: str) -> str:
    return "statement" if name == "expenses" else name


def _named(labels: dict[str, str], name: str, message: str) -> str:
    label = labels.get(name)
    return _("%(label)s : %(message)s") % {"label": label, "message": message} if label else message


# --- a report ---------------------------------------------------------------------------------


def _report_context(
    app: Application,
    report: Report,
    statement: pages.Statement,
    *,
    errors: dict[str, str] | None = None,
    unmet: list[str] | None = None,
    recalculated: bool = False,
) -> dict[str, Any]:
    decision = report.decision
    editable = report.state in (Report.State.DUE, Report.State.RETURNED) and decision.state in pages.LIVE
    errors = {**statement.errors, **(errors or {})}
    labels = {
        row.name: _("%(category)s, année %(year)s") % {"category": row.label, "year": row.year}
        for row in statement.rows
    }
    labels.update(
        narrative=_("Compte rendu technique"),
        statement=_("Dépenses réalisées"),
        expenses=_("Dépenses réalisées"),
        extra_category=_("Autre dépense : catégorie"),
        extra_year=_("Autre dépense : année"),
        extra_amount=_("Autre dépense : montant"),
    )
    summary = [(_anchor(name), _named(labels, name, message)) for name, message in errors.items()]
    return {
        "app": app,
        "report": pages.decorate_report(report),
        "statement": statement,
        "editable": editable,
        "errors": errors,
        "error_summary": summary,
        "unmet": unmet or [],
        "recalculated": recalculated,
        "categories": BudgetLine.Category.choices,
        "years": list(range(1, statement.years + 1)),
        "decision": decision,
        "threshold": app.call.budget_change_threshold,
    }


@applicant_required
@require_http_methods(["GET", "POST"])
def report_page(request: HttpRequest, pk: Any, report_id: int) -> HttpResponse:
    """GET: the report (its form while it is due or returned). POST ``action=recalculate``:
    the gaps recomputed from what was typed; ``action=submit``: the report filed."""
    app, _decision = _grant(request, pk)
    report = (
        visible_reports(request.user)
        .filter(application=app, pk=report_id)
        .select_related("decision", "application", "application__call")
        .first()
    )
    if report is None:
        raise Http404
    if request.method == "GET":
        return render(
            request, "grants/postaward/applicant_report.html", _report_context(app, report, pages.statement(report))
        )
    statement = pages.statement(report, request.POST)
    if request.POST.get("action") == "recalculate":
        context = _report_context(app, report, statement, recalculated=True)
        return render(
            request, "grants/postaward/applicant_report.html", context, status=400 if statement.errors else 200
        )
    errors: dict[str, str] = {}
    upload = request.FILES.get("narrative")
    if upload is None:
        errors["narrative"] = _("Joignez le compte rendu technique (un document PDF, ODT ou DOCX).")
    if not statement.expenses() and not statement.errors:
        errors["statement"] = _("Indiquez au moins une dépense réalisée.")
    if errors or statement.errors:
        context = _report_context(app, report, statement, errors=errors)
        return render(request, "grants/postaward/applicant_report.html", context, status=400)
    assert upload is not None
    name = "resubmit" if report.state == Report.State.RETURNED else "submit"
    payload = {
        "narrative": upload.read(READ_LIMIT),
        "narrative_name": upload.name or "",
        "expenses": statement.expenses(),
    }
    try:
        services.report_transition(report_id=report.pk, name=name, user=request.user, payload=payload)
    except TransitionError as error:
        _raise_for(error)
        report.refresh_from_db()
        if error.status == 400:
            context = _report_context(app, report, statement, errors=pages.service_errors(error.errors))
            return render(request, "grants/postaward/applicant_report.html", context, status=400)
        # A second click, another tab, or a grant that changed meanwhile: nothing filed twice.
        context = _report_context(app, report, statement, unmet=error.unmet or [error.message])
        return render(request, "grants/postaward/applicant_report.html", context, status=409)
    messages.success(
        request,
        _("%(report)s déposé : le service instructeur va l'examiner.") % {"report": report.label},
    )
    return redirect(_followup_url(app))


# --- an amendment --------------------------------------------------------------------------------


def _budget_rows(decision: Decision, data: Any = None) -> list[dict[str, Any]]:
    rows = []
    for index, line in enumerate(machine.current_budget(decision)):
        name = f"line-{index}"
        rows.append(
            {
                "name": name,
                "year": int(line["year"]),
                "category": line["category"],
                "category_label": pages.CATEGORY_LABELS.get(line["category"], line["category"]),
                "label": line["label"],
                "amount": Decimal(str(line["amount"])),
                "typed": str(data.get(name, "")).strip()
                if data is not None
                else f"{Decimal(str(line['amount'])):f}".replace(".", ","),
            }
        )
    return rows


def _amendment_payload(decision: Decision, data: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The request as the service takes it, and the field errors the page can tell before
    asking it (an amount that is not one)."""
    from grants.machines.payload import parse_amount
    from workflows.engine import Invalid

    kind = str(data.get("kind", ""))
    payload: dict[str, Any] = {"kind": kind, "reason": data.get("reason", "")}
    errors: dict[str, str] = {}
    if kind == Amendment.Kind.EXTENSION:
        payload["months"] = str(data.get("months", "")).strip()
    elif kind == Amendment.Kind.BUDGET_CHANGE:
        lines = []
        for row in _budget_rows(decision, data):
            try:
                amount = parse_amount(row["typed"], row["name"]) if row["typed"] else ZERO
            except Invalid as exc:
                errors[row["name"]] = exc.errors[row["name"]][0]
                continue
            lines.append(
                {"year": row["year"], "category": row["category"], "label": row["label"], "amount": f"{amount:f}"}
            )
        extra_amount = str(data.get("new_amount", "")).strip()
        if extra_amount:
            category = str(data.get("new_category", ""))
            year = str(data.get("new_year", ""))
            if category not in pages.CATEGORY_LABELS:
                errors["new_category"] = _("Catégorie inconnue : choisissez une catégorie de la liste.")
            elif not year.isdigit():
                errors["new_year"] = _("Indiquez l'année du projet.")
            else:
                try:
                    amount = parse_amount(extra_amount, "new_amount")
                except Invalid as exc:
                    errors["new_amount"] = exc.errors["new_amount"][0]
                else:
                    label = str(data.get("new_label", "")).strip()[:250]
                    lines.append({"year": int(year), "category": category, "label": label, "amount": f"{amount:f}"})
        payload["lines"] = lines
    else:
        payload["text"] = data.get("text", "")
    return payload, errors


def _amendment_context(
    app: Application,
    decision: Decision,
    data: Any = None,
    errors: dict[str, str] | None = None,
    unmet: list[str] | None = None,
) -> dict[str, Any]:
    years = machine.project_years(app, decision)
    left = app.call.max_extension_months - machine.extension_months(decision)
    errors = errors or {}
    rows = _budget_rows(decision, data)
    for row in rows:
        row["error"] = errors.get(row["name"], "")
    labels = {
        row["name"]: _("%(category)s, année %(year)s") % {"category": row["category_label"], "year": row["year"]}
        for row in rows
    }
    labels.update(
        kind=_("Type de modification"),
        months=_("Mois de prolongation"),
        lines=_("Nouveau budget"),
        text=_("Modification demandée"),
        reason=_("Motif de la demande"),
        new_category=_("Nouvelle ligne : catégorie"),
        new_year=_("Nouvelle ligne : année"),
        new_amount=_("Nouvelle ligne : montant"),
    )
    return {
        "app": app,
        "decision": decision,
        "data": data or {},
        "kind": (data or {}).get("kind", Amendment.Kind.EXTENSION),
        "kinds": Amendment.Kind.choices,
        "rows": rows,
        "categories": BudgetLine.Category.choices,
        "years": list(range(1, years + 1)),
        "errors": errors,
        "error_summary": [(name, _named(labels, name, message)) for name, message in errors.items()],
        "unmet": unmet or [],
        "months_left": max(0, left),
        "threshold": app.call.budget_change_threshold,
        "live": decision.state in pages.LIVE,
    }


@applicant_required
@require_http_methods(["GET", "POST"])
def amendment_new(request: HttpRequest, pk: Any) -> HttpResponse:
    app, decision = _grant(request, pk)
    template = "grants/postaward/applicant_amendment.html"
    if request.method == "GET" or decision.state not in pages.LIVE:
        # A closed or renounced grant is read-only: a POST changes nothing (409).
        status = 200 if request.method == "GET" else 409
        return render(request, template, _amendment_context(app, decision), status=status)
    payload, errors = _amendment_payload(decision, request.POST)
    if errors:
        return render(request, template, _amendment_context(app, decision, request.POST, errors), status=400)
    try:
        amendment = services.amendment_request(decision_id=decision.pk, user=request.user, payload=payload)
    except TransitionError as error:
        _raise_for(error)
        if error.status == 400:
            context = _amendment_context(app, decision, request.POST, pages.service_errors(error.errors))
            return render(request, template, context, status=400)
        context = _amendment_context(app, decision, request.POST, unmet=error.unmet or [error.message])
        return render(request, template, context, status=409)
    messages.success(
        request,
        _("Demande d'avenant n° %(n)s envoyée au service instructeur.") % {"n": amendment.number},
    )
    return redirect(_followup_url(app))


# --- renunciation ---------------------------------------------------------------------------------


def _renounce_context(
    app: Application, decision: Decision, data: Any = None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    payments = list(Payment.objects.filter(decision=decision))
    paid = sum((p.amount for p in payments if p.state == Payment.State.PAID and p.kind != Payment.Kind.RECOVERY), ZERO)
    unpaid = sum(
        (p.amount for p in payments if p.state in (Payment.State.SCHEDULED, Payment.State.PAYABLE) and p.amount > 0),
        ZERO,
    )
    return {
        "app": app,
        "decision": decision,
        "paid": paid,
        "unpaid": unpaid,
        "data": data or {},
        "errors": errors or {},
        "error_summary": [
            (name, _named({"reason": _("Motif"), "confirm": _("Confirmation")}, name, message))
            for name, message in (errors or {}).items()
        ],
        "live": decision.state in pages.LIVE,
    }


@applicant_required
@require_http_methods(["GET", "POST"])
def renounce(request: HttpRequest, pk: Any) -> HttpResponse:
    app, decision = _grant(request, pk)
    template = "grants/postaward/applicant_renounce.html"
    if request.method == "GET" or decision.state not in pages.LIVE:
        status = 200 if request.method == "GET" else 409
        return render(request, template, _renounce_context(app, decision), status=status)
    errors: dict[str, str] = {}
    if request.POST.get("confirm") != "yes":
        errors["confirm"] = _("Cochez la case pour confirmer que le projet ne sera pas réalisé.")
    if not str(request.POST.get("reason", "")).strip():
        errors["reason"] = _("Ce champ est obligatoire.")
    if errors:
        return render(request, template, _renounce_context(app, decision, request.POST, errors), status=400)
    try:
        services.decision_renounce(decision_id=decision.pk, user=request.user, reason=request.POST["reason"])
    except TransitionError as error:
        _raise_for(error)
        if error.status == 400:
            context = _renounce_context(app, decision, request.POST, pages.service_errors(error.errors))
            return render(request, template, context, status=400)
        messages.error(request, " ".join(error.unmet or [error.message]))
        return redirect(_followup_url(app))
    messages.success(request, _("Votre renonciation est enregistrée : les tranches non versées sont annulées."))
    return redirect(_followup_url(app))
