"""A newcomer's first hour: what each page says and how it behaves (issue "A newcomer's
first hour", interface part)."""

from __future__ import annotations

import html

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import World

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _text(client: Client, url: str, **headers: str) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


# --- 2. each role's home page says what it can do here ----------------------------------

ROLE_SENTENCES = {
    "instructor": ("Vous vérifiez la recevabilité des dossiers déposés", "You check that submitted applications"),
    "embassy_sn": ("Vous rendez l'avis du poste sur les projets de votre pays", "You give your post's opinion"),
    "prefecture_ara": ("Vous rendez l'avis de la préfecture", "You give the prefecture's opinion"),
    "reviewer1": ("Vous notez les dossiers qui vous sont confiés", "You score the applications assigned to you"),
    "secretary": ("Vous inscrivez les dossiers à l'ordre du jour", "You put applications on the agenda"),
    "signatory": ("Vous signez les décisions du comité", "You sign the committee's decisions"),
    "finance": ("Vous enregistrez le numéro d'engagement juridique", "You record the legal commitment number"),
    "applicant": ("Vous déposez ici les dossiers de votre collectivité", "Here you submit your local authority's"),
}


@pytest.mark.parametrize("who", sorted(ROLE_SENTENCES))
def test_each_role_s_home_says_in_one_sentence_what_it_does_here(client: Client, world: World, who: str) -> None:
    client.force_login(getattr(world, who))
    french, english = ROLE_SENTENCES[who]
    assert french in _text(client, "/")
    assert english in _text(client, "/", **EN)


def test_the_inbox_gives_only_the_sentences_of_the_user_s_roles(client: Client, world: World) -> None:
    client.force_login(world.signatory)
    page = _text(client, reverse("tasks"))
    assert "Vous signez les décisions du comité" in page
    assert "Vous notez les dossiers" not in page
