"""Admin: the outbox is where an operator sees failed e-mails (attempts, last error) and
puts them back in the queue once the cause is fixed."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from notifications import outbox
from notifications.models import Digest, Notification, NotificationSettings, Preference, Reminder


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "recipient",
        "message",
        "category",
        "email_state",
        "attempts",
        "last_error",
        "read_at",
    )
    list_filter = ("email_state", "category", "event")
    search_fields = ("recipient__username", "recipient__email", "dedupe_key")
    date_hierarchy = "created_at"
    list_select_related = ("recipient",)
    actions = ("retry",)
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Renvoyer les courriels en échec"))
    def retry(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = outbox.retry_failed(queryset.values_list("pk", flat=True))
        self.message_user(request, _("%(n)s courriel(s) remis en file d'envoi.") % {"n": count}, messages.SUCCESS)


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ("at", "task", "application", "step", "outcome", "final")
    list_filter = ("outcome", "step")
    readonly_fields = [f.name for f in Reminder._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ("day", "user", "items", "sent_at")


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ("user", "language", "digest_hour")


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "category", "mode")
    list_filter = ("category", "mode")
