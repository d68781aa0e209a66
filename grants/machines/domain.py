"""The domain as the workflow engine sees it (registered in ``GrantsConfig.ready``):
the one lock order and the read policy's answers on visibility, roles and queues."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from grants.machines import locks
from grants.models import Call, CommitteeSession
from grants.policy.applications import can_view, role_for
from grants.policy.calls import can_view_call, can_view_session
from grants.policy.queues import queue_filter


class GrantsDomain:
    def lock(self, model: type[Any], pk: Any) -> tuple[Any, Any]:
        return locks.lock(model, pk)

    def root_of(self, subject: Any) -> Any:
        return locks.root_of(subject)

    def can_view(self, user: Any, subject: Any, root: Any) -> bool:
        if root is not None:
            # The engine passes the application it has just locked: its row is current.
            return can_view(user, root, current_row=True)
        if isinstance(subject, CommitteeSession):
            return can_view_session(user, subject)
        if isinstance(subject, Call):
            return can_view_call(user, subject)
        return False

    def role_for(self, user: Any, roles: tuple[str, ...], subject: Any, root: Any) -> str | None:
        return role_for(user, roles, root, subject)

    def queue_filter(self, user: Any) -> Q:
        return queue_filter(user)
