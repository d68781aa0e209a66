"""The footer's pages. Their long texts are written once per language (a template
per language, ``<name>.fr.html`` and ``<name>.en.html``, rather than a catalogue entry per
paragraph); the operator's own facts (editor, host, contacts, audit) are marked in them
as placeholders to fill."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_safe

PAGES = ("accessibility", "legal", "privacy")


def _render(request: HttpRequest, name: str) -> HttpResponse:
    language = "en" if (get_language() or "fr").startswith("en") else "fr"
    return render(request, f"grants/pages/{name}.{language}.html", {"page": name})


@require_safe
def accessibility(request: HttpRequest) -> HttpResponse:
    return _render(request, "accessibility")


@require_safe
def legal(request: HttpRequest) -> HttpResponse:
    return _render(request, "legal")


@require_safe
def privacy(request: HttpRequest) -> HttpResponse:
    return _render(request, "privacy")
