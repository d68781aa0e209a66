"""Demo data (contract: ARCHITECTURE.md "Demo data"). Every application reaches its
state by the real transitions, so the demo's history is valid history."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from grants import demo_calls, demo_postaward, demo_variants, policy, services
from grants.demo_evaluation import seed_evaluation
from grants.models import (
    Application,
    Call,
    CommitteeSession,
    Country,
    Decision,
    OpinionRequest,
    Organisation,
    Region,
    Review,
    Role,
    RoleGrant,
)
from grants.writes import drafts
from workflows.models import Task, TaskKind

log = logging.getLogger(__name__)

DEMO_CALL = "DEMO-2026"
#: The second demo call: it asks for the regional prefecture's opinion too.
PREFECTURE_CALL = "DEMO-2026-PREF"
# A minimal, valid one-page PDF: the demo's attachments.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@dataclass(frozen=True)
class Account:
    username: str
    first_name: str
    last_name: str
    role: str
    scope: dict[str, Any]
    description: str


ACCOUNTS = [
    Account(
        "applicant", "Claire", "Martin", Role.APPLICANT, {"organisation": "lyon"}, "Porteuse de projet, Ville de Lyon"
    ),
    Account(
        "applicant2",
        "Yann",
        "Le Goff",
        Role.APPLICANT,
        {"organisation": "rennes"},
        "Porteur de projet, Rennes Métropole",
    ),
    Account("instructor", "Inès", "Benali", Role.INSTRUCTOR, {}, "Chargée de mission (instruction)"),
    Account("embassy-sn", "Moussa", "Diop", Role.EMBASSY, {"country": "SN"}, "Ambassade au Sénégal (SCAC)"),
    Account("embassy-ma", "Leïla", "Amrani", Role.EMBASSY, {"country": "MA"}, "Ambassade au Maroc (SCAC)"),
    Account(
        "prefecture-ara",
        "Paul",
        "Girard",
        Role.PREFECTURE,
        {"region": "84"},
        "Préfecture de région Auvergne-Rhône-Alpes",
    ),
    Account("reviewer1", "Anne", "Rousseau", Role.REVIEWER, {}, "Membre du comité"),
    Account("reviewer2", "Marc", "Lefèvre", Role.REVIEWER, {}, "Membre du comité"),
    Account("secretary", "Sophie", "Bernard", Role.SECRETARY, {}, "Secrétariat du comité"),
    Account("signatory", "Jean", "Moreau", Role.SIGNATORY, {}, "Délégué, ordonnateur"),
    Account("finance", "Nadia", "Petit", Role.FINANCE, {}, "Service financier"),
    Account("admin", "Admin", "Plateforme", Role.ADMIN, {}, "Administrateur (superutilisateur)"),
]

TARGET_STATES = [
    Application.State.DRAFT,
    Application.State.SUBMITTED,
    Application.State.INCOMPLETE,
    Application.State.INELIGIBLE,
    Application.State.AWAITING_OPINIONS,
    Application.State.UNDER_REVIEW,
    Application.State.IN_COMMITTEE,
    Application.State.APPROVED,
    Application.State.REJECTED,
    Application.State.WITHDRAWN,
]

PROJECTS = [
    (
        "Gestion intégrée des déchets à Saint-Louis",
        "SN",
        "Appui à la collecte et à la valorisation des déchets ménagers dans trois quartiers.",
    ),
    (
        "Accès à l'eau potable dans la commune de Ziguinchor",
        "SN",
        "Réhabilitation de forages et formation des comités de gestion de l'eau.",
    ),
    (
        "Valorisation du patrimoine de la médina de Fès",
        "MA",
        "Inventaire, restauration et circuits touristiques de la médina.",
    ),
    ("Mobilité douce à Marrakech", "MA", "Schéma directeur cyclable et formation des services techniques."),
    ("Jeunesse et emploi numérique à Québec", "CA", "Échanges de jeunes et incubateur numérique partagé."),
]


def _organisations() -> dict[str, Organisation]:
    fr = Country.objects.get(iso2="FR")
    ara = Region.objects.get(code="84")
    bre = Region.objects.get(code="53")
    lyon, _ = Organisation.objects.update_or_create(
        siren="216901231",
        defaults={
            "name": "Ville de Lyon",
            "kind": Organisation.Kind.FRENCH,
            "region": ara,
            "country": fr,
            "email": "international@example.org",
        },
    )
    rennes, _ = Organisation.objects.update_or_create(
        siren="243500139",
        defaults={
            "name": "Rennes Métropole",
            "kind": Organisation.Kind.FRENCH,
            "region": bre,
            "country": fr,
            "email": "europe-international@example.org",
        },
    )
    return {"lyon": lyon, "rennes": rennes}


def _call(code: str = DEMO_CALL, **defaults: Any) -> Call:
    now = timezone.now()
    call, created = Call.objects.get_or_create(
        code=code,
        defaults={
            "title": "Appel à projets de démonstration 2026 — coopération décentralisée",
            "description": "Appel généraliste de démonstration (règles de l'appel 2025).",
            "opens_at": now - dt.timedelta(days=30),
            "closes_at": now + dt.timedelta(days=30),
            "envelope": Decimal("2000000.00"),
            "prefecture_opinion_required": False,
            "min_reviews": 1,
            "opinion_deadline_days": 21,
            **defaults,
        },
    )
    if created:
        call.publish()
        call.save()
    return call


def _same_password(encoded: str, password: str, checked: dict[str, bool]) -> bool:
    """Whether ``encoded`` is ``password``'s hash; the seed gives every demo account the
    same hash, so a re-seed checks it once, not once per account."""
    if encoded not in checked:
        checked[encoded] = check_password(password, encoded)
    return checked[encoded]


def _users(password: str, organisations: dict[str, Organisation]) -> dict[str, Any]:
    User = get_user_model()
    users: dict[str, Any] = {}
    # One hash for the demo password (PBKDF2 costs ~0.4 s a call: twelve calls were most of a
    # seed); an account whose stored hash already checks keeps it.
    hashed = ""
    checked: dict[str, bool] = {}
    for account in ACCOUNTS:
        user, _ = User.objects.get_or_create(username=account.username)
        user.first_name, user.last_name = account.first_name, account.last_name
        user.email = f"{account.username}@example.org"
        user.is_active = True
        user.is_staff = account.role == Role.ADMIN
        user.is_superuser = account.role == Role.ADMIN
        if not user.password or not _same_password(user.password, password, checked):
            hashed = hashed or make_password(password)
            user.password = hashed
        user.save()
        scope = {
            "organisation": organisations[account.scope["organisation"]] if "organisation" in account.scope else None,
            "country": Country.objects.get(iso2=account.scope["country"]) if "country" in account.scope else None,
            "region": Region.objects.get(code=account.scope["region"]) if "region" in account.scope else None,
        }
        RoleGrant.objects.get_or_create(
            user=user,
            role=account.role,
            **scope,
            defaults={"supervisor": account.role in (Role.INSTRUCTOR, Role.SECRETARY)},
        )
        policy.forget(user)
        users[account.username] = user
    return users


def _draft(index: int, call: Call, user: Any, project: tuple[str, str, str] | None = None) -> Application:
    title, country, summary = project or PROJECTS[(index + index // len(TARGET_STATES)) % len(PROJECTS)]
    application = drafts.application_create(
        user=user,
        data={
            "call": call.code,
            "title": f"{title} ({index + 1})",
            "summary": summary,
            "objectives": "Renforcer les capacités des services municipaux partenaires.",
            "themes": ["gouvernance locale"],
            "sdg_targets": ["6.1", "11.6"],
            "gender_marker": 1,
            "countries": [country],
            "partners": [{"name": f"Commune partenaire {index + 1}", "country": country}],
            "start_date": dt.date(timezone.localdate().year + 1, 1, 1).isoformat(),
            "duration_months": 24,
            "budget": {
                "lines": [
                    {"year": 1, "category": "staff", "label": "Expertise technique", "amount": "30000.00"},
                    {"year": 1, "category": "travel", "label": "Missions d'échange", "amount": "20000.00"},
                    {"year": 2, "category": "equipment", "label": "Équipements", "amount": "35000.00"},
                    {"year": 2, "category": "training", "label": "Formations", "amount": "15000.00"},
                ],
                "funding": {
                    "own_cash": "15000.00",
                    "own_in_kind": "5000.00",
                    "partner": "10000.00",
                    "other": "45000.00",
                    "requested": "25000.00",
                },
            },
        },
    )
    for kind in call.required_attachments:
        drafts.attachment_add(application_id=application.pk, user=user, kind=kind, name=f"{kind}.pdf", content=DEMO_PDF)
    return application


def _advance(
    application: Application, target: str, users: dict[str, Any], session: CommitteeSession, owner: Any
) -> None:
    def go(name: str, user: Any, **payload: Any) -> None:
        services.application_transition(application_id=application.pk, name=name, user=user, payload=payload)

    S = Application.State
    if target == S.DRAFT:
        return
    go("submit", owner)
    if target == S.SUBMITTED:
        return
    if target == S.WITHDRAWN:
        go("withdraw", owner, comment="Projet reporté à l'an prochain.")
        return
    if target == S.INCOMPLETE:
        go(
            "request_completion",
            users["instructor"],
            message="Merci de joindre la délibération signée.",
            due_date=(timezone.localdate() + dt.timedelta(days=10)).isoformat(),
        )
        return
    if target == S.INELIGIBLE:
        go(
            "declare_ineligible",
            users["instructor"],
            reason="La collectivité partenaire n'est pas une autorité locale.",
        )
        return
    services.review_assign(application_id=application.pk, reviewer_username="reviewer1", user=users["instructor"])
    if target == S.UNDER_REVIEW:
        # The second member scores the projects under review too: both find a review to do.
        services.review_assign(application_id=application.pk, reviewer_username="reviewer2", user=users["instructor"])
    go("declare_eligible", users["instructor"])
    if target == S.AWAITING_OPINIONS:
        return
    for request in OpinionRequest.objects.filter(application=application, state=OpinionRequest.State.REQUESTED):
        embassy = {"SN": "embassy-sn", "MA": "embassy-ma"}.get(request.country_id or "")
        if embassy:
            services.opinion_give(
                opinion_id=request.pk,
                user=users[embassy],
                verdict="favorable",
                comment="Projet cohérent avec les priorités du poste.",
            )
    application.refresh_from_db()
    if application.state == S.AWAITING_OPINIONS:
        go("close_opinions", users["instructor"], comment="Pas de poste diplomatique compétent sur la plateforme.")
    if target == S.UNDER_REVIEW:
        return
    review = Review.objects.get(application=application, reviewer=users["reviewer1"])
    # The reviewer first declares no conflict of interest (the declaration is being added
    # alongside: called when the service is there).
    declare = getattr(services, "review_declare", None)
    if declare is not None and getattr(review, "declared_at", None) is None:
        declare(review_id=review.pk, user=users["reviewer1"], conflict=False)
    services.review_submit(
        review_id=review.pk,
        user=users["reviewer1"],
        payload={
            "scores": {c["code"]: 4 for c in application.call.scoring_criteria},
            "recommendation": "yes",
            "comment": "Partenariat solide, suivi à préciser.",
        },
    )
    if application.call.consensus_required:
        services.consensus_record(
            application_id=application.pk,
            user=users["instructor"],
            comment="Projet pertinent ; le suivi des actions reste à préciser.",
        )
    go("schedule", users["secretary"], session=session.pk)
    if target == S.IN_COMMITTEE:
        return
    session.refresh_from_db()
    if session.state == CommitteeSession.State.PLANNED:
        # Outcomes are recorded while the session sits (the committee meets today).
        services.session_transition(session_id=session.pk, name="open", user=users["secretary"])
    if target == S.APPROVED:
        go("approve", users["secretary"], amount="25000.00")
    elif target == S.REJECTED:
        go("reject", users["secretary"], reasons="Le budget de fonctionnement est insuffisamment justifié.")


def seed(*, password: str = "demo", applications: int = 40) -> dict[str, Any]:
    with transaction.atomic():
        organisations = _organisations()
        call = _call()
        users = _users(password, organisations)
        session, _ = CommitteeSession.objects.get_or_create(
            call=call,
            title="Comité de sélection de démonstration",
            defaults={"date": timezone.localdate()},
        )
        _site_config()
    created = 0
    existing = Application.objects.filter(call=call).count()
    for index in range(existing, applications):
        owner = users["applicant"] if index % 2 == 0 else users["applicant2"]
        with transaction.atomic():
            application = _draft(index, call, owner)
            _advance(application, TARGET_STATES[index % len(TARGET_STATES)], users, session, owner)
        created += 1
    created += _prefecture_call(users)
    created += demo_variants.seed(users, password=password)  # joint fund, turnkey, partner-sn
    _session_today(session, users)
    _deliver_decisions(call, users)
    demo_calls.seed()  # the call editor's draft call for 2027, with its own questions
    created += demo_postaward.seed(call=call, users=users, session=session)  # grants after the decision
    created += seed_evaluation(users)  # a closed session: frozen ranking, evaluation summaries (grants.demo_evaluation)
    return {"call": call, "users": users, "created": created}


#: The second call's applications (Ville de Lyon, in Auvergne-Rhône-Alpes), left awaiting
#: the opinions of the embassy of their country and of the regional prefecture.
PREFECTURE_PROJECTS = [PROJECTS[0], PROJECTS[2], PROJECTS[1], PROJECTS[3]]


def _prefecture_call(users: dict[str, Any]) -> int:
    """Opinions to give for each embassy and for the prefecture; the last two
    applications' are due tomorrow (the nearest deadline: a request past due is expired by the sweep
    that beat runs every minute, so an overdue request would not stay in the demo)."""
    call = _call(
        PREFECTURE_CALL,
        title="Appel à projets de démonstration 2026 — avec avis des préfectures",
        description="Appel de démonstration demandant l'avis de la préfecture de région.",
        envelope=Decimal("500000.00"),
        prefecture_opinion_required=True,
    )
    created = 0
    for index in range(call.applications.count(), len(PREFECTURE_PROJECTS)):
        with transaction.atomic():
            application = _draft(index, call, users["applicant"], project=PREFECTURE_PROJECTS[index])
            services.application_transition(application_id=application.pk, name="submit", user=users["applicant"])
            services.review_assign(
                application_id=application.pk, reviewer_username="reviewer2", user=users["instructor"]
            )
            services.application_transition(
                application_id=application.pk, name="declare_eligible", user=users["instructor"]
            )
            if index >= len(PREFECTURE_PROJECTS) - 2:
                soon = timezone.now() + dt.timedelta(days=1)
                OpinionRequest.objects.filter(application=application).update(due_at=soon)
                Task.objects.filter(application=application, kind=TaskKind.GIVE_OPINION).update(due_at=soon)
        created += 1
    return created


def _session_today(session: CommitteeSession, users: dict[str, Any]) -> None:
    """The demo committee sits today and is open, so its outcomes can be recorded."""
    if session.state == CommitteeSession.State.PLANNED:
        CommitteeSession.objects.filter(pk=session.pk).update(date=timezone.localdate())
        services.session_transition(session_id=session.pk, name="open", user=users["secretary"])


def _deliver_decisions(call: Call, users: dict[str, Any]) -> None:
    """The first approval waits for the signatory; every other decision is signed and its
    letter issued now (without waiting for a worker), so finance has delivered decisions.
    A letter that cannot be rendered here (no Pango) is left to the worker's retries."""
    from grants.documents.issuing import issue_decision_letter

    decisions = Decision.objects.filter(application__call=call).order_by("pk")
    keep = decisions.filter(outcome=Decision.Outcome.APPROVED).values_list("pk", flat=True).first()
    for decision_id in decisions.filter(state=Decision.State.DRAFT).exclude(pk=keep).values_list("pk", flat=True):
        services.decision_sign(decision_id=decision_id, user=users["signatory"])
    for decision_id in decisions.filter(state=Decision.State.SIGNED).values_list("pk", flat=True):
        try:
            issue_decision_letter(decision_id)
        except Exception:
            log.warning("demo: the letter of decision %s was not rendered", decision_id, exc_info=True)


def _site_config() -> None:
    from dsfr.models import DsfrConfig

    DsfrConfig.objects.update_or_create(
        language="fr",
        defaults={
            "header_brand": "République<br>Française",
            "header_brand_html": "République<br>Française",
            "site_title": "Appels à projets — coopération décentralisée",
            "site_tagline": "Ministère de l'Europe et des Affaires étrangères — DAECT",
            "footer_brand": "République<br>Française",
            "footer_brand_html": "République<br>Française",
            "footer_description": "Plateforme des appels à projets en soutien à la coopération décentralisée.",
        },
    )
    DsfrConfig.objects.update_or_create(
        language="en",
        defaults={
            "header_brand": "République<br>Française",
            "header_brand_html": "République<br>Française",
            "site_title": "Calls for projects — decentralised cooperation",
            "site_tagline": "Ministry for Europe and Foreign Affairs — DAECT",
            "footer_brand": "République<br>Française",
            "footer_brand_html": "République<br>Française",
            "footer_description": "Platform for calls for projects supporting decentralised cooperation.",
        },
    )
