"""The workflow variants of a call, declared once each and chosen by ``Call.kind``.

Every call runs the one application machine (grants.machines.application: states and
transitions are the contract). A variant adds conditions to some of its transitions
and steps inside some of its states; the machine's guards ask the call's variant
(``variant_for(call).unmet(transition, application)``), never a label:

* ``generalist``, ``thematic``: the machine as it is (the prefecture's opinion stays a
  call setting, ``Call.prefecture_opinion_required``);
* ``joint_fund``: a bilateral fund with a partner country's government. Once the
  embassies' (and the prefecture's) opinions are in, the partner government validates
  each project of its country (an OpinionRequest of authority ``partner`` per project
  country, grants.machines.partner); ``under_review`` is entered only once each of them
  is given, and an unfavourable verdict makes ``approve`` unavailable. The decision
  records the partner's co-financing (``Decision.partner_amount``) beside the
  delegation's amount, which alone counts against the envelope;
* ``turnkey``: a programme carried by an association or a public interest group for
  several French authorities (``ApplicationMember``): the lead organisation's kind, at
  least ``Call.min_members`` members, each with its council resolution, are submission
  conditions; the members' contributions count as the French authorities' own
  contribution (grants.budget).

docs/variants.md describes them; ``make diagrams`` draws each one
(docs/diagrams/grants_application_<kind>.svg) from these declarations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.models import Application, AttachmentKind, Call, OpinionRequest, Organisation

Check = Callable[[Application], list[str]]


@dataclass(frozen=True)
class Condition:
    """One more condition of one application transition, with what its diagram says."""

    transition: str
    label: Any  # a lazily translated string: the diagram's and the docs' wording
    check: Check


@dataclass(frozen=True)
class Step:
    """A step of the variant inside the machine's states (a write or another machine's
    work, not a transition of the application): drawn on the variant's diagram."""

    source: str
    target: str
    name: str
    label: Any


@dataclass(frozen=True)
class Variant:
    kind: str
    label: Any
    description: Any
    conditions: tuple[Condition, ...] = ()
    steps: tuple[Step, ...] = ()
    #: joint_fund: the partner government validates each project of its country.
    partner_validation: bool = False
    #: turnkey: the application lists its member French authorities.
    members: bool = False

    def unmet(self, transition: str, application: Application) -> list[str]:
        """Every reason this variant's conditions of ``transition`` are unmet now."""
        reasons: list[str] = []
        for condition in self.conditions:
            if condition.transition == transition:
                reasons.extend(condition.check(application))
        return reasons


_VARIANTS: dict[str, Variant] = {}


def register(variant: Variant) -> Variant:
    if variant.kind in _VARIANTS:
        raise RuntimeError(f"Two variants for the call kind {variant.kind!r}")
    if variant.kind not in Call.Kind.values:
        raise RuntimeError(f"Unknown call kind {variant.kind!r}")
    _VARIANTS[variant.kind] = variant
    return variant


def variant_for(call: Call) -> Variant:
    """The call's variant (its kind's declaration)."""
    return _VARIANTS[call.kind]


def variants() -> list[Variant]:
    return [_VARIANTS[kind] for kind in Call.Kind.values if kind in _VARIANTS]


def diagram_variants() -> list[Any]:
    """Each variant's diagram of the application machine (make diagrams), in French."""
    from django.utils import translation

    from workflows.registry import DiagramVariant

    with translation.override("fr"):
        return [
            DiagramVariant(
                "grants.Application",
                v.kind,
                f"{v.label} ({v.kind})",
                conditions=tuple((c.transition, str(c.label)) for c in v.conditions),
                steps=tuple((s.source, s.target, f"{s.name} : {s.label}") for s in v.steps),
            )
            for v in variants()
        ]


# --- joint funds: the partner government's validation -----------------------------------------


def _date(value: Any) -> str:
    return timezone.localtime(value).strftime("%d/%m/%Y")


def latest_partner_requests(application: Application) -> dict[str, OpinionRequest]:
    """The latest partner request of each project country (a relaunched one replaces an
    expired or cancelled one)."""
    latest: dict[str, OpinionRequest] = {}
    for request in OpinionRequest.objects.filter(
        application=application, authority=OpinionRequest.Authority.PARTNER
    ).order_by("requested_at", "pk"):
        latest[str(request.country_id)] = request
    return latest


def partner_validation_unmet(application: Application) -> list[str]:
    """``under_review`` only once the partner government has validated the project in
    each project country (its request ``given``)."""
    latest = latest_partner_requests(application)
    reasons: list[str] = []
    for country in application.countries.order_by("iso2"):
        request = latest.get(country.iso2)
        params = {"country": country.name}
        if request is None:
            reasons.append(_("La validation du gouvernement partenaire (%(country)s) n'a pas été demandée.") % params)
        elif request.state == OpinionRequest.State.REQUESTED:
            reasons.append(
                _("La validation du gouvernement partenaire (%(country)s) est attendue (échéance le %(date)s).")
                % {**params, "date": _date(request.due_at)}
            )
        elif request.state == OpinionRequest.State.EXPIRED:
            reasons.append(
                _(
                    "Le gouvernement partenaire (%(country)s) n'a pas validé le projet dans le délai "
                    "(échu le %(date)s) : relancez la demande de validation."
                )
                % {**params, "date": _date(request.due_at)}
            )
        elif request.state == OpinionRequest.State.CANCELLED:
            reasons.append(
                _("La demande de validation au gouvernement partenaire (%(country)s) a été annulée.") % params
            )
    return reasons


