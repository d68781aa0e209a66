"""The read policy and the transition catalogue: each rule of docs/policy.md, through
the web and the API alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from grants import budget, policy, scoring, services
from grants.documents import issuing
from grants.models import Application, CommitteeSession, Decision, Review
from notifications.models import Notification
from tests.api.helpers import body, url
from tests.factories import World
from workflows import engine, registry, tasks_service
from workflows.engine import Conflict, Forbidden

S = Application.State


def api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _rejected_and_delivered(world: World) -> Decision:
    app = world.advance(world.draft(), S.REJECTED)
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    services.decision_deliver(decision_id=decision.pk)
    return Decision.objects.get(pk=decision.pk)


# --- commitments only for approvals -----------------------------------------------------------


@pytest.mark.django_db
def test_a_commitment_is_refused_on_a_rejected_decision_through_the_api(world: World) -> None:
    decision = _rejected_and_delivered(world)
    response = api(world.finance).post(
        url(f"decisions/{decision.pk}/record/"), {"commitment_number": "EJ-1"}, format="json"
    )
    refused = body(response, 409)
    assert any("rejet" in reason for reason in refused["unmet"]), refused
    assert Decision.objects.get(pk=decision.pk).state == Decision.State.DELIVERED


@pytest.mark.django_db
def test_finance_is_never_offered_the_commitment_of_a_rejection(world: World) -> None:
    decision = _rejected_and_delivered(world)
    role, unmet = engine.check(services.DECISION_RECORD, decision, world.finance)
    assert role == "finance" and unmet
    page = _signed_in(world.finance).get(reverse("staff-application", args=[decision.application_id]))
    assert page.status_code == 200
    assert page.context["decision_actions"]["record"] is False


# --- outcomes only in an open session -----------------------------------------------------------


@pytest.mark.django_db
def test_outcomes_wait_for_the_session_to_open(world: World) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    assert world.session.state == CommitteeSession.State.PLANNED
    with pytest.raises(Conflict) as refused:
        world.fire(app, "reject", world.secretary, reasons="Hors priorités.")
    assert "n'est pas ouverte" in " ".join(refused.value.unmet)
    world.open_session()
    assert world.fire(app, "reject", world.secretary, reasons="Hors priorités.").state == S.REJECTED


@pytest.mark.django_db
def test_a_planned_session_cannot_be_closed_without_sitting(world: World) -> None:
    assert not engine.offered(services.SESSION_TRANSITIONS["close"], world.session, world.secretary)
    assert engine.offered(services.SESSION_TRANSITIONS["open"], world.session, world.secretary)


# --- co-applicants -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_co_applicant_reads_and_hears_but_never_acts(world: World) -> None:
    app = world.draft()
    app.co_applicants.add(world.rennes)  # applicant2's authority
    app = world.advance(app, S.SUBMITTED)
    assert policy.can_view(world.applicant2, app)
    assert body(api(world.applicant2).get(url(f"applications/{app.pk}/")), 200)["available_transitions"] == []
    with pytest.raises(Forbidden):
        services.application_transition(application_id=app.pk, name="withdraw", user=world.applicant2)
    assert not tasks_service.inbox(world.applicant2).exists()
    services.application_transition(
        application_id=app.pk, name="request_completion", user=world.instructor, payload={"message": "Budget."}
    )
    assert Notification.objects.filter(recipient=world.applicant2, event="completion_requested").exists()
    assert tasks_service.inbox(world.applicant).filter(application=app).exists()
    assert not tasks_service.inbox(world.applicant2).exists()


# --- histories -----------------------------------------------------------------------------------


def _transitions(entries: list[policy.Entry]) -> list[str]:
    return [e.transition for e in entries]


@pytest.mark.django_db
def test_the_applicant_learns_the_outcome_with_its_letter(world: World) -> None:
    app = world.advance(world.draft(), S.REJECTED)
    before = policy.history(world.applicant, app)
    assert "reject" not in _transitions(before) and "committee_met" in _transitions(before)
    assert all("Budget insuffisamment" not in e.comment for e in before)
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    services.decision_deliver(decision_id=decision.pk)
    after = policy.history(world.applicant, app)
    rejection = next(e for e in after if e.transition == "reject")
    assert rejection.comment == "Budget insuffisamment justifié."
    assert rejection.by == "Secrétariat du comité"  # a role, never a staff member's name
    assert "committee_met" not in _transitions(after)


@pytest.mark.django_db
def test_internal_comments_stay_with_the_delegation(world: World) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    app = world.fire(app, "close_opinions", world.instructor, comment="Fin anticipée.")
    close = next(e for e in policy.history(world.instructor, app) if e.transition == "close_opinions")
    assert close.comment == "Fin anticipée."
    for reader in (world.applicant, world.embassy_sn, world.reviewer1):
        entry = next(e for e in policy.history(reader, app) if e.transition == "close_opinions")
        assert entry.comment == "", reader


@pytest.mark.django_db
def test_an_embassy_reads_no_review_no_reviewer_and_no_other_post(world: World) -> None:
    app = world.draft(countries=["SN", "MA"], partners=[{"name": "Saint-Louis", "country": "SN"}])
    app = world.advance(app, S.IN_COMMITTEE)
    entries = policy.history(world.embassy_sn, app)
    assert {e.subject for e in entries} <= {"application", "opinion"}
    assert all(e.subject != "review" for e in entries)
    opinions = [e for e in entries if e.subject == "opinion"]
    assert len(opinions) == 1  # its own request, not Morocco's
    assert all("reviewer1" not in (e.by or "") for e in entries)


@pytest.mark.django_db
def test_a_reviewer_reads_the_opinions_and_others_reviews_only_after_its_own(world: World) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    second = services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    services.review_declare(review_id=second.pk, user=world.reviewer2, conflict=False)
    services.opinion_give(
        opinion_id=app.opinion_requests.get().pk,
        user=world.embassy_sn,
        verdict="reserved",
        comment="Suivi à renforcer.",
    )
    first = Review.objects.get(application=app, reviewer=world.reviewer1)
    services.review_submit(
        review_id=first.pk,
        user=world.reviewer1,
        payload={"scores": {c["code"]: 3 for c in world.call.scoring_criteria}, "recommendation": "maybe"},
    )
    second_reader = policy.history(world.reviewer2, app)
    assert any(e.subject == "opinion" and e.comment == "Suivi à renforcer." for e in second_reader)
    assert not any(e.subject == "review" and e.transition == "submit" for e in second_reader)
    assert list(policy.visible_reviews(world.reviewer2).filter(application=app)) == [
        Review.objects.get(application=app, reviewer=world.reviewer2)
    ]
    second = Review.objects.get(application=app, reviewer=world.reviewer2)
    services.review_submit(
        review_id=second.pk,
        user=world.reviewer2,
        payload={"scores": {c["code"]: 4 for c in world.call.scoring_criteria}, "recommendation": "yes"},
    )
    assert policy.visible_reviews(world.reviewer2).filter(application=app).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["reviewer1", "reviewer2", "instructor", "embassy_sn", "admin", "applicant"])
def test_own_reviews_are_the_visible_reviews_assigned_to_the_user(world: World, who: str) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    second = services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    services.review_decline(review_id=second.pk, user=world.reviewer2, reason="Conflit d'intérêts.")
    user = getattr(world, who)
    # A review is assigned to each staff user here, reviewer or not (the admin's own too).
    for other in (world.instructor, world.embassy_sn, world.admin):
        Review.objects.create(application=app, reviewer=other, assigned_at=app.created_at)
    expected = policy.visible_reviews(user).filter(reviewer_id=user.pk)
    assert sorted(policy.own_reviews(user).values_list("pk", flat=True)) == sorted(
        expected.values_list("pk", flat=True)
    )


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["applicant", "embassy_sn", "reviewer1", "instructor", "prefecture_ara"])
def test_web_and_api_histories_are_the_same(world: World, who: str) -> None:
    app = world.advance(world.draft(), S.APPROVED)
    user = getattr(world, who)
    from_api = body(api(user).get(url(f"applications/{app.pk}/")), 200)["history"]
    entries = policy.history(user, app)
    assert [(e["transition"], e["comment"], e["by"]) for e in from_api] == [
        (e.transition, e.comment, e.by) for e in entries
    ]
    if who == "applicant":
        page = _signed_in(user).get(reverse("applicant-application", args=[app.pk]))
        shown = page.context["timeline"]
    else:
        page = _signed_in(user).get(reverse("staff-application", args=[app.pk]))
        shown = page.context["history"]
    assert page.status_code == 200
    assert [(e.transition, e.comment, e.by) for e in shown] == [(e.transition, e.comment, e.by) for e in entries]


# --- the committee booklet ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reviewer_who_declined_never_reads_the_booklet(world: World) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    declined = Review.objects.get(application=app, reviewer=world.reviewer2)
    services.review_decline(review_id=declined.pk, user=world.reviewer2, reason="Conflit d'intérêts.")
    review = Review.objects.get(application=app, reviewer=world.reviewer1)
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={"scores": {c["code"]: 4 for c in world.call.scoring_criteria}, "recommendation": "yes"},
    )
    services.consensus_record(application_id=app.pk, user=world.instructor)
    world.fire(app, "schedule", world.secretary, session=world.session.pk)
    issuing.issue_committee_booklet(world.session.pk)
    booklet = reverse("session-booklet", args=[world.session.pk])
    assert _signed_in(world.reviewer2).get(booklet).status_code == 404
    assert not policy.booklet_sessions(world.reviewer2).exists()
    assert _signed_in(world.reviewer1).get(booklet).status_code == 200
    assert _signed_in(world.secretary).get(booklet).status_code == 200


@pytest.mark.django_db
def test_a_reviewer_still_scoring_does_not_read_the_booklet(world: World) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    review = Review.objects.get(application=app, reviewer=world.reviewer1)
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={"scores": {c["code"]: 4 for c in world.call.scoring_criteria}, "recommendation": "yes"},
    )
    services.consensus_record(application_id=app.pk, user=world.instructor)
    world.fire(app, "schedule", world.secretary, session=world.session.pk)
    assert policy.booklet_sessions(world.reviewer1).filter(pk=world.session.pk).exists()
    assert not policy.booklet_sessions(world.reviewer2).filter(pk=world.session.pk).exists()


# --- one calculator per figure ------------------------------------------------------------------


def test_the_last_tranche_is_split_once_half_up() -> None:
    schedule = budget.tranche_schedule(Decimal("45000.01"), {1: Decimal("25000"), 2: Decimal("20000.01")}, exact=True)
    assert [(t["year"], t["amount"], t["condition"]) for t in schedule] == [
        (1, "25000", "signature"),
        (2, "16000.01", "interim_report"),
        (2, "4000.00", "final_report"),
    ]
    rows = issuing.payment_schedule(schedule)
    assert sum(r["amount"] for r in rows) == Decimal("45000.01")
    assert [r["label"] for r in rows] == ["Tranche 1", "Tranche 2", "Solde"]
    # The "Part" column is the share of the granted amount: it matches the amounts.
    assert sum(r["share"] for r in rows) == 1


@pytest.mark.django_db
def test_one_rounding_for_scores_on_screen_in_the_booklet_and_the_api(world: World) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    review = Review.objects.get(application=app, reviewer=world.reviewer1)
    criteria = world.call.scoring_criteria
    scores = {c["code"]: (5 if i == 0 else 4) for i, c in enumerate(criteria)}
    services.review_submit(
        review_id=review.pk, user=world.reviewer1, payload={"scores": scores, "recommendation": "yes"}
    )
    review.refresh_from_db()
    shown = scoring.score_summary(criteria, [review]).average
    assert shown is not None and shown.as_tuple().exponent == -1
    row = issuing._review_row(review, criteria)
    assert row["weighted_score"] == shown


# --- the catalogue ---------------------------------------------------------------------------------


def test_every_logged_transition_has_its_label_in_the_catalogue() -> None:
    for subject_type, names in {
        "grants.application": [*services.APPLICATION_TRANSITIONS, "create"],
        "grants.opinionrequest": ["give", "expire", "cancel"],
        "grants.review": ["assign", "submit", "decline"],
        "grants.decision": ["sign", "deliver", "record"],
        "grants.committeesession": ["create", "open", "close"],
    }.items():
        for name in names:
            spec = registry.spec(subject_type, name)
            assert spec is not None and str(spec.entry_label) != name, (subject_type, name)
