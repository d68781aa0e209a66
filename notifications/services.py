"""Notifications: the entry point the workflow calls inside a transition's transaction,
and the writes of the in-app centre (mark read, preferences).

``emit`` turns a workflow event into outbox rows for its recipients (resolved here from
the event and the application) and arranges for them to be sent after commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.models import LOCKED_CATEGORIES, Category, Mode, Notification, NotificationSettings, Preference
from workflows.engine import Invalid, NotFound


def emit(
    event: str, *, application: Any, subject: Any = None, actor: Any = None, extra: dict[str, Any] | None = None
) -> None:
    """Record the notifications of ``event`` (subscribed to the engine's events: called
    inside the transition's transaction)."""
    from notifications import outbox

    outbox.record_event(event, application=application, subject=subject, actor=actor, extra=extra or {})


# --- reads --------------------------------------------------------------------------------


def notifications_of(user: Any) -> QuerySet[Notification]:
    """A user's own notifications, newest first: nobody reads anyone else's."""
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-id")


def unread_count(user: Any) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def settings_of(user: Any) -> NotificationSettings:
    found = NotificationSettings.objects.filter(user=user).first()
    return found or NotificationSettings(user=user)


def modes_of(user: Any) -> dict[str, str]:
    """The e-mail mode of every category for ``user`` (no row: immediately)."""
    stored = dict(Preference.objects.filter(user=user).values_list("category", "mode"))
    return {c: (Mode.IMMEDIATE if c in LOCKED_CATEGORIES else stored.get(c, Mode.IMMEDIATE)) for c in Category.values}


# --- writes -------------------------------------------------------------------------------


def notification_mark_read(*, notification_id: int, user: Any) -> Notification:
    notification = notifications_of(user).filter(pk=notification_id).first()
    if notification is None:
        raise NotFound(_("Introuvable."))
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notification_mark_all_read(*, user: Any) -> int:
    return notifications_of(user).filter(read_at__isnull=True).update(read_at=timezone.now())


def preferences_update(*, user: Any, language: str, digest_hour: int, modes: Mapping[str, str]) -> NotificationSettings:
    """Save a user's language, digest hour and per-category modes. Notices that carry a
    legal deadline stay immediate: asking otherwise is refused, not silently ignored."""
    errors: dict[str, list[str]] = {}
    if language not in dict(settings.LANGUAGES):
        errors["language"] = [_("Choisissez le français ou l'anglais.")]
    if isinstance(digest_hour, bool) or not isinstance(digest_hour, int) or not 0 <= digest_hour <= 23:
        errors["digest_hour"] = [_("Choisissez une heure entre 0 et 23.")]
    for category, mode in modes.items():
        if category not in Category.values:
            errors[category] = [_("Catégorie inconnue.")]
        elif mode not in Mode.values:
            errors[category] = [_("Choisissez un mode d'envoi proposé.")]
        elif category in LOCKED_CATEGORIES and mode != Mode.IMMEDIATE:
            errors[category] = [
                _(
                    "Ces notifications ouvrent un délai légal : elles vous sont toujours envoyées immédiatement "
                    "et ne peuvent être ni désactivées ni regroupées."
                )
            ]
    if errors:
        raise Invalid(_("Préférences invalides."), errors=errors)
    with transaction.atomic():
        stored, _created = NotificationSettings.objects.update_or_create(
            user=user, defaults={"language": language, "digest_hour": digest_hour}
        )
        for category, mode in modes.items():
            if category in LOCKED_CATEGORIES:
                continue
            Preference.objects.update_or_create(user=user, category=category, defaults={"mode": mode})
    return stored
