"""Helpers for pages of many rows: a URL per row without a ``reverse`` per row, one CSRF
input for every row's form (both were a tenth of a list's rendering in the profile)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html

#: Values no URL argument takes, reversed once in its place then replaced per row, and
#: how each row's value is checked first (an id, never text).
_URL_PLACEHOLDERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "int": ("987654321", int),
    "uuid": ("7e57ab1e-0000-4000-8000-00000000c0de", lambda v: v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))),
}


def url_maker(name: str, *kinds: str) -> Callable[..., str]:
    """``reverse(name, args=...)`` for many rows: the pattern reversed once (per script
    prefix), each row's URL by string formatting (a reverse per row was a tenth of a list's
    rendering). ``kinds``: each argument's type, "int" (the default) or "uuid"."""
    kinds = kinds or ("int",)
    prefix = get_script_prefix()
    maker = _URL_MAKERS.get((name, kinds, prefix))
    if maker is None:
        url = reverse(name, args=[_URL_PLACEHOLDERS[kind][0] for kind in kinds])
        pieces: list[str] = []
        for kind in kinds:
            head, url = url.split(_URL_PLACEHOLDERS[kind][0], 1)
            pieces.append(head)
        checks = [_URL_PLACEHOLDERS[kind][1] for kind in kinds]

        def maker(*args: Any) -> str:
            out = [piece + str(check(arg)) for piece, check, arg in zip(pieces, checks, args, strict=True)]
            return "".join(out) + url

        _URL_MAKERS[(name, kinds, prefix)] = maker
    return maker


_URL_MAKERS: dict[tuple[str, tuple[str, ...], str], Callable[..., str]] = {}


def csrf_input(request: HttpRequest) -> str:
    """The hidden input of ``{% csrf_token %}``, made once for a page of row forms."""
    return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))
