"""Who sees what: the one read policy.

Web views, the API, the task queues, the notification audiences and the documents ask
this package; nothing else decides who may see or do what. Lists are querysets scoped
in SQL; a single object a user may not see is a 404 for the caller.

* ``scopes``: a user's roles and scope items;
* ``applications``: applications, opinion requests, reviews, decisions; acting roles;
* ``history``: what each reader reads of an application's history;
* ``documents``: which issued documents a user may download;
* ``calls``: calls, committee sessions and booklets;
* ``queues``: the tasks of a user's queues;
* ``audiences``: who hears of an event (the notification recipients).
"""

from grants.policy.applications import (
    DELIVERED,
    POST_ELIGIBILITY,
    UNDECLARED_REASON,
    can_view,
    decision_row_clause,
    decisions_to_sign,
    finance_decisions,
    own_applications,
    own_opinion_requests,
    own_reviews,
    read_refusal,
    reads_every_decision,
    restricted_reader,
    role_for,
    visibility_filter,
    visible_applications,
    visible_decisions,
    visible_opinion_requests,
    visible_reviews,
)
from grants.policy.calls import (
    booklet_sessions,
    dashboard_calls,
    run_calls,
    run_sessions,
    visible_calls,
    visible_sessions,
)
from grants.policy.documents import application_documents, is_delegation
from grants.policy.history import Entry, history, reader
from grants.policy.queues import kinds_for, queue_filter
from grants.policy.scopes import DELEGATION, STAFF_ROLES, SYSTEM, Scopes, forget, is_staff_user, scopes

__all__ = [
    "DELEGATION",
    "DELIVERED",
    "POST_ELIGIBILITY",
    "STAFF_ROLES",
    "SYSTEM",
    "UNDECLARED_REASON",
    "Entry",
    "Scopes",
    "application_documents",
    "booklet_sessions",
    "can_view",
    "dashboard_calls",
    "decision_row_clause",
    "decisions_to_sign",
    "finance_decisions",
    "forget",
    "history",
    "is_delegation",
    "is_staff_user",
    "kinds_for",
    "own_applications",
    "own_opinion_requests",
    "own_reviews",
    "queue_filter",
    "read_refusal",
    "reader",
    "reads_every_decision",
    "restricted_reader",
    "role_for",
    "run_calls",
    "run_sessions",
    "scopes",
    "visibility_filter",
    "visible_applications",
    "visible_calls",
    "visible_decisions",
    "visible_opinion_requests",
    "visible_reviews",
    "visible_sessions",
]
