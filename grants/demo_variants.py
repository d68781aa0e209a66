"""Demo data of the call variants (grants.variants), called from ``grants.demo.seed``.

* the account ``partner-sn`` (Senegal's partner government) and ``applicant-assoc``
  (an association carrying a turnkey programme), with the demo password;
* ``DEMO-2026-FC``, a joint fund with Senegal: a project awaiting the partner's
  validation (partner-sn's work), one validated favourably and one unfavourably, both
  on the agenda of the fund's open committee session (the secretary enters the
  partner's co-financing beside the delegation's amount; `approve` is unavailable for
  the refused one, with the reason);
* ``DEMO-2026-CLE``, a turnkey programme call: a programme submitted with its three
  member authorities and their council resolutions, and a draft one member short.

Idempotent, like the rest of the seed: a second run adds nothing. Every state is reached
by the real transitions.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from grants import policy, services
from grants.models import (
    AttachmentKind,
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

JOINT_FUND_CALL = "DEMO-2026-FC"
TURNKEY_CALL = "DEMO-2026-CLE"

#: The variants' demo accounts as `make run` lists them beside the others.
ACCOUNTS_SHOWN = [
    ("partner-sn", "Gouvernement partenaire du Sénégal (fonds conjoint DEMO-2026-FC)"),
    ("applicant-assoc", "Porteuse d'un programme clé en main (association, DEMO-2026-CLE)"),
]

MEMBERS = [
    {"name": "Ville de Grenoble", "siren": "213801855", "region": "84", "contribution": "4000.00"},
    {"name": "Ville de Valence", "siren": "212603625", "region": "84", "contribution": "3000.00"},
    {"name": "Ville d'Annecy", "siren": "200063402", "region": "84", "contribution": "3000.00"},
]


def _account(username: str, first: str, last: str, password: str) -> Any:
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.first_name, user.last_name = first, last
    user.email = f"{username}@example.org"
    user.is_active = True
    if not user.password or not check_password(password, user.password):
        user.password = make_password(password)
    user.save()
    return user


def _call(code: str, **fields: Any) -> Call:
    now = timezone.now()
    call, created = Call.objects.get_or_create(
        code=code,
        defaults={
            "opens_at": now - dt.timedelta(days=30),
            "closes_at": now + dt.timedelta(days=30),
            "min_reviews": 1,
            "opinion_deadline_days": 21,
            **fields,
        },
    )
    if created:
        call.publish()
        call.save()
    return call


def _draft(call: Call, user: Any, title: str, *, own_cash: str = "15000.00", own_in_kind: str = "5000.00") -> Any:
    application = drafts.application_create(
        user=user,
        data={
            "call": call.code,
            "title": title,
            "summary": "Projet de démonstration du fonds conjoint franco-sénégalais.",
            "objectives": "Renforcer les services municipaux partenaires.",
            "countries": ["SN"],
            "partners": [{"name": "Commune de Saint-Louis", "country": "SN"}],
            "start_date": dt.date(timezone.localdate().year + 1, 1, 1).isoformat(),
            "duration_months": 24,
            "budget": {
                "lines": [
                    {"year": 1, "category": "staff", "label": "Expertise technique", "amount": "50000.00"},
                    {"year": 2, "category": "equipment", "label": "Équipements", "amount": "50000.00"},
                ],
                "funding": {
                    "own_cash": own_cash,
                    "own_in_kind": own_in_kind,
                    "partner": "10000.00",
                    "other": "45000.00",
                    "requested": "25000.00",
                },
            },
        },
    )
    for kind in call.required_attachments:
        drafts.attachment_add(application_id=application.pk, user=user, kind=kind, name=f"{kind}.pdf", content=_pdf())
    return application


def _pdf() -> bytes:
    from grants.demo import DEMO_PDF

    return DEMO_PDF


def _go(application: Any, name: str, user: Any, **payload: Any) -> None:
    services.application_transition(application_id=application.pk, name=name, user=user, payload=payload)


def _to_partner(application: Any, users: dict[str, Any]) -> OpinionRequest:
    """Submitted, eligible, the embassy's favourable opinion: the partner is asked."""
    _go(application, "submit", users["applicant"])
    services.review_assign(application_id=application.pk, reviewer_username="reviewer1", user=users["instructor"])
    _go(application, "declare_eligible", users["instructor"])
    for request in OpinionRequest.objects.filter(
        application=application, authority=OpinionRequest.Authority.EMBASSY, state=OpinionRequest.State.REQUESTED
    ):
        services.opinion_give(
            opinion_id=request.pk,
            user=users["embassy-sn"],
            verdict="favorable",
            comment="Projet cohérent avec les priorités du poste.",
        )
    return OpinionRequest.objects.get(
        application=application, authority=OpinionRequest.Authority.PARTNER, state=OpinionRequest.State.REQUESTED
    )


