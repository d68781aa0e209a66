"""``{% snapshot_changes app as changes %}``: what the last resubmission changed (the two
last snapshots, compared by grants.snapshots_diff), or None with fewer than two."""

from __future__ import annotations

from typing import Any

from django import template

from grants.models import Application
from grants.snapshots_diff import diff

register = template.Library()


@register.simple_tag
def snapshot_changes(app: Application) -> dict[str, Any] | None:
    last_two = list(app.snapshots.order_by("-number")[:2])
    if len(last_two) < 2:
        return None
    after, before = last_two
    return {"before": before, "after": after, "changes": diff(before.data, after.data)}
