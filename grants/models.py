"""The domain: calls, countries, organisations, applications and their companions.

Each lifecycle is a django-fsm machine declared here, one place per machine, with
explicit decorators. Transition bodies only move the state and set the fields that
belong to the row; orchestration (locks, permissions, conditions, logs, tasks,
notifications) lives in ``grants.services`` through ``workflows.engine``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from workflows.model_mixins import ChoiceLabels, CompiledInsert, StateFieldsOnce

ZERO = Decimal("0.00")
# Money: max_digits=14, decimal_places=2. Rates: fractions with 4 decimals (0.7000 = 70 %).


def default_reminder_steps() -> list[int]:
    # Days relative to a task's due date: 7 and 2 days before, the day, 3 days after (escalation).
    return [-7, -2, 0, 3]


def default_required_attachments() -> list[str]:
    return ["partnership_agreement", "council_resolution"]


def default_scoring_criteria() -> list[dict[str, Any]]:
    return [
        {"code": "sdg", "label": "Pertinence au regard des ODD", "label_en": "Relevance to the SDGs", "weight": 2},
        {
            "code": "partnership",
            "label": "Qualité du partenariat",
            "label_en": "Quality of the partnership",
            "weight": 2,
        },
        {"code": "monitoring", "label": "Suivi et évaluation", "label_en": "Monitoring and evaluation", "weight": 1},
        {"code": "reciprocity", "label": "Réciprocité", "label_en": "Reciprocity", "weight": 1},
        {"code": "gender", "label": "Prise en compte du genre", "label_en": "Gender equality", "weight": 1},
        {"code": "sustainability", "label": "Pérennité", "label_en": "Sustainability", "weight": 1},
    ]


class Tier(models.TextChoices):
    PMA = "pma", _("Pays les moins avancés (PMA)")
    APD = "apd", _("Pays éligible à l'aide publique au développement")
    NON_APD = "non_apd", _("Pays non éligible à l'APD")


class Region(models.Model):
    """A French region (INSEE 2016 map): the scope of a prefecture."""

    code = models.CharField(_("code INSEE"), max_length=3, primary_key=True)
    short = models.CharField(_("abréviation"), max_length=8, unique=True)
    name = models.CharField(_("nom"), max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name = _("région")
        verbose_name_plural = _("régions")

    def __str__(self) -> str:
        return self.name


class Country(ChoiceLabels, models.Model):
    iso2 = models.CharField(_("code ISO"), max_length=2, primary_key=True)
    name_fr = models.CharField(_("nom (français)"), max_length=100)
    name_en = models.CharField(_("nom (anglais)"), max_length=100)
    tier = models.CharField(_("catégorie de développement"), max_length=8, choices=Tier.choices, default=Tier.NON_APD)

    class Meta:
        ordering = ["name_fr"]
        verbose_name = _("pays")
        verbose_name_plural = _("pays")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return str(getattr(self, self.name_field()))

    @staticmethod
    def name_field() -> str:
        """The column of the name in the active language (what ``name`` reads), for a
        query that reads values rather than instances."""
        from django.utils.translation import get_language

        return "name_en" if (get_language() or "fr").startswith("en") else "name_fr"


class Organisation(ChoiceLabels, models.Model):
    class Kind(models.TextChoices):
        FRENCH = "french_authority", _("Collectivité territoriale française")
        FOREIGN = "foreign_authority", _("Collectivité étrangère")
        # Lead organisations of turnkey programmes (Call.Kind.TURNKEY).
        ASSOCIATION = "association", _("Association")
        GIP = "gip", _("Groupement d'intérêt public")

    name = models.CharField(_("nom"), max_length=200)
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices, default=Kind.FRENCH)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)
    region = models.ForeignKey(Region, verbose_name=_("région"), null=True, blank=True, on_delete=models.PROTECT)
    country = models.ForeignKey(Country, verbose_name=_("pays"), on_delete=models.PROTECT)
    email = models.EmailField(_("courriel"), blank=True)
    address = models.TextField(_("adresse postale"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.UniqueConstraint(fields=["siren"], condition=~Q(siren=""), name="organisation_siren_unique"),
            models.CheckConstraint(
                condition=Q(kind="foreign_authority") | Q(region__isnull=False),
                name="organisation_french_has_region",
            ),
        ]
        indexes = [
            # The staff list's authority filter: the 2,000 French authorities by name (0019),
            # read in order from the index, not sorted on each page.
            models.Index(fields=["kind", "name", "id"], name="organisation_kind_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    APPLICANT = "applicant", _("Porteur de projet")
    INSTRUCTOR = "instructor", _("Chargé de mission (instruction)")
    EMBASSY = "embassy", _("Poste diplomatique")
    PREFECTURE = "prefecture", _("Préfecture de région")
    REVIEWER = "reviewer", _("Membre du comité / évaluateur")
    SECRETARY = "secretary", _("Secrétariat du comité")
    SIGNATORY = "signatory", _("Ordonnateur")
    FINANCE = "finance", _("Service financier")
    PARTNER = "partner", _("Gouvernement partenaire")
    ADMIN = "admin", _("Administrateur")


class RoleGrant(ChoiceLabels, models.Model):
    """One role held by a user, with at most one scope item per row.

    A grant with no scope is unscoped (an instructor for every call). Several rows
    give several scope items (an embassy covering two countries). One row per item keeps
    scope checks to indexed equality lookups instead of many-to-many joins.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(_("rôle"), max_length=16, choices=Role.choices)
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.CASCADE)
    country = models.ForeignKey(Country, null=True, blank=True, on_delete=models.CASCADE)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.CASCADE)
    call = models.ForeignKey("Call", null=True, blank=True, on_delete=models.CASCADE)
    supervisor = models.BooleanField(
        _("superviseur"), default=False, help_text=_("Reçoit les escalades des tâches en retard de sa file.")
    )

    class Meta:
        verbose_name = _("attribution de rôle")
        verbose_name_plural = _("attributions de rôles")
        indexes = [models.Index(fields=["user", "role"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="applicant") | Q(organisation__isnull=False),
                name="rolegrant_applicant_has_organisation",
            ),
            models.CheckConstraint(
                condition=~Q(role="embassy") | Q(country__isnull=False),
                name="rolegrant_embassy_has_country",
            ),
            models.CheckConstraint(
                condition=~Q(role="prefecture") | Q(region__isnull=False),
                name="rolegrant_prefecture_has_region",
            ),
            models.CheckConstraint(
                condition=~Q(role="partner") | Q(country__isnull=False),
                name="rolegrant_partner_has_country",
            ),
        ]

    def __str__(self) -> str:
        scope = self.organisation or self.country or self.region or self.call or _("sans restriction")
        return f"{self.user} — {self.get_role_display()} ({scope})"


