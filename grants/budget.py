"""The budget rules of a call, checked at submission and again at decision.

One source of truth: the transition guards, the API and the applicant's live budget
panel all call ``evaluate``; no rule is duplicated anywhere else (not in JavaScript).
Amounts are Decimal throughout; comparisons are exact (70 % of 100 000,00 € is
70 000,00 €, and 70 000,01 € is over).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db.models import Sum
from django.utils.translation import gettext as _

from grants.models import ZERO, Application, Call, Consensus, Country, Decision, Tier
from grants.scoring import weighted_score
from grants.variants import variant_for

if TYPE_CHECKING:
    from collections.abc import Iterable

CENT = Decimal("0.01")


@dataclass(frozen=True)
class RuleResult:
    code: str
    ok: bool
    message: str


@dataclass(frozen=True)
class BudgetFigures:
    total_expenses: Decimal
    total_funding: Decimal
    requested: Decimal
    own_cash: Decimal
    own_in_kind: Decimal
    own_contribution: Decimal
    cap_rate: Decimal | None
    cap_amount: Decimal | None
    requested_rate: Decimal | None
    years: dict[int, Decimal]
    #: Turnkey programmes (grants.variants): the member French authorities' contributions,
    #: counted in ``own_contribution`` (and ``total_funding``) beside the lead's own cash.
    members_contribution: Decimal = ZERO


def fmt_percent(rate: Decimal) -> str:
    """0.7 → "70 %", 0.72005 → "72,01 %" (French typography, two decimals at most)."""
    value = (rate * 100).quantize(CENT, rounding=ROUND_HALF_UP).normalize()
    text = f"{value:f}".replace(".", ",")
    return f"{text}\u00a0%"


def fmt_euros(amount: Decimal) -> str:
    """Decimal → "70 000,00 €": the same formatting as the letters' ``euros`` filter."""
    from grants.templatetags.french_format import euros

    return euros(amount)


def cap_rate(call: Call, countries: list[Country], lines_by_country: dict[str | None, Decimal]) -> Decimal | None:
    """The maximal cofinancing rate for these project countries under the call's rules."""
    if not countries:
        return None
    if len(countries) == 1:
        return call.rate_for_tier(countries[0].tier)
    if call.multi_country_rule == Call.MultiCountryRule.FLAT:
        return call.rate_multi_country
    # Weighted: each country's tier rate weighted by the budget spent there. Lines not tied
    # to a country are weighted at the lowest rate of the project's countries (prudent).
    rates = {c.iso2: call.rate_for_tier(c.tier) for c in countries}
    total = sum(lines_by_country.values(), ZERO)
    if total <= 0:
        return min(rates.values())
    weighted = sum(
        (amount * rates.get(iso or "", min(rates.values())) for iso, amount in lines_by_country.items()),
        ZERO,
    )
    return weighted / total


def rates(
    call: Call, countries: list[Country], lines_by_country: dict[str | None, Decimal], requested: Decimal
) -> tuple[Decimal | None, Decimal | None]:
    """``(requested rate, cap rate)`` of ``figures`` from the budget lines' totals by
    country (``None`` for the lines tied to no country): what a list's row shows without
    reading each line (the committee's agenda sums them in SQL, exactly)."""
    total = sum(lines_by_country.values(), ZERO)
    return ((requested / total) if total > 0 else None), cap_rate(call, countries, lines_by_country)


