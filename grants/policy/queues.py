"""Which tasks are in a user's queues: a queue is a role narrowed by one scope item.

Co-applicant authorities are in no queue: they read the application, the lead
authority acts on it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from grants.models import Role
from grants.policy.scopes import scopes
from workflows.models import TaskKind

#: The task kinds each role's queue can hold (the inbox offers only these as filters).
QUEUE_KINDS: dict[str, tuple[str, ...]] = {
    Role.APPLICANT: (TaskKind.COMPLETE_APPLICATION, TaskKind.SUBMIT_REPORT),
    Role.INSTRUCTOR: (TaskKind.CHECK_ELIGIBILITY, TaskKind.CHECK_REPORT, TaskKind.DECIDE_AMENDMENT),
    Role.EMBASSY: (TaskKind.GIVE_OPINION,),
    Role.PREFECTURE: (TaskKind.GIVE_OPINION,),
    Role.PARTNER: (TaskKind.VALIDATE_PROJECT,),
    Role.REVIEWER: (TaskKind.REVIEW,),
    Role.SECRETARY: (TaskKind.SCHEDULE_COMMITTEE,),
    Role.SIGNATORY: (TaskKind.SIGN_DECISION,),
    Role.FINANCE: (TaskKind.RECORD_COMMITMENT, TaskKind.PAY_TRANCHE),
}


def kinds_for(user: Any) -> list[str]:
    """The task kinds the user's queues can hold, in the order of TaskKind."""
    roles = scopes(user).roles
    wanted = {kind for role in roles for kind in QUEUE_KINDS.get(role, ())}
    return [kind for kind in TaskKind.values if kind in wanted]


def queue_filter(user: Any) -> Q:
    """The Q selecting the tasks in the queues of ``user`` (its roles and scopes).
    A task claimed by someone else stays in the queue, shown as taken."""
    s = scopes(user)
    q = Q(pk__in=[])
    for role in s.roles:
        if role == Role.ADMIN:
            continue
        if role == Role.REVIEWER:
            q |= Q(queue_role=role, assignee=user)
            continue
        base = Q(queue_role=role)
        if role == Role.APPLICANT:
            q |= base & Q(scope_organisation_id__in=sorted(s.organisations))
        elif role in (Role.EMBASSY, Role.PARTNER):
            q |= base & Q(scope_country_id__in=sorted(s.countries[role]))
        elif role == Role.PREFECTURE:
            q |= base & Q(scope_region_id__in=sorted(s.regions[role]))
        elif role in s.unscoped:
            q |= base
        else:
            q |= base & Q(scope_call_id__in=sorted(s.calls.get(role, set())))
    return q
