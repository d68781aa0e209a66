"""Which issued documents (receipts, notices, letters, booklets) a user may download."""

from __future__ import annotations

from typing import Any

from grants.models import Application, Decision, Document, Role
from grants.policy.applications import DELIVERED, can_view, role_for
from grants.policy.scopes import DELEGATION, scopes

#: What the applicant's authorities receive; decision letters once delivered.
APPLICANT_KINDS = frozenset(
    {
        Document.Kind.DEPOSIT_RECEIPT,
        Document.Kind.INELIGIBILITY_NOTICE,
        Document.Kind.APPROVAL_LETTER,
        Document.Kind.REJECTION_LETTER,
        Document.Kind.APPROVAL_LETTER_EN,
        Document.Kind.AMENDMENT,  # the avenants of its grant
        Document.Kind.EVALUATION_SUMMARY,
    }
)
#: Read by the applicant once the decision is delivered (the summary goes with the letter).
DECISION_KINDS = frozenset(
    {
        Document.Kind.APPROVAL_LETTER,
        Document.Kind.REJECTION_LETTER,
        Document.Kind.APPROVAL_LETTER_EN,
        Document.Kind.EVALUATION_SUMMARY,
    }
)
#: Read by everyone who may see the application (the submitted file's receipt).
PUBLIC_KINDS = frozenset({Document.Kind.DEPOSIT_RECEIPT, Document.Kind.INELIGIBILITY_NOTICE})


def is_delegation(user: Any, application: Application) -> bool:
    return Role.ADMIN in scopes(user).roles or role_for(user, DELEGATION, application) is not None


def application_documents(user: Any, application: Application, decision: Decision | None = None) -> list[Document]:
    """The application's issued documents ``user`` may download, oldest first (one
    query; ``decision``: the application's decision if already loaded).

    Every document of an application carries it (``Document.application``: set by the
    issuing code for receipts, notices, letters, summaries and amendments; backfilled by
    migration 0018 from the decision or the snapshot), so one index lookup finds them: an
    OR through the decision and the snapshot made PostgreSQL scan every document (20 ms at
    10,000 applications, growing with the table)."""
    # The application was read in this request: its own row's clauses decide without a
    # query when they can (an instructor, an applicant's own), the database otherwise.
    if not can_view(user, application, current_row=True):
        return []
    documents = list(
        Document.objects.filter(application=application)
        .exclude(kind=Document.Kind.COMMITTEE_BOOKLET)
        .select_related("decision")
        .order_by("issued_at", "pk")
    )
    if is_delegation(user, application):
        return documents
    s = scopes(user)
    applicant = Role.APPLICANT in s.roles and (
        application.organisation_id in s.organisations
        or application.co_applicants.filter(pk__in=sorted(s.organisations)).exists()
    )
    allowed = APPLICANT_KINDS if applicant else PUBLIC_KINDS
    if decision is None:
        decision = Decision.objects.filter(application=application).only("pk", "state").first()
    delivered = decision is not None and decision.state in DELIVERED
    return [
        d
        for d in documents
        if d.kind in allowed and (d.kind not in DECISION_KINDS or (delivered and d.decision_id in (None, decision.pk)))  # type: ignore[union-attr]
    ]
