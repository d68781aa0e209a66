"""A strict Content-Security-Policy on every page; the pages themselves keep to it (no
inline style attribute, no on* handler, no script without the request's nonce), and the
API's Swagger UI page has its own policy."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.factories import World

pytestmark = pytest.mark.django_db

STRICT = {
    "default-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'self'",
    "object-src": "'none'",
}


def policy(response: object) -> dict[str, str]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in (p.strip() for p in header.split(";")) if part}


def assert_keeps_to_the_policy(html: str, directives: dict[str, str]) -> None:
    """What the browser would block is absent: inline styles and handlers, and inline
    scripts or styles without the nonce the header allows (it names one only when used)."""
    found = re.search(r"'nonce-([^']+)'", directives["script-src"])
    nonce = f'nonce="{found.group(1)}"' if found else None
    assert not re.search(r"\sstyle=", html), "inline style attribute"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert "javascript:" not in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or (nonce and nonce in tag), tag
    for tag in re.findall(r"<style\b[^>]*>", html):
        assert nonce and nonce in tag and "'nonce-" in directives["style-src"], tag


def test_an_html_page_carries_the_strict_policy(client: Client) -> None:
    response = client.get("/accounts/login/")
    directives = policy(response)
    for name, value in STRICT.items():
        assert directives[name] == value, name
    assert re.fullmatch(r"'self'( 'nonce-[^']+')?", directives["script-src"])
    assert_keeps_to_the_policy(response.content.decode(), directives)


def test_the_nonce_is_new_at_each_request(client: Client) -> None:
    first = policy(client.get("/api/docs/"))["script-src"]
    second = policy(client.get("/api/docs/"))["script-src"]
    assert "'nonce-" in first and first != second


def test_htmx_is_told_to_insert_no_style(client: Client) -> None:
    html = client.get("/accounts/login/").content.decode()
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false}'>""" in html


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("applicant", "/"),
        ("instructor", "/tasks/"),
        ("signatory", "/signature/"),
        ("secretary", "/comites/"),
        ("finance", "/finances/"),
        ("instructor", "/tableaux-de-bord/"),
    ],
)
def test_the_portal_and_staff_pages_keep_to_the_policy(world: World, username: str, path: str) -> None:
    client = Client()
    client.force_login(getattr(world, username))
    response = client.get(path, follow=True)
    assert response.status_code == 200
    directives = policy(response)
    assert directives["style-src"] == "'self'"
    assert_keeps_to_the_policy(response.content.decode(), directives)


def test_the_session_and_dashboard_gauges_use_classes_not_inline_widths(world: World) -> None:
    client = Client()
    client.force_login(world.instructor)
    html = client.get(f"/appels/{world.call.code}/tableau-de-bord/").content.decode()
    assert re.search(r'class="staff-gauge__bar staff-gauge__bar--\d{1,3}"', html)
    client.force_login(world.secretary)
    html = client.get(f"/comites/{world.session.pk}/").content.decode()
    assert re.search(r'class="staff-gauge__bar staff-gauge__bar--\d{1,3}"', html)


def test_the_api_docs_have_their_own_policy_for_swagger_ui(client: Client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    directives = policy(response)
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'"
    nonce = re.search(r"'nonce-([^']+)'", directives["script-src"])
    assert nonce is not None
    assert f"'nonce-{nonce.group(1)}'" in directives["style-src"]  # this page's inline <style> only
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert_keeps_to_the_policy(response.content.decode(), directives)


def test_the_api_reference_page_keeps_to_the_strict_policy(client: Client) -> None:
    response = client.get("/api/docs/reference/")
    directives = policy(response)
    assert directives["style-src"] == "'self'"
    assert_keeps_to_the_policy(response.content.decode(), directives)


def test_the_admin_carries_the_policy_too(world: World) -> None:
    client = Client()
    client.force_login(world.admin)
    response = client.get("/admin/")
    assert policy(response)["frame-ancestors"] == "'none'"
