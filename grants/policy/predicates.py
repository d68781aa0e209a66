"""Object permissions as `rules` predicates (autodiscovered by rules' AppConfig).

The predicates delegate to grants.policy, the one place where scopes are decided, so
`user.has_perm("grants.view_application", application)` in a template or a view agrees
with the querysets, the API and the transition service.
"""

from __future__ import annotations

from typing import Any

import rules

from grants import policy
from grants.models import Application, Role


@rules.predicate
def can_view_application(user: Any, application: Application | None) -> bool:
    return application is not None and policy.can_view(user, application)


@rules.predicate
def is_applicant_of(user: Any, application: Application | None) -> bool:
    return application is not None and policy.role_for(user, (Role.APPLICANT,), application) is not None


@rules.predicate
def is_staff_user(user: Any) -> bool:
    return policy.is_staff_user(user)


rules.add_perm("grants.view_application", can_view_application)
rules.add_perm("grants.edit_application", is_applicant_of & rules.predicate(lambda u, a: bool(a and a.is_editable)))
rules.add_perm("grants.view_task_inbox", is_staff_user)
