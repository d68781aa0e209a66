"""A call's own questions (issue 15): what a call asks beyond the common application
form, in French and English. Answers live on the application (``Application.answers``,
``{code: value}``) and are checked by one validator, ``grants.answers``.

Imported at the bottom of ``grants.models`` so that Django sees the model.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from workflows.model_mixins import ChoiceLabels


class CallQuestion(ChoiceLabels, models.Model):
    class Type(models.TextChoices):
        TEXT = "text", _("Texte court")
        LONG_TEXT = "long_text", _("Texte long")
        CHOICE = "choice", _("Choix unique")
        MULTIPLE_CHOICE = "multiple_choice", _("Choix multiple")
        NUMBER = "number", _("Nombre")
        DATE = "date", _("Date")
        YES_NO = "yes_no", _("Oui / non")

    CHOICE_TYPES = (Type.CHOICE, Type.MULTIPLE_CHOICE)

    call = models.ForeignKey("grants.Call", on_delete=models.CASCADE, related_name="questions")
    code = models.SlugField(_("code"), max_length=40)
    label = models.CharField(_("libellé"), max_length=300)
    label_en = models.CharField(_("libellé (anglais)"), max_length=300, blank=True)
    help = models.TextField(_("aide"), blank=True)
    help_en = models.TextField(_("aide (anglais)"), blank=True)
    type = models.CharField(_("type de réponse"), max_length=16, choices=Type.choices, default=Type.TEXT)
    # [{"value": "a", "label": "…", "label_en": "…"}], for choice and multiple_choice.
    choices = models.JSONField(_("choix proposés"), default=list, blank=True)
    required = models.BooleanField(_("réponse obligatoire"), default=False)
    min_value = models.DecimalField(_("minimum"), max_digits=14, decimal_places=2, null=True, blank=True)
    max_value = models.DecimalField(_("maximum"), max_digits=14, decimal_places=2, null=True, blank=True)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        ordering = ["call", "position", "pk"]
        verbose_name = _("question de l'appel")
        verbose_name_plural = _("questions de l'appel")
        constraints = [
            models.UniqueConstraint(fields=["call", "code"], name="callquestion_code_unique_per_call"),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(min_value__lte=models.F("max_value")),
                name="callquestion_bounds",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.label}"

    @property
    def english(self) -> bool:
        return (get_language() or "fr").startswith("en")

    @property
    def display_label(self) -> str:
        """The label in the reader's language (French when no English is given)."""
        return self.label_en if self.english and self.label_en else self.label

    @property
    def display_help(self) -> str:
        return self.help_en if self.english and self.help_en else self.help

    def choice_options(self) -> list[tuple[str, str]]:
        """(value, label in the reader's language) of each offered choice."""
        out = []
        for item in self.choices or []:
            label = item.get("label_en") if self.english and item.get("label_en") else item.get("label")
            out.append((str(item.get("value")), str(label or item.get("value"))))
        return out

    def as_dict(self) -> dict[str, Any]:
        """The question as the API and the duplicate copy it."""
        return {
            "code": self.code,
            "label": self.label,
            "label_en": self.label_en,
            "help": self.help,
            "help_en": self.help_en,
            "type": self.type,
            "choices": list(self.choices or []),
            "required": self.required,
            "min": f"{self.min_value:f}" if self.min_value is not None else None,
            "max": f"{self.max_value:f}" if self.max_value is not None else None,
            "position": self.position,
        }
