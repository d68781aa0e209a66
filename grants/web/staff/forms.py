"""Forms of the staff workspaces.

They only collect what the user typed and render it with the design system: the rules
(required texts, amounts, dates in the future, envelopes…) are checked by the services,
whose per-field messages are put back on these forms (``common.apply_errors``). A
transition's form is built from the payload fields its Spec declares, so a field is
marked required exactly when the service requires it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm
from dsfr.widgets import InlineRadioSelect

from grants.machines.application import APPROVE, DEFER, REJECT
from grants.models import Call, CommitteeSession, Country, OpinionRequest, Review
from grants.scoring import criterion_label
from workflows.engine import Field, Spec
from workflows.models import TaskKind

TEXTAREA = forms.Textarea(attrs={"rows": 3})


class StaffForm(DsfrBaseForm):
    """A design-system form whose fields are all optional unless stated."""


# --- inbox ----------------------------------------------------------------------------------


class InboxFilterForm(StaffForm):
    call = forms.ChoiceField(label=_("Appel à projets"), required=False)
    kind = forms.ChoiceField(label=_("Type de tâche"), required=False)
    country = forms.ChoiceField(label=_("Pays"), required=False)

    def __init__(
        self, *args: Any, calls: list[Call], countries: list[Country], kinds: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["call"].choices = [("", _("Tous les appels"))] + [(c.code, c.code) for c in calls]
        labels = dict(TaskKind.choices)
        self.fields["kind"].choices = [("", _("Toutes les tâches")), *((kind, labels[kind]) for kind in kinds)]
        self.fields["country"].choices = [("", _("Tous les pays"))] + [(c.iso2, c.name) for c in countries]


# --- transitions: each form is built from its Spec's payload fields -------------------------


#: The payload fields a web form shows (a custom tranche schedule is the API's).
WEB_KINDS = frozenset({"text", "longtext", "date", "amount", "session", "reviewer"})


def _form_field(field: Field, *, sessions: list[CommitteeSession], reviewers: list[tuple[str, str]]) -> forms.Field:
    common: dict[str, Any] = {"label": field.label, "help_text": field.help, "required": field.required}
    if field.kind == "longtext":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    if field.kind == "date":
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if field.kind == "amount":
        # Typed as text: the service reads French amounts ("25 000,50") exactly.
        return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}), **common)
    if field.kind == "session":
        choices = [("", _("Choisir un comité"))] + [(str(s.pk), str(s)) for s in sessions]
        return forms.ChoiceField(choices=choices, **common)
    if field.kind == "reviewer":
        return forms.ChoiceField(choices=[("", _("Choisir un évaluateur")), *reviewers], **common)
    return forms.CharField(**common)


def action_form(
    spec: Spec,
    data: Any = None,
    *,
    initial: dict[str, Any] | None = None,
    sessions: list[CommitteeSession] | None = None,
    reviewers: list[tuple[str, str]] | None = None,
    exclude: frozenset[str] = frozenset(),
) -> StaffForm:
    """The form of ``spec``'s payload (prefixed by its name), from its declared fields
    (``exclude``: those the subject's call variant does not ask for)."""
    fields = {
        f.name: _form_field(f, sessions=sessions or [], reviewers=reviewers or [])
        for f in spec.fields
        if f.kind in WEB_KINDS and f.name not in exclude
    }
    form_class = type(f"{spec.name.title().replace('_', '')}Form", (StaffForm,), fields)
    form: StaffForm = form_class(data, prefix=spec.name, initial=initial)
    return form


def payload_from(form: forms.Form) -> dict[str, Any]:
    """The service payload from a validated form: names are the contract's; dates as ISO."""
    payload: dict[str, Any] = {}
    for name, value in form.cleaned_data.items():
        if value in (None, ""):
            continue
        payload[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return payload


# --- opinions and reviews -------------------------------------------------------------------


class OpinionForm(StaffForm):
    verdict = forms.ChoiceField(
        label=_("Avis"), choices=OpinionRequest.Verdict.choices, widget=forms.RadioSelect, required=True
    )
    comment = forms.CharField(
        label=_("Commentaire"),
        help_text=_("Obligatoire pour un avis réservé ou défavorable. Jamais communiqué au porteur de projet."),
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
    )

    def __init__(self, *args: Any, partner: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if partner:
            # A joint fund's partner government validates the project: its own words.
            self.fields["verdict"].label = _("Validation du projet")
            self.fields["comment"].help_text = _(
                "Obligatoire pour une validation réservée ou défavorable. Un avis défavorable empêche le comité "
                "de retenir le projet. Jamais communiqué au porteur de projet."
            )
            # The design system's init has bound the fields already (labels copied): again.
            self._bound_fields_cache.clear()


SCORE_CHOICES = [(str(n), str(n)) for n in range(6)]


class ReviewForm(StaffForm):
    """The call's scoring grid: one 0–5 choice per criterion, then the recommendation."""

    recommendation = forms.ChoiceField(
        label=_("Recommandation"), choices=Review.Recommendation.choices, widget=forms.RadioSelect, required=True
    )
    comment = forms.CharField(label=_("Commentaire"), widget=forms.Textarea(attrs={"rows": 5}), required=False)

    def __init__(self, *args: Any, criteria: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        grid: dict[str, forms.Field] = {}
        for criterion in criteria:
            grid[f"score_{criterion['code']}"] = forms.ChoiceField(
                label=criterion_label(criterion),
                help_text=_("Pondération : %(weight)s — de 0 (insuffisant) à 5 (excellent)")
                % {"weight": criterion.get("weight", 1)},
                choices=SCORE_CHOICES,
                widget=InlineRadioSelect,
                required=True,
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
        required=True,
    )


class DeclarationForm(StaffForm):
    """The reviewer's declaration on conflict of interest, before reading the application."""

    CHOICES = [
        ("false", _("Je déclare n'avoir aucun conflit d'intérêts avec ce dossier, son porteur ou ses partenaires")),
        ("true", _("J'ai un conflit d'intérêts : je décline l'évaluation")),
    ]

    conflict = forms.ChoiceField(
        label=_("Conflit d'intérêts"), choices=CHOICES, widget=forms.RadioSelect, required=True
    )
    details = forms.CharField(
        label=_("Nature du conflit"),
        help_text=_("Obligatoire en cas de conflit : par exemple un lien avec le porteur ou un partenaire."),
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

    joint_fund = False  # set per row: the call's variant asks for the partner's part

    OUTCOMES = [
        ("", _("— à décider plus tard —")),
        *((spec.name, spec.label) for spec in (APPROVE, REJECT, DEFER)),
    ]

    outcome = forms.ChoiceField(label=_("Décision"), choices=OUTCOMES, required=False)
    amount = forms.CharField(
        label=_("Montant attribué (€)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "class": "fr-input"}),
    )
    # Joint funds only (the template shows it for them): the partner government's part.
    partner_amount = forms.CharField(
        label=_("Cofinancement du gouvernement partenaire (€)"),
        help_text=_("Fonds conjoint : à côté du montant de la délégation, hors enveloppe."),
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
            payload = {"amount": self.cleaned_data.get("amount") or "", "comment": text}
            if self.cleaned_data.get("partner_amount"):
                payload["partner_amount"] = self.cleaned_data["partner_amount"]
            elif self.joint_fund:
                payload["partner_amount"] = ""  # required: the service says so, on the field
            return outcome, payload
        if outcome == "reject":
            return outcome, {"reasons": text}
        return outcome, {"comment": text}


# --- decisions --------------------------------------------------------------------------------


class CommitmentForm(StaffForm):
    commitment_number = forms.CharField(
        label=_("Numéro d'engagement"),
        max_length=64,
        required=True,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
