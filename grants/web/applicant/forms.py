"""Web forms of the applicant portal.

They only carry what the browser sends into the shape the domain expects (the API's
application body) and give each field its DSFR look; every rule is checked by
``grants.writes.drafts`` (typing of the application's fields) and ``grants.budget`` /
``grants.services`` (submission rules). Errors the domain returns are put back on the
field they concern (``apply_domain_errors``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.utils.translation import gettext_lazy as _

from grants.models import GENDER_MARKERS, Application, AttachmentKind, BudgetLine, Country
from grants.reference_data import collation_key
from grants.services import parse_amount
from grants.writes.drafts import TEXT_FIELDS
from workflows.engine import Invalid

LIST_SEPARATORS = re.compile(r"[,;\n]+")


class DsfrFormMixin:
    """Gives every widget its DSFR class; the templates render label, hint and error
    with the ids Django puts in ``aria-describedby`` (``<id>_helptext``, ``<id>_error``)."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.RadioSelect | forms.CheckboxSelectMultiple):
                continue
            if isinstance(widget, forms.FileInput):
                widget.attrs.setdefault("class", "fr-upload")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "fr-select")
            else:
                widget.attrs.setdefault("class", "fr-input")


def apply_domain_errors(form: forms.Form, errors: dict[str, list[str]], mapping: dict[str, str] | None = None) -> None:
    """Attach the domain's ``{field: [messages]}`` to the form's fields (unknown keys
    become errors of the whole form, so nothing the domain said is lost)."""
    mapping = mapping or {}
    for key, messages in errors.items():
        name = mapping.get(key, key)
        for message in messages:
            if name in form.fields:
                form.add_error(name, message)
            else:
                form.add_error(None, message)


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in LIST_SEPARATORS.split(value or "") if item.strip()]


# --- accounts -----------------------------------------------------------------------------


