"""The footer's public pages: reachable without signing in, in French and in English,
linked from every page's footer."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "french", "english"),
    [
        ("accessibility", "Déclaration d’accessibilité", "Accessibility statement"),
        ("legal", "Mentions légales", "Legal notice"),
        ("privacy", "Données personnelles", "Personal data"),
    ],
)
def test_each_page_is_public_and_in_both_languages(client: Client, name: str, french: str, english: str) -> None:
    url = reverse(name)
    answer = client.get(url)
    assert answer.status_code == 200
    html = answer.content.decode()
    assert f"<h1>{french}</h1>" in html
    assert f"<title>{french} — " in html
    assert "à compléter par l’exploitant" in html  # the operator's facts, honestly marked
    client.post("/i18n/setlang/", {"language": "en", "next": url})
    html = client.get(url).content.decode()
    assert f"<h1>{english}</h1>" in html
    assert "for the operator to fill in" in html
    assert client.post(url).status_code == 405


def test_the_accessibility_statement_has_the_rgaa_sections(client: Client) -> None:
    html = client.get(reverse("accessibility")).content.decode()
    assert '<strong id="conformity">non conforme</strong>' in html
    for heading in (
        "État de conformité",
        "Résultats des tests",
        "Contenus non accessibles",
        "Établissement de cette déclaration",
        "Retour d’information et contact",
        "Voies de recours",
    ):
        assert f"<h2>{heading}</h2>" in html
    assert "Défenseur des droits" in html


def test_the_footer_links_to_the_three_pages(client: Client) -> None:
    html = client.get(reverse("legal")).content.decode()
    footer = html.split('id="footer"')[1]
    for name in ("accessibility", "legal", "privacy"):
        assert f'href="{reverse(name)}"' in footer
    assert "Accessibilité : non conforme" in footer
