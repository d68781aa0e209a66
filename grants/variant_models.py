"""The rows the call variants add (grants.variants): a turnkey programme's member French
authorities. Imported at the bottom of ``grants.models`` so the app registry sees them."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from grants.models import Application, Organisation, Region


class ApplicationMember(models.Model):
    """One member French authority of a turnkey programme (Call.Kind.TURNKEY).

    The applicant names it (name, SIREN, region); when an organisation of the platform
    has that SIREN it is linked (``organisation``), so the member's staff can be found
    later. Its ``contribution`` counts as the French authorities' own contribution in
    the budget rules (grants.budget); its council resolution is an Attachment of kind
    ``council_resolution`` whose ``member`` is this row."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="members")
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="memberships"
    )
    name = models.CharField(_("nom"), max_length=200)
    siren = models.CharField(_("SIREN"), max_length=9)
    region = models.ForeignKey(Region, verbose_name=_("région"), null=True, blank=True, on_delete=models.PROTECT)
    contribution = models.DecimalField(_("contribution"), max_digits=14, decimal_places=2, default=Decimal("0.00"))
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("collectivité membre")
        verbose_name_plural = _("collectivités membres")
        constraints = [
            models.UniqueConstraint(fields=["application", "siren"], name="member_siren_unique_per_application"),
            models.CheckConstraint(condition=Q(contribution__gte=0), name="member_contribution_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.siren})"
