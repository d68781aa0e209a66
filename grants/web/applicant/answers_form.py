"""The applicant's answers to the call's own questions (issue 15): one form field per
question, shown in a fieldset of the "Le projet" section when the call asks any. The
form only carries the browser's input; ``grants.answers`` (through
``grants.writes.drafts``) checks it, and the submission requires the required ones."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from grants.models import Application
from grants.questions import CallQuestion
from grants.web.applicant.forms import DsfrFormMixin

Q = CallQuestion.Type
PREFIX = "answer_"
YES_NO = [("", _("— Sans réponse —")), ("yes", _("Oui")), ("no", _("Non"))]


def field_for(question: CallQuestion) -> forms.Field:
    label = question.display_label + (" *" if question.required else "")
    common: dict[str, Any] = {"label": label, "help_text": question.display_help, "required": False}
    if question.type == Q.LONG_TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), **common)
    if question.type == Q.CHOICE:
        return forms.ChoiceField(choices=[("", _("— Choisir —")), *question.choice_options()], **common)
    if question.type == Q.MULTIPLE_CHOICE:
        return forms.MultipleChoiceField(
            choices=question.choice_options(), widget=forms.CheckboxSelectMultiple, **common
        )
    if question.type == Q.YES_NO:
        return forms.ChoiceField(choices=YES_NO, **common)
    if question.type == Q.DATE:
        return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if question.type == Q.NUMBER:
        return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common)
    return forms.CharField(**common)


class AnswersForm(DsfrFormMixin, forms.Form):
    def __init__(self, *args: Any, questions: list[CallQuestion], answers: dict[str, Any], **kwargs: Any) -> None:
        self.questions = questions
        initial = {}
        for question in questions:
            value = answers.get(question.code)
            if question.type == Q.YES_NO and isinstance(value, bool):
                value = "yes" if value else "no"
            initial[PREFIX + question.code] = value
        super().__init__(*args, initial=initial, **kwargs)
        for question in questions:
            self.fields[PREFIX + question.code] = field_for(question)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.Select) and not isinstance(widget, forms.CheckboxSelectMultiple):
                widget.attrs.setdefault("class", "fr-select")
            elif not isinstance(widget, forms.CheckboxInput | forms.RadioSelect | forms.CheckboxSelectMultiple):
                widget.attrs.setdefault("class", "fr-input")

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for question in self.questions:
            value = self.cleaned_data.get(PREFIX + question.code)
            if question.type == Q.YES_NO:
                value = {"yes": True, "no": False}.get(value or "")
            out[question.code] = value
        return {"answers": out}

    def apply_errors(self, errors: dict[str, list[str]]) -> list[str]:
        """Put ``answers.<code>`` errors on their fields; return the others."""
        rest: list[str] = []
        for key, messages in errors.items():
            name = PREFIX + key.split(".", 1)[1] if key.startswith("answers.") else ""
            for message in messages:
                if name in self.fields:
                    self.add_error(name, _without_label(message))
                elif key.startswith("answers"):
                    rest.append(message)
        return rest


_LABEL_PREFIX = re.compile(r"^[«“][^»”]*[»”]\s*:\s*")


def _without_label(message: str) -> str:
    """The reason alone: next to its field (and in the summary, which names the field),
    the question's label would be said twice."""
    reason = _LABEL_PREFIX.sub("", str(message), count=1)
    return reason[:1].upper() + reason[1:]


def answers_form(application: Application, data: Any = None) -> AnswersForm | None:
    questions = list(application.call.questions.all())
    if not questions:
        return None
    return AnswersForm(data, questions=questions, answers=application.answers or {})
