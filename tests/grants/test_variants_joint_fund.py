"""Joint bilateral funds (grants.variants JOINT_FUND): the partner government validates
each project of its country after the opinions; an unfavourable verdict makes `approve`
unavailable; the decision and the letter state both contributions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from grants import budget, policy, services
from grants.documents import issuing, pdf
from grants.models import Application, Call, Country, Decision, Document, OpinionRequest, Review, Role
from grants.variants import variant_for
from tests.factories import UserFactory, World, grant
from workflows import engine, tasks_service
from workflows.engine import Conflict, Invalid, NotFound
from workflows.models import Task, TaskKind

pytestmark = pytest.mark.django_db
S = Application.State


class JointWorld(World):
    """The world's call is a joint fund with Senegal; partner-sn validates for Senegal,
    partner-ma for Morocco."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(kind=Call.Kind.JOINT_FUND, **settings)
        self.call.eligible_countries.set([Country.objects.get(iso2="SN"), Country.objects.get(iso2="MA")])
        self.partner_sn = UserFactory(username="partner-sn")
        grant(self.partner_sn, Role.PARTNER, country=Country.objects.get(iso2="SN"))
        self.partner_ma = UserFactory(username="partner-ma")
        grant(self.partner_ma, Role.PARTNER, country=Country.objects.get(iso2="MA"))

    def after_embassies(self, country: str = "SN") -> Application:
        """Submitted, eligible, the embassy's opinion given: awaiting the partner."""
        app = self.advance(self.draft(country=country), S.AWAITING_OPINIONS)
        embassy = {"SN": self.embassy_sn, "MA": self.embassy_ma}[country]
        request = OpinionRequest.objects.get(application=app, authority=OpinionRequest.Authority.EMBASSY)
        services.opinion_give(opinion_id=request.pk, user=embassy, verdict="favorable")
        return Application.objects.get(pk=app.pk)

    def partner_request(self, app: Application) -> OpinionRequest:
        return OpinionRequest.objects.get(
            application=app, authority=OpinionRequest.Authority.PARTNER, state=OpinionRequest.State.REQUESTED
        )

    def to_committee(self, app: Application) -> Application:
        review = Review.objects.get(application=app, reviewer=self.reviewer1)
        services.review_submit(
            review_id=review.pk,
            user=self.reviewer1,
            payload={"scores": {c["code"]: 4 for c in self.call.scoring_criteria}, "recommendation": "yes"},
        )
        services.consensus_record(application_id=app.pk, user=self.instructor, comment="Projet solide.")
        app = self.fire(app, "schedule", self.secretary, session=self.session.pk)
        self.open_session()
        return Application.objects.get(pk=app.pk)


@pytest.fixture
def world() -> JointWorld:
    return JointWorld()


def test_the_call_kind_chooses_the_variant(world: JointWorld) -> None:
    assert variant_for(world.call).partner_validation
    world.call.kind = Call.Kind.GENERALIST
    assert not variant_for(world.call).partner_validation


def test_the_partner_is_asked_once_the_embassy_has_given_its_opinion(world: JointWorld) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    assert not OpinionRequest.objects.filter(application=app, authority="partner").exists()
    app = world.after_embassies()  # a second application, same path
    assert app.state == S.AWAITING_OPINIONS  # not under review: the partner has not validated
    request = world.partner_request(app)
    assert request.country_id == "SN"
    expected_due = request.requested_at + dt.timedelta(days=world.call.opinion_deadline_days)
    assert request.due_at == expected_due
    task = Task.objects.get(kind=TaskKind.VALIDATE_PROJECT, state=Task.State.OPEN, subject_id=str(request.pk))
    assert task.queue_role == Role.PARTNER and task.scope_country_id == "SN" and task.due_at == request.due_at
    # In partner-sn's inbox, not in partner-ma's nor the embassy's.
    assert list(tasks_service.inbox(world.partner_sn).values_list("pk", flat=True)) == [task.pk]
    assert not tasks_service.inbox(world.partner_ma).filter(pk=task.pk).exists()
    assert not tasks_service.inbox(world.embassy_sn).filter(pk=task.pk).exists()
    # The history says so, to the applicant too.
    entries = [e.transition for e in policy.history(world.applicant, app)]
    assert "request_partner_validation" in entries


