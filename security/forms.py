from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class CodeForm(forms.Form):
    """The current 6-digit code of the authenticator app."""

    code = forms.RegexField(
        regex=r"^\d{6}$",
        label=_("Code à 6 chiffres"),
        help_text=_("Celui que montre votre application d'authentification en ce moment."),
        error_messages={"invalid": _("Le code fait 6 chiffres.")},
        max_length=6,
        strip=True,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        widget = self.fields["code"].widget
        widget.attrs.update(
            {"class": "fr-input", "autocomplete": "one-time-code", "inputmode": "numeric", "pattern": r"\d{6}"}
        )
