"""The client's address, the same way for every limit (sign-in lockout, password-reset
e-mails, the API's throttles).

``X-Forwarded-For`` is believed only as far as the project's proxy setting says
(``REST_FRAMEWORK["NUM_PROXIES"]``, ``NUM_PROXIES`` in the environment): behind N
reverse proxies the client is the N-th address from the right, the one the nearest
trusted proxy appended; anything further left was written by the client and is ignored.
With no proxy configured only ``REMOTE_ADDR`` counts, so a forged header changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


def trusted_proxies() -> int:
    return int(getattr(settings, "REST_FRAMEWORK", {}).get("NUM_PROXIES") or 0)


def client_address(request: Any) -> str:
    meta = request.META
    proxies = trusted_proxies()
    if proxies:
        forwarded = [part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-min(proxies, len(forwarded))]
    return str(meta.get("REMOTE_ADDR") or "")
