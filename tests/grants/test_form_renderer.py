"""The forms' renderer writes a <select> in Python: the same markup as Django's templates,
byte for byte, for every kind of select the product has and hostile text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from grants.models import Country
from grants.web.form_renderer import FormRenderer

HOSTILE = "<script>alert(\"x\")</script> & 'quotes'"


class Everything(forms.Form):
    plain = forms.ChoiceField(choices=[("", "—"), ("a", "A"), ("b", HOSTILE), (HOSTILE, "value hostile")])
    lazy = forms.ChoiceField(choices=[("fr", gettext_lazy("Pays")), ("x", gettext_lazy("Tous les pays"))])
    numbers = forms.TypedChoiceField(choices=[(1, 1), (2, 2), (2026, 2026), (12345, Decimal("12345.50"))], coerce=int)
    dates = forms.ChoiceField(choices=[("d", dt.date(2026, 12, 1))])
    grouped = forms.ChoiceField(
        choices=[("Europe", [("pl", "Pologne"), ("de", "Allemagne")]), (HOSTILE, [("x", "X")]), ("z", "Seul")]
    )
    many = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B"), ("c", "C")], required=False)
    optional = forms.NullBooleanField()
    attrs = forms.ChoiceField(
        choices=[("a", "A")],
        widget=forms.Select(attrs={"class": "fr-select", "data-x": HOSTILE, "disabled": True, "hidden": False}),
    )
    safe = forms.ChoiceField(choices=[(mark_safe("<b>v</b>"), mark_safe("<i>safe</i>"))])
    country = forms.ModelChoiceField(queryset=Country.objects.order_by("iso2")[:5], required=False)


BOUND = {"plain": "b", "numbers": "2026", "grouped": "de", "many": ["a", "c"], "optional": "true", "country": "SN"}


@pytest.mark.parametrize("data", [None, BOUND, {"plain": HOSTILE, "many": [HOSTILE]}])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_select_is_django_s_markup_byte_for_byte(db, data, language) -> None:
    with translation.override(language):
        for name in Everything.base_fields:
            ours = Everything(data, renderer=FormRenderer())[name]
            django = Everything(data, renderer=DjangoTemplates())[name]
            assert str(ours.as_widget()) == str(django.as_widget()), name


def test_hostile_text_is_escaped_and_the_renderer_is_the_site_s(db) -> None:
    from django.forms.renderers import get_default_renderer

    assert isinstance(get_default_renderer(), FormRenderer)
    html = str(Everything({"plain": "b"})["plain"].as_widget())
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quotes&#x27;" in html
    assert '<option value="b" selected>' in html


def test_a_widget_with_its_own_option_template_is_left_to_django(db) -> None:
    class Custom(forms.Select):
        option_template_name = "django/forms/widgets/radio_option.html"

    class F(forms.Form):
        x = forms.ChoiceField(choices=[("a", "A")], widget=Custom)

    assert str(F(renderer=FormRenderer())["x"].as_widget()) == str(F(renderer=DjangoTemplates())["x"].as_widget())
