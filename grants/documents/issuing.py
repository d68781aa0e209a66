"""Issued documents: each PDF template's context built from the models, and the
`Document` rows that record what was issued.

The Celery tasks of `grants.tasks` call the ``issue_*`` functions with IDs. Each one
follows the same shape, because rendering takes seconds and must not hold row locks:

1. read the rows and skip work already done (no lock);
2. render the PDF **outside** any transaction (`grants.documents.pdf.render_pdf`);
3. write the file under a generated name (storage never overwrites a file);
4. in one short transaction, lock the application row (the project's lock order:
   application first, then its companion), re-check that the work is still to do,
   insert the `Document` row and, for a decision letter, fire the system transition
   ``signed → delivered`` (which opens finance's task and writes the notifications to
   the outbox). If the re-check fails (another worker got there first) or the
   transaction fails, the file just written is deleted and nothing is stored.

So a decision is ``delivered`` exactly when its letter is stored and its notifications
are in the outbox; a delivered letter is never rendered again nor replaced
(`Document.decision` is one-to-one, `Document.snapshot` too).

Letters are French documents: contexts are built under ``translation.override("fr")``
whatever language the caller (a worker, a request) is in.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone, translation

from grants import budget, evaluation, scoring
from grants.answers import display as answer_display
from grants.documents.storage import save_new_file
from grants.machines.decision import DECISION_DELIVER
from grants.models import (
    Application,
    AttachmentKind,
    CommitteeSession,
    Consensus,
    Decision,
    Document,
    OpinionRequest,
    Review,
    Snapshot,
)
from grants.variants import variant_for
from workflows import registry
from workflows.engine import fire
from workflows.models import TransitionLog

logger = logging.getLogger(__name__)

PLACE = "Paris"
SIGNATORY_TITLE = "Délégué pour l'action extérieure des collectivités territoriales"
#: The ineligibility notice is signed by the instructor who declared it, by delegation.
INSTRUCTOR_TITLE = "Pour le délégué pour l'action extérieure des collectivités territoriales et par délégation"

APPROVAL_TEMPLATE = "pdf/approval_letter.html"
APPROVAL_EN_TEMPLATE = "pdf/approval_letter_en.html"
REJECTION_TEMPLATE = "pdf/rejection_letter.html"
INELIGIBILITY_TEMPLATE = "pdf/ineligibility_notice.html"
RECEIPT_TEMPLATE = "pdf/deposit_receipt.html"
BOOKLET_TEMPLATE = "pdf/committee_booklet.html"
SUMMARY_TEMPLATE = "pdf/evaluation_summary.html"

#: What ``issue_*`` report (the tasks return it; the worker logs show it).
ISSUED = "issued"
ALREADY_ISSUED = "already_issued"
NOT_APPLICABLE = "not_applicable"
MISSING = "missing"

#: Decision.tranches condition codes → the approval letter's wording.
CONDITION_TEXT = {
    "signature": "À la notification de la présente décision",
    "interim_report": "Sur présentation du compte-rendu technique et financier intermédiaire",
    "final_report": "Sur présentation du rapport final",
}

CENT = Decimal("0.01")
_CODE_RE = re.compile(r"^[A-Z2-7]{4}(?:-[A-Z2-7]{4}){5}$")
#: Test hook (see `_test_render_delay`): seconds a decision render sleeps once rendered.
TEST_RENDER_DELAY_ENV = "GRANTS_TEST_RENDER_DELAY"

if TYPE_CHECKING:
    from grants.documents.pdf import RenderedPdf


def render_pdf(template_name: str, context: dict[str, Any]) -> RenderedPdf:
    """WeasyPrint is imported on first render, not at start: web and workers run (and say
    why a render failed) on a machine still missing Pango."""
    from grants.documents import pdf

    return pdf.render_pdf(template_name, context)


# --- verification codes -------------------------------------------------------------------


def new_verification_code() -> str:
    """An unguessable code: 120 random bits, base32, in six groups of four (29 characters).

    Base32 (A–Z, 2–7) reads aloud and types without ambiguity, is URL-safe and fits
    `Document.verification_code` (32 characters).
    """
    raw = base64.b32encode(secrets.token_bytes(15)).decode("ascii")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalise_code(code: str) -> str | None:
    """The stored form of a code typed or scanned by anyone (case, spaces), or None if it cannot be one."""
    candidate = re.sub(r"\s+", "", code or "").upper()
    return candidate if _CODE_RE.match(candidate) else None


def verification_url(code: str) -> str:
    """The public URL printed on the document (and in its QR code): SITE_URL + /verify/<code>/."""
    return settings.SITE_URL + reverse("verify", kwargs={"code": code})


def find_by_code(code: str) -> Document | None:
    """The document with this verification code, or None (also for anything that is not a code)."""
    normalised = normalise_code(code)
    if normalised is None:
        return None
    return Document.objects.filter(verification_code=normalised).first()


def verification_data(document: Document) -> dict[str, str]:
    """What /verify/<code>/ discloses, and nothing more: `{kind, reference, issued_at, sha256}`."""
    return {
        "kind": document.kind,
        "reference": document.reference,
        "issued_at": timezone.localtime(document.issued_at).isoformat(),
        "sha256": document.sha256,
    }


# --- context builders ---------------------------------------------------------------------


def _person(user: Any, fallback: str = "") -> str:
    if user is None:
        return fallback
    return (user.get_full_name() or "").strip() or user.get_username()


def _call(application: Application) -> dict[str, str]:
    return {"code": application.call.code, "title": application.call.title}


def _lead_authority(application: Application) -> dict[str, str]:
    organisation = application.organisation
    return {"name": organisation.name, **({"address": organisation.address} if organisation.address else {})}


def _calendar_year(project_year: int, start_date: dt.date | None) -> int:
    """Project year N of a project starting on `start_date` is labelled with the calendar year it starts in."""
    return start_date.year + project_year - 1 if start_date else project_year


def payment_schedule(tranches: Iterable[dict[str, Any]], start_date: dt.date | None = None) -> list[dict[str, Any]]:
    """The approval letter's payment rows from `Decision.tranches`, the amounts as decided.

    `Decision.tranches` already holds the split of the last year (80 % on the interim
    report, the 20 % balance on the final report: `grants.budget.tranche_schedule`), so
    the rows are the decided tranches themselves (finance pays exactly these), in the
    row shape: `year` (calendar year when the
    start date is known), `label`, `amount`, `share` (of the granted amount), `condition`,
    `is_last_tranche` (the paid part of a split last tranche), `is_balance` (the solde).
    """
    items = sorted(
        ({**t, "amount": Decimal(str(t["amount"]))} for t in tranches),
        key=lambda t: (int(t["year"]), int(t.get("number") or 0)),
    )
    granted = sum((item["amount"] for item in items), Decimal(0))
    rows: list[dict[str, Any]] = []
    number = 0
    for index, item in enumerate(items):
        year = int(item["year"])
        condition = str(item.get("condition") or "")
        is_balance = condition == "final_report"
        if not is_balance:
            number += 1
        following = items[index + 1] if index + 1 < len(items) else None
        is_last_tranche = (
            not is_balance
            and following is not None
            and following.get("condition") == "final_report"
            and int(following["year"]) == year
        )
        rows.append(
            {
                "year": _calendar_year(year, start_date),
                "label": "Solde" if is_balance else f"Tranche {number}",
                "amount": item["amount"],
                "share": (item["amount"] / granted) if granted else Decimal(0),
                "condition": CONDITION_TEXT.get(condition, CONDITION_TEXT["interim_report"]),
                "is_last_tranche": is_last_tranche,
                "is_balance": is_balance,
            }
        )
    return rows


def decision_letter_context(decision: Decision, *, code: str, issued_at: dt.datetime) -> tuple[str, dict[str, Any]]:
    """(template name, context) of a decision's letter: approval or rejection."""
    app = decision.application
    with translation.override("fr"):
        context: dict[str, Any] = {
            "verification_code": code,
            "verification_url": verification_url(code),
            "reference": app.reference,
            "project_title": app.title,
            "lead_authority": _lead_authority(app),
            "call": _call(app),
            "issued_at": issued_at,
            "place": PLACE,
            "signatory": {
                "name": _person(decision.signed_by, "—"),
                "title": SIGNATORY_TITLE,
                "signed_at": decision.signed_at,
            },
            # The day the committee really sat (opened), not its planned date.
            "committee_date": decision.session.sitting_date if decision.session_id and decision.session else None,
            "requested_amount": app.requested_amount,
        }
        if decision.outcome == Decision.Outcome.REJECTED:
            context["reasons"] = decision.reasons
            return REJECTION_TEMPLATE, context
        figures = budget.figures(app)
        context.update(
            co_applicants=[{"name": o.name} for o in app.co_applicants.order_by("name")],
            partners=[{"name": p.name, "country": p.country.name_fr} for p in app.partners.select_related("country")],
            countries=[c.name_fr for c in app.countries.order_by("name_fr")],
            start_date=app.start_date,
            duration_months=app.duration_months,
            total_budget=figures.total_expenses,
            granted_amount=decision.amount,
            granted_rate=decision.rate,
            payment_schedule=payment_schedule(decision.tranches, app.start_date),
            obligations=[],
        )
        if variant_for(app.call).partner_validation:
            # A joint fund: the partner government's co-financing, beside the delegation's grant.
            context["partner_cofinancing"] = {
                "amount": decision.partner_amount,
                "countries": [c.name_fr for c in app.countries.order_by("name_fr")],
            }
    return APPROVAL_TEMPLATE, context


