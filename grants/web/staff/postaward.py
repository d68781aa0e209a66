"""The staff's pages of a grant after the commitment: the instructor checks a report
(accept, or return with a message and a new due date) and decides an amendment; finance
pays the payable tranches (one or many at once), records the reimbursement of recoveries,
filters, totals and exports the payments.

Reads through ``grants.policy`` (what is not visible answers 404), writes through
``grants.services`` (one transaction per payment: one grant's lock at a time).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from grants import services
from grants.documents.downloads import safe_stem
from grants.machines import postaward as machine
from grants.models import ZERO, Call, Role
from grants.policy.postaward import visible_amendments, visible_reports
from grants.postaward import Amendment, Payment, Report
from grants.web import postaward as pages
from grants.web.staff import payment_exports
from grants.web.staff.common import Key, keyset_page, raise_for, report_error, staff_render, staff_view
from grants.web.staff.forms import action_form
from grants.web.staff.views import readable_application
from workflows import engine
from workflows.engine import TransitionError

DELEGATION = (Role.INSTRUCTOR, Role.SECRETARY, Role.SIGNATORY, Role.FINANCE, Role.ADMIN)
PAYMENT_KEYS = (Key("rank", "int"), Key("id", "int"))
BATCH_LIMIT = 200


def _followup_url(application_id: Any) -> str:
    return reverse("staff-application", args=[application_id]) + "#suivi"


# --- a report ------------------------------------------------------------------------------------


def _report(request: HttpRequest, application_id: Any, report_id: int) -> Report:
    app = readable_application(request.user, application_id)
    report = (
        visible_reports(request.user)
        .filter(application=app, pk=report_id)
        .select_related("decision", "application", "application__call", "application__organisation", "submitted_by")
        .first()
    )
    if report is None:
        raise Http404(_("Introuvable."))
    return report


def _report_context(
    request: HttpRequest, report: Report, *, bound: Any = None, unmet: list[str] | None = None
) -> dict[str, Any]:
    user = request.user
    return {
        "app": report.application,
        "report": pages.decorate_report(report),
        "statement": pages.statement(report),
        "editable": False,
        "can_accept": engine.available(machine.REPORT_ACCEPT, report, user),
        "can_return": engine.available(machine.REPORT_RETURN, report, user),
        "return_form": bound or action_form(machine.REPORT_RETURN),
        "unmet": unmet or [],
        "threshold": report.application.call.budget_change_threshold,
    }


@require_GET
@staff_view(*DELEGATION)
def report_page(request: HttpRequest, application_id: Any, report_id: int) -> HttpResponse:
    report = _report(request, application_id, report_id)
    return staff_render(
        request, "grants/postaward/staff_report.html", _report_context(request, report), active="dossiers"
    )


@require_POST
@staff_view(*DELEGATION)
def report_action(request: HttpRequest, application_id: Any, report_id: int, name: str) -> HttpResponse:
    if name not in ("accept", "return"):
        raise Http404(_("Action inconnue."))
    report = _report(request, application_id, report_id)
    form = action_form(machine.REPORT_RETURN, request.POST) if name == "return" else None
    payload: dict[str, Any] = {}
    if form is not None:
        form.is_valid()
        payload = {
            "message": request.POST.get("return-message", ""),
            "due_date": request.POST.get("return-due_date", ""),
        }
    try:
        services.report_transition(report_id=report.pk, name=name, user=request.user, payload=payload)
    except TransitionError as error:
        raise_for(error)
        report.refresh_from_db()
        if form is not None and error.status == 400:
            form = action_form(machine.REPORT_RETURN, request.POST)
            form.is_valid()
            form.errors.clear()  # the service's messages are the ones shown
            report_error(form, error)
            context = _report_context(request, report, bound=form)
            return staff_render(request, "grants/postaward/staff_report.html", context, active="dossiers", status=400)
        context = _report_context(request, report, unmet=error.unmet or [error.message])
        return staff_render(
            request, "grants/postaward/staff_report.html", context, active="dossiers", status=error.status
        )
    if name == "accept":
        messages.success(request, _("%(report)s accepté.") % {"report": report.label})
    else:
        messages.success(request, _("%(report)s renvoyé au porteur avec votre message.") % {"report": report.label})
    return redirect(_followup_url(report.application_id))


@require_GET
@staff_view(*DELEGATION)
def report_narrative(request: HttpRequest, application_id: Any, report_id: int) -> FileResponse:
    """The technical narrative under its sniffed type; the name is the report's, never a
    path of the user's."""
    report = _report(request, application_id, report_id)
    if not report.narrative:
        raise Http404(_("Introuvable."))
    try:
        handle = report.narrative.open("rb")
    except FileNotFoundError:
        raise Http404(_("Introuvable.")) from None
    extension = {
        "application/pdf": "pdf",
        "application/vnd.oasis.opendocument.text": "odt",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    }.get(report.narrative_type, "bin")
    stem = safe_stem(report.narrative_name, f"rapport-{report.pk}")
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"{stem}.{extension}",
        content_type=report.narrative_type if extension != "bin" else "application/octet-stream",
    )


