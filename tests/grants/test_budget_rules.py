"""The budget rules at their boundaries (DOMAIN.md): exact Decimal comparisons."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grants import budget
from grants.models import Application, BudgetLine, Call, Country
from tests.factories import World


def _set_funding(app: Application, **amounts: str) -> Application:
    """Set funding sources; `other` absorbs the difference so the balance rule holds
    unless `other` is given explicitly."""
    for name, value in amounts.items():
        setattr(app, name, Decimal(value))
    total = sum((line.amount for line in app.budget_lines.all()), Decimal(0))
    if "other_funding" not in amounts:
        app.other_funding = total - (app.own_cash + app.own_in_kind + app.partner_funding + app.requested_amount)
    app.save()
    return Application.objects.get(pk=app.pk)


def _rule(app: Application, code: str) -> budget.RuleResult:
    return next(r for r in budget.evaluate(app) if r.code == code)


@pytest.fixture
def sn_app(world: World) -> Application:
    # Total budget 100 000,00 €, Senegal (PMA: 70 %).
    return world.draft()


def test_it_accepts_a_request_of_exactly_70_percent_for_a_pma_country(sn_app: Application) -> None:
    app = _set_funding(
        sn_app, requested_amount="70000.00", own_cash="15000.00", own_in_kind="5000.00", partner_funding="10000.00"
    )
    assert _rule(app, "rate_cap").ok
    assert budget.unmet(app) == []


def test_it_rejects_a_request_of_70_01_percent_with_a_readable_reason(sn_app: Application) -> None:
    app = _set_funding(
        sn_app, requested_amount="70010.00", own_cash="15000.00", own_in_kind="4990.00", partner_funding="10000.00"
    )
    result = _rule(app, "rate_cap")
    assert not result.ok
    assert (
        result.message
        == "Le cofinancement demandé (70,01\u00a0%) dépasse le plafond de 70\u00a0% applicable au projet (Sénégal)"
    )


def test_it_rejects_one_cent_above_the_cap(sn_app: Application) -> None:
    app = _set_funding(
        sn_app, requested_amount="70000.01", own_cash="15000.00", own_in_kind="4999.99", partner_funding="10000.00"
    )
    assert not _rule(app, "rate_cap").ok


def test_the_cap_follows_the_tier_of_the_country(world: World) -> None:
    app = world.draft(country="MA")  # APD: 50 %
    app = _set_funding(app, requested_amount="50000.00")
    assert _rule(app, "rate_cap").ok
    app = _set_funding(app, requested_amount="50000.01")
    assert "plafond de 50" in _rule(app, "rate_cap").message
    ca = world.draft(country="CA")  # non-APD: 30 %
    ca = _set_funding(ca, requested_amount="30000.01")
    assert not _rule(ca, "rate_cap").ok


def test_it_accepts_an_own_contribution_of_exactly_10_percent(sn_app: Application) -> None:
    app = _set_funding(sn_app, own_cash="6000.00", own_in_kind="4000.00")
    assert _rule(app, "own_contribution").ok


def test_it_rejects_an_own_contribution_of_9_99_percent(sn_app: Application) -> None:
    app = _set_funding(sn_app, own_cash="5990.00", own_in_kind="4000.00")
    result = _rule(app, "own_contribution")
    assert not result.ok
    assert "9,99" in result.message and "10\u00a0%" in result.message


def test_it_accepts_in_kind_of_exactly_half_the_french_contribution(sn_app: Application) -> None:
    app = _set_funding(sn_app, own_cash="10000.00", own_in_kind="10000.00")
    assert _rule(app, "in_kind").ok


def test_it_rejects_in_kind_a_cent_over_half(sn_app: Application) -> None:
    app = _set_funding(sn_app, own_cash="9999.99", own_in_kind="10000.01")
    assert not _rule(app, "in_kind").ok


def test_it_rejects_funding_that_does_not_add_up_by_one_cent(sn_app: Application) -> None:
    app = _set_funding(sn_app, other_funding="44999.99")
    result = _rule(app, "balance")
    assert not result.ok
    assert "99\u202f999,99" in result.message and "100\u202f000,00" in result.message


def test_a_multi_country_project_uses_the_flat_rate_of_the_call(sn_app: Application) -> None:
    sn_app.countries.add(Country.objects.get(iso2="MA"))
    app = _set_funding(sn_app, requested_amount="60000.00", own_cash="15000.00", own_in_kind="5000.00")
    assert _rule(app, "rate_cap").ok
    app = _set_funding(app, requested_amount="60000.01", own_cash="15000.00", own_in_kind="4999.99")
    result = _rule(app, "rate_cap")
    assert not result.ok and "60\u00a0%" in result.message and "multi-pays" in result.message


def test_the_weighted_multi_country_rule_weights_tier_rates_by_budget(world: World) -> None:
    world.call.multi_country_rule = Call.MultiCountryRule.WEIGHTED
    world.call.save()
    app = world.draft()
    app.countries.add(Country.objects.get(iso2="MA"))
    lines = list(app.budget_lines.all())
    BudgetLine.objects.filter(pk=lines[0].pk).update(country="SN")  # 50 000 at 70 %
    BudgetLine.objects.filter(pk=lines[1].pk).update(country="MA")  # 50 000 at 50 %
    app = _set_funding(app, requested_amount="60000.00", own_cash="15000.00", own_in_kind="5000.00")
    assert _rule(app, "rate_cap").ok  # (0.7 + 0.5) / 2 = 60 %
    app = _set_funding(app, requested_amount="60000.01", own_cash="15000.00", own_in_kind="4999.99")
    assert not _rule(app, "rate_cap").ok


def test_rates_are_settings_of_the_call_not_constants(world: World) -> None:
    world.call.rate_pma = Decimal("0.90")  # the 2024 rules
    world.call.save()
    app = _set_funding(
        world.draft(), requested_amount="80000.00", own_cash="15000.00", own_in_kind="5000.00", partner_funding="0.00"
    )
    assert _rule(app, "rate_cap").ok


def test_an_empty_budget_is_refused(world: World) -> None:
    app = world.draft()
    app.budget_lines.all().delete()
    assert budget.unmet(app) == ["Le budget ne comporte aucune dépense."]


def test_the_tranche_schedule_adds_up_and_splits_the_last_year_80_20() -> None:
    schedule = budget.tranche_schedule(Decimal("25000.00"), {1: Decimal("33333.33"), 2: Decimal("66666.67")})
    assert [t["amount"] for t in schedule] == ["8333.33", "13333.34", "3333.33"]
    assert [t["condition"] for t in schedule] == ["signature", "interim_report", "final_report"]
    assert sum(Decimal(str(t["amount"])) for t in schedule) == Decimal("25000.00")


def test_a_one_year_project_gets_80_percent_then_the_balance() -> None:
    schedule = budget.tranche_schedule(Decimal("10000.01"), {1: Decimal("50000")})
    assert [(t["amount"], t["condition"]) for t in schedule] == [("8000.01", "signature"), ("2000.00", "final_report")]


def test_reasons_are_given_in_english_when_the_user_reads_english(sn_app: Application) -> None:
    from django.utils import translation

    app = _set_funding(
        sn_app, requested_amount="72000.00", own_cash="15000.00", own_in_kind="3000.00", partner_funding="10000.00"
    )
    with translation.override("en"):
        message = _rule(app, "rate_cap").message
    assert (
        message == "The requested cofinancing (72\u00a0%) exceeds the 70\u00a0% cap applicable to the project (Senegal)"
    )
