"""The signatory (decisions to sign, one or many) and finance (delivered decisions,
their PDF, the commitment number, exports)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from grants import policy, services
from grants.documents import issuing
from grants.models import Application, Country, Decision, Document, Role
from grants.templatetags.french_format import euros, percent_fr
from grants.web.rows import csrf_input, url_maker
from grants.web.staff import exports, spreadsheets
from grants.web.staff.common import (
    DECISION_BADGES,
    Key,
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


#: What a row of the signatory's list reads: plain values, no model instance (building 50
#: decisions with their application, call, authority, session, document and countries,
#: then reading them through the template's lookups, was most of the page's time at
#: 100,000 applications). Only the columns shown: each join more costs the planner (the
#: two lists' columns in one query took 2 to 6 ms more to plan than either's).
SIGN_VALUES = (
    "id", "outcome", "amount", "rate", "tranches", "reasons", "decided_at", "application_id",
    "application__reference", "application__title", "application__organisation__name",
    "session_id", "session__date", "session__opened_at",
)  # fmt: skip
#: What a row of finance's list reads (the same way).
FINANCE_VALUES = (
    "id", "state", "outcome", "amount", "rate", "tranches", "delivered_at", "commitment_number", "application_id",
    "application__reference", "application__title", "application__organisation__name", "application__call_id",
    "application__call__code", "document__id",
)  # fmt: skip
#: What a row of the user's latest signatures reads.
PROGRESS_VALUES = (
    "id", "state", "outcome", "signed_at", "render_error", "render_attempts", "application__reference", "document__id",
)  # fmt: skip


def _with_letter(qs: QuerySet[Decision]) -> QuerySet[Decision]:
    """The decisions with what their letter reads (the preview renders it)."""
    return (
        qs.select_related("application", "application__call", "application__organisation", "session", "document")
        .defer("session__frozen_ranking")  # a closed session's whole agenda, for each row otherwise
        .prefetch_related(Prefetch("application__countries", queryset=Country.objects.order_by("iso2")))
    )


def _document(decision: Decision) -> Document | None:
    try:
        return decision.document
    except Document.DoesNotExist:
        return None


def _text(value: Any) -> str:
    """A value as ``{{ value }}`` writes it: escaped (quotes included), a number or a date
    localized, None as "None"."""
    if value.__class__ is str:
        return html.escape(value)
    return conditional_escape(localize(value))


def _day(value: Any) -> str:
    """``|date:"d/m/Y"``: a datetime in the current time zone, a date as itself, None as ""."""
    if not value:
        return ""
    if hasattr(value, "tzinfo"):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def _outcome_labels() -> dict[str, str]:
    """The outcomes' labels in the active language, translated once for the page's rows."""
    return {code: str(label) for code, label in Decision.Outcome.choices}


def _outcome_badge(outcome: str) -> str:
    return "fr-badge--success" if outcome == Decision.Outcome.APPROVED else "fr-badge--error"


def _countries(application_ids: Iterable[Any]) -> dict[Any, list[str]]:
    """The ISO codes of each application's project countries, in code order, in one query."""
    codes: dict[Any, list[str]] = {}
    pairs = Application.countries.through.objects.filter(application_id__in=set(application_ids))
    for application_id, iso2 in pairs.order_by("application_id", "country_id").values_list(
        "application_id", "country_id"
    ):
        codes.setdefault(application_id, []).append(iso2)
    return codes


# --- signatory ------------------------------------------------------------------------------


@dataclass
class ProgressRow:
    """One of the user's latest signatures as the progress table shows it."""

    pk: int
    signed_at: Any
    reference: str
    outcome_label: str
    state: str
    state_label: str
    badge: str
    render_error: str
    render_attempts: int
    has_document: bool
    pdf_url: str


def _progress(user: Any) -> list[ProgressRow]:
    """The user's latest signatures with their rendering: signed → delivered, the PDF,
    the render error if any (bounded: the last few, newest first), read as plain values."""
    qs = policy.visible_decisions(user).filter(signed_by=user).exclude(state=Decision.State.DRAFT)
    outcomes = _outcome_labels()
    states = {code: str(label) for code, label in Decision.State.choices}
    pdf_url = url_maker("staff-decision-pdf")
    return [
        ProgressRow(
            pk=v["id"],
            signed_at=v["signed_at"],
            reference=v["application__reference"],
            outcome_label=outcomes.get(v["outcome"], v["outcome"]),
            state=v["state"],
            state_label=states.get(v["state"], v["state"]),
            badge=DECISION_BADGES.get(v["state"], ""),
            render_error=v["render_error"],
            render_attempts=v["render_attempts"],
            has_document=v["document__id"] is not None,
            pdf_url=pdf_url(v["id"]),
        )
        for v in qs.order_by("-signed_at", "-pk").values(*PROGRESS_VALUES)[:PROGRESS_SIZE]
    ]


