"""The call's machine (draft → published → closed → archived) and the publication's
condition: a call is published only when its settings make sense, every reason given
at once (issue 15)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.models import Application, AttachmentKind, Call, Role
from grants.questions import CallQuestion
from workflows.engine import Context, Spec

ONE = Decimal(1)
RATE_LABELS = {
    "rate_pma": gettext_lazy("Le taux maximal PMA"),
    "rate_apd": gettext_lazy("Le taux maximal APD"),
    "rate_non_apd": gettext_lazy("Le taux maximal hors APD"),
    "rate_multi_country": gettext_lazy("Le taux maximal multi-pays"),
    "min_own_contribution": gettext_lazy("L'apport propre minimal"),
    "max_in_kind_share": gettext_lazy("La part maximale de valorisation"),
    "budget_change_threshold": gettext_lazy("Le seuil de modification budgétaire"),
}
#: An application still being processed: a call with one is not archived.
IN_PROGRESS = (
    Application.State.SUBMITTED,
    Application.State.INCOMPLETE,
    Application.State.AWAITING_OPINIONS,
    Application.State.UNDER_REVIEW,
    Application.State.IN_COMMITTEE,
)


def percent(rate: Decimal) -> str:
    text = f"{(rate * 100).normalize():f}"
    return text.replace(".", ",")


def publication_unmet(call: Call, *, now: Any = None) -> list[str]:
    """Every reason ``call`` cannot be published as it is (empty: it can)."""
    now = now or timezone.now()
    reasons: list[str] = []
    if not call.title.strip():
        reasons.append(_("Le titre de l'appel est obligatoire."))
    if call.closes_at <= call.opens_at:
        reasons.append(_("La clôture doit être postérieure à l'ouverture."))
    elif call.closes_at <= now:
        reasons.append(_("La date de clôture est déjà passée."))
    if call.envelope <= 0:
        reasons.append(_("L'enveloppe doit être supérieure à zéro."))
    for name, label in RATE_LABELS.items():
        rate = getattr(call, name)
        if rate < 0 or rate > ONE:
            reasons.append(
                _("%(setting)s (%(value)s %%) doit être compris entre 0 et 100 %%.")
                % {"setting": label, "value": percent(rate)}
            )
    if call.min_duration_months > call.max_duration_months:
        reasons.append(_("La durée minimale dépasse la durée maximale."))
    if call.min_reviews < 1:
        reasons.append(_("Au moins une évaluation est requise avant le comité."))
    kinds = [k for k in call.required_attachments or []]
    unknown = [k for k in kinds if k not in AttachmentKind.values]
    if unknown:
        reasons.append(_("Types de pièces obligatoires inconnus : %(list)s.") % {"list": ", ".join(unknown)})
    if not [k for k in kinds if k in AttachmentKind.values]:
        reasons.append(_("Indiquez au moins une pièce obligatoire d'un type existant."))
    criteria = call.scoring_criteria or []
    if not criteria:
        reasons.append(_("La grille d'évaluation n'a aucun critère."))
    for criterion in criteria:
        try:
            weight = Decimal(str(criterion.get("weight", 1)))
        except ArithmeticError:
            weight = Decimal(0)
        if not weight > 0:
            reasons.append(
                _("Le critère « %(label)s » a un poids de %(weight)s : les poids doivent être positifs.")
                % {"label": criterion.get("label") or criterion.get("code"), "weight": criterion.get("weight")}
            )
    known = set(call.eligible_countries.values_list("iso2", flat=True))
    if "FR" in known:
        reasons.append(_("La France ne peut pas être un pays éligible : les pays sont ceux des partenaires étrangers."))
    for question in call.questions.all():
        if question.type in CallQuestion.CHOICE_TYPES and len(question.choices or []) < 2:
            reasons.append(
                _("La question « %(label)s » est à choix mais propose moins de deux choix.") % {"label": question.label}
            )
    return reasons


def _publish_guard(call: Call, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    return publication_unmet(call, now=ctx.now)


def _archive_guard(call: Call, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    pending = Application.objects.filter(call=call, state__in=IN_PROGRESS).count()
    if pending:
        return [_("%(n)s dossier(s) de cet appel sont encore en cours d'instruction.") % {"n": pending}]
    return []


PUBLISH = Spec(
    Call,
    "publish",
    (Role.INSTRUCTOR, Role.ADMIN),
    gettext_lazy("Publier l'appel"),
    guard=_publish_guard,
    history_label=gettext_lazy("Appel publié"),
    confirm=gettext_lazy("Une fois publié, seule la date de clôture pourra être reportée. Publier ?"),
)
CLOSE = Spec(
    Call,
    "close",
    (Role.INSTRUCTOR, Role.ADMIN),
    gettext_lazy("Clore l'appel"),
    history_label=gettext_lazy("Appel clos"),
    confirm=gettext_lazy("Un appel clos ne reçoit plus de dossiers. Clore ?"),
)
ARCHIVE = Spec(
    Call,
    "archive",
    (Role.INSTRUCTOR, Role.ADMIN),
    gettext_lazy("Archiver l'appel"),
    guard=_archive_guard,
    history_label=gettext_lazy("Appel archivé"),
)
CREATED = Spec(Call, "create", (Role.INSTRUCTOR, Role.ADMIN), history_label=gettext_lazy("Appel créé"), fsm=False)

CALL_TRANSITIONS = {"publish": PUBLISH, "close": CLOSE, "archive": ARCHIVE}
SPECS = (*CALL_TRANSITIONS.values(), CREATED)
