"""API tokens: django-rest-knox, hashed at rest (SHA-512 of a 64-hex-digit secret; only
the first 15 characters, ``token_key``, are kept in clear to find the row), with an
expiry (``REST_KNOX["TOKEN_TTL"]``), a new token at each sign-in, revocable one by one
(``POST /api/v1/auth/logout/``) or all at once (``logoutall``), and deleted when the
password changes (``security.signals``).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.models import AuthToken


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's, without its sweep of the owner's other tokens on every request (one more
    query each time): only the presented token's expiry is checked here, and the owner's
    expired tokens are swept when a new one is issued (``issue``)."""

    def _cleanup_token(self, auth_token: Any) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


def issue(user: Any) -> tuple[AuthToken, str]:
    """A new token for ``user`` (the secret is returned once and never stored)."""
    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    return AuthToken.objects.create(user=user)  # type: ignore[no-any-return]


class TokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme of these tokens (the same ``tokenAuth`` as before)."""

    target_class = "security.tokens.TokenAuthentication"
    name = "tokenAuth"
    match_subclasses = True

    def get_security_definition(self, auto_schema: Any) -> Any:
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")  # noqa: S106 (the header keyword)
