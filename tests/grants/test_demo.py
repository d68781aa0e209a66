"""The demo data: every demo account finds work waiting on its first sign-in.

One seed (about half a minute) serves every check, so they sit in one test."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from grants import demo, policy
from grants.models import Application, CommitteeSession, Decision
from workflows import tasks_service
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

    for name in ("applicant", "applicant2"):
        assert Application.objects.filter(created_by=_user(name)).exists(), name

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