class Call(ChoiceLabels, StateFieldsOnce, ConcurrentTransitionMixin, models.Model):
    """A call for projects with every rule setting of DOMAIN.md (2025 generalist defaults)."""

    class Kind(models.TextChoices):
        GENERALIST = "generalist", _("Généraliste")
        THEMATIC = "thematic", _("Thématique")
        JOINT_FUND = "joint_fund", _("Fonds conjoint bilatéral")
        TURNKEY = "turnkey", _("Programme clé en main")

    class State(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        PUBLISHED = "published", _("Publié")
        CLOSED = "closed", _("Clos")
        ARCHIVED = "archived", _("Archivé")

    class MultiCountryRule(models.TextChoices):
        FLAT = "flat", _("Taux forfaitaire")
        WEIGHTED = "weighted", _("Taux par pays pondérés par le budget")

    code = models.CharField(_("code"), max_length=32, unique=True)
    title = models.CharField(_("titre"), max_length=250)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices, default=Kind.GENERALIST)
    state = FSMField(_("état"), default=State.DRAFT, choices=State.choices, protected=True)
    published_on = models.DateField(_("date de publication"), null=True, blank=True)
    opens_at = models.DateTimeField(_("ouverture"))
    closes_at = models.DateTimeField(_("clôture"))
    eligible_countries = models.ManyToManyField(
        Country, blank=True, verbose_name=_("pays éligibles"), help_text=_("Vide : tous les pays.")
    )
    envelope = models.DecimalField(
        _("enveloppe"), max_digits=14, decimal_places=2, validators=[MinValueValidator(ZERO)]
    )
    rate_pma = models.DecimalField(_("taux maximal PMA"), max_digits=5, decimal_places=4, default=Decimal("0.70"))
    rate_apd = models.DecimalField(_("taux maximal APD"), max_digits=5, decimal_places=4, default=Decimal("0.50"))
    rate_non_apd = models.DecimalField(
        _("taux maximal hors APD"), max_digits=5, decimal_places=4, default=Decimal("0.30")
    )
    multi_country_rule = models.CharField(
        _("règle multi-pays"), max_length=10, choices=MultiCountryRule.choices, default=MultiCountryRule.FLAT
    )
    rate_multi_country = models.DecimalField(
        _("taux maximal multi-pays"), max_digits=5, decimal_places=4, default=Decimal("0.60")
    )
    min_own_contribution = models.DecimalField(
        _("apport propre minimal"), max_digits=5, decimal_places=4, default=Decimal("0.10")
    )
    max_in_kind_share = models.DecimalField(
        _("part maximale de valorisation"), max_digits=5, decimal_places=4, default=Decimal("0.50")
    )
    min_duration_months = models.PositiveSmallIntegerField(_("durée minimale (mois)"), default=12)
    max_duration_months = models.PositiveSmallIntegerField(_("durée maximale (mois)"), default=36)
    opinion_deadline_days = models.PositiveSmallIntegerField(_("délai des avis (jours)"), default=21)
    eligibility_deadline_days = models.PositiveSmallIntegerField(_("délai d'instruction (jours)"), default=15)
    review_deadline_days = models.PositiveSmallIntegerField(_("délai d'évaluation (jours)"), default=21)
    required_attachments = models.JSONField(_("pièces obligatoires"), default=default_required_attachments)
    prefecture_opinion_required = models.BooleanField(_("avis de la préfecture requis"), default=False)
    min_reviews = models.PositiveSmallIntegerField(_("évaluations minimales avant comité"), default=2)
    # The committee's consensus (grants.machines.consensus) is recorded before scheduling.
    consensus_required = models.BooleanField(_("consensus requis avant comité"), default=True)
    # Reviewer assignment (grants.policy.reviewers): a reviewer from the applicant's region is a known conflict.
    conflict_same_region = models.BooleanField(_("conflit si l'évaluateur est de la région du porteur"), default=False)
    scoring_criteria = models.JSONField(_("grille d'évaluation"), default=default_scoring_criteria)
    reminder_steps = models.JSONField(_("relances (jours par rapport à l'échéance)"), default=default_reminder_steps)
    block_overdue_reports = models.BooleanField(_("bloquer les porteurs en retard de rapport final"), default=False)
    # After the decision (DOMAIN.md, "After the decision"): the project's defaults.
    interim_report_days = models.PositiveSmallIntegerField(
        _("rapport intermédiaire (jours après chaque année du projet)"), default=60
    )
    final_report_months = models.PositiveSmallIntegerField(_("rapport final (mois après la fin du projet)"), default=6)
    max_extension_months = models.PositiveSmallIntegerField(_("prolongation maximale (mois)"), default=12)
    budget_change_threshold = models.DecimalField(
        _("seuil de modification budgétaire soumise à avenant"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.20"),
    )
    # Turnkey programmes (Call.Kind.TURNKEY): the least number of member French authorities.
    min_members = models.PositiveSmallIntegerField(_("nombre minimal de collectivités membres"), default=3)
    # Next gap-free reference number; incremented under the call's row lock at submission.
    last_reference_number = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # The call editor's optimistic concurrency token (grants.writes.calls): bumped by each save.
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["-opens_at"]
        verbose_name = _("appel à projets")
        verbose_name_plural = _("appels à projets")
        constraints = [
            models.CheckConstraint(condition=Q(closes_at__gt=models.F("opens_at")), name="call_closes_after_opening"),
            models.CheckConstraint(
                condition=Q(min_duration_months__lte=models.F("max_duration_months")), name="call_duration_bounds"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"

    def is_accepting(self, at: Any = None) -> bool:
        at = at or timezone.now()
        return self.state == self.State.PUBLISHED and self.opens_at <= at < self.closes_at

    def rate_for_tier(self, tier: str) -> Decimal:
        return {Tier.PMA: self.rate_pma, Tier.APD: self.rate_apd}.get(tier, self.rate_non_apd)  # type: ignore[call-overload]

    @transition(field=state, source=State.DRAFT, target=State.PUBLISHED)
    def publish(self) -> None:
        if not self.published_on:
            self.published_on = timezone.localdate()

    @transition(field=state, source=State.PUBLISHED, target=State.CLOSED)
    def close(self) -> None:
        pass

    @transition(field=state, source=State.CLOSED, target=State.ARCHIVED)
    def archive(self) -> None:
        pass


class CommitteeSession(ChoiceLabels, StateFieldsOnce, ConcurrentTransitionMixin, models.Model):
    class State(models.TextChoices):
        PLANNED = "planned", _("Planifié")
        OPEN = "open", _("En séance")
        CLOSED = "closed", _("Clos")

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="sessions")
    date = models.DateField(_("date"))
    title = models.CharField(_("intitulé"), max_length=200, blank=True)
    state = FSMField(_("état"), default=State.PLANNED, choices=State.choices, protected=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The ranking as it stood when the session was closed (grants.ranking.freeze): the
    # minutes, the booklet and the API show it, never recomputed afterwards.
    frozen_ranking = models.JSONField(_("classement figé à la clôture"), null=True, blank=True, editable=False)
    ranking_frozen_at = models.DateTimeField(_("classement figé le"), null=True, blank=True, editable=False)
    # When the session was opened: the day the committee really sat (the planned `date`
    # may be another day), the date the decision letters cite.
    opened_at = models.DateTimeField(_("ouverte le"), null=True, blank=True)

    class Meta:
        ordering = ["-date", "-pk"]
        indexes = [models.Index(fields=["call", "date", "id"], name="session_call_date")]
        verbose_name = _("comité de sélection")
        verbose_name_plural = _("comités de sélection")

    def __str__(self) -> str:
        return self.title or f"{self.call.code} — {self.date:%d/%m/%Y}"

    @property
    def sitting_date(self) -> dt.date:
        """The day the committee sat: the day it was opened (Paris time), else the planned date."""
        return timezone.localtime(self.opened_at).date() if self.opened_at else self.date

    @transition(field=state, source=State.PLANNED, target=State.OPEN)
    def open(self, at: dt.datetime | None = None) -> None:
        self.opened_at = at or timezone.now()

    @transition(field=state, source=State.OPEN, target=State.CLOSED)
    def close(self) -> None:
        pass


#: The OECD DAC gender equality policy marker of a project.
GENDER_MARKERS = [
    (0, _("0 — le projet ne cible pas l'égalité femmes-hommes")),
    (1, _("1 — l'égalité femmes-hommes est un objectif significatif")),
    (2, _("2 — l'égalité femmes-hommes est l'objectif principal")),
]


#: The committee session's columns an application's page or list never shows, deferred
#: wherever an application is read with its session (``select_related("session")``): a
#: closed session's frozen ranking holds every application of its agenda, and was decoded
#: again for each row of a list.
SESSION_DEFERRED = ("session__frozen_ranking",)


class Application(ChoiceLabels, StateFieldsOnce, ConcurrentTransitionMixin, models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        SUBMITTED = "submitted", _("Déposé")
        INCOMPLETE = "incomplete", _("À compléter")
        INELIGIBLE = "ineligible", _("Irrecevable")
        AWAITING_OPINIONS = "awaiting_opinions", _("Avis en cours")
        UNDER_REVIEW = "under_review", _("En évaluation")
        IN_COMMITTEE = "in_committee", _("Inscrit en comité")
        APPROVED = "approved", _("Retenu")
        REJECTED = "rejected", _("Non retenu")
        WITHDRAWN = "withdrawn", _("Retiré")

    EDITABLE_STATES = (State.DRAFT, State.INCOMPLETE)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="applications")
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("collectivité chef de file"), on_delete=models.PROTECT, related_name="applications"
    )
    co_applicants = models.ManyToManyField(
        Organisation, blank=True, verbose_name=_("collectivités co-porteuses"), related_name="co_applications"
    )
    state = FSMField(_("état"), default=State.DRAFT, choices=State.choices, protected=True, db_index=True)
    reference = models.CharField(_("référence"), max_length=48, null=True, blank=True, unique=True, editable=False)
    reference_number = models.PositiveIntegerField(null=True, blank=True, editable=False)
    title = models.CharField(_("titre du projet"), max_length=250)
    summary = models.TextField(_("résumé"), blank=True)
    objectives = models.TextField(_("objectifs"), blank=True)
    themes = models.JSONField(_("thématiques"), default=list, blank=True)
    sdg_targets = models.JSONField(_("cibles ODD"), default=list, blank=True)
    gender_marker = models.PositiveSmallIntegerField(_("marqueur genre"), default=0, validators=[MaxValueValidator(2)])

    countries = models.ManyToManyField(Country, verbose_name=_("pays du projet"), related_name="applications")
    start_date = models.DateField(_("date de début"), null=True, blank=True)
    duration_months = models.PositiveSmallIntegerField(_("durée (mois)"), null=True, blank=True)
    own_cash = models.DecimalField(
        _("apport en numéraire des collectivités françaises"), max_digits=14, decimal_places=2, default=ZERO
    )
    own_in_kind = models.DecimalField(
        _("valorisation des collectivités françaises"), max_digits=14, decimal_places=2, default=ZERO
    )
    partner_funding = models.DecimalField(
        _("apport des partenaires étrangers"), max_digits=14, decimal_places=2, default=ZERO
    )
    other_funding = models.DecimalField(_("autres cofinancements"), max_digits=14, decimal_places=2, default=ZERO)
    requested_amount = models.DecimalField(_("montant demandé"), max_digits=14, decimal_places=2, default=ZERO)
    # Set by request_completion; shown to the applicant with the resubmit action.
    completion_message = models.TextField(_("demande de compléments"), blank=True)
    completion_due = models.DateField(_("date limite des compléments"), null=True, blank=True)
    session = models.ForeignKey(
        CommitteeSession, null=True, blank=True, on_delete=models.PROTECT, related_name="applications"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(_("déposé le"), null=True, blank=True)
    # Bumped on each state change: when the state was last entered (time-in-state statistics).
    state_changed_at = models.DateTimeField(default=timezone.now)
    # The search document (grants.search): texts of the application, its authorities and
    # partners, lower-cased without accents; GIN-indexed on PostgreSQL (migration 0006).
    search_text = models.TextField(default="", db_default="", blank=True, editable=False)
    # Answers to the call's own questions (grants.questions), {code: value}, checked by grants.answers.
    answers = models.JSONField(_("réponses aux questions de l'appel"), default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("dossier")
        verbose_name_plural = _("dossiers")
        indexes = [
            # Lists per call and state, newest first (instructor lists, dashboards).
            models.Index(fields=["call", "state", "-created_at"], name="application_call_state"),
            # An applicant's home: its organisation's applications, newest first.
            models.Index(fields=["organisation", "-created_at"], name="application_org_created"),
            # The staff list of every application (grants.search), newest deposit first.
            models.Index(fields=["-submitted_at", "-id"], name="application_submitted"),
            # perf (0015): every application but drafts, newest first (the staff's lists,
            # GET /api/v1/applications/); one state, newest first (?state=).
            models.Index(
                fields=["-created_at", "-id"], condition=~Q(state="draft"), name="application_visible_created"
            ),
            models.Index(fields=["state", "-created_at", "-id"], name="application_state_created"),
            # /dossiers/?state=… in the list's order, newest deposit first (0019): walking
            # application_submitted for the old states (approved, rejected) read 37,000 rows.
            models.Index(fields=["state", "-submitted_at", "-id"], name="application_state_submitted"),
            # An applicant's home: its organisation's applications per state (index-only counts).
            models.Index(fields=["organisation", "state"], name="application_org_state"),
            # The call dashboard: what the call's applications in committee ask for (index-only).
            models.Index(
                fields=["call"],
                include=["requested_amount"],
                condition=Q(state="in_committee"),
                name="application_call_committee",
            ),
            # A committee session's agenda by reference, one page at a time (0020), and
            # its applications per state (the session list's counts, index-only).
            models.Index(fields=["session", "reference", "id"], name="application_session_reference"),
            models.Index(fields=["session", "state"], name="application_session_state"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["call", "reference_number"], name="application_reference_gap_free"),
            models.CheckConstraint(
                condition=Q(own_cash__gte=0)
                & Q(own_in_kind__gte=0)
                & Q(partner_funding__gte=0)
                & Q(other_funding__gte=0)
                & Q(requested_amount__gte=0),
                name="application_funding_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.reference or str(self.title)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Draft edits and transitions all save the row: the search document follows.
        from grants.search import document

        self.search_text = document(self)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_text"}
        super().save(*args, **kwargs)

    @property
    def is_editable(self) -> bool:
        return self.state in self.EDITABLE_STATES

    @property
    def gender_marker_label(self) -> str:
        """The OECD gender marker as words (0, 1, 2 mean nothing to a reader)."""
        return str(dict(GENDER_MARKERS).get(self.gender_marker, self.gender_marker))

    @property
    def own_contribution(self) -> Decimal:
        return self.own_cash + self.own_in_kind

    @property
    def total_funding(self) -> Decimal:
        return self.own_cash + self.own_in_kind + self.partner_funding + self.other_funding + self.requested_amount

    # --- the machine (contract: ARCHITECTURE.md) ----------------------------------------
    @transition(field=state, source=State.DRAFT, target=State.SUBMITTED)
    def submit(self) -> None:
        self.submitted_at = timezone.now()

    @transition(field=state, source=State.SUBMITTED, target=State.INCOMPLETE)
    def request_completion(self, *, message: str, due_date: Any) -> None:
        self.completion_message = message
        self.completion_due = due_date

    @transition(field=state, source=State.INCOMPLETE, target=State.SUBMITTED)
    def resubmit(self) -> None:
        self.completion_message = ""
        self.completion_due = None

    @transition(field=state, source=[State.SUBMITTED, State.INCOMPLETE], target=State.INELIGIBLE)
    def declare_ineligible(self) -> None:
        pass

    @transition(field=state, source=State.SUBMITTED, target=State.AWAITING_OPINIONS)
    def declare_eligible(self) -> None:
        pass

    @transition(field=state, source=State.AWAITING_OPINIONS, target=State.UNDER_REVIEW)
    def close_opinions(self) -> None:
        pass

    @transition(field=state, source=State.UNDER_REVIEW, target=State.IN_COMMITTEE)
    def schedule(self, *, session: CommitteeSession) -> None:
        self.session = session

    @transition(field=state, source=State.IN_COMMITTEE, target=State.APPROVED)
    def approve(self) -> None:
        pass

    @transition(field=state, source=State.IN_COMMITTEE, target=State.REJECTED)
    def reject(self) -> None:
        pass

    @transition(field=state, source=State.IN_COMMITTEE, target=State.UNDER_REVIEW)
    def defer(self) -> None:
        self.session = None

    @transition(
        field=state,
        source=[
            State.DRAFT,
            State.SUBMITTED,
            State.INCOMPLETE,
            State.AWAITING_OPINIONS,
            State.UNDER_REVIEW,
        ],
        target=State.WITHDRAWN,
    )
    def withdraw(self) -> None:
        pass

    @transition(field=state, source=[State.INELIGIBLE, State.WITHDRAWN], target=State.SUBMITTED)
    def reinstate(self) -> None:
        self.completion_message = ""
        self.completion_due = None


class ApplicationPartner(models.Model):
    """A foreign partner authority of the project."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="partners")
    name = models.CharField(_("nom"), max_length=200)
    country = models.ForeignKey(Country, on_delete=models.PROTECT)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("partenaire étranger")
        verbose_name_plural = _("partenaires étrangers")

    def __str__(self) -> str:
        return f"{self.name} ({self.country_id})"


class BudgetLine(ChoiceLabels, models.Model):
    class Category(models.TextChoices):
        STAFF = "staff", _("Personnel")
        TRAVEL = "travel", _("Missions et déplacements")
        EQUIPMENT = "equipment", _("Équipement")
        SERVICES = "services", _("Prestations")
        TRAINING = "training", _("Formation")
        COMMUNICATION = "communication", _("Communication")
        OTHER = "other", _("Autres")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="budget_lines")
    year = models.PositiveSmallIntegerField(_("année du projet"), validators=[MinValueValidator(1)])
    category = models.CharField(_("catégorie"), max_length=16, choices=Category.choices)
    label = models.CharField(_("libellé"), max_length=250)
    amount = models.DecimalField(_("montant"), max_digits=14, decimal_places=2, validators=[MinValueValidator(ZERO)])
    # Optional: the project country the line is spent in (weighted multi-country rule).
    country = models.ForeignKey(Country, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        ordering = ["year", "pk"]
        verbose_name = _("ligne budgétaire")
        verbose_name_plural = _("lignes budgétaires")
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="budgetline_amount_non_negative")]

    def __str__(self) -> str:
        return f"{self.year} {self.label}: {self.amount}"


class Snapshot(CompiledInsert, models.Model):
    """What was submitted, frozen: one row per submit / resubmit / reinstate."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="snapshots")
    number = models.PositiveSmallIntegerField()
    data = models.JSONField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["application", "number"]
        constraints = [models.UniqueConstraint(fields=["application", "number"], name="snapshot_number_unique")]

    def __str__(self) -> str:
        return f"{self.application} #{self.number}"


class AttachmentKind(models.TextChoices):
    PARTNERSHIP_AGREEMENT = "partnership_agreement", _("Convention de partenariat")
    COUNCIL_RESOLUTION = "council_resolution", _("Délibération")
    LETTER_OF_INTENT = "letter_of_intent", _("Lettre d'intention")
    BUDGET_DETAIL = "budget_detail", _("Budget détaillé")
    OTHER = "other", _("Autre")


def attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name is generated: user text never reaches a file path.
    return f"attachments/{instance.application_id}/{uuid.uuid4().hex}"


class Attachment(ChoiceLabels, models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(_("type de pièce"), max_length=24, choices=AttachmentKind.choices)
    file = models.FileField(upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("nom d'origine"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    # Turnkey programmes: the member French authority whose council resolution this is.
    member = models.ForeignKey(
        "grants.ApplicationMember", null=True, blank=True, on_delete=models.CASCADE, related_name="resolutions"
    )

    class Meta:
        ordering = ["kind", "uploaded_at"]
        verbose_name = _("pièce jointe")
        verbose_name_plural = _("pièces jointes")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.original_name}"


class OpinionRequest(ChoiceLabels, StateFieldsOnce, ConcurrentTransitionMixin, models.Model):
    class State(models.TextChoices):
        REQUESTED = "requested", _("Demandé")
        GIVEN = "given", _("Rendu")
        EXPIRED = "expired", _("Avis non rendu")
        CANCELLED = "cancelled", _("Annulé")

    class Authority(models.TextChoices):
        EMBASSY = "embassy", _("Poste diplomatique")
        PREFECTURE = "prefecture", _("Préfecture de région")
        # Joint funds (Call.Kind.JOINT_FUND): the partner country's government validates.
        PARTNER = "partner", _("Gouvernement partenaire")

    class Verdict(models.TextChoices):
        FAVORABLE = "favorable", _("Favorable")
        RESERVED = "reserved", _("Réservé")
        UNFAVORABLE = "unfavorable", _("Défavorable")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="opinion_requests")
    # The application's call, copied when the request is made (an application never changes
    # call): the call dashboard counts the call's late opinions from this table's own
    # partial indexes, without joining its applications (issue 13).
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False)
    authority = models.CharField(max_length=12, choices=Authority.choices)
    country = models.ForeignKey(Country, null=True, blank=True, on_delete=models.PROTECT)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT)
    state = FSMField(_("état"), default=State.REQUESTED, choices=State.choices, protected=True)
    verdict = models.CharField(_("avis"), max_length=12, choices=Verdict.choices, blank=True)
    comment = models.TextField(_("commentaire"), blank=True)
    due_at = models.DateTimeField(_("échéance"))
    requested_at = models.DateTimeField(default=timezone.now)
    given_at = models.DateTimeField(null=True, blank=True)
    given_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["due_at", "pk"]
        verbose_name = _("demande d'avis")
        verbose_name_plural = _("demandes d'avis")
        indexes = [
            # An embassy's / prefecture's list: its scope's requests by state.
            models.Index(fields=["country", "state", "due_at"], name="opinion_country_state"),
            models.Index(fields=["region", "state", "due_at"], name="opinion_region_state"),
            # The expiry sweep: open requests by due date.
            models.Index(fields=["due_at"], condition=Q(state="requested"), name="opinion_open_due"),
            # The call dashboard's late opinions: the call's open requests past due, and its
            # expired ones, with the columns it groups by (index-only scans).
            models.Index(
                fields=["call", "due_at"],
                include=["authority", "country", "region"],
                condition=Q(state="requested"),
                name="opinion_call_open_due",
            ),
            models.Index(
                fields=["call"],
                include=["authority", "country", "region"],
                condition=Q(state="expired"),
                name="opinion_call_expired",
            ),
            # A post's inbox: the calls of its open requests, one probe per call.
            models.Index(
                fields=["country", "call"],
                include=["authority"],
                condition=Q(state="requested"),
                name="opinion_open_country_call",
            ),
            models.Index(
                fields=["region", "call"],
                include=["authority"],
                condition=Q(state="requested"),
                name="opinion_open_region_call",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(authority__in=["embassy", "partner"]) & Q(country__isnull=False))
                | (Q(authority="prefecture") & Q(region__isnull=False)),
                name="opinion_scope_matches_authority",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application} — {self.country_id or self.region_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.call_id is None and self.application_id is not None:
            self.call_id = self.application.call_id
        super().save(*args, **kwargs)

    @transition(field=state, source=State.REQUESTED, target=State.GIVEN)
    def give(self, *, verdict: str, comment: str, user: Any) -> None:
        self.verdict = verdict
        self.comment = comment
        self.given_by = user
        self.given_at = timezone.now()

    @transition(field=state, source=State.REQUESTED, target=State.EXPIRED)
    def expire(self) -> None:
        pass

    @transition(field=state, source=State.REQUESTED, target=State.CANCELLED)
    def cancel(self) -> None:
        pass


class Review(ChoiceLabels, StateFieldsOnce, ConcurrentTransitionMixin, models.Model):
    class State(models.TextChoices):
        ASSIGNED = "assigned", _("Assignée")
        SUBMITTED = "submitted", _("Rendue")
        DECLINED = "declined", _("Déclinée")

    class Recommendation(models.TextChoices):
        YES = "yes", _("Favorable")
        MAYBE = "maybe", _("Réservé")
        NO = "no", _("Défavorable")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    state = FSMField(_("état"), default=State.ASSIGNED, choices=State.choices, protected=True)
    scores = models.JSONField(_("notes"), default=dict, blank=True)
    comment = models.TextField(_("commentaire"), blank=True)
    recommendation = models.CharField(_("recommandation"), max_length=8, choices=Recommendation.choices, blank=True)
    decline_reason = models.TextField(_("motif du refus"), blank=True)
    assigned_at = models.DateTimeField(default=timezone.now)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    # The reviewer's declaration of no conflict of interest (grants.machines.review
    # DECLARE): before it, the reviewer reads only the application's summary (policy).
    declared_at = models.DateTimeField(_("absence de conflit déclarée le"), null=True, blank=True)

    class Meta:
        ordering = ["assigned_at", "pk"]
        verbose_name = _("évaluation")
        verbose_name_plural = _("évaluations")
        constraints = [models.UniqueConstraint(fields=["application", "reviewer"], name="review_one_per_reviewer")]
        # A reviewer's reviews per state, newest first (the reviewer's keyset pages of
        # grants.web.staff.opinions; its loads, index-only, in grants.evaluation), with
        # the declaration's date: the dashboard's counts per section are index-only too.
        indexes = [
            models.Index(
                fields=["reviewer", "state", "assigned_at", "id"], name="review_reviewer_state", include=["declared_at"]
            )
        ]

    def __str__(self) -> str:
        return f"{self.application} — {self.reviewer}"

    @transition(field=state, source=State.ASSIGNED, target=State.SUBMITTED)
    def submit(self, *, scores: dict[str, int], comment: str, recommendation: str) -> None:
        self.scores = scores
        self.comment = comment
        self.recommendation = recommendation
        self.completed_at = timezone.now()

    @transition(field=state, source=State.ASSIGNED, target=State.DECLINED)
    def decline(self, *, reason: str) -> None:
        self.decline_reason = reason
        self.completed_at = timezone.now()


class Consensus(models.Model):
    """The committee's consensus on an application, moderated by the instructor or the
    secretary once the call's minimum of reviews is in (grants.machines.consensus)."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="consensus")
    # {criterion code: integer 0–5}, every criterion of the call's grid.
    scores = models.JSONField(_("notes de consensus"), default=dict)
    comment_for_applicant = models.TextField(_("commentaire pour le porteur"), blank=True)
    internal_comment = models.TextField(_("commentaire interne"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("consensus")
        verbose_name_plural = _("consensus")

    def __str__(self) -> str:
        return f"{self.application}"


class Decision(ChoiceLabels, StateFieldsOnce, ConcurrentTransitionMixin, models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("À signer")
        SIGNED = "signed", _("Signée")
        DELIVERED = "delivered", _("Notifiée")
        RECORDED = "recorded", _("Engagée")
        # After the commitment (the grant's life): closed by the system, renounced by the applicant.
        CLOSED = "closed", _("Soldée")
        RENOUNCED = "renounced", _("Renoncée")

    class Outcome(models.TextChoices):
        APPROVED = "approved", _("Retenu")
        REJECTED = "rejected", _("Non retenu")

    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="decision")
    # The application's call, copied when the decision is made (an application never changes
    # call): the envelope's committed part sums the call's approved decisions from this
    # table's own partial index, without joining its applications (issue 13).
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False)
    outcome = models.CharField(_("issue"), max_length=10, choices=Outcome.choices)
    state = FSMField(_("état"), default=State.DRAFT, choices=State.choices, protected=True, db_index=True)
    amount = models.DecimalField(_("montant attribué"), max_digits=14, decimal_places=2, default=ZERO)
    # Joint funds: the partner government's co-financing, beside the delegation's amount.
    partner_amount = models.DecimalField(
        _("cofinancement du gouvernement partenaire"), max_digits=14, decimal_places=2, default=ZERO
    )
    rate = models.DecimalField(_("taux de cofinancement"), max_digits=7, decimal_places=6, default=Decimal("0"))
    # [{"number": 1, "year": 1, "amount": "12000.00", "condition": "signature"|"interim_report"|"final_report"}]
    tranches = models.JSONField(_("échéancier"), default=list, blank=True)
    reasons = models.TextField(_("motifs"), blank=True)
    session = models.ForeignKey(CommitteeSession, null=True, blank=True, on_delete=models.PROTECT)
    decided_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    commitment_number = models.CharField(_("numéro d'engagement"), max_length=64, blank=True)
    recorded_at = models.DateTimeField(null=True, blank=True)
    render_attempts = models.PositiveSmallIntegerField(default=0)
    render_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-decided_at", "-pk"]
        verbose_name = _("décision")
        verbose_name_plural = _("décisions")
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome="rejected") | Q(amount__gt=0), name="decision_approved_has_amount"
            ),
        ]
        indexes = [
            # The signatory's list (by state, oldest decided first) and finance's (by delivery).
            models.Index(fields=["state", "decided_at", "id"], name="decision_state_decided"),
            models.Index(fields=["state", "delivered_at", "id"], name="decision_state_delivered"),
            # The envelope's committed part: the call's approved amounts (an index-only sum).
            models.Index(
                fields=["call"],
                include=["amount", "state"],
                condition=Q(outcome="approved"),
                name="decision_call_approved",
            ),
            # The signatory's latest signatures, newest first (0020).
            models.Index(fields=["signed_by", "-signed_at", "-id"], name="decision_signed_by_signed_at"),
        ]

    def __str__(self) -> str:
        return f"{self.application} — {self.get_outcome_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.call_id is None and self.application_id is not None:
            self.call_id = self.application.call_id
        super().save(*args, **kwargs)

    @transition(field=state, source=State.DRAFT, target=State.SIGNED)
    def sign(self, *, user: Any) -> None:
        self.signed_by = user
        self.signed_at = timezone.now()

    @transition(field=state, source=State.SIGNED, target=State.DELIVERED)
    def deliver(self) -> None:
        self.delivered_at = timezone.now()

    @transition(field=state, source=State.DELIVERED, target=State.RECORDED)
    def record(self, *, commitment_number: str) -> None:
        self.commitment_number = commitment_number
        self.recorded_at = timezone.now()

    # The grant's life after the commitment (grants.machines.postaward).
    @transition(field=state, source=State.RECORDED, target=State.CLOSED)
    def close(self) -> None:
        pass

    @transition(field=state, source=State.RECORDED, target=State.RENOUNCED)
    def renounce(self) -> None:
        pass


def document_path(instance: Document, filename: str) -> str:
    return f"documents/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.pdf"


class Document(ChoiceLabels, models.Model):
    """An issued PDF: immutable once stored, verifiable at /verify/<code>/."""

    class Kind(models.TextChoices):
        APPROVAL_LETTER = "approval_letter", _("Lettre de notification (attribution)")
        APPROVAL_LETTER_EN = "approval_letter_en", _("Lettre de notification (traduction anglaise)")
        REJECTION_LETTER = "rejection_letter", _("Lettre de notification (rejet)")
        INELIGIBILITY_NOTICE = "ineligibility_notice", _("Notification d'irrecevabilité")
        DEPOSIT_RECEIPT = "deposit_receipt", _("Accusé de dépôt")
        COMMITTEE_BOOKLET = "committee_booklet", _("Dossier de séance")
        EVALUATION_SUMMARY = "evaluation_summary", _("Synthèse de l'évaluation")
        AMENDMENT = "amendment", _("Avenant")

    kind = models.CharField(_("type"), max_length=24, choices=Kind.choices)
    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    decision = models.OneToOneField(Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="document")
    session = models.ForeignKey(
        CommitteeSession, null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    snapshot = models.OneToOneField(Snapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="receipt")
    reference = models.CharField(_("référence"), max_length=64)
    file = models.FileField(upload_to=document_path, max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    pages = models.PositiveSmallIntegerField()
    template_version = models.CharField(max_length=32)
    verification_code = models.CharField(max_length=32, unique=True)
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"


# Models kept in their own modules (imported here so that Django sees them): the staff list's
# background exports, the grant's life after the commitment (payments, reports, amendments),
# the call's own questions (the call editor) and the call variants' rows (grants.variants).
from grants.export_jobs import ExportJob  # noqa: E402, F401
from grants.postaward import Amendment, Payment, Report  # noqa: E402, F401
from grants.questions import CallQuestion  # noqa: E402, F401
from grants.variant_models import ApplicationMember  # noqa: E402, F401
