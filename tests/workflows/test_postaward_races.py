"""Races on the grant's life after the commitment, with real threads on PostgreSQL: the
grant's lock (its application row, taken first by every write) decides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from grants import services
from grants.machines.postaward import extension_months
from grants.models import Decision
from grants.postaward import Amendment, Payment, Report
from tests.api.helpers import approved_decision
from tests.concurrency import race
from tests.factories import World
from workflows.engine import Conflict
from workflows.models import TransitionLog

pytestmark = pytest.mark.django_db(transaction=True)


def recorded(world: World) -> Decision:
    decision = approved_decision(world)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    services.decision_deliver(decision_id=decision.pk)
    return services.decision_record(decision_id=decision.pk, user=world.finance, commitment_number="EJ-1")


def test_paying_one_tranche_twice_at_once_pays_it_once() -> None:
    world = World()
    decision = recorded(world)
    first = Payment.objects.get(decision=decision, number=1)

    def pay(reference: str) -> Callable[[], Any]:
        return lambda: services.payment_pay(
            payment_id=first.pk, user=world.finance, paid_on=timezone.localdate(), payment_reference=reference
        )

    results = race([pay("DP-A"), pay("DP-B")])
    assert sum(isinstance(r, Payment) for r in results) == 1
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(conflicts) == 1
    assert conflicts[0].unmet == ["Ce versement ne peut pas être payé : il est « Payé »."]
    paid = Payment.objects.get(pk=first.pk)
    winner = next(r for r in results if isinstance(r, Payment))
    assert (paid.state, paid.payment_reference) == ("paid", winner.payment_reference)
    assert (
        TransitionLog.objects.filter(subject_type="grants.payment", subject_id=str(first.pk), transition="pay").count()
        == 1
    )


def test_two_extensions_accepted_at_once_are_both_counted_never_lost() -> None:
    world = World()
    decision = recorded(world)
    first, second = (
        services.amendment_request(
            decision_id=decision.pk, user=world.applicant, payload={"kind": "extension", "months": 6, "reason": r}
        )
        for r in ("Pluies.", "Élections.")
    )

    def accept(amendment: Amendment) -> Callable[[], Any]:
        return lambda: services.amendment_decide(amendment_id=amendment.pk, name="accept", user=world.instructor)

    results = race([accept(first), accept(second)])
    assert all(isinstance(r, Amendment) for r in results), results
    assert extension_months(decision) == 12
    # The final report is due 6 months after the end moved by 12: 2029-12-31 + 6 months.
    assert str(Report.objects.get(decision=decision, kind="final").due_on) == "2030-06-30"


def test_two_extensions_beyond_the_calls_maximum_one_is_refused() -> None:
    world = World(max_extension_months=8)
    decision = recorded(world)
    first, second = (
        services.amendment_request(
            decision_id=decision.pk, user=world.applicant, payload={"kind": "extension", "months": 6, "reason": r}
        )
        for r in ("Pluies.", "Élections.")
    )
    results = race(
        [
            lambda: services.amendment_decide(amendment_id=first.pk, name="accept", user=world.instructor),
            lambda: services.amendment_decide(amendment_id=second.pk, name="accept", user=world.instructor),
        ]
    )
    assert sum(isinstance(r, Amendment) for r in results) == 1
    refused = next(r for r in results if isinstance(r, Conflict))
    assert "6 mois déjà accordés, au plus 8 en tout" in refused.unmet[0]
    assert extension_months(decision) == 6
