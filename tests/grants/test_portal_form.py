"""Starting a draft and the sectioned application form: each section saved as a draft,
errors shown on their field, the live budget panel computed by grants.budget."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from grants import budget
from grants.models import Application, BudgetLine
from tests.factories import CallFactory, World

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
S = Application.State


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def rule_states(body: str) -> dict[str, str]:
    """{rule code: "ok" | "ko"} as the budget panel shows them."""
    return dict((code, state) for state, code in re.findall(r'portal-rule--(ok|ko)" data-rule="(\w+)"', body))


def url(app: Application, section: str) -> str:
    return f"/mes-dossiers/{app.pk}/saisie/{section}/"


@pytest.fixture
def applicant(client: Client, world: World) -> Client:
    client.force_login(world.applicant)
    return client


def budget_post(lines: list[tuple[str, str, str, str]], funding: dict[str, str], **extra: str) -> dict[str, str]:
    data = {
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for i, (year, category, label, amount) in enumerate(lines):
        data.update(
            {
                f"lines-{i}-year": year,
                f"lines-{i}-category": category,
                f"lines-{i}-label": label,
                f"lines-{i}-amount": amount,
            }
        )
    data.update(funding)
    data.update(extra)
    return data


GOOD_FUNDING = {
    "own_cash": "15 000",
    "own_in_kind": "5 000,00",
    "partner": "10000",
    "other": "45000",
    "requested": "25000",
}


# --- starting ---------------------------------------------------------------------------------


def test_it_starts_a_draft_for_an_open_call_from_its_title(applicant: Client, world: World) -> None:
    page = applicant.get(f"/mes-dossiers/nouveau/{world.call.code}/")
    assert page.status_code == 200
    assert "Règles de l'appel" in text(page)
    response = applicant.post(f"/mes-dossiers/nouveau/{world.call.code}/", {"title": "Jumelage Lyon – Porto-Novo"})
    app = Application.objects.get(title="Jumelage Lyon – Porto-Novo")
    assert app.state == S.DRAFT and app.organisation == world.lyon
    assert response.status_code == 302
    assert response["Location"] == url(app, "projet")


def test_it_refuses_to_start_a_draft_without_a_title(applicant: Client, world: World) -> None:
    response = applicant.post(f"/mes-dossiers/nouveau/{world.call.code}/", {"title": "  "})
    assert response.status_code == 400
    body = text(response)
    assert "Ce champ est obligatoire." in body
    assert 'aria-describedby="id_title_helptext id_title_error"' in body
    assert 'href="#id_title"' in body  # the error summary links to the field
    assert not Application.objects.exists()


def test_it_answers_404_for_a_call_that_is_not_accepting(applicant: Client, world: World) -> None:
    closed = CallFactory(
        code="AAP-CLOS",
        opens_at=timezone.now() - dt.timedelta(days=40),
        closes_at=timezone.now() - dt.timedelta(days=1),
    )
    assert applicant.get(f"/mes-dossiers/nouveau/{closed.code}/").status_code == 404
    assert applicant.post(f"/mes-dossiers/nouveau/{closed.code}/", {"title": "x"}).status_code == 404
    assert applicant.get("/mes-dossiers/nouveau/NOPE/").status_code == 404


def test_a_staff_user_cannot_start_a_draft(client: Client, world: World) -> None:
    client.force_login(world.instructor)
    assert client.get(f"/mes-dossiers/nouveau/{world.call.code}/").status_code == 404


# --- section 1: project -----------------------------------------------------------------------


def test_the_project_section_shows_the_stepper_and_the_saved_values(applicant: Client, world: World) -> None:
    app = world.draft()
    body = text(applicant.get(url(app, "projet")))
    assert "Étape 1 sur 5" in body
    assert "Le projet" in body and "Étape suivante" in body
    assert 'value="Gestion des déchets à Saint-Louis"' in body
    assert 'value="2027-01-01"' in body


def test_it_saves_the_project_section_as_a_draft(applicant: Client, world: World) -> None:
    app = world.draft()
    response = applicant.post(
        url(app, "projet"),
        {
            "title": "Assainissement à Ziguinchor",
            "summary": "Un résumé.",
            "objectives": "Des objectifs.",
            "themes": "eau, assainissement",
            "sdg_targets": "6.1, 6.2; 11.6",
            "gender_marker": "2",
            "start_date": "2027-03-01",
            "duration_months": "30",
            "continue": "",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == url(app, "partenaires")
    app.refresh_from_db()
    assert app.title == "Assainissement à Ziguinchor"
    assert app.themes == ["eau", "assainissement"]
    assert app.sdg_targets == ["6.1", "6.2", "11.6"]
    assert app.gender_marker == 2
    assert app.start_date == dt.date(2027, 3, 1)
    assert app.duration_months == 30
    follow = applicant.get(response["Location"])
    assert "Section « Le projet » enregistrée." in text(follow)


def test_save_without_continue_stays_on_the_section(applicant: Client, world: World) -> None:
    app = world.draft()
    response = applicant.post(url(app, "projet"), {"title": "Nouveau titre", "gender_marker": "0", "save": ""})
    assert response["Location"] == url(app, "projet")


def test_it_shows_the_domains_error_on_the_field_it_concerns(applicant: Client, world: World) -> None:
    app = world.draft()
    response = applicant.post(
        url(app, "projet"),
        {"title": "Titre", "gender_marker": "0", "start_date": "31/02/2027", "duration_months": "deux ans"},
    )
    assert response.status_code == 400
    body = text(response)
    assert "Date invalide : format attendu AAAA-MM-JJ." in body
    assert "Indiquez une durée en mois (nombre entier de 1 à 120)." in body
    assert 'id="id_start_date_error"' in body
    assert 'aria-describedby="id_start_date_helptext id_start_date_error"' in body
    assert "fr-input-group--error" in body
    assert 'href="#id_duration_months"' in body
    app.refresh_from_db()
    assert app.title == "Gestion des déchets à Saint-Louis"  # nothing saved


def test_it_requires_a_title(applicant: Client, world: World) -> None:
    app = world.draft()
    response = applicant.post(url(app, "projet"), {"title": "", "gender_marker": "0"})
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in text(response)


# --- section 2: partners ------------------------------------------------------------------------


def partners_post(rows: list[tuple[str, str]], initial: int = 0, **extra: str) -> dict[str, str]:
    data = {
        "partners-TOTAL_FORMS": str(len(rows)),
        "partners-INITIAL_FORMS": str(initial),
        "partners-MIN_NUM_FORMS": "0",
        "partners-MAX_NUM_FORMS": "1000",
    }
    for i, (name, country) in enumerate(rows):
        data[f"partners-{i}-name"] = name
        data[f"partners-{i}-country"] = country
    data.update(extra)
    return data


def test_it_saves_the_partners_and_derives_the_project_countries(applicant: Client, world: World) -> None:
    app = world.draft()
    response = applicant.post(
        url(app, "partenaires"),
        partners_post([("Commune de Saint-Louis", "SN"), ("Ville de Rabat", "MA"), ("", "")]),
    )
    assert response.status_code == 302
    assert sorted(app.partners.values_list("name", flat=True)) == ["Commune de Saint-Louis", "Ville de Rabat"]
    assert sorted(app.countries.values_list("iso2", flat=True)) == ["MA", "SN"]
    body = text(applicant.get(url(app, "partenaires")))
    assert "Projet multi-pays" in body
    assert "Maroc" in body and "Sénégal" in body


def test_it_removes_a_partner_ticked_for_removal(applicant: Client, world: World) -> None:
    app = world.draft()
    data = partners_post([("Commune de Saint-Louis", "SN"), ("Ville de Rabat", "MA")], initial=1)
    data["partners-0-DELETE"] = "on"
    assert applicant.post(url(app, "partenaires"), data).status_code == 302
    assert list(app.partners.values_list("name", flat=True)) == ["Ville de Rabat"]


def test_it_points_at_a_partner_without_country(applicant: Client, world: World) -> None:
    app = world.draft()
    response = applicant.post(url(app, "partenaires"), partners_post([("Ville de Rabat", "")]))
    assert response.status_code == 400
    body = text(response)
    assert "Choisissez le pays de ce partenaire." in body
    assert 'id="id_partners-0-country_error"' in body
    assert list(app.partners.values_list("name", flat=True)) == ["Commune de Saint-Louis"]


def test_add_a_row_redisplays_the_table_with_one_more_row_without_saving(applicant: Client, world: World) -> None:
    app = world.draft()
    response = applicant.post(url(app, "partenaires"), partners_post([("Ville de Rabat", "MA")], add_row=""))
    assert response.status_code == 200
    body = text(response)
    assert 'name="partners-TOTAL_FORMS" value="2"' in body
    assert 'name="partners-1-name"' in body
    assert list(app.partners.values_list("name", flat=True)) == ["Commune de Saint-Louis"]


# --- section 3: budget ------------------------------------------------------------------------------


def test_the_budget_section_shows_totals_rate_and_every_rule(applicant: Client, world: World) -> None:
    app = world.draft()
    body = text(applicant.get(url(app, "budget")))
    assert "Étape 3 sur 5" in body
    assert "100\u202f000,00\u00a0€" in body  # total
    assert "25\u00a0%" in body  # requested rate
    assert "70\u00a0%" in body  # cap for Senegal (PMA)
    assert rule_states(body) == dict.fromkeys(
        ("budget_total", "rate_cap", "own_contribution", "in_kind", "balance"), "ok"
    )
    for rule in budget.evaluate(app):
        assert rule.message in body
    assert "Non respectée" not in body
    assert 'hx-post="/mes-dossiers/' in body  # the live panel
    assert "grants/vendor/htmx.min.js" in body


def test_it_saves_budget_lines_and_funding_typed_the_french_way(applicant: Client, world: World) -> None:
    app = world.draft()
    data = budget_post(
        [("1", "staff", "Expertise", "60 000,50"), ("2", "travel", "Missions", "39 999,50"), ("1", "staff", "", "")],
        GOOD_FUNDING,
        **{"continue": ""},
    )
    response = applicant.post(url(app, "budget"), data)
    assert response.status_code == 302
    assert response["Location"] == url(app, "pieces")
    lines = list(BudgetLine.objects.filter(application=app).order_by("year", "pk"))
    assert [(ln.year, ln.label, ln.amount) for ln in lines] == [
        (1, "Expertise", Decimal("60000.50")),
        (2, "Missions", Decimal("39999.50")),
    ]
    app.refresh_from_db()
    assert app.own_cash == Decimal("15000.00") and app.own_in_kind == Decimal("5000.00")


def test_it_rejects_an_invalid_amount_on_its_cell(applicant: Client, world: World) -> None:
    app = world.draft()
    data = budget_post([("1", "staff", "Expertise", "beaucoup")], {**GOOD_FUNDING, "requested": "12.345"})
    response = applicant.post(url(app, "budget"), data)
    assert response.status_code == 400
    body = text(response)
    assert "Montant invalide : indiquez un montant en euros, par ex. « 25 000,50 »." in body
    assert 'id="id_lines-0-amount_error"' in body
    assert "Le montant a au plus deux décimales (centimes)." in body
    assert 'id="id_requested_error"' in body
    assert BudgetLine.objects.filter(application=app).count() == 2  # unchanged


def test_it_saves_a_budget_that_breaks_the_rules_and_says_which(applicant: Client, world: World) -> None:
    # A draft may be saved unbalanced; the panel says what is not met, submission will refuse it.
    app = world.draft()
    data = budget_post([("1", "staff", "Expertise", "100000")], {**GOOD_FUNDING, "requested": "80000"})
    assert applicant.post(url(app, "budget"), data).status_code == 302
    body = text(applicant.get(url(app, "budget")))
    assert "Non respectée" in body
    assert rule_states(body) == {
        "budget_total": "ok",
        "rate_cap": "ko",
        "own_contribution": "ok",
        "in_kind": "ok",
        "balance": "ko",
    }
    # Word for word what the lifecycle engine says (one source of truth).
    app.refresh_from_db()
    for rule in budget.evaluate(app):
        assert rule.message in body


def test_the_budget_preview_evaluates_an_unsaved_copy(applicant: Client, world: World) -> None:
    app = world.draft()
    data = budget_post([("1", "staff", "Expertise", "100000")], {**GOOD_FUNDING, "requested": "80000"})
    response = applicant.post(f"/mes-dossiers/{app.pk}/budget/apercu/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = text(response)
    assert "<html" not in body  # a fragment for htmx
    assert rule_states(body)["rate_cap"] == "ko"
    assert rule_states(body)["balance"] == "ko"
    assert "(80\u00a0%)" in body
    assert "Aperçu de votre saisie, non encore enregistrée." in body
    app.refresh_from_db()
    assert app.requested_amount == Decimal("25000.00")  # nothing saved
    assert sorted(BudgetLine.objects.filter(application=app).values_list("label", flat=True)) == [
        "Expertise",
        "Équipements",
    ]


def test_the_budget_preview_says_what_to_fix_when_the_input_is_invalid(applicant: Client, world: World) -> None:
    app = world.draft()
    data = budget_post([("1", "staff", "Expertise", "abc")], GOOD_FUNDING)
    response = applicant.post(f"/mes-dossiers/{app.pk}/budget/apercu/", data)
    assert response.status_code == 200
    body = text(response)
    assert "Le calcul ne tient pas compte des saisies à corriger" in body
    assert "Montant invalide" in body
    # The figures of the rest of the input are still shown (the line in error left out).
    assert re.search(r'id="budget-total">0,00\u00a0€<', body)


def test_the_budget_preview_refuses_get(applicant: Client, world: World) -> None:
    app = world.draft()
    assert applicant.get(f"/mes-dossiers/{app.pk}/budget/apercu/").status_code == 405


# --- not editable ---------------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["projet", "partenaires", "budget", "pieces"])
def test_a_submitted_application_is_no_longer_editable(applicant: Client, world: World, section: str) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    response = applicant.get(url(app, section))
    assert response.status_code == 302
    assert response["Location"] == f"/mes-dossiers/{app.pk}/"
    response = applicant.post(url(app, section), {"title": "Changé", "gender_marker": "0"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.title == "Gestion des déchets à Saint-Louis"


def test_an_unknown_section_is_404(applicant: Client, world: World) -> None:
    app = world.draft()
    assert applicant.get(url(app, "nimporte")).status_code == 404


@pytest.mark.parametrize("section", ["projet", "partenaires", "budget", "pieces"])
def test_every_section_renders_in_both_languages(applicant: Client, world: World, section: str) -> None:
    app = world.draft()
    assert applicant.get(url(app, section)).status_code == 200
    response = applicant.get(url(app, section), **EN)
    assert response.status_code == 200
    assert '<html lang="en"' in response.content.decode()


def test_the_start_page_renders_in_english(applicant: Client, world: World) -> None:
    assert applicant.get(f"/mes-dossiers/nouveau/{world.call.code}/", **EN).status_code == 200