def evaluation_summary_context(
    decision: Decision, *, code: str, issued_at: dt.datetime, letter_code: str = ""
) -> dict[str, Any]:
    """The evaluation summary sent with a decision letter: the committee's score per
    criterion (the consensus; without one, the reviewers' means rounded to the point),
    the comment meant for the applicant and the decision's reasons. Never a reviewer's
    name, an individual review or an internal comment."""
    app = decision.application
    criteria = list(app.call.scoring_criteria or [])
    consensus = Consensus.objects.filter(application=app).first()
    if consensus is not None:
        scores, source, comment = dict(consensus.scores), "consensus", consensus.comment_for_applicant
    else:
        submitted = list(app.reviews.filter(state=Review.State.SUBMITTED))
        scores, comment = scoring.criterion_means(criteria, submitted), ""
        source = "reviews" if scores else "none"
    with translation.override("fr"):
        return {
            "verification_code": code,
            "verification_url": verification_url(code),
            "reference": app.reference,
            "project_title": app.title,
            "lead_authority": _lead_authority(app),
            "call": _call(app),
            "issued_at": issued_at,
            "place": PLACE,
            "outcome": decision.outcome,
            "granted_amount": decision.amount if decision.outcome == Decision.Outcome.APPROVED else None,
            "committee_date": decision.session.date if decision.session_id and decision.session else None,
            "criteria": [
                {
                    "label": str(c.get("label") or c["code"]),
                    "label_en": str(c.get("label_en") or ""),
                    "weight": Decimal(str(c.get("weight", 1))),
                    "score": int(scores[c["code"]]) if scores.get(c["code"]) is not None else None,
                }
                for c in criteria
            ],
            "weighted_score": scoring.weighted_score(scores, criteria) if scores else None,
            "score_source": source,
            "comment": comment,
            "reasons": decision.reasons,
            "letter_code": letter_code,
        }


