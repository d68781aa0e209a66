"""The grant's life after the commitment (ARCHITECTURE.md, "The grant's life after
`recorded`"): the payments of the tranches (and recoveries), the interim and final
reports, the amendments. Each lifecycle is a django-fsm machine declared here; the
orchestration (locks, permissions, conditions, logs, tasks) is in
``grants.machines.postaward`` through ``workflows.engine``.

Every row carries its ``application``: the engine's one lock order (the application
row first, then the subject's) serialises every write on one grant.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from grants.models import ZERO, Application, Decision
from workflows.model_mixins import ChoiceLabels, StateFieldsOnce


class Payment(ChoiceLabels, StateFieldsOnce, ConcurrentTransitionMixin, models.Model):
    """One tranche of a decision's schedule, the recomputed balance, or a recovery
    (a negative amount: what the beneficiary reimburses, "titre de recettes")."""

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Prévu")
        PAYABLE = "payable", _("À payer")
        PAID = "paid", _("Payé")
        CANCELLED = "cancelled", _("Annulé")

    class Kind(models.TextChoices):
        TRANCHE = "tranche", _("Tranche")
        BALANCE = "balance", _("Solde")
        RECOVERY = "recovery", _("Reversement (titre de recettes)")

    class Condition(models.TextChoices):
        SIGNATURE = "signature", _("À l'engagement")
        INTERIM_REPORT = "interim_report", _("Sur rapport intermédiaire")
        FINAL_REPORT = "final_report", _("Sur rapport final")
        RECOVERY = "recovery", _("Reversement")

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="payments")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="payments")
    number = models.PositiveSmallIntegerField(_("numéro"))
    kind = models.CharField(_("nature"), max_length=10, choices=Kind.choices, default=Kind.TRANCHE)
    year = models.PositiveSmallIntegerField(_("année du projet"), default=1)
    condition = models.CharField(_("condition"), max_length=16, choices=Condition.choices)
    state = FSMField(_("état"), default=State.SCHEDULED, choices=State.choices, protected=True, db_index=True)
    # The schedule's amount; a recovery's is negative.
    amount = models.DecimalField(_("montant"), max_digits=14, decimal_places=2)
    planned_amount = models.DecimalField(_("montant prévu à l'échéancier"), max_digits=14, decimal_places=2)
    # How a balance or a recovery was computed, in words (French; shown as is).
    explanation = models.TextField(_("calcul"), blank=True)
    payable_at = models.DateTimeField(null=True, blank=True)
    paid_on = models.DateField(_("payé le"), null=True, blank=True)
    payment_reference = models.CharField(_("référence du paiement"), max_length=64, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_reason = models.TextField(_("motif d'annulation"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["decision", "number"]
        verbose_name = _("versement")
        verbose_name_plural = _("versements")
        constraints = [
            models.UniqueConstraint(fields=["decision", "number"], name="payment_number_per_decision"),
            models.CheckConstraint(
                condition=Q(kind="recovery", amount__lt=0) | (~Q(kind="recovery") & Q(amount__gte=0)),
                name="payment_recovery_negative",
            ),
        ]
        indexes = [models.Index(fields=["state", "paid_on"], name="payment_state_paid_on")]

    def __str__(self) -> str:
        return f"{self.application} — {self.get_kind_display()} {self.number}"

    @transition(field=state, source=State.SCHEDULED, target=State.PAYABLE)
    def make_payable(self) -> None:
        self.payable_at = timezone.now()

    @transition(field=state, source=State.PAYABLE, target=State.PAID)
    def pay(self, *, paid_on: Any, payment_reference: str, user: Any) -> None:
        self.paid_on = paid_on
        self.payment_reference = payment_reference
        self.paid_by = user

    @transition(field=state, source=[State.SCHEDULED, State.PAYABLE], target=State.CANCELLED)
    def cancel(self, *, reason: str) -> None:
        self.cancelled_reason = reason


def narrative_path(instance: Report, filename: str) -> str:
    # The stored name is generated: user text never reaches a file path.
    return f"reports/{instance.application_id}/{uuid.uuid4().hex}"


class Report(ChoiceLabels, StateFieldsOnce, ConcurrentTransitionMixin, models.Model):
    """An interim report (one per later tranche) or the final report: a technical
    narrative (a sniffed file) and the financial statement (actual expenses by category
    and year)."""

    class State(models.TextChoices):
        DUE = "due", _("Attendu")
        SUBMITTED = "submitted", _("Déposé")
        RETURNED = "returned", _("À reprendre")
        ACCEPTED = "accepted", _("Accepté")
        CANCELLED = "cancelled", _("Sans objet")

    class Kind(models.TextChoices):
        INTERIM = "interim", _("Rapport intermédiaire")
        FINAL = "final", _("Rapport final")

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="reports")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="reports")
    kind = models.CharField(_("type"), max_length=8, choices=Kind.choices)
    # 1, 2, … for the interim reports (the project year it closes); 0 for the final one.
    number = models.PositiveSmallIntegerField(_("numéro"), default=0)
    state = FSMField(_("état"), default=State.DUE, choices=State.choices, protected=True, db_index=True)
    due_on = models.DateField(_("attendu le"))
    # [{"category": "staff", "year": 1, "amount": "12000.00"}], actual spending.
    expenses = models.JSONField(_("dépenses réalisées"), default=list, blank=True)
    narrative = models.FileField(upload_to=narrative_path, max_length=200, blank=True)
    narrative_name = models.CharField(_("nom d'origine"), max_length=255, blank=True)
    narrative_type = models.CharField(max_length=100, blank=True)
    narrative_size = models.PositiveBigIntegerField(default=0)
    return_message = models.TextField(_("motif du renvoi"), blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["decision", "due_on", "pk"]
        verbose_name = _("rapport")
        verbose_name_plural = _("rapports")
        constraints = [
            models.UniqueConstraint(fields=["decision", "kind", "number"], name="report_one_per_kind_and_number"),
        ]
        indexes = [models.Index(fields=["state", "due_on"], name="report_state_due")]

    def __str__(self) -> str:
        return f"{self.application} — {self.label}"

    @property
    def label(self) -> str:
        if self.kind == self.Kind.FINAL:
            return str(_("Rapport final"))
        return str(_("Rapport intermédiaire n° %(n)s")) % {"n": self.number}

    @property
    def expenses_total(self) -> Any:
        return sum((Decimal(e["amount"]) for e in self.expenses), ZERO)

    @transition(field=state, source=State.DUE, target=State.SUBMITTED)
    def submit(self, *, expenses: list[dict[str, Any]], user: Any) -> None:
        self.expenses = expenses
        self.submitted_at = timezone.now()
        self.submitted_by = user

    @transition(field=state, source=State.RETURNED, target=State.SUBMITTED)
    def resubmit(self, *, expenses: list[dict[str, Any]], user: Any) -> None:
        self.expenses = expenses
        self.submitted_at = timezone.now()
        self.submitted_by = user

    def _return(self, *, message: str, due_date: Any) -> None:
        self.return_message = message
        self.due_on = due_date

    # The transition is named ``return`` (the contract's name), a keyword in Python.
    _return.__name__ = "return"
    return_ = transition(field=state, source=State.SUBMITTED, target=State.RETURNED)(_return)

    @transition(field=state, source=State.SUBMITTED, target=State.ACCEPTED)
    def accept(self) -> None:
        self.accepted_at = timezone.now()

    @transition(field=state, source=[State.DUE, State.RETURNED, State.SUBMITTED], target=State.CANCELLED)
    def cancel(self) -> None:
        pass


# The machine's method cannot be named ``return`` in Python: the transition's name is.
setattr(Report, "return", Report.return_)


class Amendment(ChoiceLabels, StateFieldsOnce, ConcurrentTransitionMixin, models.Model):
    """An applicant's request to change the grant ("avenant"): an extension, a budget
    change (a new budget version beside the signed one), or another change."""

    class State(models.TextChoices):
        REQUESTED = "requested", _("Demandé")
        ACCEPTED = "accepted", _("Accepté")
        REFUSED = "refused", _("Refusé")

    class Kind(models.TextChoices):
        EXTENSION = "extension", _("Prolongation")
        BUDGET_CHANGE = "budget_change", _("Modification du budget")
        OTHER = "other", _("Autre modification")

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="amendments")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="amendments")
    number = models.PositiveSmallIntegerField(_("numéro"))
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    state = FSMField(_("état"), default=State.REQUESTED, choices=State.choices, protected=True, db_index=True)
    months = models.PositiveSmallIntegerField(_("mois de prolongation"), default=0)
    # A budget change: the new lines [{"year", "category", "label", "amount"}].
    lines = models.JSONField(_("nouveau budget"), default=list, blank=True)
    # The share of the budget moved between categories (a fraction, 0.25 = 25 %).
    moved_share = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal("0"))
    text = models.TextField(_("modification demandée"), blank=True)
    reason = models.TextField(_("motif de la demande"))
    decision_reason = models.TextField(_("motif de la réponse"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["decision", "number"]
        verbose_name = _("avenant")
        verbose_name_plural = _("avenants")
        constraints = [models.UniqueConstraint(fields=["decision", "number"], name="amendment_number_per_decision")]

    def __str__(self) -> str:
        return f"{self.application} — {self.get_kind_display()} {self.number}"

    @transition(field=state, source=State.REQUESTED, target=State.ACCEPTED)
    def accept(self, *, reason: str = "") -> None:
        self.decision_reason = reason
        self.decided_at = timezone.now()

    @transition(field=state, source=State.REQUESTED, target=State.REFUSED)
    def refuse(self, *, reason: str) -> None:
        self.decision_reason = reason
        self.decided_at = timezone.now()
