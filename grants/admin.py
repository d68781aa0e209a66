"""Django admin: calls (every setting), countries, organisations, users' role grants.

State fields are protected by django-fsm: the admin shows them read-only; states move
only through transitions.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from grants.models import (
    Application,
    Attachment,
    Call,
    CommitteeSession,
    Country,
    Decision,
    Document,
    OpinionRequest,
    Organisation,
    Region,
    Review,
    RoleGrant,
)
from workflows.admin import ReadOnlyAdmin


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "kind", "state", "opens_at", "closes_at", "envelope")
    list_filter = ("state", "kind")
    search_fields = ("code", "title")
    readonly_fields = ("state", "last_reference_number", "created_at")
    filter_horizontal = ("eligible_countries",)
    fieldsets = (
        (None, {"fields": ("code", "title", "description", "kind", "state", "published_on", "opens_at", "closes_at")}),
        (
            _("Budget et taux"),
            {
                "fields": (
                    "envelope",
                    "rate_pma",
                    "rate_apd",
                    "rate_non_apd",
                    "multi_country_rule",
                    "rate_multi_country",
                    "min_own_contribution",
                    "max_in_kind_share",
                )
            },
        ),
        (
            _("Règles"),
            {
                "fields": (
                    "min_duration_months",
                    "max_duration_months",
                    "required_attachments",
                    "eligible_countries",
                    "block_overdue_reports",
                )
            },
        ),
        (
            _("Instruction, avis et comité"),
            {
                "fields": (
                    "eligibility_deadline_days",
                    "opinion_deadline_days",
                    "prefecture_opinion_required",
                    "review_deadline_days",
                    "min_reviews",
                    "scoring_criteria",
                    "reminder_steps",
                )
            },
        ),
        (_("Numérotation"), {"fields": ("last_reference_number", "created_at")}),
    )


@admin.register(Country)
class CountryAdmin(admin.ModelAdmin):
    list_display = ("iso2", "name_fr", "name_en", "tier")
    list_filter = ("tier",)
    search_fields = ("iso2", "name_fr", "name_en")


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "short", "name")


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "siren", "region", "country")
    list_filter = ("kind", "region")
    search_fields = ("name", "siren")


class RoleGrantInline(admin.TabularInline):
    model = RoleGrant
    extra = 0
    autocomplete_fields = ("organisation",)


@admin.register(RoleGrant)
class RoleGrantAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "organisation", "country", "region", "call", "supervisor")
    list_filter = ("role", "supervisor")
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user", "organisation", "country", "call")


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class GrantsUserAdmin(UserAdmin):
    inlines = [RoleGrantInline]


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ("reference", "title", "call", "organisation", "state", "submitted_at")
    list_filter = ("state", "call")
    search_fields = ("reference", "title", "organisation__name")


@admin.register(OpinionRequest)
class OpinionRequestAdmin(ReadOnlyAdmin):
    list_display = ("application", "authority", "country", "region", "state", "due_at")
    list_filter = ("state", "authority")


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("application", "reviewer", "state", "recommendation")
    list_filter = ("state",)


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("application", "outcome", "state", "amount", "signed_at", "commitment_number")
    list_filter = ("state", "outcome")


@admin.register(CommitteeSession)
class CommitteeSessionAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "call", "date", "state")


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ("kind", "reference", "issued_at", "sha256")
    list_filter = ("kind",)


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ("application", "kind", "original_name", "size", "uploaded_at")