#: The code a draft's preview shows where an issued letter has its verification code: a
#: preview is never stored, never verifiable.
PREVIEW_CODE = "PROJET"


def decision_letter_preview(decision: Decision, *, signer: Any) -> bytes:
    """The letter a draft decision would give once signed by ``signer``, rendered now
    for the signatory to read before signing: watermarked "PROJET" on every page, dated
    today, unsigned, no verification code; nothing is stored or issued."""
    if decision.state != Decision.State.DRAFT:
        raise ValueError("only a draft decision has a preview")
    template, context = decision_letter_context(decision, code=PREVIEW_CODE, issued_at=timezone.now())
    context["signatory"] = {**context["signatory"], "name": _person(signer, "—"), "signed_at": None}
    context["draft_preview"] = True
    return render_pdf(template, context).content


def _submitter(snapshot: Snapshot) -> str:
    entry = (
        TransitionLog.objects.filter(
            application_id=snapshot.application_id, transition__in=("submit", "resubmit"), at=snapshot.created_at
        )
        .select_related("actor")
        .first()
    )
    if entry is None:
        return ""
    return _person(entry.actor, entry.actor_name) if entry.actor_id else entry.actor_name


def receipt_context(snapshot: Snapshot, *, code: str) -> dict[str, Any]:
    """The deposit receipt of one submission: what was submitted, from its frozen snapshot."""
    app = snapshot.application
    data = snapshot.data
    funding = (data.get("budget") or {}).get("funding") or {}
    lines = (data.get("budget") or {}).get("lines") or []
    labels = dict(AttachmentKind.choices)
    with translation.override("fr"):
        return {
            "verification_code": code,
            "verification_url": verification_url(code),
            "reference": data.get("reference") or app.reference,
            "project_title": data.get("title") or app.title,
            "lead_authority": {"name": data.get("organisation") or app.organisation.name},
            "call": _call(app),
            "issued_at": snapshot.created_at,
            "place": PLACE,
            "submitted_at": snapshot.created_at,
            "snapshot_sha256": snapshot.sha256,
            "submitted_by": _submitter(snapshot),
            "requested_amount": Decimal(funding["requested"]) if funding.get("requested") else None,
            "total_budget": sum((Decimal(line["amount"]) for line in lines), Decimal("0.00")) if lines else None,
            "attachments": [
                {"kind_label": str(labels.get(a["kind"], a["kind"])), "filename": a["name"], "sha256": a["sha256"]}
                for a in data.get("attachments") or []
            ],
            # A turnkey programme's member French authorities (grants.variants), as submitted.
            "members": [
                {
                    "name": m["name"],
                    "siren": m["siren"],
                    "contribution": Decimal(m["contribution"]),
                    "resolution": m.get("resolution") or "",
                }
                for m in data.get("members") or []
            ],
            # The answers to the call's own questions, as frozen in the snapshot (issue 15).
            "answers": _receipt_answers(app, data.get("answers") or {}),
        }


def _receipt_answers(app: Application, frozen: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"label": q.label, "value": answer_display(q, frozen.get(q.code))}
        for q in app.call.questions.all()
        if q.code in frozen
    ]