def figures(application: Application, *, countries: Iterable[Country] | None = None) -> BudgetFigures:
    lines = list(application.budget_lines.all())
    country_list = list(countries if countries is not None else application.countries.all())
    total = sum((line.amount for line in lines), ZERO)
    years: dict[int, Decimal] = defaultdict(lambda: ZERO)
    by_country: dict[str | None, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        years[line.year] += line.amount
        by_country[line.country_id] += line.amount
    requested = application.requested_amount
    requested_rate, rate = rates(application.call, country_list, by_country, requested)
    members = members_contribution(application)
    return BudgetFigures(
        total_expenses=total,
        total_funding=application.total_funding + members,
        requested=requested,
        own_cash=application.own_cash,
        own_in_kind=application.own_in_kind,
        own_contribution=application.own_contribution + members,
        members_contribution=members,
        cap_rate=rate,
        cap_amount=(rate * total).quantize(CENT, rounding=ROUND_HALF_UP) if rate is not None else None,
        requested_rate=requested_rate,
        years=dict(sorted(years.items())),
    )


def members_contribution(application: Application) -> Decimal:
    """A turnkey programme's member authorities' contributions (zero for another call):
    the French authorities' own contribution, with the lead organisation's."""
    if not variant_for(application.call).members:
        return ZERO
    return sum((m.contribution for m in application.members.all()), ZERO)


def _country_label(countries: list[Country]) -> str:
    if len(countries) == 1:
        return countries[0].name
    return _("projet multi-pays")


def evaluate(application: Application, *, requested: Decimal | None = None) -> list[RuleResult]:
    """Every budget rule with its outcome and a readable reason (in the active language).

    ``requested`` overrides the application's requested amount (the committee checking a
    granted amount against the same cap).
    """
    call = application.call
    countries = list(application.countries.all())
    fig = figures(application, countries=countries)
    asked = fig.requested if requested is None else requested
    results: list[RuleResult] = []

    if fig.total_expenses <= 0:
        results.append(RuleResult("budget_total", False, _("Le budget ne comporte aucune dépense.")))
        return results
    results.append(
        RuleResult("budget_total", True, _("Budget total : %(total)s") % {"total": fmt_euros(fig.total_expenses)})
    )

    # Cofinancing cap, by the tier of the project's country (or the multi-country rule).
    if fig.cap_rate is None:
        results.append(RuleResult("rate_cap", False, _("Aucun pays de projet n'est indiqué.")))
    else:
        rate = asked / fig.total_expenses
        params = {
            "rate": fmt_percent(rate),
            "cap": fmt_percent(fig.cap_rate),
            "country": _country_label(countries),
        }
        if asked <= fig.cap_rate * fig.total_expenses:
            results.append(
                RuleResult(
                    "rate_cap",
                    True,
                    _(
                        "Le cofinancement demandé (%(rate)s) respecte le plafond de %(cap)s applicable au projet (%(country)s)"
                    )
                    % params,
                )
            )
        else:
            results.append(
                RuleResult(
                    "rate_cap",
                    False,
                    _(
                        "Le cofinancement demandé (%(rate)s) dépasse le plafond de %(cap)s applicable au projet (%(country)s)"
                    )
                    % params,
                )
            )
        if len(countries) == 1 and countries[0].tier not in {t.value for t in Tier}:  # pragma: no cover - data guard
            results.append(RuleResult("tier", False, _("Catégorie de pays inconnue.")))

    # Own contribution of the French authorities (cash + in-kind).
    minimum = call.min_own_contribution * fig.total_expenses
    own_params = {
        "own": fmt_euros(fig.own_contribution),
        "share": fmt_percent(fig.own_contribution / fig.total_expenses),
        "min": fmt_percent(call.min_own_contribution),
    }
    if fig.own_contribution >= minimum:
        results.append(
            RuleResult(
                "own_contribution",
                True,
                _("L'apport des collectivités françaises (%(own)s, %(share)s) atteint le minimum de %(min)s du budget")
                % own_params,
            )
        )
    else:
        results.append(
            RuleResult(
                "own_contribution",
                False,
                _(
                    "L'apport des collectivités françaises (%(own)s, %(share)s) est inférieur au minimum de %(min)s du budget"
                )
                % own_params,
            )
        )

    # In-kind contribution ("valorisation") capped as a share of the French contribution.
    max_in_kind = call.max_in_kind_share * fig.own_contribution
    kind_params = {"in_kind": fmt_euros(fig.own_in_kind), "max": fmt_percent(call.max_in_kind_share)}
    if fig.own_in_kind <= max_in_kind:
        results.append(
            RuleResult(
                "in_kind",
                True,
                _("La valorisation (%(in_kind)s) ne dépasse pas %(max)s de l'apport des collectivités françaises")
                % kind_params,
            )
        )
    else:
        results.append(
            RuleResult(
                "in_kind",
                False,
                _("La valorisation (%(in_kind)s) dépasse %(max)s de l'apport des collectivités françaises")
                % kind_params,
            )
        )

    # Funding sources add up exactly to the expenses.
    funding_total = fig.own_contribution + application.partner_funding + application.other_funding + asked
    balance_params = {"funding": fmt_euros(funding_total), "expenses": fmt_euros(fig.total_expenses)}
    if funding_total == fig.total_expenses:
        results.append(
            RuleResult("balance", True, _("Les financements équilibrent les dépenses (%(expenses)s)") % balance_params)
        )
    else:
        results.append(
            RuleResult(
                "balance",
                False,
                _("Les financements (%(funding)s) ne sont pas égaux aux dépenses (%(expenses)s)") % balance_params,
            )
        )
    return results


def unmet(application: Application, *, requested: Decimal | None = None) -> list[str]:
    return [r.message for r in evaluate(application, requested=requested) if not r.ok]


#: The share of the last year's tranche paid on the final report (the "solde").
BALANCE_SHARE = Decimal("0.20")


def committed_amount(call: Call) -> Decimal:
    """What the call's approved decisions commit (the envelope's used part): the one
    figure the approval guard, the committee screen and the dashboard show."""
    return (
        Decision.objects.filter(call=call, outcome=Decision.Outcome.APPROVED).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )


def tranche_schedule(amount: Decimal, years: dict[int, Decimal], *, exact: bool = False) -> list[dict[str, str | int]]:
    """One tranche per project year, in proportion to that year's expenses; the last
    year's tranche is paid 80 % on its report and its 20 % balance on the final report.

    Rounding is to the cent with the remainder on the last tranche, so the tranches add
    up exactly to the amount. ``exact=True`` takes ``years`` as the amounts to pay each
    year (the committee's own schedule, adding up to ``amount``) instead of weights.
    """
    if amount <= 0:
        return []
    total = sum(years.values(), ZERO)
    year_numbers = sorted(years) or [1]
    shares: list[tuple[int, Decimal]] = []
    allotted = ZERO
    for index, year in enumerate(year_numbers):
        if exact:
            part = years[year]
        elif index == len(year_numbers) - 1:
            part = amount - allotted
        else:
            part = (amount * years[year] / total).quantize(CENT, rounding=ROUND_HALF_UP) if total > 0 else ZERO
        allotted += part
        shares.append((year, part))
    schedule: list[dict[str, str | int]] = []
    number = 0
    for index, (year, part) in enumerate(shares):
        first = index == 0
        last = index == len(shares) - 1
        condition = "signature" if first else "interim_report"
        if last:
            advance = (part * (1 - BALANCE_SHARE)).quantize(CENT, rounding=ROUND_HALF_UP)
            number += 1
            schedule.append({"number": number, "year": year, "amount": f"{advance:f}", "condition": condition})
            number += 1
            schedule.append(
                {"number": number, "year": year, "amount": f"{part - advance:f}", "condition": "final_report"}
            )
        else:
            number += 1
            schedule.append({"number": number, "year": year, "amount": f"{part:f}", "condition": condition})
    return schedule


# --- the session's ranking --------------------------------------------------------------------


class RankedApplication(NamedTuple):
    """One row of a ranking (a tuple: an agenda of 9,000 applications makes 9,000)."""

    application: Any  # an Application, or an agenda's values (grants.evaluation.AgendaEntry)
    weighted_score: Decimal | None  # the consensus's weighted score (grants.scoring), None without one
    requested: Decimal
    cumulative_requested: Decimal
    within_envelope: bool


def available_envelope(call: Call, session_id: int | None) -> Decimal:
    """The call's envelope less what the decisions of *other* sessions commit: what the
    session's ranking is measured against. The call's committed total from the
    decisions' own call column, less this session's approved decisions (a few hundred
    rows by the applications' session index), not a join of every decision of the call."""
    own = (
        Decision.objects.filter(
            call=call, outcome=Decision.Outcome.APPROVED, application__session_id=session_id
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    return call.envelope - (committed_amount(call) - own)


def ranking(
    call: Call,
    session_id: int | None,
    applications: Iterable[Application],
    *,
    available: Decimal | None = None,
    sheets: dict[Any, Any] | None = None,
) -> list[RankedApplication]:
    """The applications best first, with the requested amounts cumulated down the list and
    the envelope line: a project is within while the cumulated request, its own included,
    is at most the available envelope (one that fits exactly is within).

    Order (ties): the higher consensus weighted score (none: after every scored one), then
    the lower requested amount, then the earlier submission (none: after every submitted
    one), then the reference. ``submitted_at`` is compared as given: a datetime, or the
    instant as a number (an agenda read as values: its seconds since the epoch, exact)."""
    apps = list(applications)
    if sheets is None:
        sheets = dict(
            Consensus.objects.filter(application__in=[a.pk for a in apps]).values_list("application_id", "scores")
        )
    criteria = call.scoring_criteria
    scored = [(a, weighted_score(sheets[a.pk], criteria) if a.pk in sheets else None) for a in apps]
    scored.sort(
        key=lambda pair: (
            pair[1] is None,
            -(pair[1] or ZERO),
            pair[0].requested_amount,
            pair[0].submitted_at is None,
            pair[0].submitted_at or 0,  # compared only with another submission's instant
            pair[0].reference or "",
        )
    )
    if available is None:
        available = available_envelope(call, session_id)
    rows = []
    cumulative = ZERO
    for app, score in scored:
        cumulative += app.requested_amount
        rows.append(RankedApplication(app, score, app.requested_amount, cumulative, cumulative <= available))
    return rows
