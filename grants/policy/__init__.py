"""Who sees what: the one read policy.

Every web view, API endpoint, task queue, notification audience and issued document asks
this package; nothing else decides who may see or do what.
"""

from grants.policy.scopes import (
    POST_ELIGIBILITY,
    STAFF_ROLES,
    SYSTEM,
    Scopes,
    can_view,
    forget,
    is_staff_user,
    role_for,
    scopes,
    visibility_filter,
    visible_applications,
    visible_decisions,
    visible_opinion_requests,
    visible_reviews,
)

__all__ = [
    "POST_ELIGIBILITY",
    "STAFF_ROLES",
    "SYSTEM",
    "Scopes",
    "can_view",
    "forget",
    "is_staff_user",
    "role_for",
    "scopes",
    "visibility_filter",
    "visible_applications",
    "visible_decisions",
    "visible_opinion_requests",
    "visible_reviews",
]