def ineligibility_context(
    application: Application, log: TransitionLog, *, code: str, issued_at: dt.datetime
) -> dict[str, Any]:
    """The ineligibility notice: the instructor's reason as logged by `declare_ineligible`."""
    with translation.override("fr"):
        return {
            "verification_code": code,
            "verification_url": verification_url(code),
            "reference": application.reference,
            "project_title": application.title,
            "lead_authority": _lead_authority(application),
            "call": _call(application),
            "issued_at": issued_at,
            "place": PLACE,
            "signatory": {
                "name": _person(log.actor, log.actor_name) if log.actor_id else (log.actor_name or "—"),
                "title": INSTRUCTOR_TITLE,
                "signed_at": log.at,
            },
            "reason": log.comment,
            "submitted_at": application.submitted_at,
        }


def _opinion_row(request: OpinionRequest) -> dict[str, Any]:
    if request.authority == OpinionRequest.Authority.EMBASSY:
        authority = f"Poste diplomatique — {request.country.name_fr if request.country else ''}"
    else:
        authority = f"Préfecture de région — {request.region.name if request.region else ''}"
    given = request.state == OpinionRequest.State.GIVEN
    return {
        "authority": authority,
        "verdict": request.verdict if given and request.verdict else None,
        "comment": request.comment if given else "",
        "given_at": request.given_at if given else None,
    }


