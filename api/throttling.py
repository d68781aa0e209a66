"""Brute-force protection of the token endpoint.

Every attempt at ``POST /api/v1/auth/token/`` counts, successful or not, twice: once per
client address and once per username asked for, each at the rate
``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["token"]`` (10/min by default,
``TOKEN_THROTTLE_RATE`` in the environment). The counters live in the default cache
(Redis when ``REDIS_URL`` is set), so every web process shares them.

The address is ``REMOTE_ADDR``: DRF's default also believes ``X-Forwarded-For`` when
``NUM_PROXIES`` is unset, which a client can forge to get a fresh counter on every
attempt. Behind a reverse proxy, set ``REST_FRAMEWORK["NUM_PROXIES"]`` (DRF then reads
the proxy-appended address).
"""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class TokenThrottle(SimpleRateThrottle):
    """Per client address."""

    scope = "token"

    def get_ident(self, request: Request) -> str:
        if api_settings.NUM_PROXIES is None:
            return str(request.META.get("REMOTE_ADDR") or "")
        return super().get_ident(request)

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenUsernameThrottle(SimpleRateThrottle):
    """Per username asked for: many addresses cannot share out the guesses on one account."""

    scope = "token"
    cache_format = "throttle_%(scope)s_user_%(ident)s"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        try:
            data = request.data
        except Exception:  # an unreadable body is the view's 400, not a throttle matter
            return None
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str) or not username.strip():
            return None
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}
