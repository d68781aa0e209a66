"""Races on real PostgreSQL with real threads: the row locks of the transition service
decide, never a silent overwrite."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from grants import budget, services
from grants.models import Application, Call, Decision
from tests.concurrency import race
from tests.factories import World
from workflows.engine import Conflict

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_concurrent_approvals_of_one_application_exactly_one_succeeds() -> None:
    world = World()
    app = world.advance(world.draft(), Application.State.IN_COMMITTEE)
    world.open_session()

    def approve() -> Application:
        return services.application_transition(
            application_id=app.pk, name="approve", user=world.secretary, payload={"amount": "20000.00"}
        )

    results = race([approve, approve])
    assert sum(isinstance(r, Application) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert Decision.objects.filter(application=app).count() == 1


def test_concurrent_approvals_of_two_applications_never_exceed_the_envelope() -> None:
    world = World(envelope=Decimal("30000.00"))
    first = world.advance(world.draft(), Application.State.IN_COMMITTEE)
    second = world.advance(world.draft(), Application.State.IN_COMMITTEE)
    world.open_session()

    def approve(app: Application) -> Callable[[], Any]:
        return lambda: services.application_transition(
            application_id=app.pk, name="approve", user=world.secretary, payload={"amount": "20000.00"}
        )

    results = race([approve(first), approve(second)])
    assert sum(isinstance(r, Application) for r in results) == 1
    assert budget.committed_amount(Call.objects.get(pk=world.call.pk)) == Decimal("20000.00")


def test_twenty_concurrent_submissions_get_twenty_distinct_gap_free_references() -> None:
    world = World()
    apps = [world.draft(world.applicant if i % 2 else world.applicant2) for i in range(20)]

    def submit(app: Application) -> Callable[[], Any]:
        owner = world.applicant if app.organisation_id == world.lyon.pk else world.applicant2
        return lambda: services.application_transition(application_id=app.pk, name="submit", user=owner)

    results = race([submit(app) for app in apps])
    assert all(isinstance(r, Application) for r in results), results
    references = sorted(Application.objects.values_list("reference", flat=True))
    assert references == [f"{world.call.code}-{n:05d}" for n in range(1, 21)]
    assert Call.objects.get(pk=world.call.pk).last_reference_number == 20


def test_a_rolled_back_submission_gives_its_number_back() -> None:
    world = World()
    good = world.draft()
    bad = world.draft(attachments=False)
    with pytest.raises(Conflict):
        services.application_transition(application_id=bad.pk, name="submit", user=world.applicant)
    app = services.application_transition(application_id=good.pk, name="submit", user=world.applicant)
    assert app.reference == f"{world.call.code}-00001"