def _review_row(review: Review, criteria: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [
        {
            "label": criterion.get("label", criterion["code"]),
            "label_en": criterion.get("label_en", ""),
            "weight": Decimal(str(criterion.get("weight", 1))),
            "score": Decimal(review.scores[criterion["code"]]),
        }
        for criterion in criteria
        if review.scores.get(criterion["code"]) is not None
    ]
    return {
        "reviewer": _person(review.reviewer),
        "recommendation": review.recommendation,
        "comment": review.comment,
        "scores": scores,
        "weighted_score": scoring.review_average(review, criteria),
    }


def session_agenda(session: CommitteeSession) -> QuerySet[Application]:
    """The applications on a session's agenda (scheduled, then decided), by reference."""
    return (
        Application.objects.filter(session=session)
        .exclude(reference__isnull=True)
        .select_related("organisation", "call")
        .order_by("reference_number", "reference")
    )


def booklet_context(session: CommitteeSession, *, code: str, issued_at: dt.datetime) -> dict[str, Any]:
    """The committee booklet: per application on the agenda, summary, budget, opinions and scores."""
    call = session.call
    criteria = list(call.scoring_criteria or [])
    applications: list[dict[str, Any]] = []
    with translation.override("fr"):
        for app in session_agenda(session).prefetch_related("countries", "partners__country"):
            figures = budget.figures(app)
            submitted = list(app.reviews.filter(state=Review.State.SUBMITTED).select_related("reviewer").order_by("pk"))
            reviews = [_review_row(r, criteria) for r in submitted]
            applications.append(
                {
                    "reference": app.reference,
                    "project_title": app.title,
                    "lead_authority": _lead_authority(app),
                    "countries": sorted(c.name_fr for c in app.countries.all()),
                    "partners": [{"name": p.name, "country": p.country.name_fr} for p in app.partners.all()],
                    "summary": app.summary,
                    "total_budget": figures.total_expenses,
                    "requested_amount": app.requested_amount,
                    "requested_rate": figures.requested_rate,
                    "rate_cap": figures.cap_rate,
                    "funding": {
                        "own_cash": app.own_cash,
                        "own_in_kind": app.own_in_kind,
                        "partner": app.partner_funding,
                        "other": app.other_funding,
                        "requested": app.requested_amount,
                    },
                    "budget_lines": [
                        {
                            "year": line.year,
                            "category": str(line.get_category_display()),
                            "label": line.label,
                            "amount": line.amount,
                        }
                        for line in app.budget_lines.all()
                    ],
                    # Expired and cancelled requests show as "Avis non rendu".
                    "opinions": [
                        _opinion_row(o) for o in app.opinion_requests.select_related("country", "region").order_by("pk")
                    ],
                    "reviews": reviews,
                    "average_score": scoring.application_score(submitted, criteria),
                }
            )
        ranked = evaluation.session_ranking(session)
        return {
            "verification_code": code,
            "verification_url": verification_url(code),
            "issued_at": issued_at,
            "session": {"date": session.date, "name": session.title},
            "call": {"code": call.code, "title": call.title},
            "applications": applications,
            # Closed: the ranking frozen at the close, never recomputed (grants.evaluation).
            "ranking": {
                "rows": [row._asdict() for row in ranked.rows],
                "available": ranked.available,
                "frozen_at": ranked.frozen_at,
                "rule": str(evaluation.RANKING_RULE_TEXT),
            },
        }


def booklet_reference(session: CommitteeSession) -> str:
    return f"{session.call.code} — comité du {session.date:%d/%m/%Y}"[:64]


# --- storing ------------------------------------------------------------------------------


def _written(rendered: RenderedPdf, **fields: Any) -> Document:
    """An unsaved Document whose file is already written under a generated name.

    The storage never overwrites (FileSystemStorage creates with O_EXCL and the name is
    a fresh UUID, `grants.models.document_path`); no user text reaches the path.
    """
    document = Document(
        sha256=rendered.sha256,
        size=rendered.size,
        pages=rendered.pages,
        template_version=rendered.template_version,
        **fields,
    )
    save_new_file(document.file, "document.pdf", ContentFile(rendered.content))
    return document


def _discard(document: Document) -> None:
    """Delete a file written for a Document that was not stored (lost race, rollback)."""
    name = document.file.name
    if not name:
        return
    try:
        document.file.storage.delete(name)
    except OSError:
        logger.warning("could not delete the unused PDF file %s", name, exc_info=True)


def _discard_unless_stored(document: Document) -> None:
    """After a failed store: delete the file, unless the row made it to the database after
    all (a connection lost while the COMMIT was acknowledged). In doubt the file stays:
    an orphan file is harmless, a Document without its file is not."""
    try:
        stored = Document.objects.filter(verification_code=document.verification_code).exists()
    except Exception:
        logger.warning("kept PDF file %s: cannot tell whether its Document was stored", document.file.name)
        return
    if not stored:
        _discard(document)


def _test_render_delay() -> None:
    """Only under the test settings: sleep GRANTS_TEST_RENDER_DELAY seconds once a letter
    is rendered, so the reliability tests can kill a worker in the middle of a render."""
    if settings.SETTINGS_MODULE != "config.settings_test":
        return
    delay = os.environ.get(TEST_RENDER_DELAY_ENV)
    if delay:
        time.sleep(float(delay))


def _lock_application(application_id: Any) -> Application:
    return Application.objects.select_for_update(of=("self",)).get(pk=application_id)


# --- decision letters ---------------------------------------------------------------------


def _store_once(document: Document, *, application_id: Any, existing: QuerySet[Document]) -> bool:
    """Store a rendered document unless ``existing`` already holds one: checked and written
    under the application's row lock (the project's lock order), so a redelivered task
    cannot store a second copy. The file of a copy not stored is removed."""
    try:
        with transaction.atomic():
            _lock_application(application_id)
            if existing.exists():
                _discard(document)
                return False
            document.save(force_insert=True)
    except BaseException:
        _discard_unless_stored(document)
        raise
    return True


def _start_attempt(decision_id: int) -> bool:
    """Count one rendering attempt (visible on staff screens while it runs); clears the
    previous final failure. False when there is nothing (left) to render."""
    updated = Decision.objects.filter(pk=decision_id, state=Decision.State.SIGNED, document__isnull=True).update(
        render_attempts=F("render_attempts") + 1, render_error=""
    )
    return bool(updated)


def issue_decision_letter(decision_id: int) -> str:
    """Render, store and deliver a signed decision's letter; idempotent.

    Returns ISSUED, or ALREADY_ISSUED / NOT_APPLICABLE / MISSING when there is nothing
    to do (a second delivery of the task, a decision not signed). Exceptions propagate
    (the task retries the transient ones and records the failure on the decision).
    """
    decision = (
        Decision.objects.select_related(
            "application__call", "application__organisation", "session", "signed_by", "document"
        )
        .filter(pk=decision_id)
        .first()
    )
    if decision is None:
        return MISSING
    if hasattr(decision, "document"):
        return ALREADY_ISSUED
    if decision.state != Decision.State.SIGNED:
        return NOT_APPLICABLE
    if not _start_attempt(decision_id):
        return ALREADY_ISSUED
    code = new_verification_code()
    issued_at = timezone.now()
    template, context = decision_letter_context(decision, code=code, issued_at=issued_at)
    rendered = render_pdf(template, context)  # seconds: no transaction, no lock held
    _test_render_delay()
    kind = Document.Kind.APPROVAL_LETTER if template == APPROVAL_TEMPLATE else Document.Kind.REJECTION_LETTER
    document = _written(
        rendered,
        kind=kind,
        application_id=decision.application_id,
        decision_id=decision.pk,
        reference=decision.application.reference or "",
        verification_code=code,
        issued_at=issued_at,
    )
    summary: Document | None = None
    try:
        # The evaluation summary goes with the letter: rendered now, stored in the same
        # transaction, so the delivery's notifications can name it.
        summary = _written_summary(decision, issued_at=issued_at, letter_code=code)
        with transaction.atomic():
            _lock_application(decision.application_id)
            locked = Decision.objects.select_for_update(of=("self",)).get(pk=decision_id)
            if locked.state != Decision.State.SIGNED or Document.objects.filter(decision_id=decision_id).exists():
                _discard(document)
                _discard(summary)
                return ALREADY_ISSUED
            document.save(force_insert=True)
            if _summaries(decision.application_id).exists():
                _discard(summary)
            else:
                summary.save(force_insert=True)
            Decision.objects.filter(pk=decision_id).update(render_error="")
            # The system transition signed → delivered, in the same transaction as the
            # Document row: delivered only once the letter is stored and the
            # notifications (decision_delivered) are in the outbox.
            fire(DECISION_DELIVER, decision_id, user=None)
            if kind == Document.Kind.APPROVAL_LETTER:
                # The English courtesy copy, once the authentic letter is delivered.
                _enqueue_english_copy_after_commit(decision_id)
    except BaseException:
        _discard_unless_stored(document)
        if summary is not None:
            _discard_unless_stored(summary)
        raise
    logger.info("decision %s: %s %s stored (%s pages)", decision_id, kind, document.reference, document.pages)
    return ISSUED


# --- evaluation summaries -----------------------------------------------------------------


def _summaries(application_id: Any) -> QuerySet[Document]:
    return Document.objects.filter(application_id=application_id, kind=Document.Kind.EVALUATION_SUMMARY)


def _written_summary(decision: Decision, *, issued_at: dt.datetime, letter_code: str) -> Document:
    code = new_verification_code()
    context = evaluation_summary_context(decision, code=code, issued_at=issued_at, letter_code=letter_code)
    return _written(
        render_pdf(SUMMARY_TEMPLATE, context),
        kind=Document.Kind.EVALUATION_SUMMARY,
        application_id=decision.application_id,
        reference=decision.application.reference or "",
        verification_code=code,
        issued_at=issued_at,
    )


def issue_evaluation_summary(decision_id: int) -> str:
    """The evaluation summary of a decision delivered without one (a decision delivered
    before summaries were issued); idempotent. A letter issued now carries its summary
    already (`issue_decision_letter`). One per application (`application` set,
    `decision` left empty: `Document.decision` is the letter's)."""
    decision = (
        Decision.objects.select_related("application__call", "application__organisation", "session", "document")
        .filter(pk=decision_id)
        .first()
    )
    if decision is None:
        return MISSING
    letter = getattr(decision, "document", None)
    if letter is None or decision.state == Decision.State.DRAFT or decision.state == Decision.State.SIGNED:
        return NOT_APPLICABLE
    existing = _summaries(decision.application_id)
    if existing.exists():
        return ALREADY_ISSUED
    summary = _written_summary(decision, issued_at=timezone.now(), letter_code=letter.verification_code)
    if not _store_once(summary, application_id=decision.application_id, existing=existing):
        return ALREADY_ISSUED
    logger.info("decision %s: evaluation summary %s stored", decision_id, summary.reference)
    return ISSUED


def decisions_awaiting_summary(*, older_than: dt.timedelta) -> QuerySet[Decision]:
    """Decisions delivered before now − older_than whose evaluation summary is missing."""
    return (
        Decision.objects.filter(delivered_at__lt=timezone.now() - older_than, document__isnull=False)
        .exclude(state__in=[Decision.State.DRAFT, Decision.State.SIGNED])
        .exclude(application__documents__kind=Document.Kind.EVALUATION_SUMMARY)
        .order_by("delivered_at", "pk")
    )


# --- English courtesy copy of the approval letter ----------------------------------------

#: English wording of the payment conditions (the French letter's CONDITION_TEXT).
CONDITION_TEXT_EN = {
    "signature": "On notification of this decision",
    "interim_report": "On submission of the interim technical and financial report",
    "final_report": "On submission of the final report",
}
_CONDITION_FR_TO_EN = {CONDITION_TEXT[code]: text for code, text in CONDITION_TEXT_EN.items()}
SIGNATORY_TITLE_EN = "Delegate for the External Action of Local Authorities"


def _english_row(row: dict[str, Any]) -> dict[str, Any]:
    label = str(row["label"])
    if row["is_balance"]:
        label = "Balance"
    elif label.startswith("Tranche "):
        label = "Instalment " + label.removeprefix("Tranche ")
    condition = _CONDITION_FR_TO_EN.get(str(row["condition"]), CONDITION_TEXT_EN["interim_report"])
    return {**row, "label": label, "condition": condition}


def english_copy_context(decision: Decision, french_letter: Document, *, code: str) -> dict[str, Any]:
    """The context of the English courtesy translation of an approval letter.

    The French letter's context with English words (country names, payment labels and
    conditions, signatory title), dated like the French letter, plus `authentic_code`
    and `authentic_issued_at` (the French letter's verification code and issue date).
    """
    template, context = decision_letter_context(decision, code=code, issued_at=french_letter.issued_at)
    if template != APPROVAL_TEMPLATE:
        raise ValueError("only an approval letter has an English courtesy copy")
    app = decision.application
    context.update(
        partners=[{"name": p.name, "country": p.country.name_en} for p in app.partners.select_related("country")],
        countries=[c.name_en for c in app.countries.order_by("name_en")],
        payment_schedule=[_english_row(row) for row in context["payment_schedule"]],
        **(
            {
                "partner_cofinancing": {
                    **context["partner_cofinancing"],
                    "countries": [c.name_en for c in app.countries.order_by("name_en")],
                }
            }
            if "partner_cofinancing" in context
            else {}
        ),
        signatory={**context["signatory"], "title": SIGNATORY_TITLE_EN},
        authentic_code=french_letter.verification_code,
        authentic_issued_at=french_letter.issued_at,
    )
    return context


def _english_copy_due(decision: Decision | None) -> bool:
    return (
        decision is not None
        and decision.outcome == Decision.Outcome.APPROVED
        and decision.state in (Decision.State.DELIVERED, Decision.State.RECORDED)
    )


def issue_english_copy(decision_id: int) -> str | None:
    """Render and store the English courtesy copy of a delivered approval letter; idempotent.

    For an approved decision that is delivered (or recorded) and has its French letter:
    one `Document` of kind ``approval_letter_en`` per application (`application` set,
    `decision` left empty: `Document.decision` is the authentic letter's), with its own
    verification code. Returns ISSUED, ALREADY_ISSUED, NOT_APPLICABLE (rejected, not yet
    delivered, no French letter) or MISSING.
    """
    decision = (
        Decision.objects.select_related(
            "application__call", "application__organisation", "session", "signed_by", "document"
        )
        .filter(pk=decision_id)
        .first()
    )
    if decision is None:
        return MISSING
    french_letter = getattr(decision, "document", None)
    if not _english_copy_due(decision) or french_letter is None:
        return NOT_APPLICABLE
    existing = Document.objects.filter(application_id=decision.application_id, kind=Document.Kind.APPROVAL_LETTER_EN)
    if existing.exists():
        return ALREADY_ISSUED
    code = new_verification_code()
    rendered = render_pdf(APPROVAL_EN_TEMPLATE, english_copy_context(decision, french_letter, code=code))
    document = _written(
        rendered,
        kind=Document.Kind.APPROVAL_LETTER_EN,
        application_id=decision.application_id,
        reference=decision.application.reference or "",
        verification_code=code,
        issued_at=timezone.now(),
    )
    if not _store_once(document, application_id=decision.application_id, existing=existing):
        return ALREADY_ISSUED
    logger.info("decision %s: English courtesy copy %s stored", decision_id, document.reference)
    return ISSUED


def _enqueue_english_copy_after_commit(decision_id: int) -> None:
    transaction.on_commit(lambda: registry.run_job("english_copy", decision_id))


def record_render_failure(decision_id: int, message: str) -> None:
    """Show a final rendering failure on the decision (staff screens read `render_error`)."""
    try:
        Decision.objects.filter(pk=decision_id, state=Decision.State.SIGNED).update(render_error=message[:2000])
    except Exception:  # the database itself may be what failed
        logger.exception("decision %s: could not record the rendering failure: %s", decision_id, message)


def render_failed(decision: Decision) -> bool:
    """A signed decision whose letter could not be rendered (retries exhausted or a non-transient error)."""
    return decision.state == Decision.State.SIGNED and bool(decision.render_error)


def batch_progress(decision_ids: Iterable[int]) -> dict[str, int]:
    """Progress of a signing batch for the signatory's screen.

    `total`: decisions found among `decision_ids`; `signed`: those signed so far (any
    state after draft); `delivered`: those whose letter is stored and delivered
    (delivered or recorded); `failed`: signed but not delivered, with a final rendering
    failure (`render_error`). Still rendering = signed − delivered − failed.
    """
    ids = sorted({int(i) for i in decision_ids})
    rows = Decision.objects.filter(pk__in=ids).values_list("state", "render_error")
    S = Decision.State
    result = {"total": 0, "signed": 0, "delivered": 0, "failed": 0}
    for state, error in rows:
        result["total"] += 1
        if state != S.DRAFT:
            result["signed"] += 1
        if state in (S.DELIVERED, S.RECORDED):
            result["delivered"] += 1
        elif state == S.SIGNED and error:
            result["failed"] += 1
    return result


def decisions_awaiting_render(*, older_than: dt.timedelta) -> QuerySet[Decision]:
    """Signed decisions without a letter nor a recorded failure, signed before now − older_than:
    their render was never enqueued (broker down at commit) or its message was lost."""
    return Decision.objects.filter(
        state=Decision.State.SIGNED,
        document__isnull=True,
        render_error="",
        signed_at__lt=timezone.now() - older_than,
    ).order_by("signed_at", "pk")


def decisions_awaiting_english_copy(*, older_than: dt.timedelta) -> QuerySet[Decision]:
    """Approved decisions delivered before now − older_than whose English courtesy copy is
    missing (its message was lost or the broker was down when the letter was stored)."""
    return (
        Decision.objects.filter(
            outcome=Decision.Outcome.APPROVED,
            state__in=[Decision.State.DELIVERED, Decision.State.RECORDED],
            delivered_at__lt=timezone.now() - older_than,
        )
        .exclude(application__documents__kind=Document.Kind.APPROVAL_LETTER_EN)
        .order_by("delivered_at", "pk")
    )


# --- deposit receipts ---------------------------------------------------------------------


def issue_receipt(snapshot_id: int) -> str:
    """Render and store the deposit receipt of one submission (`Document.snapshot`); idempotent."""
    snapshot = (
        Snapshot.objects.select_related("application__call", "application__organisation").filter(pk=snapshot_id).first()
    )
    if snapshot is None:
        return MISSING
    if Document.objects.filter(snapshot_id=snapshot_id).exists():
        return ALREADY_ISSUED
    code = new_verification_code()
    rendered = render_pdf(RECEIPT_TEMPLATE, receipt_context(snapshot, code=code))
    document = _written(
        rendered,
        kind=Document.Kind.DEPOSIT_RECEIPT,
        application_id=snapshot.application_id,
        snapshot_id=snapshot.pk,
        reference=snapshot.data.get("reference") or snapshot.application.reference or "",
        verification_code=code,
        issued_at=snapshot.created_at,
    )
    if not _store_once(
        document, application_id=snapshot.application_id, existing=Document.objects.filter(snapshot_id=snapshot_id)
    ):
        return ALREADY_ISSUED
    return ISSUED


def snapshots_awaiting_receipt(*, older_than: dt.timedelta, within: dt.timedelta) -> QuerySet[Snapshot]:
    now = timezone.now()
    return Snapshot.objects.filter(
        receipt__isnull=True, created_at__lt=now - older_than, created_at__gte=now - within
    ).order_by("created_at", "pk")


# --- ineligibility notices ----------------------------------------------------------------


def _ineligibility_log(application_id: Any, log_id: Any) -> TransitionLog | None:
    logs = TransitionLog.objects.filter(application_id=application_id, transition="declare_ineligible").select_related(
        "actor"
    )
    if log_id is not None:
        return logs.filter(pk=log_id).first()
    return logs.order_by("-at", "-pk").first()


def issue_ineligibility_notice(application_id: Any, log_id: Any) -> str:
    """Render and store the notice of one `declare_ineligible` (its log entry); idempotent.

    The notice is dated at the declaration (`issued_at = log.at`), which is also what
    makes a second delivery of the task find the notice already issued.
    """
    try:
        application = Application.objects.select_related("call", "organisation").filter(pk=application_id).first()
    except (ValueError, TypeError, ValidationError):
        return MISSING
    if application is None:
        return MISSING
    log = _ineligibility_log(application.pk, log_id)
    if log is None:
        return MISSING
    existing = Document.objects.filter(
        application=application, kind=Document.Kind.INELIGIBILITY_NOTICE, issued_at=log.at
    )
    if existing.exists():
        return ALREADY_ISSUED
    code = new_verification_code()
    rendered = render_pdf(INELIGIBILITY_TEMPLATE, ineligibility_context(application, log, code=code, issued_at=log.at))
    document = _written(
        rendered,
        kind=Document.Kind.INELIGIBILITY_NOTICE,
        application_id=application.pk,
        reference=application.reference or "",
        verification_code=code,
        issued_at=log.at,
    )
    if not _store_once(document, application_id=application.pk, existing=existing):
        return ALREADY_ISSUED
    return ISSUED


# --- committee booklets -------------------------------------------------------------------


def issue_committee_booklet(session_id: int) -> Document | None:
    """A new booklet of the session's agenda (each call issues a new one; the latest is shown)."""
    session = CommitteeSession.objects.select_related("call").filter(pk=session_id).first()
    if session is None:
        return None
    code = new_verification_code()
    issued_at = timezone.now()
    rendered = render_pdf(BOOKLET_TEMPLATE, booklet_context(session, code=code, issued_at=issued_at))
    document = _written(
        rendered,
        kind=Document.Kind.COMMITTEE_BOOKLET,
        session_id=session.pk,
        reference=booklet_reference(session),
        verification_code=code,
        issued_at=issued_at,
    )
    try:
        document.save(force_insert=True)
    except BaseException:
        _discard_unless_stored(document)
        raise
    return document


def latest_booklet(session: CommitteeSession | int) -> Document | None:
    """The session's most recent booklet (the one to show), or None."""
    session_id = session.pk if isinstance(session, CommitteeSession) else session
    return (
        Document.objects.filter(session_id=session_id, kind=Document.Kind.COMMITTEE_BOOKLET)
        .order_by("-issued_at", "-pk")
        .first()
    )
