"""The demo data: every demo account finds work waiting on its first sign-in.

One seed (about half a minute) serves every check, so they sit in one test."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from grants import demo, demo_variants, policy, services
from grants.models import Application, Call, CommitteeSession, Decision, OpinionRequest
from grants.postaward import Payment, Report
from workflows import engine, tasks_service
from workflows.models import TaskKind

pytestmark = pytest.mark.django_db

WORK = {
    "instructor": TaskKind.CHECK_ELIGIBILITY,
    "embassy-sn": TaskKind.GIVE_OPINION,
    "embassy-ma": TaskKind.GIVE_OPINION,
    "prefecture-ara": TaskKind.GIVE_OPINION,
    "reviewer1": TaskKind.REVIEW,
    "reviewer2": TaskKind.REVIEW,
    "signatory": TaskKind.SIGN_DECISION,
    "finance": TaskKind.RECORD_COMMITMENT,
    "partner-sn": TaskKind.VALIDATE_PROJECT,
}


def _user(username: str):
    user = get_user_model().objects.get(username=username)
    policy.forget(user)
    return user


def test_every_demo_account_finds_work_and_a_second_seed_adds_nothing() -> None:
    seeded = demo.seed(applications=20)

    found = {name: set(tasks_service.inbox(_user(name)).values_list("kind", flat=True)) for name in WORK}
    missing = {name: kind for name, kind in WORK.items() if kind not in found[name]}
    assert missing == {}, found

    # Opinions: one due within a day for each authority (an overdue one would be expired by the sweep).
    soon = timezone.now() + dt.timedelta(days=2)
    for name in ("embassy-sn", "embassy-ma", "prefecture-ara"):
        assert tasks_service.inbox(_user(name)).filter(kind=TaskKind.GIVE_OPINION, due_at__lte=soon).exists(), name

    # Finance: delivered approvals, each with its letter.
    delivered = Decision.objects.filter(state=Decision.State.DELIVERED, outcome=Decision.Outcome.APPROVED)
    assert delivered.exists()
    assert all(hasattr(d, "document") for d in delivered)

    # Secretary: the demo session sits today, open, with an agenda.
    session = CommitteeSession.objects.get(call=seeded["call"])
    assert session.state == CommitteeSession.State.OPEN
    assert session.date == timezone.localdate()
    assert Application.objects.filter(session=session, state=Application.State.IN_COMMITTEE).exists()

    for name in ("applicant", "applicant2", "applicant-assoc"):
        assert Application.objects.filter(created_by=_user(name)).exists(), name

    # The call variants: a joint fund with Senegal and a turnkey programme call, published.
    joint = Call.objects.get(code=demo_variants.JOINT_FUND_CALL)
    assert joint.kind == Call.Kind.JOINT_FUND and joint.state == Call.State.PUBLISHED
    assert list(joint.eligible_countries.values_list("iso2", flat=True)) == ["SN"]
    partner_requests = OpinionRequest.objects.filter(application__call=joint, authority="partner")
    assert sorted(partner_requests.values_list("state", "verdict")) == [
        ("given", "favorable"),
        ("given", "unfavorable"),
        ("requested", ""),
    ]
    partner = _user("partner-sn")
    assert partner.email == "partner-sn@example.org" and partner.check_password("demo")
    assert set(policy.visible_applications(partner)) == {r.application for r in partner_requests}
    refused = partner_requests.get(verdict="unfavorable").application
    assert refused.state == Application.State.IN_COMMITTEE
    assert not engine.available(services.APPROVE, refused, _user("secretary"))
    turnkey = Call.objects.get(code=demo_variants.TURNKEY_CALL)
    assert turnkey.kind == Call.Kind.TURNKEY and turnkey.state == Call.State.PUBLISHED
    programmes = {a.state: a for a in turnkey.applications.all()}
    assert programmes[Application.State.SUBMITTED].members.count() == 3
    draft = programmes[Application.State.DRAFT]
    assert draft.members.count() == 2
    # Only the variant's rule is unmet, on the applicant's page and on the button alike.
    short = ["Le programme compte 2 collectivité(s) membre(s) ; l'appel en exige au moins 3."]
    assert services.submission_unmet(draft, now=timezone.now()) == short
    _role, unmet = engine.check(services.APPLICATION_TRANSITIONS["submit"], draft, _user("applicant-assoc"))
    assert unmet == short
    # After the decision (grants/demo_postaward.py): grants at every stage, work for each role.
    assert TaskKind.PAY_TRANCHE in found["finance"]
    instructor_kinds = set(tasks_service.inbox(_user("instructor")).values_list("kind", flat=True))
    assert {TaskKind.CHECK_REPORT, TaskKind.DECIDE_AMENDMENT} <= instructor_kinds
    assert TaskKind.SUBMIT_REPORT in set(tasks_service.inbox(_user("applicant")).values_list("kind", flat=True))
    states = set(Decision.objects.values_list("state", flat=True))
    assert {Decision.State.RECORDED, Decision.State.CLOSED, Decision.State.RENOUNCED} <= states
    assert Report.objects.filter(state=Report.State.RETURNED, application__created_by=_user("applicant")).exists()
    assert Report.objects.filter(kind=Report.Kind.FINAL, state=Report.State.ACCEPTED).count() >= 3
    balance = Payment.objects.get(kind=Payment.Kind.BALANCE, state=Payment.State.PAYABLE)
    assert balance.amount == Decimal("1300.00") < balance.planned_amount  # reduced from 2 500
    recoveries = Payment.objects.filter(kind=Payment.Kind.RECOVERY, state=Payment.State.PAYABLE)
    assert sorted(p.amount for p in recoveries) == [Decimal("-12500.00"), Decimal("-2500.00")]
    assert Payment.objects.filter(state=Payment.State.PAID).exists()

    count = Application.objects.count()
    again = demo.seed(applications=20)
    assert again["created"] == 0
    assert Application.objects.count() == count


def test_the_demo_has_a_closed_session_with_its_frozen_ranking_and_evaluation_summaries(settings, tmp_path) -> None:
    from grants.demo_evaluation import EVALUATION_CALL
    from grants.models import Consensus, Document

    settings.MEDIA_ROOT = tmp_path / "media"
    demo.seed(applications=6)
    closed = CommitteeSession.objects.get(call__code=EVALUATION_CALL)
    assert closed.state == CommitteeSession.State.CLOSED and closed.ranking_frozen_at is not None
    rows = closed.frozen_ranking["rows"]
    assert [r["weighted_score"] for r in rows] == ["5.0", "4.0", "2.0"]
    assert [r["within_envelope"] for r in rows] == [True, True, False]  # 60 000 € envelope, 25 000 € each
    decided = Application.objects.filter(session=closed)
    assert Consensus.objects.filter(application__in=decided).count() == 3
    delivered = Decision.objects.filter(application__in=decided, state=Decision.State.DELIVERED)
    assert delivered.count() == 3
    summaries = Document.objects.filter(application__in=decided, kind=Document.Kind.EVALUATION_SUMMARY)
    assert summaries.count() == 3
    assert demo.seed(applications=6)["created"] == 0
