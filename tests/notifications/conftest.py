"""Fixtures of the notification tests: the English catalogue compiled, a clean outbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

PO = Path(__file__).resolve().parents[2] / "notifications" / "locale" / "en" / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="session", autouse=True)
def _english_catalogue() -> Iterator[None]:
    """`make install` compiles the catalogues; compile ours here too when it is stale so
    the English renderings are tested on a fresh clone as well."""
    mo = PO.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < PO.stat().st_mtime:
        import polib
        from django.utils.translation import trans_real

        polib.pofile(str(PO)).save_as_mofile(str(mo))
        trans_real._translations = {}
        trans_real._default = None
    yield