class LoginForm(DsfrFormMixin, AuthenticationForm):
    # One message for a wrong password, an unknown account and an inactive one: the page
    # never tells whether an account exists. Repeated failures are refused by the one
    # sign-in policy of every door (security.lockout, django-axes), not here.
    error_messages = {
        "invalid_login": _(
            "Identifiant ou mot de passe incorrect. Vérifiez votre saisie ou utilisez « Mot de passe oublié »."
        ),
        "inactive": _(
            "Identifiant ou mot de passe incorrect. Vérifiez votre saisie ou utilisez « Mot de passe oublié »."
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Identifiant")
        self.fields["username"].widget.attrs["autocomplete"] = "username"
        self.fields["password"].label = _("Mot de passe")
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"


class ResetRequestForm(DsfrFormMixin, PasswordResetForm):
    """Sends at most a few e-mails per account and per address an hour (security.reset);
    past that the same neutral confirmation page, and nothing sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = _("Adresse électronique")
        self.fields["email"].help_text = _("Format attendu : nom@domaine.fr")

    def get_users(self, email: str) -> Iterator[Any]:
        from security import reset

        for user in super().get_users(email):
            if reset.account_allowed(user):
                yield user

    def save(self, *args: Any, **kwargs: Any) -> None:
        from security import reset

        if reset.address_allowed(kwargs.get("request")):
            super().save(*args, **kwargs)


class NewPasswordForm(DsfrFormMixin, SetPasswordForm):  # type: ignore[type-arg]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = _("Nouveau mot de passe")
        self.fields["new_password2"].label = _("Confirmation du nouveau mot de passe")


# --- starting a draft -------------------------------------------------------------------


class StartForm(DsfrFormMixin, forms.Form):
    title = forms.CharField(
        label=_("Titre du projet"),
        max_length=TEXT_FIELDS["title"],
        help_text=_("Vous pourrez le modifier tant que le dossier n'est pas déposé."),
    )


# --- section 1: the project ---------------------------------------------------------------


class ProjectForm(DsfrFormMixin, forms.Form):
    GENDER_CHOICES = [(str(value), label) for value, label in GENDER_MARKERS]

    title = forms.CharField(label=_("Titre du projet"), max_length=TEXT_FIELDS["title"])
    summary = forms.CharField(
        label=_("Résumé"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Quelques phrases : le contexte, ce que le projet change, pour qui."),
    )
    objectives = forms.CharField(label=_("Objectifs"), required=False, widget=forms.Textarea(attrs={"rows": 5}))
    themes = forms.CharField(
        label=_("Thématiques"),
        required=False,
        help_text=_("Séparées par des virgules, par exemple : eau et assainissement, gouvernance locale"),
    )
    sdg_targets = forms.CharField(
        label=_("Cibles des objectifs de développement durable (ODD)"),
        required=False,
        help_text=_("Numéros des cibles séparés par des virgules, par exemple : 6.1, 11.6"),
    )
    gender_marker = forms.ChoiceField(
        label=_("Marqueur genre (CAD de l'OCDE)"),
        choices=GENDER_CHOICES,
        widget=forms.RadioSelect,
        initial="0",
    )
    start_date = forms.CharField(
        label=_("Date de début"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Format attendu : JJ/MM/AAAA"),
    )
    duration_months = forms.CharField(
        label=_("Durée (en mois)"),
        required=False,
        widget=forms.NumberInput(attrs={"min": 1, "max": 120, "inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, call: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if call is not None:
            self.fields["duration_months"].help_text = _("Entre %(min)s et %(max)s mois pour cet appel") % {
                "min": call.min_duration_months,
                "max": call.max_duration_months,
            }

    @staticmethod
    def initial_for(app: Application) -> dict[str, Any]:
        return {
            "title": app.title,
            "summary": app.summary,
            "objectives": app.objectives,
            "themes": ", ".join(app.themes or []),
            "sdg_targets": ", ".join(app.sdg_targets or []),
            "gender_marker": str(app.gender_marker),
            "start_date": app.start_date.isoformat() if app.start_date else "",
            "duration_months": app.duration_months or "",
        }

    def to_data(self) -> dict[str, Any]:
        c = self.cleaned_data
        return {
            "title": c["title"],
            "summary": c["summary"],
            "objectives": c["objectives"],
            "themes": _split_list(c["themes"]),
            "sdg_targets": _split_list(c["sdg_targets"]),
            "gender_marker": c["gender_marker"],
            "start_date": c["start_date"].strip(),
            "duration_months": c["duration_months"].strip(),
        }


# --- section 2: partners and countries -------------------------------------------------


def set_choices(field: forms.Field, choices: list[tuple[Any, Any]]) -> None:
    if not isinstance(field, forms.ChoiceField):  # pragma: no cover - programming error
        raise TypeError(field)
    field.choices = choices


def country_choices() -> list[tuple[str, Any]]:
    countries = sorted(
        Country.objects.exclude(iso2="FR").only("iso2", "name_fr", "name_en"), key=lambda c: collation_key(c.name)
    )
    return [("", _("Choisir un pays"))] + [(c.iso2, c.name) for c in countries]


class PartnerForm(DsfrFormMixin, forms.Form):
    name = forms.CharField(label=_("Collectivité partenaire"), max_length=200, required=False)
    country = forms.ChoiceField(label=_("Pays"), required=False)
    DELETE = forms.BooleanField(label=_("Retirer ce partenaire"), required=False)
    SIGNIFICANT = ("name", "country")

    def __init__(self, *args: Any, countries: list[tuple[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self.fields["country"], list(countries or []))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("DELETE"):
            return cleaned
        name, country = cleaned.get("name", "").strip(), cleaned.get("country", "")
        if country and not name:
            self.add_error("name", _("Indiquez le nom de la collectivité partenaire."))
        if name and not country:
            self.add_error("country", _("Choisissez le pays de ce partenaire."))
        return cleaned


class BaseRowsFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    """Rows entered in a table; a row left empty (or ticked for removal) is ignored."""

    def _construct_form(self, i: int, **kwargs: Any) -> Any:
        # Every row is validated, even an extra one equal to its initial values: a row
        # is kept or ignored by its content (rows()), never by whether it "changed".
        kwargs["empty_permitted"] = False
        return super()._construct_form(i, **kwargs)  # type: ignore[misc]

    def rows(self) -> list[dict[str, Any]]:
        result = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE"):
                continue
            if not any(str(data.get(name) or "").strip() for name in form.SIGNIFICANT):
                continue
            result.append(data)
        return result


PartnerFormSet = forms.formset_factory(PartnerForm, formset=BaseRowsFormSet, extra=1, max_num=50)


# --- section 3: budget --------------------------------------------------------------------


def amount_input(amount: Decimal) -> str:
    """Decimal → "15 000,50" for an input (plain spaces: what people type, and what the
    domain's parser reads back)."""
    units, _sep, cents = f"{amount:.2f}".partition(".")
    groups: list[str] = []
    while len(units) > 3:
        groups.insert(0, units[-3:])
        units = units[:-3]
    groups.insert(0, units)
    return f"{' '.join(groups)},{cents}"


class AmountField(forms.CharField):
    """A euro amount typed the French way ("15 000,50"), read by the domain's own parser."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"})
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        # Amounts copied from the page carry narrow no-break spaces between thousands.
        text = super().clean(value).replace("\u202f", "").strip()
        if not text:
            return ""
        try:
            amount = parse_amount(text, "amount")
        except Invalid as exc:
            raise forms.ValidationError(exc.errors["amount"][0]) from None
        return f"{amount:f}"


class BudgetLineForm(DsfrFormMixin, forms.Form):
    year = forms.TypedChoiceField(label=_("Année"), coerce=int, required=False)
    category = forms.ChoiceField(label=_("Catégorie"), choices=BudgetLine.Category.choices, required=False)
    label = forms.CharField(label=_("Libellé"), max_length=250, required=False)
    amount = AmountField(label=_("Montant (€)"))
    country = forms.ChoiceField(label=_("Pays"), required=False)
    DELETE = forms.BooleanField(label=_("Supprimer cette ligne"), required=False)
    SIGNIFICANT = ("label", "amount")

    def __init__(
        self,
        *args: Any,
        years: int = 3,
        countries: list[tuple[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self.fields["year"], [(n, _("Année %(n)s") % {"n": n}) for n in range(1, years + 1)])
        set_choices(self.fields["country"], [("", _("Tous les pays")), *list(countries or [])])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("DELETE"):
            return cleaned
        label, amount = cleaned.get("label", "").strip(), cleaned.get("amount", "")
        if (label or amount) and not self.errors:
            if not label:
                self.add_error("label", _("Indiquez le libellé de la dépense."))
            if not amount:
                self.add_error("amount", _("Indiquez le montant de la dépense."))
            if not cleaned.get("year"):
                self.add_error("year", _("Choisissez l'année du projet."))
            if not cleaned.get("category"):
                self.add_error("category", _("Choisissez une catégorie."))
        return cleaned


BudgetLineFormSet = forms.formset_factory(BudgetLineForm, formset=BaseRowsFormSet, extra=2, max_num=200)


class FundingForm(DsfrFormMixin, forms.Form):
    own_cash = AmountField(
        label=_("Apport en numéraire des collectivités françaises"),
        help_text=_("En euros, par exemple : 15 000,00"),
    )
    own_in_kind = AmountField(
        label=_("Valorisation des collectivités françaises"),
        help_text=_("Apport en nature : temps de travail des agents, mise à disposition de locaux…"),
    )
    partner = AmountField(label=_("Apport des partenaires étrangers"))
    other = AmountField(label=_("Autres cofinancements"))
    requested = AmountField(
        label=_("Montant demandé à la délégation"),
        help_text=_("La délégation ne finance qu'en numéraire."),
    )

    FIELD_OF = {
        "own_cash": "own_cash",
        "own_in_kind": "own_in_kind",
        "partner": "partner_funding",
        "other": "other_funding",
        "requested": "requested_amount",
    }

    @classmethod
    def initial_for(cls, app: Application) -> dict[str, str]:
        return {key: amount_input(getattr(app, attr)) for key, attr in cls.FIELD_OF.items()}

    def to_data(self) -> dict[str, str]:
        return {key: (self.cleaned_data.get(key) or "0") for key in self.FIELD_OF}


# --- section 4: attachments -----------------------------------------------------------------


class AttachmentForm(DsfrFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Type de pièce"), choices=AttachmentKind.choices)
    file = forms.FileField(
        label=_("Fichier"),
        required=True,
        allow_empty_file=True,
        # A hint for the file picker only: the content is sniffed by grants.writes.drafts.
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.odt,.ods,.docx,.xlsx,.png,.jpg,.jpeg"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "Formats acceptés : PDF, ODT, ODS, DOCX, XLSX, PNG, JPEG. Taille maximale : %(mb)s Mo."
        ) % {"mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)}
        self.fields["file"].error_messages["required"] = _("Choisissez un fichier à joindre.")
        self.fields["file"].error_messages["empty"] = _("Le fichier est vide.")


# --- withdrawal -----------------------------------------------------------------------------


class WithdrawForm(DsfrFormMixin, forms.Form):
    comment = forms.CharField(
        label=_("Motif du retrait (facultatif)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