# --- an amendment ----------------------------------------------------------------------------------


def _amendment(request: HttpRequest, application_id: Any, amendment_id: int) -> Amendment:
    app = readable_application(request.user, application_id)
    amendment = (
        visible_amendments(request.user)
        .filter(application=app, pk=amendment_id)
        .select_related("decision", "application", "application__call", "requested_by")
        .first()
    )
    if amendment is None:
        raise Http404(_("Introuvable."))
    return amendment


def _budget_versions(amendment: Amendment) -> list[dict[str, Any]]:
    """The budget in force before the change and the change's lines, by category."""
    before = (
        machine.by_category(machine.current_budget(amendment.decision))
        if amendment.state == Amendment.State.REQUESTED
        else None
    )
    if before is None:
        # Once decided, the signed budget is the reference shown beside the new version.
        signed = [
            {"category": line.category, "amount": line.amount} for line in amendment.application.budget_lines.all()
        ]
        before = machine.by_category(signed)
    after = machine.by_category(amendment.lines)
    rows = []
    for category, label in pages.CATEGORY_LABELS.items():
        old, new = before.get(category, ZERO), after.get(category, ZERO)
        if old or new:
            rows.append({"label": label, "old": old, "new": new, "gap": new - old})
    return rows


def _amendment_context(
    request: HttpRequest, amendment: Amendment, *, refuse_form: Any = None, unmet: list[str] | None = None
) -> dict[str, Any]:
    user = request.user
    decision = amendment.decision
    new_end = None
    if amendment.kind == Amendment.Kind.EXTENSION:
        end = machine.project_end(amendment.application, decision)
        new_end = (
            end
            if amendment.state == Amendment.State.ACCEPTED
            else machine.add_months(end + dt.timedelta(days=1), amendment.months) - dt.timedelta(days=1)
        )
    return {
        "app": amendment.application,
        "amendment": amendment,
        "badge": pages.AMENDMENT_BADGES.get(amendment.state, ""),
        "versions": _budget_versions(amendment) if amendment.kind == Amendment.Kind.BUDGET_CHANGE else [],
        "project_end": machine.project_end(amendment.application, decision),
        "new_end": new_end,
        "can_accept": engine.available(machine.AMENDMENT_ACCEPT, amendment, user),
        "can_refuse": engine.available(machine.AMENDMENT_REFUSE, amendment, user),
        "refuse_form": refuse_form or action_form(machine.AMENDMENT_REFUSE),
        "unmet": unmet or [],
        "document": pages.amendment_documents(user, decision).get(amendment.number),
    }


@require_GET
@staff_view(*DELEGATION)
def amendment_pdf(request: HttpRequest, application_id: Any, amendment_id: int) -> FileResponse:
    """The avenant once issued (the document policy decides); the file name is built from
    the reference, never from user text."""
    amendment = _amendment(request, application_id, amendment_id)
    document = pages.amendment_documents(request.user, amendment.decision).get(amendment.number)
    if document is None or not document.file:
        raise Http404(_("Introuvable."))
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=f"{safe_stem(document.reference, f'avenant-{amendment.pk}')}.pdf",
        content_type="application/pdf",
    )


@require_GET
@staff_view(*DELEGATION)
def amendment_page(request: HttpRequest, application_id: Any, amendment_id: int) -> HttpResponse:
    amendment = _amendment(request, application_id, amendment_id)
    context = _amendment_context(request, amendment)
    return staff_render(request, "grants/postaward/staff_amendment.html", context, active="dossiers")


