"""Fixtures of the API tests: token-authenticated clients for the world's actors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _fresh_throttle_counters() -> Iterator[None]:
    # Counters kept in the cache (password-reset limits): none carried from one test to the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> Callable[..., APIClient]:
    """``api(user)``: a client sending ``Authorization: Token …`` for ``user`` (None: anonymous)."""

    def make(user: Any = None, *, language: str = "fr") -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
        if user is not None:
            _instance, token = AuthToken.objects.create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make