def partner_refusal_unmet(application: Application) -> list[str]:
    """A project the partner government refused cannot be selected."""
    return [
        _("Le gouvernement partenaire (%(country)s) a rendu un avis défavorable : le projet ne peut pas être retenu.")
        % {"country": request.country.name if request.country else ""}
        for request in latest_partner_requests(application).values()
        if request.state == OpinionRequest.State.GIVEN and request.verdict == OpinionRequest.Verdict.UNFAVORABLE
    ]


# --- turnkey programmes: the lead organisation and its members --------------------------------

TURNKEY_LEAD_KINDS = (Organisation.Kind.ASSOCIATION, Organisation.Kind.GIP)


def turnkey_lead_unmet(application: Application) -> list[str]:
    if application.organisation.kind in TURNKEY_LEAD_KINDS:
        return []
    return [
        _(
            "Un programme clé en main est porté par une association ou un groupement d'intérêt public : "
            "%(name)s n'en est pas un."
        )
        % {"name": application.organisation.name}
    ]


def turnkey_members_unmet(application: Application) -> list[str]:
    """At least the call's ``min_members`` member French authorities, each with its council
    resolution attached (an Attachment ``council_resolution`` whose ``member`` is it)."""
    members = list(application.members.all())
    reasons: list[str] = []
    minimum = application.call.min_members
    if len(members) < minimum:
        reasons.append(
            _("Le programme compte %(n)s collectivité(s) membre(s) ; l'appel en exige au moins %(min)s.")
            % {"n": len(members), "min": minimum}
        )
    with_resolution = set(
        application.attachments.filter(kind=AttachmentKind.COUNCIL_RESOLUTION, member__isnull=False).values_list(
            "member_id", flat=True
        )
    )
    for member in members:
        if member.pk not in with_resolution:
            reasons.append(_("Délibération manquante pour la collectivité membre : %(name)s.") % {"name": member.name})
    return reasons


# --- the declarations ---------------------------------------------------------------------------

A = Application.State

GENERALIST = register(
    Variant(
        Call.Kind.GENERALIST,
        gettext_lazy("Généraliste"),
        gettext_lazy("Le circuit commun : avis des ambassades (et de la préfecture si l'appel le demande), comité."),
    )
)
THEMATIC = register(
    Variant(
        Call.Kind.THEMATIC,
        gettext_lazy("Thématique"),
        gettext_lazy("Le circuit commun, sur une thématique ; l'avis de la préfecture reste un réglage de l'appel."),
    )
)
JOINT_FUND = register(
    Variant(
        Call.Kind.JOINT_FUND,
        gettext_lazy("Fonds conjoint bilatéral"),
        gettext_lazy(
            "Après les avis, le gouvernement partenaire valide chaque projet de son pays ; un projet qu'il "
            "refuse ne peut pas être retenu ; la décision indique son cofinancement à côté de celui de la "
            "délégation."
        ),
        conditions=(
            Condition(
                "close_opinions",
                gettext_lazy("validation du gouvernement partenaire rendue pour chaque pays du projet"),
                partner_validation_unmet,
            ),
            Condition(
                "approve", gettext_lazy("pas d'avis défavorable du gouvernement partenaire"), partner_refusal_unmet
            ),
        ),
        steps=(
            Step(
                A.AWAITING_OPINIONS,
                A.AWAITING_OPINIONS,
                "request_partner_validation",
                gettext_lazy("avis rendus : validation demandée au gouvernement partenaire"),
            ),
            Step(
                A.AWAITING_OPINIONS,
                A.AWAITING_OPINIONS,
                "give (partner)",
                gettext_lazy("le gouvernement partenaire valide (favorable, réservé, défavorable)"),
            ),
        ),
        partner_validation=True,
    )
)
TURNKEY = register(
    Variant(
        Call.Kind.TURNKEY,
        gettext_lazy("Programme clé en main"),
        gettext_lazy(
            "Un programme porté par une association ou un GIP pour plusieurs collectivités françaises membres, "
            "chacune engagée par une délibération ; leurs contributions comptent comme l'apport des "
            "collectivités françaises."
        ),
        conditions=(
            Condition("submit", gettext_lazy("porteur : association ou GIP"), turnkey_lead_unmet),
            Condition(
                "submit",
                gettext_lazy("au moins le minimum de collectivités membres, chacune avec sa délibération"),
                turnkey_members_unmet,
            ),
            Condition("resubmit", gettext_lazy("porteur : association ou GIP"), turnkey_lead_unmet),
            Condition(
                "resubmit",
                gettext_lazy("au moins le minimum de collectivités membres, chacune avec sa délibération"),
                turnkey_members_unmet,
            ),
        ),
        steps=(Step(A.DRAFT, A.DRAFT, "members", gettext_lazy("collectivités membres et leurs délibérations")),),
        members=True,
    )
)
