"""Turnkey programmes (grants.variants TURNKEY): an association or a GIP carries the
programme for its member French authorities, each joining by a council resolution; the
members' contributions are the French authorities' own contribution."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from grants import budget
from grants.models import Application, AttachmentKind, Call, Country, Organisation, Region, Role
from grants.writes import drafts
from tests.factories import PDF_BYTES, UserFactory, World, grant
from workflows.engine import Conflict, Invalid

pytestmark = pytest.mark.django_db
S = Application.State

MEMBERS = [
    {"name": "Ville de Grenoble", "siren": "213801855", "region": "84", "contribution": "4000.00"},
    {"name": "Ville de Valence", "siren": "212603625", "region": "84", "contribution": "3000.00"},
    {"name": "Ville d'Annecy", "siren": "200063402", "region": "84", "contribution": "3000.00"},
]


class TurnkeyWorld(World):
    def __init__(self, **settings: Any) -> None:
        super().__init__(kind=Call.Kind.TURNKEY, required_attachments=["partnership_agreement"], **settings)
        self.association = Organisation.objects.create(
            name="Cités Unies Auvergne-Rhône-Alpes",
            kind=Organisation.Kind.ASSOCIATION,
            siren="775672272",
            region=Region.objects.get(code="84"),
            country=Country.objects.get(iso2="FR"),
        )
        self.carrier = UserFactory(username="association")
        grant(self.carrier, Role.APPLICANT, organisation=self.association)

    def programme(self, members: list[dict[str, Any]], *, resolutions: bool = True, **funding: str) -> Application:
        """A draft of the association: its members' contributions replace part of its own cash."""
        app = self.draft(self.carrier)
        data: dict[str, Any] = {"members": members}
        if funding:
            data["budget"] = {"funding": funding}
        else:  # 20 000 € of French contribution: 10 000 € by the members, 10 000 € by the association
            data["budget"] = {"funding": {"own_cash": "5000.00", "own_in_kind": "5000.00"}}
        drafts.application_update(application_id=app.pk, user=self.carrier, data=data)
        if resolutions:
            for member in app.members.all():
                drafts.attachment_add(
                    application_id=app.pk,
                    user=self.carrier,
                    kind=AttachmentKind.COUNCIL_RESOLUTION,
                    name=f"deliberation-{member.siren}.pdf",
                    content=PDF_BYTES,
                    member=member.pk,
                )
        return Application.objects.get(pk=app.pk)


@pytest.fixture
def world() -> TurnkeyWorld:
    return TurnkeyWorld()


def test_a_programme_with_enough_members_and_their_resolutions_is_submitted(world: TurnkeyWorld) -> None:
    app = world.programme(MEMBERS)
    assert [m.name for m in app.members.all()] == [m["name"] for m in MEMBERS]
    app = world.fire(app, "submit", world.carrier)
    assert app.state == S.SUBMITTED
    members = app.snapshots.get().data["members"]
    assert [m["siren"] for m in members] == [m["siren"] for m in MEMBERS]
    assert all(m["resolution"].startswith("deliberation-") for m in members)


def test_fewer_members_than_the_call_requires_is_refused_with_the_numbers(world: TurnkeyWorld) -> None:
    app = world.programme(MEMBERS[:2])
    with pytest.raises(Conflict) as refused:
        world.fire(app, "submit", world.carrier)
    assert "Le programme compte 2 collectivité(s) membre(s) ; l'appel en exige au moins 3." in refused.value.unmet
    assert Application.objects.get(pk=app.pk).state == S.DRAFT


def test_a_missing_council_resolution_is_refused_naming_the_member(world: TurnkeyWorld) -> None:
    app = world.programme(MEMBERS, resolutions=False)
    valence = app.members.get(siren="212603625")
    for member in app.members.exclude(pk=valence.pk):
        drafts.attachment_add(
            application_id=app.pk,
            user=world.carrier,
            kind=AttachmentKind.COUNCIL_RESOLUTION,
            name="deliberation.pdf",
            content=PDF_BYTES,
            member=member.pk,
        )
    with pytest.raises(Conflict) as refused:
        world.fire(app, "submit", world.carrier)
    assert refused.value.unmet == ["Délibération manquante pour la collectivité membre : Ville de Valence."]