def test_the_instructor_cannot_skip_the_partner_and_is_told_why(world: JointWorld) -> None:
    app = world.after_embassies()
    role, unmet = engine.check(services.CLOSE_OPINIONS, app, world.instructor)
    assert role == Role.INSTRUCTOR
    assert any("gouvernement partenaire (Sénégal) est attendue" in r for r in unmet)
    with pytest.raises(Conflict) as refused:
        world.fire(app, "close_opinions", world.instructor, comment="On avance.")
    assert any("Sénégal" in r for r in refused.value.unmet)


def test_a_favourable_validation_leads_to_review_then_an_approval_with_both_amounts(world: JointWorld) -> None:
    app = world.after_embassies()
    request = world.partner_request(app)
    services.opinion_give(opinion_id=request.pk, user=world.partner_sn, verdict="favorable", comment="Validé.")
    app = Application.objects.get(pk=app.pk)
    assert app.state == S.UNDER_REVIEW
    assert not Task.objects.filter(kind=TaskKind.VALIDATE_PROJECT, state=Task.State.OPEN).exists()
    app = world.to_committee(app)
    assert engine.available(services.APPROVE, app, world.secretary)
    # The partner's amount is required on a joint fund, in the user's words.
    with pytest.raises(Invalid) as missing:
        world.fire(app, "approve", world.secretary, amount="25000.00")
    assert "partner_amount" in missing.value.errors
    app = world.fire(app, "approve", world.secretary, amount="25 000,00", partner_amount="15 000,00")
    decision = Decision.objects.get(application=app)
    assert decision.amount == Decimal("25000.00") and decision.partner_amount == Decimal("15000.00")
    # The envelope counts the delegation's part only.
    assert budget.committed_amount(world.call) == Decimal("25000.00")
    decision.signed_at = timezone.now()
    template, context = issuing.decision_letter_context(decision, code="TESTCODE", issued_at=timezone.now())
    text = pdf.render_template_html(template, context).replace("\u202f", " ").replace("\u00a0", " ")
    assert "Cofinancement du gouvernement partenaire (Sénégal)" in text and "15 000,00 €" in text
    assert "25 000,00 €" in text
    french = Document(verification_code="FRCODE", issued_at=timezone.now())
    english = pdf.render_template_html(
        issuing.APPROVAL_EN_TEMPLATE, issuing.english_copy_context(decision, french, code="ENCODE")
    )
    assert "Co-financing by the partner government (Senegal)" in english and "15,000.00" in english


def test_an_unfavourable_validation_makes_approve_unavailable_with_the_reason(world: JointWorld) -> None:
    app = world.after_embassies()
    request = world.partner_request(app)
    services.opinion_give(
        opinion_id=request.pk, user=world.partner_sn, verdict="unfavorable", comment="Hors priorités nationales."
    )
    app = world.to_committee(Application.objects.get(pk=app.pk))
    role, unmet = engine.check(services.APPROVE, app, world.secretary)
    assert role == Role.SECRETARY
    assert any("avis défavorable" in r and "Sénégal" in r for r in unmet)
    with pytest.raises(Conflict) as refused:
        world.fire(app, "approve", world.secretary, amount="25000.00", partner_amount="0")
    assert any("défavorable" in r for r in refused.value.unmet)
    # Rejecting stays possible.
    app = world.fire(app, "reject", world.secretary, reasons="Refusé par le gouvernement partenaire.")
    assert app.state == S.REJECTED


