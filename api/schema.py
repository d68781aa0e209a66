"""Settings of the OpenAPI document, applied by the schema view itself (so the project
settings need no change): the general description and the tags. Choice fields are
documented as inline enums (``api.serializers.enum``), so no enum naming setting is needed."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import patched_settings
from drf_spectacular.views import SpectacularAPIView

DESCRIPTION = """\
API v1 of the grant-call workflow engine (calls for projects in decentralised cooperation).

**Authentication.** `POST /api/v1/auth/token/` with `{username, password}` gives a new
`{token, expiry}` at each call; send `Authorization: Token <token>`. Tokens are kept only
as hashes, expire (10 hours by default), and are revoked by `auth/logout/` (this one),
`auth/logoutall/` (all of the caller's) and by any password change; `auth/tokens/` lists
the caller's. An account with a second factor adds `otp`, its authenticator's current
code. A signed-in browser session works too (with its CSRF token for writes). Failed
sign-ins count per username and client address, on the web and here alike: after 10
within 15 minutes that pair is refused for 15 minutes (429 with `Retry-After`).

**Errors** are JSON: 400 `{"errors": {field: [message]}}` (nested fields as dotted paths,
e.g. `budget.lines.0.amount`; others under `non_field_errors`), 401/403/404 `{"detail"}`,
409 `{"detail", "unmet": [reason]}`, 429 `{"detail", "retry_after"}` with `Retry-After`.
404 means "not found or not visible to you": the two are never told apart. Messages are in
the language of `Accept-Language` (`fr`, `en`).

**Lists** use cursor pagination: `{next, previous, results}`; follow `next`; `page_size` up to 100.

**Money** is a decimal string in euros (`"1250.50"`), never a float. Dates are ISO 8601;
date-times are time-zone aware.
"""

TAGS = [
    {"name": "auth", "description": "API tokens."},
    {"name": "calls", "description": "Calls for projects and their rules."},
    {"name": "applications", "description": "Applications: drafts, attachments, transitions, reviewers."},
    {"name": "tasks", "description": "The caller's inbox: open tasks of its queues."},
    {"name": "opinions", "description": "Opinion requests to embassies and prefectures."},
    {"name": "reviews", "description": "Committee members' reviews."},
    {"name": "sessions", "description": "Committee sessions."},
    {"name": "decisions", "description": "Decisions: signature, letter, budget commitment."},
]

SPECTACULAR: dict[str, Any] = {
    "DESCRIPTION": DESCRIPTION,
    "TAGS": TAGS,
    "COMPONENT_SPLIT_REQUEST": True,
}


def schema_patterns() -> list[URLPattern | URLResolver]:
    from .urls import v1

    return [path("api/v1/", include(v1))]


class SchemaView(SpectacularAPIView):
    """``/api/schema/``: the OpenAPI 3 document of /api/v1/ (YAML; JSON with ``?format=json``
    or ``Accept: application/vnd.oai.openapi+json``; English with ``?lang=en``)."""

    custom_settings = SPECTACULAR


def build_schema(request: Any = None) -> dict[str, Any]:
    """The same document, in-process (the reference page)."""
    with patched_settings(SPECTACULAR):
        return SchemaGenerator(patterns=schema_patterns()).get_schema(request=request, public=True)  # type: ignore[no-any-return]
