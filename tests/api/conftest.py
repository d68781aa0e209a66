"""Fixtures of the API tests: token-authenticated clients for the world's actors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _fresh_throttle_counters() -> Iterator[None]:
    # The token throttle counts in the cache (this run's own Redis database).
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> Callable[..., APIClient]:
    """``api(user)``: a client sending ``Authorization: Token …`` for ``user`` (None: anonymous)."""

    def make(user: Any = None, *, language: str = "fr") -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make
