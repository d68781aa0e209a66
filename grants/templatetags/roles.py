"""``{% role_sentences %}``: what the signed-in user's roles do here, one sentence each
(the staff inbox's header says it to a newcomer)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy

from grants import policy
from grants.models import Role

register = template.Library()

#: What each role does here, in one sentence: the inbox's header says it to a newcomer.
ROLE_SENTENCES = {
    Role.INSTRUCTOR: gettext_lazy(
        "Vous vérifiez la recevabilité des dossiers déposés, demandez les compléments "
        "et suivez l'instruction jusqu'au comité."
    ),
    Role.EMBASSY: gettext_lazy("Vous rendez l'avis du poste sur les projets de votre pays, dans le délai indiqué."),
    Role.PREFECTURE: gettext_lazy(
        "Vous rendez l'avis de la préfecture sur les projets des collectivités de votre région, dans le délai indiqué."
    ),
    Role.PARTNER: gettext_lazy(
        "Vous validez, au nom du gouvernement partenaire, chaque projet de votre pays présenté au fonds conjoint, "
        "dans le délai indiqué."
    ),
    Role.REVIEWER: gettext_lazy("Vous notez les dossiers qui vous sont confiés avant leur passage en comité."),
    Role.SECRETARY: gettext_lazy(
        "Vous inscrivez les dossiers à l'ordre du jour des séances du comité et y enregistrez les décisions."
    ),
    Role.SIGNATORY: gettext_lazy(
        "Vous signez les décisions du comité ; chaque lettre est ensuite générée et notifiée."
    ),
    Role.FINANCE: gettext_lazy("Vous enregistrez le numéro d'engagement juridique des subventions notifiées."),
    Role.ADMIN: gettext_lazy("Vous administrez la plateforme : comptes, rôles et appels à projets."),
}


@register.simple_tag
def role_sentences(user: Any) -> list[Any]:
    """One sentence per staff role of the user, in the roles' order."""
    roles = policy.scopes(user).roles
    return [sentence for role, sentence in ROLE_SENTENCES.items() if role in roles]
