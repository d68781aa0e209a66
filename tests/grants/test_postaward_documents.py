"""The avenant: an accepted amendment issued as a verifiable PDF, read by the delegation
and the beneficiary."""

from __future__ import annotations

import pytest

from grants import policy, services
from grants.documents import issuing
from grants.documents.amendments import issue_amendment
from grants.models import Decision, Document
from tests.api.helpers import approved_decision
from tests.factories import World

pytestmark = pytest.mark.django_db


def recorded(world: World) -> Decision:
    decision = approved_decision(world)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    services.decision_deliver(decision_id=decision.pk)
    return services.decision_record(decision_id=decision.pk, user=world.finance, commitment_number="EJ-2026-9")


def test_an_accepted_extension_is_issued_once_as_a_verifiable_avenant(world: World) -> None:
    decision = recorded(world)
    amendment = services.amendment_request(
        decision_id=decision.pk, user=world.applicant, payload={"kind": "extension", "months": 4, "reason": "Pluies."}
    )
    assert issue_amendment(amendment.pk) == issuing.NOT_APPLICABLE  # not accepted yet
    services.amendment_decide(amendment_id=amendment.pk, name="accept", user=world.instructor)
    assert issue_amendment(amendment.pk) == issuing.ISSUED
    assert issue_amendment(amendment.pk) == issuing.ALREADY_ISSUED
    document = Document.objects.get(kind=Document.Kind.AMENDMENT)
    assert document.reference == f"{decision.application.reference}-AV1"
    with document.file.open("rb") as handle:
        assert handle.read(5) == b"%PDF-"
    assert issuing.find_by_code(document.verification_code) == document
    application = decision.application
    assert document in policy.application_documents(world.applicant, application)
    assert document in policy.application_documents(world.instructor, application)
    assert document not in policy.application_documents(world.embassy_sn, application)


def test_a_refused_amendment_issues_nothing_and_a_budget_change_shows_both_budgets(world: World) -> None:
    decision = recorded(world)
    refused = services.amendment_request(
        decision_id=decision.pk, user=world.applicant, payload={"kind": "other", "text": "Autre.", "reason": "x"}
    )
    services.amendment_decide(amendment_id=refused.pk, name="refuse", user=world.instructor, reason="Non.")
    assert issue_amendment(refused.pk) == issuing.NOT_APPLICABLE
    lines = [
        {"year": 1, "category": "staff", "label": "Expertise", "amount": "20000.00"},
        {"year": 1, "category": "training", "label": "Formations <script>", "amount": "30000.00"},
        {"year": 2, "category": "equipment", "label": "Équipements", "amount": "50000.00"},
    ]
    change = services.amendment_request(
        decision_id=decision.pk, user=world.applicant, payload={"kind": "budget_change", "lines": lines, "reason": "y"}
    )
    services.amendment_decide(amendment_id=change.pk, name="accept", user=world.instructor)
    assert issue_amendment(change.pk) == issuing.ISSUED
    assert Document.objects.filter(kind=Document.Kind.AMENDMENT).count() == 1


def test_the_documents_sweep_enqueues_an_avenant_whose_render_was_lost(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from django.utils import timezone

    from grants import tasks
    from grants.postaward import Amendment

    sent: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_amendment", sent.append)
    decision = recorded(world)
    amendment = services.amendment_request(
        decision_id=decision.pk, user=world.applicant, payload={"kind": "extension", "months": 2, "reason": "x"}
    )
    services.amendment_decide(amendment_id=amendment.pk, name="accept", user=world.instructor)
    assert tasks.sweep_documents()["amendments"] == 0  # just decided: its own render is on its way
    Amendment.objects.filter(pk=amendment.pk).update(decided_at=timezone.now() - dt.timedelta(hours=1))
    assert tasks.sweep_documents()["amendments"] == 1
    assert sent == [amendment.pk]
    assert issue_amendment(amendment.pk) == issuing.ISSUED
    assert tasks.sweep_documents()["amendments"] == 0
