"""Reference data shipped with the project: countries with their 2025 development tier
(OECD DAC list; every country not listed is non-APD) and the French regions."""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"


def _rows(name: str) -> Iterator[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as handle:
        yield from csv.DictReader(line for line in handle if not line.startswith("#"))


def load(apps: Any = None) -> tuple[int, int]:
    """Create or update every country and region. Idempotent; usable from a migration."""
    if apps is None:
        from django.apps import apps
    Country = apps.get_model("grants", "Country")
    Region = apps.get_model("grants", "Region")
    tiers = {row["iso2"]: row["tier"] for row in _rows("development-tiers-2025.csv")}
    countries = 0
    for row in _rows("countries.csv"):
        Country.objects.update_or_create(
            iso2=row["iso2"],
            defaults={"name_fr": row["name_fr"], "name_en": row["name_en"], "tier": tiers.get(row["iso2"], "non_apd")},
        )
        countries += 1
    regions = 0
    for row in _rows("french-regions.csv"):
        Region.objects.update_or_create(
            code=row["insee_code"], defaults={"short": row["short"], "name": row["name_fr"]}
        )
        regions += 1
    return countries, regions


def collation_key(text: str) -> str:
    """A French alphabetical sort key: accents and case ignored ("Égypte" with the E's,
    not after "Zimbabwe" as code points would put it)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
