"""The evaluation summary issued with every decision letter: consensus scores per
criterion, the comment meant for the applicant and the committee's reasons; never a
reviewer's name, an individual review or an internal comment. Delivered with the letter,
downloadable by the applicant (web and API) and by staff, verifiable."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pypdf
import pytest
from django.urls import reverse

from grants import policy, services
from grants.documents import issuing
from grants.models import Application, Decision, Document, Review
from notifications.models import Notification
from tests.factories import World
from workflows.models import TransitionLog

S = Application.State
REVIEWER_NAME = ("Paulette", "Évaluatrice")
REVIEW_COMMENT = "Commentaire individuel de l'évaluatrice"
INTERNAL = "Note interne : ne pas diffuser"
FOR_APPLICANT = "Le comité salue la qualité du partenariat."


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return re.sub(r"[ \n]+", " ", "\n".join(page.extract_text() for page in reader.pages))


def stored_text(document: Document) -> str:
    with document.file.open("rb") as handle:
        return pdf_text(handle.read())


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SITE_URL = "https://aap.example.gouv.fr"


def _decided(world: World, outcome: str) -> Decision:
    """An application reviewed by a named reviewer with a comment, its consensus recorded
    (scores, a comment for the applicant, an internal one), decided and signed."""
    world.reviewer1.first_name, world.reviewer1.last_name = REVIEWER_NAME
    world.reviewer1.save()
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    Review.objects.filter(application=app, reviewer=world.reviewer1).update(comment=REVIEW_COMMENT)
    scores = {c["code"]: 3 for c in world.call.scoring_criteria}
    scores["sdg"], scores["partnership"] = 5, 4
    services.consensus_record(
        application_id=app.pk, user=world.instructor, scores=scores, comment=FOR_APPLICANT, internal_comment=INTERNAL
    )
    world.open_session()
    if outcome == "approved":
        world.fire(app, "approve", world.secretary, amount="25000.00", comment="Commentaire interne du comité")
    else:
        world.fire(app, "reject", world.secretary, reasons="Le budget n'est pas assez détaillé.")
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    return decision


def _summary(decision: Decision) -> Document:
    return Document.objects.get(application=decision.application, kind=Document.Kind.EVALUATION_SUMMARY)


def test_the_letter_is_delivered_with_a_summary_of_the_consensus_and_no_reviewer(world: World) -> None:
    decision = _decided(world, "approved")
    assert issuing.issue_decision_letter(decision.pk) == issuing.ISSUED
    decision.refresh_from_db()
    assert decision.state == Decision.State.DELIVERED
    summary = _summary(decision)
    assert summary.decision_id is None and summary.template_version == "evaluation_summary/2026.1"
    assert summary.verification_code != decision.document.verification_code
    text = stored_text(summary)
    assert "Synthèse de l'évaluation" in text and decision.application.reference in text
    assert "Projet retenu" in text
    # consensus score per criterion, with its label (the English one beside it) and weight; the weighted score (5·2+4·2+3·4)/8
    assert "Pertinence au regard des ODD Relevance to the SDGs 2 5" in text
    assert "Qualité du partenariat Quality of the partnership 2 4" in text
    assert "Réciprocité Reciprocity 1 3" in text
    assert "3,8 / 5" in text
    assert FOR_APPLICANT in text
    for secret in (*REVIEWER_NAME, "reviewer1", REVIEW_COMMENT, INTERNAL, "Commentaire interne du comité"):
        assert secret not in text
    assert issuing.find_by_code(summary.verification_code) == summary


def test_a_rejection_s_summary_carries_the_committee_s_reasons(world: World) -> None:
    decision = _decided(world, "rejected")
    issuing.issue_decision_letter(decision.pk)
    text = stored_text(_summary(decision))
    assert "Projet non retenu" in text and "Le budget n'est pas assez détaillé." in text
    assert "Pertinence au regard des ODD Relevance to the SDGs 2 5" in text and FOR_APPLICANT in text
    assert REVIEWER_NAME[1] not in text and INTERNAL not in text


def test_without_consensus_the_summary_gives_the_reviewers_means_never_their_reviews(world: World) -> None:
    world.call.consensus_required = False
    world.call.save()
    world.reviewer1.first_name, world.reviewer1.last_name = REVIEWER_NAME
    world.reviewer1.save()
    app = world.advance(world.draft(), S.REJECTED)
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    issuing.issue_decision_letter(decision.pk)
    text = stored_text(_summary(decision))
    assert (
        "Aucun consensus n'a été enregistré" in text
        and "Pertinence au regard des ODD Relevance to the SDGs 2 4" in text
    )
    assert REVIEWER_NAME[1] not in text


def test_the_delivery_notification_names_the_summary(world: World) -> None:
    decision = _decided(world, "approved")
    issuing.issue_decision_letter(decision.pk)
    notification = Notification.objects.get(recipient=world.applicant, message="decision_delivered_approved")
    assert notification.params["summary_code"] == _summary(decision).verification_code


def test_the_applicant_downloads_the_summary_once_the_letter_is_delivered(world: World, client: Any) -> None:
    decision = _decided(world, "approved")
    app = decision.application
    assert not policy.application_documents(world.applicant, app)  # nothing before the letter
    issuing.issue_decision_letter(decision.pk)
    summary = _summary(decision)
    assert summary in policy.application_documents(world.applicant, app)
    client.force_login(world.applicant)
    page = client.get(reverse("applicant-application", kwargs={"pk": app.pk})).content.decode()
    assert 'id="evaluation-summary"' in page and "Télécharger la synthèse de l'évaluation" in page
    response = client.get(reverse("applicant-document", kwargs={"pk": app.pk, "document_id": summary.pk}))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert FOR_APPLICANT in pdf_text(b"".join(response.streaming_content))
    # neither another authority nor a reviewer reads it
    assert summary not in policy.application_documents(world.applicant2, app)
    assert summary not in policy.application_documents(world.reviewer1, app)
    client.force_login(world.applicant2)
    assert (
        client.get(reverse("applicant-document", kwargs={"pk": app.pk, "document_id": summary.pk})).status_code == 404
    )


def test_staff_list_and_download_the_summary_a_reviewer_cannot(world: World, client: Any) -> None:
    decision = _decided(world, "rejected")
    issuing.issue_decision_letter(decision.pk)
    app, summary = decision.application, _summary(decision)
    client.force_login(world.instructor)
    page = client.get(reverse("staff-application", kwargs={"application_id": app.pk})).content.decode()
    assert 'id="document-evaluation_summary"' in page
    url = reverse("staff-document", kwargs={"application_id": app.pk, "document_id": summary.pk})
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f"{app.reference}-evaluation_summary" in response["Content-Disposition"]
    client.force_login(world.reviewer1)
    assert client.get(url).status_code == 404


def test_the_api_lists_the_summary_among_the_application_s_documents(world: World) -> None:
    from rest_framework.test import APIClient

    decision = _decided(world, "approved")
    issuing.issue_decision_letter(decision.pk)
    api = APIClient()
    api.force_authenticate(world.applicant)
    body = api.get(f"/api/v1/applications/{decision.application_id}/").json()
    kinds = [d["kind"] for d in body["documents"]]
    assert "evaluation_summary" in kinds and "approval_letter" in kinds


def test_a_decision_delivered_without_summary_gets_one_once(world: World) -> None:
    decision = _decided(world, "approved")
    issuing.issue_decision_letter(decision.pk)
    _summary(decision).delete()  # as for a decision delivered before summaries existed
    assert issuing.issue_evaluation_summary(decision.pk) == issuing.ISSUED
    assert issuing.issue_evaluation_summary(decision.pk) == issuing.ALREADY_ISSUED
    assert Document.objects.filter(application=decision.application, kind="evaluation_summary").count() == 1


def test_a_signed_decision_has_no_summary_of_its_own_before_its_letter(world: World) -> None:
    decision = _decided(world, "approved")
    assert issuing.issue_evaluation_summary(decision.pk) == issuing.NOT_APPLICABLE
    assert not Document.objects.filter(kind="evaluation_summary").exists()


def test_recording_the_consensus_tells_the_instructors_and_the_secretaries(world: World) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)  # World.advance records it
    received = set(
        Notification.objects.filter(message="consensus_recorded").values_list("recipient__username", flat=True)
    )
    assert "secretary" in received and "applicant" not in received
    assert TransitionLog.objects.filter(application=app, transition="consensus").exists()


def test_the_sweep_enqueues_the_summary_of_a_decision_delivered_without_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from django.utils import timezone

    from grants import tasks

    decision = _decided(world, "rejected")
    issuing.issue_decision_letter(decision.pk)
    Decision.objects.filter(pk=decision.pk).update(delivered_at=timezone.now() - dt.timedelta(hours=1))
    sent: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_evaluation_summary", sent.append)
    for name in ("enqueue_english_copy", "enqueue_decision_render", "enqueue_receipt"):
        monkeypatch.setattr(tasks, name, lambda *a: None)
    assert tasks.sweep_documents()["evaluation_summaries"] == 0  # stored with the letter
    _summary(decision).delete()
    assert tasks.sweep_documents()["evaluation_summaries"] == 1 and sent == [decision.pk]
    assert tasks.render_evaluation_summary.apply(args=[decision.pk]).get() == issuing.ISSUED
    sent.clear()
    assert tasks.sweep_documents()["evaluation_summaries"] == 0 and sent == []
