"""What changed between two snapshots: pure, on hand-written snapshot data."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from grants.snapshots_diff import ADDED, CHANGED, REMOVED, Change, diff

BASE: dict[str, Any] = {
    "title": "Eau potable à Podor",
    "summary": "Forages.",
    "objectives": "",
    "themes": ["eau"],
    "sdg_targets": ["6.1"],
    "gender_marker": 1,
    "countries": ["SN"],
    "co_applicants": [],
    "partners": [{"name": "Commune de Podor", "country": "SN"}],
    "start_date": "2027-01-01",
    "duration_months": 24,
    "budget": {
        "lines": [
            {"year": 1, "category": "staff", "label": "Expertise", "amount": "50000.00", "country": None},
            {"year": 2, "category": "equipment", "label": "Pompes", "amount": "30000.00", "country": None},
        ],
        "funding": {"own_cash": "15000.00", "own_in_kind": "5000", "partner": "0", "other": "0", "requested": "60000"},
    },
    "attachments": [
        {"kind": "partnership_agreement", "name": "convention.pdf", "sha256": "a"},
        {"kind": "council_resolution", "name": "deliberation.pdf", "sha256": "b"},
    ],
}


def test_identical_snapshots_have_no_changes() -> None:
    assert diff(BASE, copy.deepcopy(BASE)) == []


def test_fields_budget_funding_partners_and_attachments() -> None:
    after = copy.deepcopy(BASE)
    after["summary"] = "Forages et château d'eau."
    after["themes"] = ["eau", "assainissement"]
    after["budget"]["lines"][0]["amount"] = "45000.00"  # the same line, a new amount
    del after["budget"]["lines"][1]
    after["budget"]["lines"].append(
        {"year": 2, "category": "equipment", "label": "Château d'eau", "amount": "35000.00", "country": None}
    )
    after["budget"]["funding"]["requested"] = "55000"
    after["partners"].append({"name": "Région de Saint-Louis", "country": "SN"})
    after["attachments"][1] = {"kind": "council_resolution", "name": "deliberation-signee.pdf", "sha256": "c"}
    after["attachments"].append({"kind": "other", "name": "plan.pdf", "sha256": "d"})

    changes = diff(BASE, after)
    assert Change("fields", CHANGED, "Résumé", "Forages.", "Forages et château d'eau.") in changes
    assert Change("fields", CHANGED, "Thématiques", "eau", "eau, assainissement") in changes
    budget = [c for c in changes if c.section == "budget"]
    assert [(c.kind, c.before, c.after) for c in budget] == [
        (CHANGED, "50000.00", "45000.00"),
        (REMOVED, "30000.00", ""),
        (ADDED, "", "35000.00"),
    ]
    assert "Pompes" in budget[1].label and "Château d'eau" in budget[2].label
    assert Change("funding", CHANGED, "Montant demandé", "60000", "55000") in changes
    assert Change("partners", ADDED, "Région de Saint-Louis (SN)") in changes
    assert Change("attachments", CHANGED, "Délibération", "deliberation.pdf", "deliberation-signee.pdf") in changes
    assert Change("attachments", ADDED, "Autre", after="plan.pdf") in changes
    assert len(changes) == 9


def test_a_file_replaced_by_the_same_content_under_another_name_and_removed_items() -> None:
    after = copy.deepcopy(BASE)
    after["partners"] = []
    after["attachments"] = [BASE["attachments"][0], BASE["attachments"][0]]  # two copies of one file
    changes = diff(BASE, after)
    assert Change("partners", REMOVED, "Commune de Podor (SN)") in changes
    assert Change("attachments", REMOVED, "Délibération", before="deliberation.pdf") in changes
    assert Change("attachments", ADDED, "Convention de partenariat", after="convention.pdf") in changes


def test_missing_keys_are_read_as_empty() -> None:
    changes = diff({}, {"title": "Nouveau"})
    assert changes == [Change("fields", CHANGED, "Titre", "—", "Nouveau")]


@pytest.mark.django_db
def test_the_staff_page_shows_what_the_resubmission_changed(client: Any) -> None:
    from grants.models import Application
    from grants.writes import drafts
    from tests.factories import PDF_BYTES, World

    world = World()
    app = world.advance(world.draft(title="Eau potable à Podor"), Application.State.INCOMPLETE)
    client.force_login(world.instructor)
    page = client.get(f"/dossiers/{app.pk}/instruction/").content.decode()
    assert 'id="changements"' not in page  # one snapshot only
    drafts.attachment_add(
        application_id=app.pk, user=world.applicant, kind="other", name="plan-signé.pdf", content=PDF_BYTES
    )
    world.fire(app, "resubmit", world.applicant)
    page = client.get(f"/dossiers/{app.pk}/instruction/").content.decode()
    assert 'id="changements"' in page
    section = page.split('id="changements"')[1].split("</section>")[0]
    assert "plan-signé.pdf" in section
    assert "(ajouté)" in section
