"""Who configures calls (issue 15): admins, and instructors scoped to the call; creating
a call from scratch or by duplication takes an admin or an instructor for every call
(a call-scoped instructor's scope would not cover the new call)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from grants.models import Call, Role
from grants.policy.scopes import scopes


def editable_calls(user: Any) -> QuerySet[Call]:
    """The calls ``user`` may edit, publish, close and archive (every state: the editor's list)."""
    s = scopes(user)
    if Role.ADMIN in s.roles:
        return Call.objects.all()
    if Role.INSTRUCTOR in s.roles:
        return Call.objects.filter(s.call_filter(Role.INSTRUCTOR, "pk"))
    return Call.objects.none()


def may_edit_calls(user: Any) -> bool:
    """Whether the call editor is for ``user`` at all (its menu entry, its list)."""
    s = scopes(user)
    return Role.ADMIN in s.roles or Role.INSTRUCTOR in s.roles


def may_create_call(user: Any) -> bool:
    s = scopes(user)
    return Role.ADMIN in s.roles or Role.INSTRUCTOR in s.unscoped
