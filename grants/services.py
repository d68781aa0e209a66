"""The domain's write API: what views, serializers, tasks and commands call.

Every function runs through the one transition service (``workflows.engine.fire``),
with the Specs declared in ``grants.machines``; draft edits and attachments are in
``grants.writes.drafts`` (run by the engine too). Each function is
``<entity>_<verb>`` and keyword-only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from grants.machines.application import (
    APPLICATION_TRANSITIONS,
    APPROVE,
    CLOSE_OPINIONS,
    DECLARE_INELIGIBLE,
    REJECT,
    submission_unmet,
)
from grants.machines.consensus import RECORD_CONSENSUS
from grants.machines.decision import DECISION_DELIVER, DECISION_RECORD, DECISION_SIGN
from grants.machines.opinion import EXPIRE_OPINION, GIVE_OPINION
from grants.machines.payload import parse_amount, parse_date
from grants.machines.review import ASSIGN_REVIEWER, DECLARE, REVIEW_DECLINE, REVIEW_SUBMIT
from grants.machines.session import SESSION_CLOSE, SESSION_CREATE, SESSION_OPEN
from grants.models import Application, Call, CommitteeSession, Decision, OpinionRequest, Review
from grants.writes.calls import call_create, call_duplicate, call_update
from workflows.engine import Invalid, NotFound, fire

__all__ = [
    "APPLICATION_TRANSITIONS",
    "APPROVE",
    "ASSIGN_REVIEWER",
    "CLOSE_OPINIONS",
    "DECISION_DELIVER",
    "DECISION_RECORD",
    "DECISION_SIGN",
    "DECLARE",
    "DECLARE_INELIGIBLE",
    "GIVE_OPINION",
    "RECORD_CONSENSUS",
    "REJECT",
    "REVIEW_SUBMIT",
    "SESSION_TRANSITIONS",
    "application_transition",
    "call_create",
    "call_duplicate",
    "call_transition",
    "call_update",
    "consensus_record",
    "decision_deliver",
    "decision_record",
    "decision_sign",
    "opinion_expire",
    "opinion_give",
    "parse_amount",
    "parse_date",
    "review_assign",
    "review_declare",
    "review_decline",
    "review_submit",
    "session_create",
    "session_transition",
    "submission_unmet",
]


def application_transition(
    *, application_id: Any, name: str, user: Any, payload: dict[str, Any] | None = None
) -> Application:
    spec = APPLICATION_TRANSITIONS.get(name)
    if spec is None:
        raise NotFound(_("Action inconnue : %(name)s.") % {"name": name})
    result: Application = fire(spec, application_id, user=user, payload=payload)
    return result


def opinion_give(*, opinion_id: int, user: Any, verdict: str, comment: str = "") -> OpinionRequest:
    result: OpinionRequest = fire(GIVE_OPINION, opinion_id, user=user, payload={"verdict": verdict, "comment": comment})
    return result


def opinion_expire(*, opinion_id: int) -> OpinionRequest:
    result: OpinionRequest = fire(EXPIRE_OPINION, opinion_id, user=None)
    return result


def review_submit(*, review_id: int, user: Any, payload: dict[str, Any]) -> Review:
    result: Review = fire(REVIEW_SUBMIT, review_id, user=user, payload=payload)
    return result


def review_decline(*, review_id: int, user: Any, reason: str) -> Review:
    result: Review = fire(REVIEW_DECLINE, review_id, user=user, payload={"reason": reason})
    return result


def review_declare(*, review_id: int, user: Any, conflict: Any, details: str = "") -> Review:
    """The reviewer's declaration on conflict of interest (a conflict declines the review)."""
    result: Review = fire(DECLARE, review_id, user=user, payload={"conflict": conflict, "details": details})
    return result


def consensus_record(
    *, application_id: Any, user: Any, scores: Any = None, comment: str = "", internal_comment: str = ""
) -> Any:
    """Record (or correct) the consensus of the reviews (instructor, secretary); ``scores``
    None: the reviewers' means."""
    payload = {"scores": scores, "comment": comment, "internal_comment": internal_comment}
    return fire(RECORD_CONSENSUS, application_id, user=user, payload=payload)


def review_assign(*, application_id: Any, reviewer_username: str, user: Any) -> Review:
    """Assign a committee member to review an application (instructor)."""
    result: Review = fire(ASSIGN_REVIEWER, application_id, user=user, payload={"reviewer": reviewer_username})
    return result


def decision_sign(*, decision_id: int, user: Any, confirm: Any = None) -> Decision:
    """Sign a draft decision. ``confirm``: the answer to the signature's confirmation when
    the caller asked it (None: not asked)."""
    payload = {} if confirm is None else {"confirm": confirm}
    result: Decision = fire(DECISION_SIGN, decision_id, user=user, payload=payload)
    return result


def decision_deliver(*, decision_id: int) -> Decision:
    result: Decision = fire(DECISION_DELIVER, decision_id, user=None)
    return result


