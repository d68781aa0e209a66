"""Password-reset e-mails are limited: per account (``PASSWORD_RESET_LIMIT_PER_ACCOUNT``
an hour) and per client address (``PASSWORD_RESET_LIMIT_PER_ADDRESS`` an hour, every
request counted whether or not an account matches). Past either limit nothing more is
sent, and the page answers exactly as before (the neutral "if an account matches"
confirmation), so the limit tells nobody whether an address has an account.

The counters are in the default cache (Redis in production, shared by every process);
each window starts at the first request it counts.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache

from .addresses import client_address


def _count(key: str) -> int:
    window = settings.PASSWORD_RESET_WINDOW_SECONDS
    cache.add(key, 0, window)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        return 1


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def address_allowed(request: Any) -> bool:
    """Count this request for its address; False once past the address's limit."""
    if request is None:
        return True  # not a web request (a management command, a test calling save())
    key = f"password-reset:addr:{_digest(client_address(request))}"
    return _count(key) <= settings.PASSWORD_RESET_LIMIT_PER_ADDRESS


def account_allowed(user: Any) -> bool:
    """Count one e-mail for this account; False once past the account's limit."""
    return _count(f"password-reset:user:{user.pk}") <= settings.PASSWORD_RESET_LIMIT_PER_ACCOUNT