def _to_committee(application: Any, users: dict[str, Any], session: CommitteeSession) -> None:
    review = Review.objects.get(application=application, reviewer=users["reviewer1"])
    if review.declared_at is None:
        services.review_declare(review_id=review.pk, user=users["reviewer1"], conflict=False)
    services.review_submit(
        review_id=review.pk,
        user=users["reviewer1"],
        payload={
            "scores": {c["code"]: 4 for c in application.call.scoring_criteria},
            "recommendation": "yes",
            "comment": "Partenariat solide.",
        },
    )
    services.consensus_record(application_id=application.pk, user=users["instructor"], comment="Projet pertinent.")
    _go(application, "schedule", users["secretary"], session=session.pk)


def _joint_fund(users: dict[str, Any], partner: Any) -> int:
    senegal = Country.objects.get(iso2="SN")
    call = _call(
        JOINT_FUND_CALL,
        title="Fonds conjoint franco-sénégalais 2026 (démonstration)",
        description="Fonds conjoint bilatéral : le gouvernement du Sénégal valide et cofinance les projets.",
        kind=Call.Kind.JOINT_FUND,
        envelope=Decimal("600000.00"),
    )
    call.eligible_countries.set([senegal])
    session, _ = CommitteeSession.objects.get_or_create(
        call=call, title="Comité du fonds conjoint (démonstration)", defaults={"date": timezone.localdate()}
    )
    plan = [
        ("Assainissement des quartiers de Saint-Louis (fonds conjoint)", None),
        ("Maraîchage urbain à Thiès (fonds conjoint)", "favorable"),
        ("Marché central de Kaolack (fonds conjoint)", "unfavorable"),
    ]
    created = 0
    for index in range(call.applications.count(), len(plan)):
        title, verdict = plan[index]
        with transaction.atomic():
            application = _draft(call, users["applicant"], title)
            request = _to_partner(application, users)
            if verdict is not None:
                services.opinion_give(
                    opinion_id=request.pk,
                    user=partner,
                    verdict=verdict,
                    comment="Conforme aux priorités nationales."
                    if verdict == "favorable"
                    else "Projet déjà financé par un programme national.",
                )
                _to_committee(application, users, session)
        created += 1
    if session.state == CommitteeSession.State.PLANNED:
        services.session_transition(session_id=session.pk, name="open", user=users["secretary"])
    return created


def _turnkey(password: str) -> int:
    region = Region.objects.get(code="84")
    association, _ = Organisation.objects.update_or_create(
        siren="775672272",
        defaults={
            "name": "Cités Unies Auvergne-Rhône-Alpes",
            "kind": Organisation.Kind.ASSOCIATION,
            "region": region,
            "country": Country.objects.get(iso2="FR"),
            "email": "programmes@example.org",
        },
    )
    carrier = _account("applicant-assoc", "Hélène", "Faure", password)
    RoleGrant.objects.get_or_create(user=carrier, role=Role.APPLICANT, organisation=association)
    policy.forget(carrier)
    call = _call(
        TURNKEY_CALL,
        title="Programmes clés en main 2026 (démonstration)",
        description="Programmes portés par une association ou un GIP pour au moins trois collectivités membres.",
        kind=Call.Kind.TURNKEY,
        envelope=Decimal("400000.00"),
        required_attachments=["partnership_agreement"],
        min_members=3,
    )
    plan = [
        ("Programme eau et assainissement en Casamance (clé en main)", MEMBERS, "5000.00", True),
        # One member short (the budget balances: only the members' rule is unmet).
        ("Programme jeunesse et sport à Saint-Louis (clé en main)", MEMBERS[:2], "8000.00", False),
    ]
    created = 0
    for index in range(call.applications.count(), len(plan)):
        title, members, own_cash, submit = plan[index]
        with transaction.atomic():
            application = _draft(call, carrier, title, own_cash=own_cash, own_in_kind="5000.00")
            drafts.application_update(application_id=application.pk, user=carrier, data={"members": members})
            for member in application.members.all():
                drafts.attachment_add(
                    application_id=application.pk,
                    user=carrier,
                    kind=AttachmentKind.COUNCIL_RESOLUTION,
                    name=f"deliberation-{member.siren}.pdf",
                    content=_pdf(),
                    member=member.pk,
                )
            if submit:
                _go(application, "submit", carrier)
        created += 1
    return created


def seed(users: dict[str, Any], *, password: str) -> int:
    """The variants' demo data (idempotent): the number of applications created."""
    partner = _account("partner-sn", "Awa", "Ndiaye", password)
    RoleGrant.objects.get_or_create(user=partner, role=Role.PARTNER, country=Country.objects.get(iso2="SN"))
    policy.forget(partner)
    return _joint_fund(users, partner) + _turnkey(password)
