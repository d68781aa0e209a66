"""The signatory (decisions to sign, one or many) and finance (delivered decisions,
their PDF, the commitment number, exports)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from grants import policy, services
from grants.documents import issuing
from grants.models import Country, Decision, Document, Role
from grants.web.rows import csrf_input, url_maker
from grants.web.staff import exports, spreadsheets
from grants.web.staff.common import (
    DECISION_BADGES,
    Key,
    decorate,
    keyset_page,
    report_error,
    staff_render,
    staff_view,
)
from grants.web.staff.forms import CommitmentForm
from workflows import engine
from workflows.engine import TransitionError

DECISION_KEYS = (Key("decided_at", "datetime"), Key("id", "int"))
DELIVERED_KEYS = (Key("delivered_at", "datetime", descending=True), Key("id", "int", descending=True))
PROGRESS_SIZE = 20
#: The prefix's id in the commitment form rendered once for a page (no decision has it).
_FORM_PLACEHOLDER = 987654321


def _with_rows(qs: QuerySet[Decision]) -> QuerySet[Decision]:
    return (
        qs.select_related("application", "application__call", "application__organisation", "session", "document")
        .defer("session__frozen_ranking")  # a closed session's whole agenda, for each row otherwise
        .prefetch_related(Prefetch("application__countries", queryset=Country.objects.order_by("iso2")))
    )


def _decorate(decisions: list[Decision]) -> list[Decision]:
    for decision in decisions:
        decorate(decision, badge=DECISION_BADGES.get(decision.state, ""), has_document=_document(decision) is not None)
    return decisions


def _document(decision: Decision) -> Document | None:
    try:
        return decision.document
    except Document.DoesNotExist:
        return None


# --- signatory ------------------------------------------------------------------------------


def _progress(user: Any) -> list[Decision]:
    """The user's latest signatures with their rendering: signed → delivered, the PDF,
    the render error if any (bounded: the last few, newest first)."""
    qs = policy.visible_decisions(user).filter(signed_by=user).exclude(state=Decision.State.DRAFT)
    return _decorate(list(_with_rows(qs).order_by("-signed_at", "-pk")[:PROGRESS_SIZE]))


def _signatory_context(
    request: HttpRequest, report: list[dict[str, Any]] | None = None, *, confirm_errors: list[str] | None = None
) -> dict[str, Any]:
    user = request.user
    page = keyset_page(_with_rows(policy.decisions_to_sign(user)), DECISION_KEYS, request.GET.get("cursor"))
    _decorate(page.rows)
    application_url = url_maker("staff-application", "uuid")
    preview_url = url_maker("signatory-preview")
    for decision in page.rows:
        decision.application_url = application_url(decision.application_id)
        decision.preview_url = preview_url(decision.pk)
    progress = _progress(user)
    return {
        "page": page,
        "progress": progress,
        "rendering": any(d.state == Decision.State.SIGNED for d in progress),
        "report": report or [],
        # The signature's confirmation (its Spec's), ticked once for the decisions ticked.
        "sign_confirm": services.DECISION_SIGN.confirm,
        "confirm_errors": confirm_errors or [],
        "checked": set(request.POST.getlist("decision")) if request.method == "POST" else set(),
    }


@require_GET
@staff_view(Role.SIGNATORY, Role.ADMIN)
def signatory(request: HttpRequest) -> HttpResponse:
    return staff_render(request, "grants/staff/signatory.html", _signatory_context(request), active="signatory")


@require_GET
@staff_view(Role.SIGNATORY, Role.ADMIN)
def signatory_progress(request: HttpRequest) -> HttpResponse:
    """htmx poll: the rendering progress of the user's signed decisions."""
    progress = _progress(request.user)
    context = {"progress": progress, "rendering": any(d.state == Decision.State.SIGNED for d in progress)}
    return staff_render(request, "grants/staff/_sign_progress.html", context)


@require_POST
@staff_view(Role.SIGNATORY)
def signatory_sign(request: HttpRequest) -> HttpResponse:
    """Sign the ticked decisions, each through the service in its own transaction: one
    refused decision does not hold back the others. A report per decision."""
    user = request.user
    ids = request.POST.getlist("decision")[:200]
    if not ids:
        messages.warning(request, _("Cochez au moins une décision à signer."))
        context = _signatory_context(request)
        return staff_render(request, "grants/staff/signatory.html", context, active="signatory", status=400)
    confirm = request.POST.get("confirm", "")
    refusal = engine.confirmation_refusal(services.DECISION_SIGN, {"confirm": confirm})
    if refusal:
        # Nothing is signed before the confirmation is ticked; the ticked rows stay ticked.
        context = _signatory_context(request, confirm_errors=refusal["confirm"])
        context["error_summary"] = [
            ("sign-confirm", _("%(label)s : %(message)s") % {"label": _("Confirmation de la signature"), "message": m})
            for m in refusal["confirm"]
        ]
        return staff_render(request, "grants/staff/signatory.html", context, active="signatory", status=400)
    labels = dict(
        policy.visible_decisions(user)
        .filter(pk__in=[int(i) for i in ids if i.isdigit()])
        .values_list("pk", "application__reference")
    )
    report = []
    for raw in ids:
        label = labels.get(int(raw)) if raw.isdigit() else None
        if label is None:
            # Not a decision this user may see: reported without saying whether it exists.
            report.append({"ok": False, "label": _("Décision introuvable"), "reasons": []})
            continue
        try:
            services.decision_sign(decision_id=int(raw), user=user, confirm=confirm)
        except TransitionError as error:
            report.append({"ok": False, "label": label, "reasons": error.unmet or [error.message]})
        else:
            report.append({"ok": True, "label": label, "reasons": []})
    done = sum(1 for r in report if r["ok"])
    if done:
        messages.success(
            request,
            ngettext(
                "%(n)s décision signée : la lettre de notification est en préparation.",
                "%(n)s décisions signées : les lettres de notification sont en préparation.",
                done,
            )
            % {"n": done},
        )
    if done == len(report):
        return redirect("signatory")
    context = _signatory_context(request, report)
    return staff_render(
        request, "grants/staff/signatory.html", context, active="signatory", status=200 if done else 409
    )


