"""The preferences form: parses the input; the rules live in services.preferences_update."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from notifications.models import Category, Mode

HOURS = [(h, f"{h:02d}:00") for h in range(24)]


def field_name(category: str) -> str:
    return f"mode_{category}"


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(label=_("Langue des courriels"), choices=settings.LANGUAGES)
    digest_hour = forms.TypedChoiceField(
        label=_("Heure du récapitulatif quotidien (heure de Paris)"), choices=HOURS, coerce=int
    )

    def __init__(self, *args: Any, categories: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.categories = categories
        labels = dict(Category.choices)
        for category in categories:
            self.fields[field_name(category)] = forms.ChoiceField(
                label=labels[category], choices=Mode.choices, widget=forms.RadioSelect, required=True
            )

    def modes(self) -> dict[str, str]:
        out = {c: self.cleaned_data[field_name(c)] for c in self.categories}
        # A locked category is not offered, but a hand-made request may still send it:
        # pass it on so the service refuses it with its reason.
        raw = self.data.get(field_name(Category.LEGAL))
        if raw:
            out[Category.LEGAL] = str(raw)
        return out