@require_POST
@staff_view(*DELEGATION)
def amendment_action(request: HttpRequest, application_id: Any, amendment_id: int, name: str) -> HttpResponse:
    if name not in ("accept", "refuse"):
        raise Http404(_("Action inconnue."))
    amendment = _amendment(request, application_id, amendment_id)
    reason = request.POST.get("refuse-reason" if name == "refuse" else "accept-reason", "")
    try:
        services.amendment_decide(amendment_id=amendment.pk, name=name, user=request.user, reason=reason)
    except TransitionError as error:
        raise_for(error)
        amendment.refresh_from_db()
        form = action_form(machine.AMENDMENT_REFUSE, request.POST) if name == "refuse" else None
        if form is not None and error.status == 400:
            form.is_valid()
            form.errors.clear()
            report_error(form, error)
            context = _amendment_context(request, amendment, refuse_form=form)
            return staff_render(
                request, "grants/postaward/staff_amendment.html", context, active="dossiers", status=400
            )
        context = _amendment_context(request, amendment, unmet=error.unmet or [error.message])
        return staff_render(
            request, "grants/postaward/staff_amendment.html", context, active="dossiers", status=error.status
        )
    if name == "accept":
        messages.success(request, _("Avenant n° %(n)s accepté.") % {"n": amendment.number})
    else:
        messages.success(request, _("Avenant n° %(n)s refusé ; le porteur en est informé.") % {"n": amendment.number})
    return redirect(_followup_url(amendment.application_id))


# --- finance: the payments ----------------------------------------------------------------------------

STATE_FILTERS = ("payable", "scheduled", "paid", "cancelled", "all")


def _filters(request: HttpRequest) -> dict[str, str]:
    state = request.GET.get("etat", "payable")
    if state not in STATE_FILTERS:
        state = "payable"
    year = request.GET.get("annee", "")
    return {
        "etat": state,
        "appel": request.GET.get("appel", "")[:40],
        "annee": year if year.isdigit() and len(year) == 4 else "",
    }


def _ranked(qs: QuerySet[Payment]) -> QuerySet[Payment]:
    """Payable first (what finance has to do), then scheduled, paid, cancelled."""
    return qs.annotate(
        rank=Case(
            When(state=Payment.State.PAYABLE, then=Value(0)),
            When(state=Payment.State.SCHEDULED, then=Value(1)),
            When(state=Payment.State.PAID, then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        )
    )


def filtered_payments(user: Any, filters: dict[str, str]) -> QuerySet[Payment]:
    qs = pages.payments_for(user).exclude(kind=Payment.Kind.RECOVERY)
    if filters["etat"] != "all":
        qs = qs.filter(state=filters["etat"])
    if filters["appel"]:
        qs = qs.filter(application__call__code=filters["appel"])
    if filters["annee"]:
        year = int(filters["annee"])
        # The calendar year of the payment: when it was paid, else when it became payable.
        qs = qs.filter(Q(paid_on__year=year) | Q(paid_on__isnull=True, payable_at__year=year))
    return qs


def totals(user: Any) -> dict[str, Any]:
    """Payable, paid and remaining per call, and paid / payable per calendar year, over
    every payment the user may see (recoveries apart)."""
    rows = (
        pages.payments_for(user)
        .exclude(kind=Payment.Kind.RECOVERY)
        .exclude(state=Payment.State.CANCELLED)
        .values_list("application__call__code", "state", "amount", "paid_on", "payable_at")
    )
    per_call: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"payable": ZERO, "paid": ZERO, "remaining": ZERO})
    per_year: dict[int, dict[str, Decimal]] = defaultdict(lambda: {"payable": ZERO, "paid": ZERO})
    for code, state, amount, paid_on, payable_at in rows.order_by():
        line = per_call[code]
        if state == Payment.State.PAID:
            line["paid"] += amount
            if paid_on is not None:  # a paid payment always has its date (Payment.pay)
                per_year[paid_on.year]["paid"] += amount
        else:
            line["remaining"] += amount
            if state == Payment.State.PAYABLE:
                line["payable"] += amount
                if payable_at is not None:
                    per_year[timezone.localtime(payable_at).year]["payable"] += amount
    return {
        "per_call": sorted(per_call.items()),
        "per_year": sorted(per_year.items()),
        "all": {key: sum((line[key] for line in per_call.values()), ZERO) for key in ("payable", "paid", "remaining")},
    }


def _recoveries(user: Any) -> list[Payment]:
    rows = list(
        pages.payments_for(user)
        .filter(kind=Payment.Kind.RECOVERY)
        .exclude(state=Payment.State.CANCELLED)
        .order_by("state", "-pk")[:100]
    )
    for payment in rows:
        payment.explained = machine.explain(payment)  # type: ignore[attr-defined]
        payment.due_back = -payment.amount  # type: ignore[attr-defined]
        payment.badge = pages.PAYMENT_BADGES.get(payment.state, "")  # type: ignore[attr-defined]
    return rows