def _signatory_rows(rows: list[dict[str, Any]], checked: set[str]) -> SafeString:
    """The rows of the decisions to sign, rendered here rather than by the template (its
    tags and lookups, fifty rows of six cells, were most of the page's time), as the
    template wrote them. Every text read from the database is escaped (``_text``); the
    amounts, rates and dates are formatted by the template's own filters."""
    e = html.escape
    outcomes = _outcome_labels()
    application_url = url_maker("staff-application", "uuid")
    preview_url = url_maker("signatory-preview")
    preview = e(_("Aperçu de la lettre (projet)"))
    new_window = e(_("PDF, nouvelle fenêtre"))
    out = []
    for row in rows:
        pk = str(row["id"])
        outcome = row["outcome"]
        reference = _text(row["application__reference"])
        if outcome == Decision.Outcome.APPROVED:
            amount = f'{euros(row["amount"])}<br><span class="staff-muted">{percent_fr(row["rate"])}</span>'
            schedule = "<br>".join(
                f"{_text(tranche.get('number', ''))}. {euros(tranche.get('amount', ''))}"
                for tranche in row["tranches"] or ()
            )
        else:
            amount = "—"
            schedule = f'<span class="staff-pre">{e(Truncator(str(row["reasons"])).chars(200))}</span>'
        if row["session_id"] is not None:
            opened = row["session__opened_at"]
            session = _day(timezone.localtime(opened).date() if opened else row["session__date"])
        else:
            session = "—"
        out.append(
            f'\n        <tr id="decision-{pk}">\n'
            '          <td><div class="fr-checkbox-group fr-checkbox-group--sm">'
            f'<input type="checkbox" id="sign-{pk}" name="decision" value="{pk}"{" checked" if pk in checked else ""}>'
            f'<label class="fr-label staff-nowrap" for="sign-{pk}">{reference}</label></div></td>\n'
            f'          <td class="staff-title"><a class="fr-link" href="{e(application_url(row["application_id"]))}">'
            f"{_text(row['application__title'])}</a><br>"
            f'<span class="staff-muted">{_text(row["application__organisation__name"])}</span><br>'
            '<a class="fr-link fr-link--sm fr-icon-file-pdf-line fr-link--icon-left" '
            f'id="preview-{pk}" href="{e(preview_url(row["id"]))}" target="_blank" rel="noopener">'
            f'{preview}<span class="fr-sr-only"> — {reference}, {new_window}</span></a></td>\n'
            f'          <td><span class="fr-badge fr-badge--sm {_outcome_badge(outcome)}">'
            f"{_text(outcomes.get(outcome, outcome))}</span></td>\n"
            f'          <td class="staff-amount">{amount}</td>\n'
            f'          <td class="fr-text--sm">{schedule}</td>\n'
            f'          <td class="staff-nowrap">{session}</td>\n'
            "        </tr>\n      "
        )
    # Every interpolated text was escaped just above (the rest is this function's markup).
    return mark_safe("".join(out))  # noqa: S308


