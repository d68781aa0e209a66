"""Interface details users stumbled on: country order, inbox filters, counts, labels."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from grants.models import Application, Country
from grants.reference_data import collation_key
from grants.web.applicant.forms import country_choices
from tests.factories import World

pytestmark = pytest.mark.django_db


def test_countries_are_in_french_alphabetical_order() -> None:
    names = [str(label) for code, label in country_choices() if code]
    assert names == sorted(names, key=collation_key)
    assert names.index("Égypte") < names.index("Équateur") < names.index("Zimbabwe")
    assert names.index("États-Unis") < names.index("Éthiopie") < names.index("Fidji")


def test_greenland_is_spelt_right() -> None:
    assert Country.objects.get(iso2="GL").name_fr == "Groenland"


def test_the_inbox_offers_only_what_the_role_can_have(world: World) -> None:
    world.advance(world.draft(), Application.State.AWAITING_OPINIONS)
    client = Client()
    client.force_login(world.embassy_sn)
    form = client.get(reverse("tasks")).context["form"]
    assert [code for code, _label in form.fields["kind"].choices if code] == ["give_opinion"]
    assert [code for code, _label in form.fields["country"].choices if code] == ["SN"]
    client.force_login(world.instructor)
    form = client.get(reverse("tasks")).context["form"]
    # Instruction, then the grant's life after the commitment (reports to check, amendments).
    kinds = [code for code, _label in form.fields["kind"].choices if code]
    assert kinds == ["check_eligibility", "check_report", "decide_amendment"]
    countries = [code for code, _label in form.fields["country"].choices if code]
    assert len(countries) < 10  # the countries of its open tasks, not ~250


def test_the_gender_marker_is_shown_as_words(world: World) -> None:
    app = world.advance(world.draft(gender_marker=1), Application.State.SUBMITTED)
    client = Client()
    client.force_login(world.instructor)
    html = client.get(reverse("staff-application", args=[app.pk])).content.decode()
    assert "objectif significatif" in html
