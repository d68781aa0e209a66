"""The forms' renderer: Django's own, with its ``<select>`` written in Python.

Django renders a select through a template per option (``select_option.html``, with an
include of ``attrs.html`` each): a select of the 250 countries on each partner row, of
the call's reviewers on the staff page, cost more than the rest of those pages. This
renderer writes the same markup, byte for byte (tests/grants/test_form_renderer.py
compares it with Django's templates), escaping every name, value and label as the
templates do; any other template, and a select whose options use another template,
is Django's.
"""

from __future__ import annotations

from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.html import conditional_escape

SELECT = "django/forms/widgets/select.html"
OPTION = "django/forms/widgets/select_option.html"


def _shown(value: Any) -> str:
    """``{{ value }}``: localized (a number or a date as the reader writes it), escaped."""
    return str(conditional_escape(localize(value)))


def _attrs(attrs: dict[str, Any]) -> str:
    """``attrs.html``: `` name="value"`` for each attribute, `` name`` for True, nothing for False."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            out.append(f" {_shown(name)}")
        else:  # |stringformat:'s': the text itself, not localized
            out.append(f' {_shown(name)}="{conditional_escape(value)}"')
    return "".join(out)


def render_select(widget: dict[str, Any]) -> str | None:
    """``select.html`` for ``widget`` (a select's template context), or None when one of
    its options has a template of its own."""
    parts = [f'<select name="{_shown(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_shown(group_name)}">')
        for option in group_choices:
            if option.get("template_name") != OPTION:
                return None
            parts.append(
                f'\n  <option value="{conditional_escape(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_shown(option['label'])}</option>\n"
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


class FormRenderer(DjangoTemplates):
    """Django's template renderer (settings.FORM_RENDERER), a select written here."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        if template_name == SELECT and "widget" in context:
            rendered = render_select(context["widget"])
            if rendered is not None:
                return rendered
        return str(super().render(template_name, context, request=request))