def _signatory_context(
    request: HttpRequest, report: list[dict[str, Any]] | None = None, *, confirm_errors: list[str] | None = None
) -> dict[str, Any]:
    user = request.user
    page = keyset_page(policy.decisions_to_sign(user).values(*SIGN_VALUES), DECISION_KEYS, request.GET.get("cursor"))
    checked = set(request.POST.getlist("decision")) if request.method == "POST" else set()
    progress = _progress(user)
    return {
        "page": page,
        "rows": _signatory_rows(page.rows, checked),
        "progress": progress,
        "rendering": any(d.state == Decision.State.SIGNED for d in progress),
        "report": report or [],
        # The signature's confirmation (its Spec's), ticked once for the decisions ticked.
        "sign_confirm": services.DECISION_SIGN.confirm,
        "confirm_errors": confirm_errors or [],
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
        _with_letter(policy.decisions_to_sign(request.user)).select_related("signed_by").filter(pk=decision_id).first()
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
    page = keyset_page(qs.values(*FINANCE_VALUES), DELIVERED_KEYS, request.GET.get("cursor"))
    query = request.GET.copy()
    query.pop("cursor", None)
    return staff_render(
        request,
        "grants/staff/finance.html",
        {
            "page": page,
            "rows": _finance_rows(page.rows, user, bound or {}, csrf_input(request)),
            "show": show,
            "export_query": query.urlencode(),
        },
        active="finance",
        status=status,
    )


def _recordable(rows: list[dict[str, Any]], user: Any) -> set[int]:
    """The rows whose commitment the user may record now (the engine's answer, as the
    button's). It decides on the decision's state and outcome and its application's call:
    asked once per distinct triple, on an unsaved decision (no instance read per row)."""
    answers: dict[tuple[Any, ...], bool] = {}
    recordable = set()
    for row in rows:
        if row["commitment_number"]:
            continue  # the number is shown, not the form
        key = (row["state"], row["outcome"], row["application__call_id"])
        if key not in answers:
            subject = Decision(state=row["state"], outcome=row["outcome"])
            subject.application = Application(call_id=row["application__call_id"])
            answers[key] = engine.available(services.DECISION_RECORD, subject, user)
        if answers[key]:
            recordable.add(row["id"])
    return recordable


def _finance_rows(rows: list[dict[str, Any]], user: Any, bound: dict[int, CommitmentForm], csrf: str) -> SafeString:
    """The rows of finance's list, rendered here rather than by the template (fifty rows
    of five cells and their forms were most of the page's time), as the template wrote
    them. Every text read from the database is escaped (``_text``)."""
    if not rows:
        return mark_safe("")
    e = html.escape
    outcomes = _outcome_labels()
    states = {code: str(label) for code, label in Decision.State.choices}
    countries = _countries(row["application_id"] for row in rows)
    recordable = _recordable(rows, user)
    # The commitment form rendered once (a design-system form is a few templates) and
    # given each row's prefix; a bound form (its errors) is rendered as itself.
    blank = str(CommitmentForm(prefix=f"d{_FORM_PLACEHOLDER}"))
    record_url = url_maker("finance-record")
    pdf_url = url_maker("staff-decision-pdf")
    notified, year, letter, save = (e(_(w)) for w in ("notifiée le", "an", "Lettre PDF", "Enregistrer"))
    out = []
    for row in rows:
        pk = str(row["id"])
        outcome = row["outcome"]
        if outcome == Decision.Outcome.APPROVED:
            amount = f'{euros(row["amount"])}<br><span class="staff-muted">{percent_fr(row["rate"])}</span>'
        else:
            amount = "—"
        schedule = "<br>".join(
            f"{_text(tranche.get('number', ''))}. {euros(tranche.get('amount', ''))} "
            f"({year} {_text(tranche.get('year', ''))})"
            for tranche in row["tranches"] or ()
        )
        if row["commitment_number"]:
            commitment = (
                f"<strong>{_text(row['commitment_number'])}</strong><br>"
                f'<span class="fr-badge fr-badge--sm fr-badge--success">{_text(states.get(row["state"], row["state"]))}'
                "</span>\n          "
            )
        elif row["id"] in recordable:
            form = bound.get(row["id"])
            shown = str(form) if form is not None else blank.replace(f"d{_FORM_PLACEHOLDER}-", f"d{pk}-")
            commitment = (
                f'\n            <form method="post" action="{e(record_url(row["id"]))}" novalidate>{csrf}\n'
                f"              {shown}\n"
                f'              <button class="fr-btn fr-btn--sm" type="submit">{save}</button>\n'
                "            </form>\n          "
            )
        else:
            commitment = "—"
        out.append(
            f'\n      <tr id="decision-{pk}">\n'
            f'        <td class="staff-title"><strong>{_text(row["application__reference"])}</strong> — '
            f'{_text(row["application__title"])}<br><span class="staff-muted">'
            f"{_text(row['application__organisation__name'])} · {_text(row['application__call__code'])} · "
            f"{', '.join(e(code) for code in countries.get(row['application_id'], ()))}</span><br>\n"
            f'          <span class="fr-badge fr-badge--sm {_outcome_badge(outcome)}">'
            f"{_text(outcomes.get(outcome, outcome))}</span>\n"
            f'          <span class="fr-text--sm staff-muted">{notified} {_day(row["delivered_at"])}</span></td>\n'
            f'        <td class="staff-amount">{amount}</td>\n'
            f'        <td class="fr-text--sm">{schedule or "—"}</td>\n'
            "        <td>"
            + (
                f'<a class="fr-link fr-link--download" href="{e(pdf_url(row["id"]))}">{letter}</a>'
                if row["document__id"] is not None
                else "—"
            )
            + "</td>\n"
            '        <td class="staff-commitment-cell">\n'
            f"          {commitment}\n"
            "        </td>\n"
            "      </tr>\n    "
        )
    # Every interpolated text was escaped just above (the forms are Django's own rendering).
    return mark_safe("".join(out))  # noqa: S308


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
