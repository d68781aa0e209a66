"""Factories and a small world of actors for the tests.

``World`` builds one published call (2025 generalist rules, open now), two French
authorities, and one user per role, scoped like the demo accounts. ``world.draft()``
returns a complete, submittable draft; ``world.advance(app, state)`` drives it through
the real transitions to any state.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from grants import policy, services
from grants.demo import DEMO_PDF
from grants.models import (
    Application,
    Call,
    CommitteeSession,
    Country,
    OpinionRequest,
    Organisation,
    Region,
    Review,
    Role,
    RoleGrant,
)
from grants.writes import drafts

PDF_BYTES = DEMO_PDF  # a minimal valid one-page PDF


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("pw")


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"AAP-TEST-{n:03d}")
    title = factory.LazyAttribute(lambda c: f"Appel {c.code}")
    opens_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=10))
    closes_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=30))
    envelope = Decimal("2000000.00")
    min_reviews = 1

    @factory.post_generation
    def published(obj: Call, create: bool, extracted: Any, **kwargs: Any) -> None:
        if extracted is False:
            return
        obj.publish()
        obj.save()


def organisation(name: str, siren: str, region_code: str = "84") -> Organisation:
    return Organisation.objects.create(
        name=name,
        siren=siren,
        kind=Organisation.Kind.FRENCH,
        region=Region.objects.get(code=region_code),
        country=Country.objects.get(iso2="FR"),
    )


def grant(user: Any, role: str, **scope: Any) -> RoleGrant:
    row = RoleGrant.objects.create(user=user, role=role, **scope)
    policy.forget(user)
    return row


def complete_data(call: Call, country: str = "SN", **overrides: Any) -> dict[str, Any]:
    """A draft that satisfies every rule: total 100 000,00 €, requested 25 %."""
    data: dict[str, Any] = {
        "call": call.code,
        "title": "Gestion des déchets à Saint-Louis",
        "summary": "Collecte et valorisation des déchets ménagers.",
        "countries": [country],
        "partners": [{"name": "Commune de Saint-Louis", "country": country}],
        "start_date": "2027-01-01",
        "duration_months": 24,
        "budget": {
            "lines": [
                {"year": 1, "category": "staff", "label": "Expertise", "amount": "50000.00"},
                {"year": 2, "category": "equipment", "label": "Équipements", "amount": "50000.00"},
            ],
            "funding": {
                "own_cash": "15000.00",
                "own_in_kind": "5000.00",
                "partner": "10000.00",
                "other": "45000.00",
                "requested": "25000.00",
            },
        },
    }
    data.update(overrides)
    return data


class World:
    def __init__(self, **call_settings: Any) -> None:
        if not Region.objects.exists():
            # Transactional tests flush the tables, migrations' reference data included.
            from grants import reference_data

            reference_data.load()
        self.call = CallFactory(**call_settings)
        self.lyon = organisation("Ville de Lyon", "216901231", "84")
        self.rennes = organisation("Rennes Métropole", "243500139", "53")
        self.applicant = UserFactory(username="applicant")
        grant(self.applicant, Role.APPLICANT, organisation=self.lyon)
        self.applicant2 = UserFactory(username="applicant2")
        grant(self.applicant2, Role.APPLICANT, organisation=self.rennes)
        self.instructor = UserFactory(username="instructor")
        grant(self.instructor, Role.INSTRUCTOR, supervisor=True)
        self.embassy_sn = UserFactory(username="embassy-sn")
        grant(self.embassy_sn, Role.EMBASSY, country=Country.objects.get(iso2="SN"))
        self.embassy_ma = UserFactory(username="embassy-ma")
        grant(self.embassy_ma, Role.EMBASSY, country=Country.objects.get(iso2="MA"))
        self.prefecture_ara = UserFactory(username="prefecture-ara")
        grant(self.prefecture_ara, Role.PREFECTURE, region=Region.objects.get(code="84"))
        self.reviewer1 = UserFactory(username="reviewer1")
        grant(self.reviewer1, Role.REVIEWER)
        self.reviewer2 = UserFactory(username="reviewer2")
        grant(self.reviewer2, Role.REVIEWER)
        self.secretary = UserFactory(username="secretary")
        grant(self.secretary, Role.SECRETARY, supervisor=True)
        self.signatory = UserFactory(username="signatory")
        grant(self.signatory, Role.SIGNATORY)
        self.finance = UserFactory(username="finance")
        grant(self.finance, Role.FINANCE)
        self.admin = UserFactory(username="admin", is_superuser=True, is_staff=True)
        self.session = CommitteeSession.objects.create(
            call=self.call, date=timezone.localdate() + dt.timedelta(days=20)
        )

    def draft(
        self, user: Any = None, *, attachments: bool = True, country: str = "SN", **overrides: Any
    ) -> Application:
        user = user or self.applicant
        application = drafts.application_create(user=user, data=complete_data(self.call, country, **overrides))
        if attachments:
            for kind in self.call.required_attachments:
                drafts.attachment_add(
                    application_id=application.pk, user=user, kind=kind, name=f"{kind}.pdf", content=PDF_BYTES
                )
        return application

    def open_session(self) -> CommitteeSession:
        """Outcomes are recorded in an open session: open the world's (once)."""
        self.session.refresh_from_db()
        if self.session.state == CommitteeSession.State.PLANNED:
            self.session = services.session_transition(session_id=self.session.pk, name="open", user=self.secretary)
        return self.session

    def fire(self, application: Application, name: str, user: Any, **payload: Any) -> Application:
        return services.application_transition(application_id=application.pk, name=name, user=user, payload=payload)

    def advance(self, application: Application, target: str, *, owner: Any = None) -> Application:
        """Drive ``application`` through the real transitions up to ``target``."""
        owner = owner or self.applicant
        S = Application.State
        app = application
        if target == S.DRAFT:
            return app
        app = self.fire(app, "submit", owner)
        if target == S.SUBMITTED:
            return app
        if target == S.WITHDRAWN:
            return self.fire(app, "withdraw", owner)
        if target == S.INCOMPLETE:
            return self.fire(app, "request_completion", self.instructor, message="Joindre la délibération.")
        if target == S.INELIGIBLE:
            return self.fire(app, "declare_ineligible", self.instructor, reason="Hors champ.")
        review = services.review_assign(application_id=app.pk, reviewer_username="reviewer1", user=self.instructor)
        services.review_declare(review_id=review.pk, user=self.reviewer1, conflict=False)
        app = self.fire(app, "declare_eligible", self.instructor)
        if target == S.AWAITING_OPINIONS:
            return app
        for request in OpinionRequest.objects.filter(application=app, state=OpinionRequest.State.REQUESTED):
            user = {"SN": self.embassy_sn, "MA": self.embassy_ma}.get(request.country_id or "")
            if user is not None:
                services.opinion_give(opinion_id=request.pk, user=user, verdict="favorable", comment="")
        app = Application.objects.get(pk=app.pk)
        if app.state == S.AWAITING_OPINIONS:
            app = self.fire(app, "close_opinions", self.instructor, comment="Fin anticipée.")
        if target == S.UNDER_REVIEW:
            return app
        review = Review.objects.get(application=app, reviewer=self.reviewer1)
        services.review_submit(
            review_id=review.pk,
            user=self.reviewer1,
            payload={"scores": {c["code"]: 4 for c in self.call.scoring_criteria}, "recommendation": "yes"},
        )
        if self.call.consensus_required:
            services.consensus_record(application_id=app.pk, user=self.instructor, comment="Projet solide.")
        app = self.fire(app, "schedule", self.secretary, session=self.session.pk)
        if target == S.IN_COMMITTEE:
            return app
        self.open_session()
        if target == S.APPROVED:
            return self.fire(app, "approve", self.secretary, amount="25000.00")
        if target == S.REJECTED:
            return self.fire(app, "reject", self.secretary, reasons="Budget insuffisamment justifié.")
        raise ValueError(target)