@require_GET
@staff_view(Role.SIGNATORY, Role.ADMIN)
def signatory_preview(request: HttpRequest, decision_id: int) -> HttpResponse:
    """The letter of a decision to sign, as it will read once signed, watermarked
    "PROJET": rendered now for reading, never stored (only a decision the user may sign)."""
    decision = (
        _with_rows(policy.decisions_to_sign(request.user)).select_related("signed_by").filter(pk=decision_id).first()
    )
    if decision is None:
        raise Http404(_("Introuvable."))
    content = issuing.decision_letter_preview(decision, signer=request.user)
    reference = decision.application.reference or f"decision-{decision.pk}"
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{reference}-projet.pdf"'
    response["Cache-Control"] = "no-store"
    return response


# --- finance --------------------------------------------------------------------------------


@require_GET
@staff_view(Role.FINANCE, Role.ADMIN)
def finance(request: HttpRequest) -> HttpResponse:
    return _finance_response(request)


def _finance_response(
    request: HttpRequest, *, bound: dict[int, CommitmentForm] | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    show = request.GET.get("etat", "delivered")
    qs = policy.finance_decisions(user)
    if show == "delivered":
        qs = qs.filter(state=Decision.State.DELIVERED, outcome=Decision.Outcome.APPROVED)
    else:
        show = "all"
    page = keyset_page(_with_rows(qs), DELIVERED_KEYS, request.GET.get("cursor"))
    _decorate(page.rows)
    # The commitment form rendered once (a design-system form is a few templates) and
    # given each row's prefix; a bound form (its errors) is rendered as itself.
    blank = str(CommitmentForm(prefix=f"d{_FORM_PLACEHOLDER}"))
    record_url = url_maker("finance-record")
    pdf_url = url_maker("staff-decision-pdf")
    for decision in page.rows:
        decision.can_record = engine.available(services.DECISION_RECORD, decision, user)
        decision.record_url = record_url(decision.pk)
        decision.pdf_url = pdf_url(decision.pk)
        decision.form = (bound or {}).get(decision.pk) or mark_safe(  # noqa: S308 (our own rendering, an int)
            blank.replace(f"d{_FORM_PLACEHOLDER}-", f"d{int(decision.pk)}-")
        )
    query = request.GET.copy()
    query.pop("cursor", None)
    return staff_render(
        request,
        "grants/staff/finance.html",
        {"page": page, "show": show, "export_query": query.urlencode(), "csrf_input": csrf_input(request)},
        active="finance",
        status=status,
    )


@require_POST
@staff_view(Role.FINANCE)
def finance_record(request: HttpRequest, decision_id: int) -> HttpResponse:
    user = request.user
    if not policy.finance_decisions(user).filter(pk=decision_id).exists():
        raise Http404(_("Introuvable."))
    form = CommitmentForm(request.POST, prefix=f"d{decision_id}")
    status = 400
    if form.is_valid():
        try:
            decision = services.decision_record(
                decision_id=decision_id, user=user, commitment_number=form.cleaned_data.get("commitment_number") or ""
            )
        except TransitionError as error:
            if error.status == 404:
                raise Http404(error.message) from None
            status = error.status
            report_error(form, error)
        else:
            messages.success(
                request,
                _("Engagement %(number)s enregistré pour %(reference)s.")
                % {"number": decision.commitment_number, "reference": decision.application.reference},
            )
            return redirect(reverse("finance") + f"#decision-{decision_id}")
    messages.error(request, _("L'engagement n'a pas été enregistré : voir le formulaire de la décision."))
    return _finance_response(request, bound={decision_id: form}, status=status)


@require_GET
@staff_view(Role.FINANCE, Role.SIGNATORY, Role.INSTRUCTOR, Role.SECRETARY, Role.ADMIN)
def decision_pdf(request: HttpRequest, decision_id: int) -> FileResponse:
    """The decision letter: only once the decision is visible to the user and its PDF
    stored. The file name is built from the reference, never from user text."""
    decision = policy.visible_decisions(request.user).filter(pk=decision_id).select_related("application").first()
    document = _document(decision) if decision is not None else None
    if decision is None or document is None or not document.file:
        raise Http404(_("Introuvable."))
    reference = decision.application.reference or f"decision-{decision.pk}"
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=f"{reference}.pdf",
        content_type="application/pdf",
    )


@require_GET
@staff_view(Role.FINANCE, Role.ADMIN)
def finance_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    if fmt not in spreadsheets.FORMATS:
        raise Http404(_("Format inconnu."))
    qs = policy.finance_decisions(request.user)
    call = request.GET.get("call")
    if call:
        qs = qs.filter(application__call__code=call)
    if request.GET.get("etat") == "delivered":
        qs = qs.filter(Q(state=Decision.State.DELIVERED) & Q(outcome=Decision.Outcome.APPROVED))
    content_type, extension = spreadsheets.FORMATS[fmt]
    filename = exports.export_filename(extension, timezone.now())
    response: HttpResponseBase
    if fmt == "csv":
        response = StreamingHttpResponse(exports.csv_lines(qs), content_type=content_type)
    elif fmt == "xlsx":
        response = HttpResponse(exports.xlsx_bytes(qs), content_type=content_type)
    else:
        response = HttpResponse(exports.ods_bytes(qs), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
