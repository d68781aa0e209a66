"""The avenant: an accepted amendment issued as a PDF through the letters' rendering,
storage and public verification (``grants.documents.issuing``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone, translation

from grants.documents.issuing import (
    ALREADY_ISSUED,
    INSTRUCTOR_TITLE,
    ISSUED,
    MISSING,
    NOT_APPLICABLE,
    PLACE,
    _call,
    _lead_authority,
    _person,
    _store_once,
    _written,
    new_verification_code,
    render_pdf,
    verification_url,
)
from grants.machines.postaward import current_budget, final_due, project_end
from grants.models import ZERO, BudgetLine, Document
from grants.postaward import Amendment
from workflows.models import TransitionLog

AMENDMENT_TEMPLATE = "pdf/amendment.html"


def amendment_reference(amendment: Amendment) -> str:
    return f"{amendment.application.reference or ''}-AV{amendment.number}"[:64]


def _lines(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Decimal]:
    labels = dict(BudgetLine.Category.choices)
    rows = [
        {
            "year": line["year"],
            "category_label": str(labels.get(line["category"], line["category"])),
            "label": line["label"],
            "amount": Decimal(str(line["amount"])),
        }
        for line in lines
    ]
    return rows, sum((r["amount"] for r in rows), ZERO)


def _decided_by(amendment: Amendment) -> str:
    """Who accepted the amendment for the delegation (its log entry)."""
    log = (
        TransitionLog.objects.filter(subject_type="grants.amendment", subject_id=str(amendment.pk), transition="accept")
        .select_related("actor")
        .first()
    )
    if log is None:
        return "—"
    return _person(log.actor, log.actor_name) if log.actor_id else (log.actor_name or "—")


def amendment_context(amendment: Amendment, *, code: str) -> dict[str, Any]:
    application, decision = amendment.application, amendment.decision
    with translation.override("fr"):
        lines, total = _lines(amendment.lines)
        signed = [
            {"year": b.year, "category": b.category, "label": b.label, "amount": b.amount}
            for b in application.budget_lines.all()
        ]
        _signed_rows, signed_total = _lines(signed)
        return {
            "verification_code": code,
            "verification_url": verification_url(code),
            "reference": application.reference,
            "project_title": application.title,
            "lead_authority": _lead_authority(application),
            "call": _call(application),
            "issued_at": amendment.decided_at,
            "place": PLACE,
            "signatory": {"name": _decided_by(amendment), "title": INSTRUCTOR_TITLE, "signed_at": amendment.decided_at},
            "number": amendment.number,
            "kind": amendment.kind,
            "kind_label": str(amendment.get_kind_display()),
            "commitment_number": decision.commitment_number,
            "reason": amendment.reason,
            "months": amendment.months,
            "end_date": project_end(application, decision),
            "final_due": final_due(application, decision),
            "text": amendment.text,
            "lines": lines,
            "total": total,
            "signed_total": signed_total,
            "budget_in_force": current_budget(decision),
        }


def issue_amendment(amendment_id: int) -> str:
    """Render and store an accepted amendment's avenant; idempotent (one per amendment)."""
    amendment = (
        Amendment.objects.select_related("application__call", "application__organisation", "decision")
        .filter(pk=amendment_id)
        .first()
    )
    if amendment is None:
        return MISSING
    if amendment.state != Amendment.State.ACCEPTED:
        return NOT_APPLICABLE
    reference = amendment_reference(amendment)
    existing = Document.objects.filter(
        application_id=amendment.application_id, kind=Document.Kind.AMENDMENT, reference=reference
    )
    if existing.exists():
        return ALREADY_ISSUED
    code = new_verification_code()
    context = amendment_context(amendment, code=code)
    rendered = render_pdf(AMENDMENT_TEMPLATE, context)
    document = _written(
        rendered,
        kind=Document.Kind.AMENDMENT,
        application_id=amendment.application_id,
        reference=reference,
        verification_code=code,
        issued_at=amendment.decided_at,
    )
    if not _store_once(document, application_id=amendment.application_id, existing=existing):
        return ALREADY_ISSUED
    return ISSUED


def amendments_awaiting_document(*, older_than: dt.timedelta, within: dt.timedelta) -> list[int]:
    """Accepted amendments (decided between ``within`` and ``older_than`` ago) whose
    avenant is not stored: their render was never enqueued (broker down) or was lost."""
    now = timezone.now()
    candidates = (
        Amendment.objects.filter(
            state=Amendment.State.ACCEPTED, decided_at__lt=now - older_than, decided_at__gte=now - within
        )
        .select_related("application")
        .order_by("decided_at", "pk")[:500]
    )
    wanted = {amendment_reference(a): a.pk for a in candidates}
    issued = set(
        Document.objects.filter(kind=Document.Kind.AMENDMENT, reference__in=list(wanted)).values_list(
            "reference", flat=True
        )
    )
    return [pk for reference, pk in wanted.items() if reference not in issued]
