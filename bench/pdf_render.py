"""Benchmark: an approval letter through `grants.documents.pdf.render_pdf` vs bare WeasyPrint.

    python -m bench.pdf_render [N]        # prints the JSON result

`run(n)` returns medians over `n` renderings (after one warm-up rendering each):

- `ours_median_s`: `render_pdf("pdf/approval_letter.html", ctx)`: Django template,
  QR code, locked-down fetcher, shared FontConfiguration, PDF/A-3b;
- `bare_median_s`: the same HTML string through `weasyprint.HTML(string=html).write_pdf()`
  (no base URL, so no stylesheet or logo, default fetcher, plain PDF);
- `bare_with_assets_median_s`: the same with `base_url` on the asset folder (stylesheet and
  logo load through WeasyPrint's default fetcher): the layout work ours also does;
- `ratio`: ours / bare.

No database needed. WeasyPrint's and fontTools' logging is muted while measuring.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def approval_context() -> dict[str, Any]:
    from grants import budget
    from grants.documents import issuing

    paris = ZoneInfo("Europe/Paris")
    return {
        "verification_code": "7KQ2-M9XD-4TPA",
        "verification_url": "https://appels-a-projets.example.gouv.fr/verify/7KQ2-M9XD-4TPA/",
        "reference": "AAP-2026-GEN-00012",
        "project_title": "Accès à l'eau potable et assainissement dans les quartiers de Ziguinchor",
        "lead_authority": {
            "name": "Région Auvergne-Rhône-Alpes",
            "address": "1 esplanade François Mitterrand\n69002 Lyon",
        },
        "call": {"code": "AAP-2026-GEN", "title": "Appel à projets généraliste 2026"},
        "issued_at": dt.datetime(2026, 11, 26, 10, 30, tzinfo=paris),
        "signatory": {"name": "Jeanne Martin", "title": "La déléguée", "signed_at": dt.date(2026, 11, 26)},
        "co_applicants": [{"name": "Ville de Lyon"}],
        "partners": [{"name": "Commune de Ziguinchor", "country": "Sénégal"}],
        "countries": ["Sénégal"],
        "start_date": dt.date(2027, 1, 1),
        "duration_months": 36,
        "committee_date": dt.date(2026, 11, 12),
        "total_budget": Decimal("200000"),
        "requested_amount": Decimal("140000"),
        "granted_amount": Decimal("70000"),
        "granted_rate": Decimal("0.35"),
        # The one tranche calculator (grants.budget), then the letter's rows (as tests/grants/test_pdf.py).
        "payment_schedule": issuing.payment_schedule(
            budget.tranche_schedule(
                Decimal("70000"), {1: Decimal("25000"), 2: Decimal("25000"), 3: Decimal("20000")}, exact=True
            ),
            dt.date(2027, 1, 1),
        ),
    }


def _median_seconds(action: Callable[[], object], n: int) -> float:
    action()  # warm-up: imports, fontconfig, caches
    timings = []
    for _ in range(n):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def run(n: int = 10) -> dict[str, float]:
    _setup_django()
    import weasyprint

    from grants.documents import pdf

    name = "pdf/approval_letter.html"
    context = approval_context()
    html = pdf.render_template_html(name, context)

    noisy = [logging.getLogger(logger) for logger in ("weasyprint", "weasyprint.progress", "fontTools")]
    levels = [logger.level for logger in noisy]
    for logger in noisy:
        logger.setLevel(logging.CRITICAL)
    try:
        ours = _median_seconds(lambda: pdf.render_pdf(name, context), n)
        bare = _median_seconds(lambda: weasyprint.HTML(string=html).write_pdf(), n)
        bare_assets = _median_seconds(lambda: weasyprint.HTML(string=html, base_url=pdf.ASSET_BASE_URL).write_pdf(), n)
    finally:
        for logger, level in zip(noisy, levels, strict=True):
            logger.setLevel(level)
    return {
        "n": float(n),
        "ours_median_s": round(ours, 4),
        "bare_median_s": round(bare, 4),
        "bare_with_assets_median_s": round(bare_assets, 4),
        "ratio": round(ours / bare, 3),
    }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 10), indent=2))
