"""Every transition of the application machine: happy path, and each refusal
(wrong role, right role wrong scope, wrong state, each unmet condition)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from grants import budget, policy, services
from grants.models import (
    Application,
    Call,
    CommitteeSession,
    Decision,
    OpinionRequest,
    Review,
    Role,
    Snapshot,
)
from grants.writes import drafts
from tests.factories import World, grant
from workflows.engine import Conflict, Forbidden, Invalid, NotFound
from workflows.models import Task, TaskKind, TransitionLog

S = Application.State


def state(app: Application) -> str:
    return Application.objects.values_list("state", flat=True).get(pk=app.pk)


def open_tasks(app: Application) -> list[str]:
    return sorted(Task.objects.filter(application=app, state=Task.State.OPEN).values_list("kind", flat=True))


# --- submit -------------------------------------------------------------------------------


def test_submit_assigns_a_reference_freezes_a_snapshot_and_opens_the_eligibility_check(world: World) -> None:
    app = world.fire(world.draft(), "submit", world.applicant)
    assert app.state == S.SUBMITTED
    assert app.reference == f"{world.call.code}-00001"
    snapshot = Snapshot.objects.get(application=app)
    assert snapshot.data["title"] == app.title and len(snapshot.sha256) == 64
    assert open_tasks(app) == [TaskKind.CHECK_ELIGIBILITY]
    log = TransitionLog.objects.filter(application=app, transition="submit").get()
    assert (log.source, log.target, log.actor_name, log.role) == ("draft", "submitted", "applicant", "applicant")


def test_submit_lists_every_unmet_condition_at_once(world: World) -> None:
    app = world.draft(attachments=False, duration_months=48)
    drafts.application_update(
        application_id=app.pk, user=world.applicant, data={"budget": {"funding": {"requested": "80000.00"}}}
    )
    with pytest.raises(Conflict) as error:
        world.fire(app, "submit", world.applicant)
    reasons = error.value.unmet
    assert any("dépasse le plafond de 70" in r for r in reasons)
    assert any("durée du projet (48 mois)" in r for r in reasons)
    assert any("Convention de partenariat" in r for r in reasons)
    assert any("Délibération" in r for r in reasons)
    assert state(app) == S.DRAFT
    assert Application.objects.get(pk=app.pk).reference is None


def test_submit_after_the_closing_date_is_refused(world: World) -> None:
    app = world.draft()
    Call.objects.filter(pk=world.call.pk).update(closes_at=timezone.now() - dt.timedelta(minutes=1))
    with pytest.raises(Conflict) as error:
        world.fire(app, "submit", world.applicant)
    assert any("clos depuis" in r for r in error.value.unmet)
    assert state(app) == S.DRAFT


def test_another_authority_cannot_see_let_alone_submit(world: World) -> None:
    app = world.draft()
    with pytest.raises(NotFound):
        world.fire(app, "submit", world.applicant2)


def test_staff_cannot_submit_for_the_applicant(world: World) -> None:
    app = world.draft()
    with pytest.raises(NotFound):  # instructors do not see drafts at all
        world.fire(app, "submit", world.instructor)
    with pytest.raises(Forbidden):
        world.fire(app, "submit", world.admin)


def test_submit_twice_is_a_conflict(world: World) -> None:
    app = world.fire(world.draft(), "submit", world.applicant)
    with pytest.raises(Conflict) as error:
        world.fire(app, "submit", world.applicant)
    assert "Déposé" in error.value.unmet[0]


# --- completion -------------------------------------------------------------------------


def test_request_completion_requires_a_message_and_opens_the_applicant_task(world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    with pytest.raises(Invalid) as error:
        world.fire(app, "request_completion", world.instructor, message="  ")
    assert error.value.errors == {"message": ["Ce champ est obligatoire."]}
    due = (timezone.localdate() + dt.timedelta(days=5)).isoformat()
    app = world.fire(app, "request_completion", world.instructor, message="Joindre la délibération", due_date=due)
    assert app.state == S.INCOMPLETE and app.completion_message == "Joindre la délibération"
    assert open_tasks(app) == [TaskKind.COMPLETE_APPLICATION]
    task = Task.objects.get(application=app, state=Task.State.OPEN)
    assert task.scope_organisation_id == world.lyon.pk
    assert timezone.localtime(task.due_at).date().isoformat() == due


def test_request_completion_refuses_a_due_date_in_the_past(world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    with pytest.raises(Invalid) as error:
        world.fire(app, "request_completion", world.instructor, message="x", due_date="2020-01-01")
    assert "due_date" in error.value.errors


def test_an_instructor_of_another_call_cannot_act(world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    other_call = Call.objects.create(
        code="OTHER",
        title="Autre",
        opens_at=timezone.now(),
        closes_at=timezone.now() + dt.timedelta(days=1),
        envelope=Decimal("1"),
    )
    from tests.factories import UserFactory

    scoped = UserFactory(username="instructor-other")
    grant(scoped, Role.INSTRUCTOR, call=other_call)
    with pytest.raises(NotFound):
        world.fire(app, "declare_eligible", scoped)


def test_an_applicant_cannot_instruct_its_own_application(world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    with pytest.raises(Forbidden):
        world.fire(app, "declare_eligible", world.applicant)


def test_resubmit_takes_a_new_snapshot_even_after_the_closing_date(world: World) -> None:
    app = world.advance(world.draft(), S.INCOMPLETE)
    drafts.application_update(application_id=app.pk, user=world.applicant, data={"summary": "Complété."})
    Call.objects.filter(pk=world.call.pk).update(closes_at=timezone.now() - dt.timedelta(days=1))
    app = world.fire(app, "resubmit", world.applicant)
    assert app.state == S.SUBMITTED
    assert list(Snapshot.objects.filter(application=app).values_list("number", flat=True)) == [1, 2]
    assert Snapshot.objects.get(application=app, number=2).data["summary"] == "Complété."
    assert open_tasks(app) == [TaskKind.CHECK_ELIGIBILITY]


def test_resubmit_still_checks_the_budget_rules(world: World) -> None:
    app = world.advance(world.draft(), S.INCOMPLETE)
    drafts.application_update(
        application_id=app.pk, user=world.applicant, data={"budget": {"funding": {"other": "1.00"}}}
    )
    with pytest.raises(Conflict) as error:
        world.fire(app, "resubmit", world.applicant)
    assert any("ne sont pas égaux aux dépenses" in r for r in error.value.unmet)


def test_declare_ineligible_requires_a_reason_and_works_from_incomplete(world: World) -> None:
    app = world.advance(world.draft(), S.INCOMPLETE)
    with pytest.raises(Invalid):
        world.fire(app, "declare_ineligible", world.instructor)
    app = world.fire(app, "declare_ineligible", world.instructor, reason="Partenaire non éligible")
    assert app.state == S.INELIGIBLE and open_tasks(app) == []
    assert TransitionLog.objects.get(application=app, transition="declare_ineligible").comment == (
        "Partenaire non éligible"
    )


# --- opinions -----------------------------------------------------------------------------


def test_declare_eligible_opens_one_request_per_country_and_the_prefecture_when_asked(world: World) -> None:
    Call.objects.filter(pk=world.call.pk).update(prefecture_opinion_required=True)
    app = world.draft()
    app.countries.add("MA")
    app = world.advance(app, S.AWAITING_OPINIONS)
    requests = OpinionRequest.objects.filter(application=app).order_by("authority", "country_id")
    assert [(r.authority, r.country_id, r.region_id) for r in requests] == [
        ("embassy", "MA", None),
        ("embassy", "SN", None),
        ("prefecture", None, "84"),
    ]
    due = requests[0].due_at
    assert abs((due - timezone.now()) - dt.timedelta(days=21)) < dt.timedelta(minutes=1)
    assert open_tasks(app) == [TaskKind.GIVE_OPINION] * 3


def test_an_embassy_gives_the_opinion_of_its_country_only(world: World) -> None:
    app = world.draft()
    app.countries.add("MA")
    app = world.advance(app, S.AWAITING_OPINIONS)
    sn = OpinionRequest.objects.get(application=app, country="SN")
    ma = OpinionRequest.objects.get(application=app, country="MA")
    with pytest.raises(Forbidden):
        services.opinion_give(opinion_id=sn.pk, user=world.embassy_ma, verdict="favorable")
    with pytest.raises(Invalid) as error:
        services.opinion_give(opinion_id=sn.pk, user=world.embassy_sn, verdict="unfavorable", comment="")
    assert "comment" in error.value.errors  # a reserved or unfavorable opinion says why
    services.opinion_give(opinion_id=sn.pk, user=world.embassy_sn, verdict="reserved", comment="Partenaire fragile")
    assert state(app) == S.AWAITING_OPINIONS  # Morocco has not answered yet
    services.opinion_give(opinion_id=ma.pk, user=world.embassy_ma, verdict="favorable")
    assert state(app) == S.UNDER_REVIEW  # close_opinions fired by itself
    log = TransitionLog.objects.get(application=app, transition="close_opinions")
    assert (log.role, log.actor_id) == ("system", None)


def test_an_embassy_of_another_country_cannot_even_see_the_request(world: World) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    request = OpinionRequest.objects.get(application=app)
    with pytest.raises(NotFound):
        services.opinion_give(opinion_id=request.pk, user=world.embassy_ma, verdict="favorable")


def test_an_expired_request_lets_the_application_move_on(world: World) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    request = OpinionRequest.objects.get(application=app)
    services.opinion_expire(opinion_id=request.pk)
    assert OpinionRequest.objects.get(pk=request.pk).state == OpinionRequest.State.EXPIRED
    assert state(app) == S.UNDER_REVIEW


def test_the_instructor_may_close_opinions_early_but_must_say_why(world: World) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    with pytest.raises(Invalid) as error:
        world.fire(app, "close_opinions", world.instructor)
    assert "comment" in error.value.errors
    services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    app = world.fire(app, "close_opinions", world.instructor, comment="Le poste ne répond pas")
    assert app.state == S.UNDER_REVIEW
    assert OpinionRequest.objects.get(application=app).state == OpinionRequest.State.CANCELLED
    # reviewer1 (assigned by advance) and reviewer2 get their review tasks now
    assert open_tasks(app) == [TaskKind.REVIEW, TaskKind.REVIEW]
    assert set(Task.objects.filter(application=app, state="open").values_list("assignee__username", flat=True)) == {
        "reviewer1",
        "reviewer2",
    }


# --- reviews and committee ----------------------------------------------------------------


def test_a_reviewer_scores_with_the_call_grid(world: World) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    review = Review.objects.get(application=app, reviewer=world.reviewer1)
    with pytest.raises(Invalid) as error:
        services.review_submit(
            review_id=review.pk, user=world.reviewer1, payload={"scores": {"sdg": 6}, "recommendation": "perhaps"}
        )
    assert set(error.value.errors) == {"scores", "recommendation"}
    assert any("Critères non notés" in m for m in error.value.errors["scores"])
    with pytest.raises(NotFound):  # another reviewer does not see an unassigned application
        services.review_submit(review_id=review.pk, user=world.reviewer2, payload={})
    scores = {c["code"]: 3 for c in world.call.scoring_criteria}
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={"scores": scores, "recommendation": "maybe", "comment": "Correct"},
    )
    assert Review.objects.get(pk=review.pk).state == Review.State.SUBMITTED
    assert open_tasks(app) == [TaskKind.SCHEDULE_COMMITTEE]


def test_a_reviewer_may_decline_for_a_conflict_of_interest(world: World) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    review = Review.objects.get(application=app, reviewer=world.reviewer1)
    services.review_decline(review_id=review.pk, user=world.reviewer1, reason="Élu de la collectivité")
    assert Review.objects.get(pk=review.pk).state == Review.State.DECLINED
    assert open_tasks(app) == []
    with pytest.raises(NotFound):  # a declined reviewer no longer sees the application
        services.review_submit(review_id=review.pk, user=world.reviewer1, payload={})


def test_schedule_requires_the_minimum_of_submitted_reviews(world: World) -> None:
    Call.objects.filter(pk=world.call.pk).update(min_reviews=2)
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    with pytest.raises(Conflict) as error:
        world.fire(app, "schedule", world.secretary, session=world.session.pk)
    assert error.value.unmet == ["Évaluations rendues : 0 sur les 2 requises avant le comité."]
    with pytest.raises(Invalid) as invalid:
        world.fire(app, "schedule", world.secretary, session=999999)
    assert "session" in invalid.value.errors


def test_approve_creates_a_decision_to_sign_with_its_tranches(world: World) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    app = world.fire(app, "approve", world.secretary, amount="25000.00")
    decision = Decision.objects.get(application=app)
    assert (decision.state, decision.outcome, decision.amount) == ("draft", "approved", Decimal("25000.00"))
    assert decision.rate == Decimal("0.250000")
    assert [t["amount"] for t in decision.tranches] == ["12500.00", "10000.00", "2500.00"]
    assert open_tasks(app) == [TaskKind.SIGN_DECISION]


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("25000.01", "dépasse le montant demandé"),
        ("0", None),
        ("abc", None),
    ],
)
def test_approve_refuses_bad_amounts(world: World, amount: str, reason: str | None) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    with pytest.raises(Conflict if reason else Invalid) as error:
        world.fire(app, "approve", world.secretary, amount=amount)
    if reason:
        assert any(reason in r for r in error.value.unmet)
    else:
        assert "amount" in error.value.errors
    assert state(app) == S.IN_COMMITTEE and not Decision.objects.filter(application=app).exists()


def test_approve_refuses_a_float_amount(world: World) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    with pytest.raises(Invalid):
        world.fire(app, "approve", world.secretary, amount=25000.0)


def test_approve_refuses_to_exceed_the_call_envelope(world: World) -> None:
    Call.objects.filter(pk=world.call.pk).update(envelope=Decimal("40000.00"))
    first = world.advance(world.draft(), S.APPROVED)
    assert Decision.objects.get(application=first).amount == Decimal("25000.00")
    second = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    with pytest.raises(Conflict) as error:
        world.fire(second, "approve", world.secretary, amount="20000.00")
    assert any("enveloppe" in r and "15\u202f000,00" in r for r in error.value.unmet)
    world.fire(second, "approve", world.secretary, amount="15000.00")  # exactly what is left
    assert budget.committed_amount(world.call) == Decimal("40000.00")


def test_reject_requires_reasons(world: World) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    with pytest.raises(Invalid):
        world.fire(app, "reject", world.secretary, reasons="")
    world.fire(app, "reject", world.secretary, reasons="Hors priorités")
    assert Decision.objects.get(application=app).reasons == "Hors priorités"


def test_defer_sends_the_application_back_to_review(world: World) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    app = world.fire(app, "defer", world.secretary, comment="À revoir au prochain comité")
    assert app.state == S.UNDER_REVIEW and app.session is None
    assert open_tasks(app) == [TaskKind.SCHEDULE_COMMITTEE]


def test_only_the_secretary_decides(world: World) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    with pytest.raises(Forbidden):
        world.fire(app, "approve", world.instructor, amount="1000.00")


def test_a_closed_session_refuses_scheduling(world: World) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    review = Review.objects.get(application=app)
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={"scores": {c["code"]: 4 for c in world.call.scoring_criteria}, "recommendation": "yes"},
    )
    session = CommitteeSession.objects.create(call=world.call, date=timezone.localdate())
    services.session_transition(session_id=session.pk, name="open", user=world.secretary)
    services.session_transition(session_id=session.pk, name="close", user=world.secretary)
    with pytest.raises(Conflict) as error:
        world.fire(app, "schedule", world.secretary, session=session.pk)
    assert "Ce comité de sélection est clos." in error.value.unmet


# --- decisions ----------------------------------------------------------------------------


def test_the_decision_is_signed_delivered_then_recorded(world: World) -> None:
    app = world.advance(world.draft(), S.APPROVED)
    decision = Decision.objects.get(application=app)
    with pytest.raises(NotFound):  # finance sees decisions only once delivered
        services.decision_sign(decision_id=decision.pk, user=world.finance)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    assert Decision.objects.get(pk=decision.pk).signed_by == world.signatory
    services.decision_deliver(decision_id=decision.pk)
    assert open_tasks(app) == [TaskKind.RECORD_COMMITMENT]
    with pytest.raises(Invalid):
        services.decision_record(decision_id=decision.pk, user=world.finance, commitment_number="../etc")
    services.decision_record(decision_id=decision.pk, user=world.finance, commitment_number="EJ-2026-0042")
    decision = Decision.objects.get(pk=decision.pk)
    assert (decision.state, decision.commitment_number) == ("recorded", "EJ-2026-0042")
    # The grant's life begins: finance pays the first tranche, the applicant owes its reports.
    assert sorted(open_tasks(app)) == [TaskKind.PAY_TRANCHE, TaskKind.SUBMIT_REPORT, TaskKind.SUBMIT_REPORT]


def test_only_the_system_delivers(world: World) -> None:
    app = world.advance(world.draft(), S.APPROVED)
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    from workflows.engine import fire

    with pytest.raises(Forbidden):
        fire(services.DECISION_DELIVER, decision.pk, user=world.signatory)


# --- withdraw and reinstate ---------------------------------------------------------------


def test_withdraw_cancels_open_tasks_and_requests(world: World) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    assert open_tasks(app) == [TaskKind.GIVE_OPINION]
    app = world.fire(app, "withdraw", world.applicant, comment="Projet abandonné")
    assert app.state == S.WITHDRAWN
    assert open_tasks(app) == []
    assert Task.objects.filter(application=app, kind=TaskKind.GIVE_OPINION, state="cancelled").count() == 1
    assert OpinionRequest.objects.get(application=app).state == OpinionRequest.State.CANCELLED


def test_withdraw_is_refused_once_in_committee(world: World) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    with pytest.raises(Conflict):
        world.fire(app, "withdraw", world.applicant)


def test_reinstate_is_for_the_admin_with_a_reason(world: World) -> None:
    app = world.advance(world.draft(), S.WITHDRAWN)
    with pytest.raises(Forbidden):
        world.fire(app, "reinstate", world.instructor, reason="x")
    with pytest.raises(Invalid):
        world.fire(app, "reinstate", world.admin)
    app = world.fire(app, "reinstate", world.admin, reason="Retrait par erreur")
    assert app.state == S.SUBMITTED and open_tasks(app) == [TaskKind.CHECK_ELIGIBILITY]


def test_a_withdrawn_draft_cannot_be_reinstated(world: World) -> None:
    app = world.fire(world.draft(), "withdraw", world.applicant)
    with pytest.raises(Conflict) as error:
        world.fire(app, "reinstate", world.admin, reason="x")
    assert error.value.unmet == ["Ce dossier n'a jamais été déposé : il ne peut pas être rétabli."]


# --- visibility ---------------------------------------------------------------------------


def test_each_role_sees_only_its_scope(world: World) -> None:
    sn = world.advance(world.draft(), S.UNDER_REVIEW)
    ma = world.advance(world.draft(world.applicant2, country="MA"), S.AWAITING_OPINIONS, owner=world.applicant2)
    draft = world.draft()

    def visible(user: object) -> set[object]:
        policy.forget(user)
        return set(policy.visible_applications(user).values_list("pk", flat=True))

    assert visible(world.applicant) == {sn.pk, draft.pk}
    assert visible(world.applicant2) == {ma.pk}
    assert visible(world.instructor) == {sn.pk, ma.pk}  # no drafts
    assert visible(world.embassy_sn) == {sn.pk}
    assert visible(world.embassy_ma) == {ma.pk}
    assert visible(world.prefecture_ara) == {sn.pk}  # Lyon is in Auvergne-Rhône-Alpes
    assert visible(world.reviewer1) == {sn.pk, ma.pk}  # assigned to both by advance
    assert visible(world.reviewer2) == set()
    assert visible(world.finance) == set()


def test_available_transitions_are_what_the_caller_may_fire_now(world: World) -> None:
    from workflows.engine import check

    app = world.advance(world.draft(), S.SUBMITTED)

    def available(user: object) -> list[str]:
        names = []
        for name, spec in services.APPLICATION_TRANSITIONS.items():
            role, unmet = check(spec, app, user)
            if role and not unmet:
                names.append(name)
        return names

    assert available(world.instructor) == ["request_completion", "declare_ineligible", "declare_eligible"]
    assert available(world.applicant) == ["withdraw"]
    assert available(world.embassy_sn) == []


def test_a_custom_schedule_still_splits_the_last_year_80_20(world: World) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    world.fire(app, "approve", world.secretary, amount="20000.00", tranches=["5000.00", "15000.00"])
    tranches = Decision.objects.get(application=app).tranches
    assert [(t["year"], t["amount"], t["condition"]) for t in tranches] == [
        (1, "5000.00", "signature"),
        (2, "12000.00", "interim_report"),
        (2, "3000.00", "final_report"),
    ]


def test_a_custom_schedule_must_add_up_to_the_amount(world: World) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    with pytest.raises(Invalid) as error:
        world.fire(app, "approve", world.secretary, amount="20000.00", tranches=["5000.00", "14999.99"])
    assert "tranches" in error.value.errors


def test_unscoped_staff_see_every_request_review_and_decision_of_their_role(world: World) -> None:
    app = world.advance(world.draft(), S.APPROVED)
    assert list(policy.visible_opinion_requests(world.instructor).values_list("application", flat=True)) == [app.pk]
    assert list(policy.visible_reviews(world.secretary).values_list("application", flat=True)) == [app.pk]
    assert list(policy.visible_decisions(world.signatory).values_list("application", flat=True)) == [app.pk]
    assert not policy.visible_decisions(world.finance).exists()  # not delivered yet
    assert not policy.visible_opinion_requests(world.embassy_ma).exists()