def decision_record(*, decision_id: int, user: Any, commitment_number: str) -> Decision:
    result: Decision = fire(DECISION_RECORD, decision_id, user=user, payload={"commitment_number": commitment_number})
    return result


def session_create(*, call_code: str, date: dt.date, user: Any, title: str = "") -> CommitteeSession:
    call_id = Call.objects.filter(code=call_code).values_list("pk", flat=True).first()
    if call_id is None:
        raise Invalid(errors={"call": [_("Appel à projets introuvable.")]})
    result: CommitteeSession = fire(SESSION_CREATE, call_id, user=user, payload={"date": date, "title": title})
    return result


SESSION_TRANSITIONS = {"open": SESSION_OPEN, "close": SESSION_CLOSE}


def session_transition(*, session_id: int, name: str, user: Any, confirm: Any = None) -> CommitteeSession:
    """Open or close a session. ``confirm``: the answer to the closing's confirmation when
    the caller asked it (None: not asked)."""
    spec = SESSION_TRANSITIONS.get(name)
    if spec is None:
        raise NotFound(_("Action inconnue : %(name)s.") % {"name": name})
    payload = {} if confirm is None else {"confirm": confirm}
    result: CommitteeSession = fire(spec, session_id, user=user, payload=payload)
    return result


# --- call variants (grants.variants) ----------------------------------------------------------
from grants.machines.partner import REQUEST_PARTNER_VALIDATION  # noqa: E402

#: Actions on an application beside its machine's transitions, offered by the variants.
VARIANT_ACTIONS = {REQUEST_PARTNER_VALIDATION.name: REQUEST_PARTNER_VALIDATION}
__all__ += ["REQUEST_PARTNER_VALIDATION", "VARIANT_ACTIONS"]


# --- the call editor (issue 15): grants.writes.calls, grants.machines.call ----------------------


def call_transition(*, code: str, name: str, user: Any) -> Call:
    """Publish, close or archive a call (publish: every unmet setting at once, 409)."""
    from grants.machines.call import CALL_TRANSITIONS

    spec = CALL_TRANSITIONS.get(name)
    if spec is None:
        raise NotFound(_("Action inconnue : %(name)s.") % {"name": name})
    call_id = Call.objects.filter(code=code).values_list("pk", flat=True).first()
    result: Call = fire(spec, call_id if call_id is not None else 0, user=user)
    return result


# --- the grant's life after the commitment (grants.machines.postaward) ------------------------

from grants.machines import postaward as _postaward  # noqa: E402


def payment_pay(*, payment_id: int, user: Any, paid_on: Any, payment_reference: str, amount: Any = None) -> Any:
    """Finance records a tranche's payment (or a recovery's reimbursement)."""
    payload = {"paid_on": paid_on, "payment_reference": payment_reference, "amount": amount}
    return fire(_postaward.PAYMENT_PAY, payment_id, user=user, payload=payload)


def payment_pay_many(*, payment_ids: list[int], user: Any, paid_on: Any, payment_reference: str) -> list[Any]:
    """Several payments at once (one transaction each: one grant's lock at a time)."""
    return [
        payment_pay(payment_id=pk, user=user, paid_on=paid_on, payment_reference=payment_reference)
        for pk in payment_ids
    ]


REPORT_TRANSITIONS = {
    "submit": _postaward.REPORT_SUBMIT,
    "resubmit": _postaward.REPORT_RESUBMIT,
    "accept": _postaward.REPORT_ACCEPT,
    "return": _postaward.REPORT_RETURN,
}


def report_transition(*, report_id: int, name: str, user: Any, payload: dict[str, Any] | None = None) -> Any:
    """submit / resubmit (applicant: ``narrative`` bytes, ``narrative_name``, ``expenses``),
    accept / return (instructor: ``message``, ``due_date``)."""
    spec = REPORT_TRANSITIONS.get(name)
    if spec is None:
        raise NotFound(_("Action inconnue : %(name)s.") % {"name": name})
    return fire(spec, report_id, user=user, payload=payload)


def amendment_request(*, decision_id: int, user: Any, payload: dict[str, Any]) -> Any:
    return fire(_postaward.AMENDMENT_REQUEST, decision_id, user=user, payload=payload)


def amendment_decide(*, amendment_id: int, name: str, user: Any, reason: str = "") -> Any:
    spec = {"accept": _postaward.AMENDMENT_ACCEPT, "refuse": _postaward.AMENDMENT_REFUSE}.get(name)
    if spec is None:
        raise NotFound(_("Action inconnue : %(name)s.") % {"name": name})
    return fire(spec, amendment_id, user=user, payload={"reason": reason})


def decision_renounce(*, decision_id: int, user: Any, reason: str) -> Decision:
    result: Decision = fire(_postaward.DECISION_RENOUNCE, decision_id, user=user, payload={"reason": reason})
    return result
