"""Who hears of what: recipients from the role grants and their scopes, the actor left
out of its own news, and applicants never told what embassies or reviewers said."""

from __future__ import annotations

from typing import Any

import pytest

from grants import services
from grants.models import Application, Country, Decision, OpinionRequest, Review, Role
from notifications import outbox, rendering
from notifications.models import Notification
from tests.factories import CallFactory, UserFactory, World, grant

S = Application.State
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "enqueue", lambda ids: 0)


def received(user: Any) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("pk").values_list("message", flat=True))


def test_a_submission_gives_the_applicant_a_receipt_and_the_instructors_a_new_file(world: World) -> None:
    other_call_instructor = UserFactory(username="instructor-other")
    grant(other_call_instructor, Role.INSTRUCTOR, call=CallFactory())
    call_instructor = UserFactory(username="instructor-call")
    grant(call_instructor, Role.INSTRUCTOR, call=world.call)
    world.advance(world.draft(), S.SUBMITTED)
    assert received(world.applicant) == ["receipt"]
    assert received(world.instructor) == ["submitted_staff"]
    assert received(call_instructor) == ["submitted_staff"]
    assert received(other_call_instructor) == []
    assert received(world.applicant2) == []  # another authority
    assert received(world.embassy_sn) == []


def test_opinion_requests_reach_the_embassy_of_the_country_and_the_region_s_prefecture() -> None:
    world = World(prefecture_opinion_required=True)
    world.advance(world.draft(country="MA"), S.AWAITING_OPINIONS)
    assert received(world.embassy_ma) == ["opinion_requested"]
    assert received(world.embassy_sn) == []
    assert received(world.prefecture_ara) == ["opinion_requested"]  # Lyon is in region 84
    assert received(world.applicant)[-1] == "eligible"
    assert "review_assigned" in received(world.reviewer1)
    notice = Notification.objects.get(recipient=world.embassy_ma)
    assert notice.params["country_fr"] == "Maroc"


def test_the_instructor_hears_of_the_opinion_and_the_end_of_the_phase(world: World) -> None:
    world.advance(world.draft(), S.UNDER_REVIEW)  # the embassy's opinion closes the phase by itself
    assert received(world.instructor)[-2:] == ["opinion_given", "opinions_closed"]
    closed = Notification.objects.get(message="opinions_closed")
    assert (closed.params["given"], closed.params["expired"]) == (1, 0)


def test_the_actor_does_not_hear_of_its_own_action(world: World) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    world.fire(app, "close_opinions", world.instructor, comment="Fin anticipée.")
    assert "opinions_closed" not in received(world.instructor)


def test_the_decision_reaches_the_applicant_at_delivery_only_and_finance_with_it(world: World) -> None:
    app = world.advance(world.draft(), S.APPROVED)
    decision = Decision.objects.get(application=app)
    assert received(world.signatory) == ["decision_to_sign"]
    before = received(world.applicant)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    assert received(world.secretary)[-1] == "decision_signed"
    assert received(world.applicant) == before  # signed is internal
    services.decision_deliver(decision_id=decision.pk)
    assert received(world.applicant)[-1] == "decision_delivered_approved"
    assert received(world.finance) == ["decision_delivered_finance"]
    services.decision_record(decision_id=decision.pk, user=world.finance, commitment_number="EJ-2026-001")
    assert received(world.secretary)[-1] == "decision_recorded"
    assert Notification.objects.get(message="decision_recorded").params["commitment_number"] == "EJ-2026-001"


def test_a_rejection_is_delivered_to_the_applicant_as_such(world: World) -> None:
    app = world.advance(world.draft(), S.REJECTED)
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    services.decision_deliver(decision_id=decision.pk)
    assert received(world.applicant)[-1] == "decision_delivered_rejected"


def test_scheduling_is_not_announced_to_the_applicant(world: World) -> None:
    world.advance(world.draft(), S.IN_COMMITTEE)
    assert "scheduled" in received(world.instructor)
    assert "scheduled" not in received(world.applicant)
    assert "scheduled" not in received(world.secretary)  # the secretary did it


def test_withdrawing_a_draft_tells_the_applicant_only(world: World) -> None:
    world.advance(world.draft(), S.DRAFT)
    app = Application.objects.get()
    world.fire(app, "withdraw", world.applicant)
    assert received(world.applicant) == ["withdrawn"]
    assert received(world.instructor) == []


def test_withdrawing_a_submitted_file_tells_the_instructors(world: World) -> None:
    world.advance(world.draft(), S.WITHDRAWN)
    assert received(world.instructor)[-1] == "withdrawn_staff"


def test_inactive_users_receive_nothing(world: World) -> None:
    world.instructor.is_active = False
    world.instructor.save()
    world.advance(world.draft(), S.SUBMITTED)
    assert received(world.instructor) == []


def test_applicants_never_receive_opinion_or_review_content(world: World) -> None:
    secret_opinion, secret_review = "AVIS-CONFIDENTIEL-42", "EVALUATION-CONFIDENTIELLE-42"
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    request = OpinionRequest.objects.get(application=app)
    services.opinion_give(opinion_id=request.pk, user=world.embassy_sn, verdict="reserved", comment=secret_opinion)
    review = Review.objects.get(application=app)
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={
            "scores": {c["code"]: 3 for c in world.call.scoring_criteria},
            "recommendation": "maybe",
            "comment": secret_review,
        },
    )
    services.consensus_record(application_id=app.pk, user=world.instructor)
    world.fire(app, "schedule", world.secretary, session=world.session.pk)
    world.open_session()
    world.fire(app, "reject", world.secretary, reasons="Budget insuffisamment justifié.")
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    services.decision_deliver(decision_id=decision.pk)

    mine = list(Notification.objects.filter(recipient=world.applicant))
    assert {n.message for n in mine} <= outbox.APPLICANT_MESSAGES
    for notification in mine:
        assert secret_opinion not in str(notification.params)
        assert secret_review not in str(notification.params)
        for language in ("fr", "en"):
            text = rendering.render(notification.message, notification.params, language=language).text
            assert secret_opinion not in text and secret_review not in text
            assert "reserved" not in text and "réservé" not in text.lower()
    # Staff notices do not copy the content into e-mails either.
    for notification in Notification.objects.exclude(recipient=world.applicant):
        assert secret_opinion not in str(notification.params)
        assert secret_review not in str(notification.params)


def test_an_embassy_covering_two_countries_gets_one_notice_per_request(world: World) -> None:
    grant(world.embassy_sn, Role.EMBASSY, country=Country.objects.get(iso2="MA"))
    draft = world.draft(
        countries=["SN", "MA"],
        partners=[{"name": "Commune de Saint-Louis", "country": "SN"}, {"name": "Commune de Tiznit", "country": "MA"}],
    )
    world.advance(draft, S.AWAITING_OPINIONS)
    assert received(world.embassy_sn) == ["opinion_requested", "opinion_requested"]
    assert received(world.embassy_ma) == ["opinion_requested"]