def test_removing_a_member_takes_its_resolution_and_keeps_the_others(world: TurnkeyWorld) -> None:
    app = world.programme(MEMBERS)
    kept = app.members.get(siren=MEMBERS[0]["siren"])
    drafts.application_update(application_id=app.pk, user=world.carrier, data={"members": MEMBERS[:2]})
    assert app.members.count() == 2 and app.members.get(siren=MEMBERS[0]["siren"]).pk == kept.pk
    assert app.attachments.filter(kind=AttachmentKind.COUNCIL_RESOLUTION).count() == 2


def test_a_french_authority_cannot_carry_a_turnkey_programme(world: TurnkeyWorld) -> None:
    app = world.draft(world.applicant)  # Ville de Lyon
    drafts.application_update(application_id=app.pk, user=world.applicant, data={"members": MEMBERS})
    with pytest.raises(Conflict) as refused:
        world.fire(app, "submit", world.applicant)
    assert any("association ou un groupement d'intérêt public" in r for r in refused.value.unmet)


def test_members_are_refused_on_another_call() -> None:
    world = World()
    app = world.draft()
    with pytest.raises(Invalid) as refused:
        drafts.application_update(application_id=app.pk, user=world.applicant, data={"members": MEMBERS})
    assert "programme clé en main" in refused.value.errors["members"][0]


def test_bad_member_rows_get_their_field_and_reason(world: TurnkeyWorld) -> None:
    app = world.draft(world.carrier)
    bad = [{"name": "", "siren": "12", "contribution": "-5"}, {**MEMBERS[0]}, {**MEMBERS[0]}]
    with pytest.raises(Invalid) as refused:
        drafts.application_update(application_id=app.pk, user=world.carrier, data={"members": bad})
    errors = refused.value.errors
    assert errors["members.0.name"] == ["Membre n° 1 : le nom est obligatoire."]
    assert errors["members.0.siren"] == ["Membre n° 1 : le SIREN compte 9 chiffres."]
    assert "négatif" in errors["members.0.contribution"][0]
    assert "déjà dans la liste" in errors["members.2.siren"][0]


def test_the_members_contributions_count_as_the_french_authorities_own_contribution(world: TurnkeyWorld) -> None:
    # Budget 100 000 €, minimum own contribution 10 %: the association puts 2 000 € in cash,
    # its members 10 000 €; without them the rule would fail.
    app = world.programme(
        MEMBERS, own_cash="2000.00", own_in_kind="0.00", partner="10000.00", other="53000.00", requested="25000.00"
    )
    fig = budget.figures(app)
    assert fig.members_contribution == Decimal("10000.00")
    assert fig.own_contribution == Decimal("12000.00")
    results = {r.code: r for r in budget.evaluate(app)}
    assert results["own_contribution"].ok, results["own_contribution"].message
    assert "12 000,00" in results["own_contribution"].message.replace("\u202f", " ").replace("\u00a0", " ")
    assert results["balance"].ok, results["balance"].message
    # Without the members' part the association's 2 000 € are below 10 %.
    drafts.application_update(application_id=app.pk, user=world.carrier, data={"members": []})
    results = {r.code: r for r in budget.evaluate(Application.objects.get(pk=app.pk))}
    assert not results["own_contribution"].ok


def test_the_deposit_receipt_lists_the_members_as_submitted(world: TurnkeyWorld) -> None:
    from grants.documents import issuing, pdf

    app = world.fire(world.programme(MEMBERS), "submit", world.carrier)
    context = issuing.receipt_context(app.snapshots.get(), code="RECEIPT")
    text = pdf.render_template_html("pdf/deposit_receipt.html", context).replace("\u202f", " ").replace("\u00a0", " ")
    assert "Collectivités membres du programme" in text
    assert "Ville de Grenoble" in text and "213801855" in text and "4 000,00 €" in text
    assert "deliberation-212603625.pdf" in text
