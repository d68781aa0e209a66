"""Small helpers of the API tests."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from grants.models import Application, Decision, OpinionRequest, Review
from tests.factories import PDF_BYTES, World

V1 = "/api/v1"


def url(path: str) -> str:
    return f"{V1}/{path.lstrip('/')}"


def pdf(name: str = "convention.pdf", content: bytes = PDF_BYTES) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def body(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:2000])
    return response.json()


def submitted(world: World, **overrides: Any) -> Application:
    return world.advance(world.draft(**overrides), Application.State.SUBMITTED)


def opinion_of(app: Application, country: str = "SN") -> OpinionRequest:
    return OpinionRequest.objects.get(application=app, country_id=country)


def review_of(app: Application, world: World) -> Review:
    return Review.objects.get(application=app, reviewer=world.reviewer1)


def approved_decision(world: World, **overrides: Any) -> Decision:
    app = world.advance(world.draft(**overrides), Application.State.APPROVED)
    return Decision.objects.get(application=app)


def english(message: str) -> str:
    """``message`` (a French msgid) as an English caller reads it, whichever catalogue
    (the project's or the API's) translates it; never the French text itself."""
    from django.utils import translation

    with translation.override("en"):
        translated = translation.gettext(message)
    assert translated != message, f"no English translation for {message!r}"
    return translated
