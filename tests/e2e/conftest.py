"""Browser journeys: Playwright for Python driving Debian's chromium (no browser download)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/screenshots/ with UPDATE_SCREENSHOTS=1 (the ones the
    documentation shows), else the test's temporary directory (a normal run leaves the
    working tree untouched)."""
    target = ROOT / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1280, "height": 900}


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch, viewport: dict[str, int]) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`) to run this test.")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # are plain synchronous code all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=viewport, locale="fr-FR", accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


# --- accessibility and layout checks, run on every page the journeys visit -----------------

#: The impacts that fail a journey; "moderate" and "minor" ones are reported, not fatal.
AXE_FATAL = ("critical", "serious")


def _axe_source() -> str:
    """axe-core as shipped by the axe-playwright-python package (requirements/dev.in): no npm."""
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Every axe-core violation on the page as it is now. The script goes in through
    Playwright's evaluation (the DevTools protocol), which the page's Content-Security-Policy
    does not govern: no inline script is added to the page."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    # label-content-name-mismatch (WCAG 2.5.3, a visible label is part of the accessible
    # name) is one of axe's "experimental" rules, off unless asked for.
    result = page.evaluate(
        "axe.run(document, {resultTypes: ['violations'], rules: {'label-content-name-mismatch': {enabled: true}}})"
    )
    return list(result["violations"])


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:160]}")
    return "\n".join(lines)


def check_a11y(page: Any, where: str = "") -> None:
    """Fail on any critical or serious axe-core violation of the current page.
    A11Y_REPORT=<file> appends every violation (all impacts) to that file instead of failing."""
    violations = axe_violations(page)
    report = os.environ.get("A11Y_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(f"== {where or page.url}\n{format_violations(violations)}\n")
        return
    fatal = [v for v in violations if v["impact"] in AXE_FATAL]
    assert not fatal, f"axe-core on {where or page.url}:\n{format_violations(fatal)}"


#: The document's and the window's widths, and the first elements that stick out of the
#: window while their parent fits it (or scrolls on its own) (the culprits, for the message).
_WIDTHS_JS = """() => {
  const inner = window.innerWidth;
  const scrolls = (e) => ['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(e).overflowX);
  const culprits = [];
  for (const e of document.querySelectorAll('body *')) {
    if (e.getBoundingClientRect().right <= inner + 1) continue;
    // Only the outermost: an element whose parent fits (or scrolls on its own).
    const p = e.parentElement;
    if (p && p !== document.body && (p.getBoundingClientRect().right > inner + 1 || scrolls(p))) continue;
    culprits.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
      + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
      + ' (right ' + Math.round(e.getBoundingClientRect().right) + ')');
    if (culprits.length >= 8) break;
  }
  return {scroll: document.documentElement.scrollWidth, inner, culprits};
}"""


def check_no_horizontal_scroll(page: Any, where: str = "") -> None:
    """The page fits the window's width: nothing makes it scroll sideways (tables scroll in
    their own region)."""
    widths = page.evaluate(_WIDTHS_JS)
    assert widths["scroll"] <= widths["inner"], (
        f"{where or page.url} scrolls horizontally at {widths['inner']} px"
        f" (content {widths['scroll']} px wide): {widths['culprits']}"
    )


def check_page(page: Any, where: str = "") -> None:
    """What every visited page must pass: axe-core (no critical or serious violation) and
    no horizontal scrolling at the window's width."""
    page.wait_for_load_state("load")
    check_a11y(page, where)
    check_no_horizontal_scroll(page, where)
