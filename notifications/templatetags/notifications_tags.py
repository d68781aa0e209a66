"""Template tags of the in-app notification centre (the header's unread badge)."""

from __future__ import annotations

from typing import Any

from django import template

from notifications.services import unread_count

register = template.Library()

BADGE_MAX = 99


@register.inclusion_tag("notifications/unread_badge.html", takes_context=True)
def unread_badge(context: template.Context) -> dict[str, Any]:
    """The unread count with a link to the centre (one indexed COUNT, cached per request)."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    count = getattr(request, "_notifications_unread", None) if request is not None else None
    if count is None:
        count = unread_count(user)
        if request is not None:
            request._notifications_unread = count
    return {"count": count, "label": f"{BADGE_MAX}+" if count > BADGE_MAX else str(count)}
