"""Forms of the staff workspaces.

They only collect what the user typed and render it with the design system: the rules
(required texts, amounts, dates in the future, envelopes…) are checked by the services,
whose per-field messages are put back on these forms (``views_staff_common.apply_errors``).
Fields are therefore optional here unless the type itself must be parsed (a date).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm
from dsfr.widgets import InlineRadioSelect

from grants.models import Call, CommitteeSession, Country, OpinionRequest, Review
from workflows.models import TaskKind

TEXTAREA = forms.Textarea(attrs={"rows": 3})


class StaffForm(DsfrBaseForm):
    """A design-system form whose fields are all optional unless stated."""


# --- inbox ----------------------------------------------------------------------------------


class InboxFilterForm(StaffForm):
    call = forms.ChoiceField(label=_("Appel à projets"), required=False)
    kind = forms.ChoiceField(label=_("Type de tâche"), required=False)
    country = forms.ChoiceField(label=_("Pays"), required=False)

    def __init__(self, *args: Any, calls: list[Call], countries: list[Country], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["call"].choices = [("", _("Tous les appels"))] + [(c.code, c.code) for c in calls]
        self.fields["kind"].choices = [("", _("Toutes les tâches")), *TaskKind.choices]
        self.fields["country"].choices = [("", _("Tous les pays"))] + [(c.iso2, c.name) for c in countries]


# --- application transitions (payload forms, named like the contract's payloads) ----------


class EmptyForm(StaffForm):
    pass


class RequestCompletionForm(StaffForm):
    message = forms.CharField(
        label=_("Compléments demandés"),
        help_text=_("Ce message est envoyé au porteur de projet."),
        widget=TEXTAREA,
        required=False,
    )
    due_date = forms.DateField(
        label=_("Date limite"),
        help_text=_("Par défaut : dans 15 jours."),
        widget=forms.DateInput(attrs={"type": "date"}),
        required=False,
    )


class ReasonForm(StaffForm):
    reason = forms.CharField(label=_("Motif"), widget=TEXTAREA, required=False)


class CommentForm(StaffForm):
    comment = forms.CharField(label=_("Commentaire"), widget=TEXTAREA, required=False)


class CloseOpinionsForm(StaffForm):
    comment = forms.CharField(
        label=_("Motif de la clôture anticipée"),
        help_text=_("Les demandes d'avis encore ouvertes seront annulées."),
        widget=TEXTAREA,
        required=False,
    )


class ScheduleForm(StaffForm):
    session = forms.ChoiceField(label=_("Comité de sélection"), required=False)

    def __init__(self, *args: Any, sessions: list[CommitteeSession] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["session"].choices = [("", _("Choisir un comité"))] + [(str(s.pk), str(s)) for s in sessions or []]


class ApproveForm(StaffForm):
    amount = forms.CharField(
        label=_("Montant attribué (€)"),
        help_text=_("Au plus le montant demandé et le plafond de cofinancement, par ex. 25000,00."),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    comment = forms.CharField(label=_("Commentaire"), widget=TEXTAREA, required=False)


class RejectForm(StaffForm):
    reasons = forms.CharField(label=_("Motifs du rejet"), widget=TEXTAREA, required=False)


ACTION_FORMS: dict[str, type[StaffForm]] = {
    "submit": EmptyForm,
    "resubmit": EmptyForm,
    "request_completion": RequestCompletionForm,
    "declare_ineligible": ReasonForm,
    "declare_eligible": EmptyForm,
    "close_opinions": CloseOpinionsForm,
    "schedule": ScheduleForm,
    "approve": ApproveForm,
    "reject": RejectForm,
    "defer": CommentForm,
    "withdraw": CommentForm,
    "reinstate": ReasonForm,
}


def payload_from(form: forms.Form) -> dict[str, Any]:
    """The service payload from a validated form: names are the contract's; dates as ISO."""
    payload: dict[str, Any] = {}
    for name, value in form.cleaned_data.items():
        if value in (None, ""):
            continue
        payload[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return payload


class AssignReviewerForm(StaffForm):
    reviewer = forms.ChoiceField(label=_("Évaluateur"), required=False)

    def __init__(self, *args: Any, reviewers: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].choices = [("", _("Choisir un évaluateur")), *(reviewers or [])]


# --- opinions and reviews -------------------------------------------------------------------


class OpinionForm(StaffForm):
    verdict = forms.ChoiceField(
        label=_("Avis"), choices=OpinionRequest.Verdict.choices, widget=forms.RadioSelect, required=False
    )
    comment = forms.CharField(
        label=_("Commentaire"),
        help_text=_("Obligatoire pour un avis réservé ou défavorable. Jamais communiqué au porteur de projet."),
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
    )


SCORE_CHOICES = [(str(n), str(n)) for n in range(6)]


class ReviewForm(StaffForm):
    """The call's scoring grid: one 0–5 choice per criterion, then the recommendation."""

    recommendation = forms.ChoiceField(
        label=_("Recommandation"), choices=Review.Recommendation.choices, widget=forms.RadioSelect, required=False
    )
    comment = forms.CharField(label=_("Commentaire"), widget=forms.Textarea(attrs={"rows": 5}), required=False)

    def __init__(self, *args: Any, criteria: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        grid: dict[str, forms.Field] = {}
        for criterion in criteria:
            grid[f"score_{criterion['code']}"] = forms.ChoiceField(
                label=str(criterion.get("label") or criterion["code"]),
                help_text=_("Pondération : %(weight)s — de 0 (insuffisant) à 5 (excellent)")
                % {"weight": criterion.get("weight", 1)},
                choices=SCORE_CHOICES,
                widget=InlineRadioSelect,
                required=False,
            )
        existing = dict(self.fields)
        self.fields.clear()
        self.fields.update({**grid, **existing})
        self.criteria = criteria

    def payload(self) -> dict[str, Any]:
        scores: dict[str, Any] = {}
        for criterion in self.criteria:
            raw = self.cleaned_data.get(f"score_{criterion['code']}")
            if raw not in (None, ""):
                scores[criterion["code"]] = int(raw)
        return {
            "scores": scores,
            "recommendation": self.cleaned_data.get("recommendation") or "",
            "comment": self.cleaned_data.get("comment") or "",
        }


class DeclineForm(StaffForm):
    reason = forms.CharField(
        label=_("Motif"),
        help_text=_("Par exemple : conflit d'intérêts avec le porteur ou un partenaire."),
        widget=TEXTAREA,
        required=False,
    )


# --- committee -------------------------------------------------------------------------------


class SessionCreateForm(StaffForm):
    call = forms.ChoiceField(label=_("Appel à projets"), required=False)
    date = forms.DateField(label=_("Date du comité"), widget=forms.DateInput(attrs={"type": "date"}))
    title = forms.CharField(label=_("Intitulé"), max_length=200, required=False)

    def __init__(self, *args: Any, calls: list[Call], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["call"].choices = [(c.code, str(c)) for c in calls]


class OutcomeRowForm(forms.Form):
    """One agenda row of the batch outcome screen (prefixed by the application's id)."""

    OUTCOMES = [
        ("", _("— à décider plus tard —")),
        ("approve", _("Retenir")),
        ("reject", _("Ne pas retenir")),
        ("defer", _("Ajourner")),
    ]

    outcome = forms.ChoiceField(label=_("Décision"), choices=OUTCOMES, required=False)
    amount = forms.CharField(
        label=_("Montant attribué (€)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "class": "fr-input"}),
    )
    text = forms.CharField(
        label=_("Motifs ou commentaire"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "fr-input"}),
    )

    def payload(self) -> tuple[str, dict[str, Any]] | None:
        outcome = self.cleaned_data.get("outcome") or ""
        if not outcome:
            return None
        text = self.cleaned_data.get("text") or ""
        if outcome == "approve":
            return outcome, {"amount": self.cleaned_data.get("amount") or "", "comment": text}
        if outcome == "reject":
            return outcome, {"reasons": text}
        return outcome, {"comment": text}


# --- decisions --------------------------------------------------------------------------------


class CommitmentForm(StaffForm):
    commitment_number = forms.CharField(
        label=_("Numéro d'engagement"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