def _payments_context(
    request: HttpRequest, *, report: list[dict[str, Any]] | None = None, errors: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    user = request.user
    filters = _filters(request)
    qs = _ranked(filtered_payments(user, filters))
    page = keyset_page(qs, PAYMENT_KEYS, request.GET.get("cursor"))
    posted = request.POST if request.method == "POST" else {}
    for payment in page.rows:
        payment.badge = pages.PAYMENT_BADGES.get(payment.state, "")
        payment.explained = machine.explain(payment)
        payment.typed_ref = str(posted.get(f"ref-{payment.pk}", ""))
    calls = list(
        Call.objects.filter(pk__in=pages.payments_for(user).values("application__call"))
        .order_by("code")
        .values_list("code", flat=True)
    )
    query = request.GET.copy()
    query.pop("cursor", None)
    return {
        "page": page,
        "filters": filters,
        "calls": calls,
        "states": [*Payment.State.choices, ("all", _("Tous"))],
        "totals": totals(user),
        "recoveries": _recoveries(user),
        "query": query.urlencode(),
        "report": report or [],
        "errors": errors or {},
        "data": request.POST if request.method == "POST" else {},
        "today": timezone.localdate(),
        "selected": set(request.POST.getlist("payment")) if request.method == "POST" else set(),
    }


@require_GET
@staff_view(Role.FINANCE, Role.ADMIN)
def payments(request: HttpRequest) -> HttpResponse:
    return staff_render(request, "grants/postaward/payments.html", _payments_context(request), active="payments")


@require_POST
@staff_view(Role.FINANCE)
def payments_pay(request: HttpRequest) -> HttpResponse:
    """Pay the ticked payments (tranches, or a recovery's reimbursement), each through the
    service in its own transaction: one refused payment does not hold the others back.
    One date; one reference for the batch, or each payment's own."""
    user = request.user
    ids = [raw for raw in request.POST.getlist("payment")[:BATCH_LIMIT] if raw.isdigit()]
    template = "grants/postaward/payments.html"
    if not ids:
        messages.warning(request, _("Cochez au moins un versement à payer."))
        return staff_render(request, template, _payments_context(request), active="payments", status=400)
    visible = {p.pk: p for p in pages.payments_for(user).filter(pk__in=[int(i) for i in ids])}
    paid_on = request.POST.get("paid_on", "")
    batch_reference = request.POST.get("payment_reference", "").strip()
    report = []
    field_errors: dict[str, list[str]] = {}
    for raw in ids:
        payment = visible.get(int(raw))
        if payment is None:
            report.append({"ok": False, "label": _("Versement introuvable"), "reasons": []})
            continue
        label = _("%(reference)s — versement %(number)s") % {
            "reference": payment.application.reference,
            "number": payment.number,
        }
        reference = request.POST.get(f"ref-{payment.pk}", "").strip() or batch_reference
        try:
            services.payment_pay(payment_id=payment.pk, user=user, paid_on=paid_on, payment_reference=reference)
        except TransitionError as error:
            if error.status == 400:
                for name, msgs in error.errors.items():
                    field_errors.setdefault(name, [])
                    field_errors[name].extend(m for m in msgs if m not in field_errors[name])
            report.append({"ok": False, "label": label, "reasons": _reasons(error)})
        else:
            report.append({"ok": True, "label": label, "reasons": []})
    done = sum(1 for r in report if r["ok"])
    if done:
        messages.success(
            request,
            ngettext("%(n)s versement enregistré comme payé.", "%(n)s versements enregistrés comme payés.", done)
            % {"n": done},
        )
    if done == len(report):
        return redirect("payments")
    status = 200 if done else (400 if field_errors else 409)
    context = _payments_context(request, report=report, errors=field_errors)
    return staff_render(request, template, context, active="payments", status=status)


def _reasons(error: TransitionError) -> list[str]:
    if error.status == 400:
        return [m for msgs in error.errors.values() for m in msgs] or [error.message]
    return error.unmet or [error.message]


@require_GET
@staff_view(Role.FINANCE, Role.ADMIN)
def payments_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    if fmt not in payment_exports.FORMATS:
        raise Http404(_("Format inconnu."))
    filters = _filters(request)
    qs = filtered_payments(request.user, filters)
    content_type, extension = payment_exports.FORMATS[fmt]
    filename = payment_exports.export_filename(extension, timezone.now())
    response: HttpResponseBase
    if fmt == "csv":
        response = StreamingHttpResponse(payment_exports.csv_lines(qs), content_type=content_type)
    elif fmt == "xlsx":
        response = HttpResponse(payment_exports.xlsx_bytes(qs), content_type=content_type)
    else:
        response = HttpResponse(payment_exports.ods_bytes(qs), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