def test_an_expired_validation_waits_for_the_instructor_to_relaunch_it(world: JointWorld) -> None:
    app = world.after_embassies()
    request = world.partner_request(app)
    call_command("run_reminders", at=(request.due_at + dt.timedelta(minutes=1)).isoformat())
    request.refresh_from_db()
    assert request.state == OpinionRequest.State.EXPIRED
    app = Application.objects.get(pk=app.pk)
    assert app.state == S.AWAITING_OPINIONS  # never under review without the partner
    _role, unmet = engine.check(services.CLOSE_OPINIONS, app, world.instructor)
    assert any("n'a pas validé le projet dans le délai" in r for r in unmet)
    assert not Task.objects.filter(kind=TaskKind.VALIDATE_PROJECT, state=Task.State.OPEN).exists()
    # The instructor relaunches: a new request, a new task in the partner's queue.
    assert engine.available(services.REQUEST_PARTNER_VALIDATION, app, world.instructor)
    engine.fire(services.REQUEST_PARTNER_VALIDATION, app.pk, user=world.instructor)
    again = world.partner_request(app)
    assert again.pk != request.pk and again.due_at > request.due_at
    services.opinion_give(opinion_id=again.pk, user=world.partner_sn, verdict="reserved", comment="Sous réserve.")
    assert Application.objects.get(pk=app.pk).state == S.UNDER_REVIEW


def test_the_partner_acts_only_in_its_country_and_sees_only_its_projects(world: JointWorld) -> None:
    sn = world.after_embassies("SN")
    ma = world.after_embassies("MA")
    sn_request, ma_request = world.partner_request(sn), world.partner_request(ma)
    assert set(policy.visible_applications(world.partner_sn)) == {sn}
    assert set(policy.own_opinion_requests(world.partner_sn)) == {sn_request}
    with pytest.raises(NotFound):
        services.opinion_give(opinion_id=ma_request.pk, user=world.partner_sn, verdict="favorable")
    # The embassy of Senegal does not act on the partner's request.
    with pytest.raises(engine.Forbidden):
        services.opinion_give(opinion_id=sn_request.pk, user=world.embassy_sn, verdict="favorable")
    # Like an embassy: no reviews, no internal comments, no other post's opinion.
    assert not policy.visible_reviews(world.partner_sn).exists()
    assert set(policy.visible_opinion_requests(world.partner_sn)) == {sn_request}


def test_a_generalist_call_refuses_a_partner_amount() -> None:
    world = World()
    assert not variant_for(world.call).partner_validation
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    with pytest.raises(Invalid) as refused:
        world.fire(app, "approve", world.secretary, amount="25000.00", partner_amount="1000.00")
    assert "n'est pas un fonds conjoint" in refused.value.errors["partner_amount"][0]
    app = world.fire(app, "approve", world.secretary, amount="25000.00")
    assert Decision.objects.get(application=app).partner_amount == 0


def test_the_partner_is_told_in_its_own_words_and_the_instructor_hears_of_an_expiry(world: JointWorld) -> None:
    from notifications.models import Notification

    app = world.after_embassies()
    asked = Notification.objects.get(recipient=world.partner_sn, message="partner_validation_requested")
    assert asked.params["reference"] == app.reference
    assert not Notification.objects.filter(recipient=world.partner_ma).exists()
    assert not Notification.objects.filter(recipient=world.embassy_sn, message="partner_validation_requested").exists()
    request = world.partner_request(app)
    services.opinion_expire(opinion_id=request.pk)
    assert Notification.objects.filter(recipient=world.instructor, message="partner_validation_expired").exists()
    assert not Notification.objects.filter(message="opinion_expired", subject_id=str(request.pk)).exists()


def test_the_sweep_reminds_the_partner_before_its_due_date(world: JointWorld) -> None:
    from notifications.models import Notification

    app = world.after_embassies()
    request = world.partner_request(app)
    call_command("run_reminders", at=(request.due_at - dt.timedelta(days=2, minutes=-1)).isoformat())
    reminded = Notification.objects.filter(recipient=world.partner_sn, event__contains="remind").exclude(
        message="partner_validation_requested"
    )
    assert reminded.exists(), list(Notification.objects.filter(recipient=world.partner_sn).values("event", "message"))
    assert not Notification.objects.filter(recipient=world.partner_ma).exists()
