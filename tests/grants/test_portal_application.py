"""The application page: the public timeline, what happens next, the completion request,
withdrawal with confirmation, the decision letter once delivered. Opinions and reviews
are never shown to the applicant."""

from __future__ import annotations

import hashlib
import html
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from grants import services
from grants.models import Application, Decision, Document, OpinionRequest, Review
from tests.factories import PDF_BYTES, World

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
S = Application.State


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def applicant(client: Client, world: World) -> Client:
    client.force_login(world.applicant)
    return client


def page(client: Client, app: Application) -> str:
    response = client.get(f"/mes-dossiers/{app.pk}/")
    assert response.status_code == 200
    return text(response)


def deliver_decision(world: World, app: Application) -> Decision:
    """Sign the decision, store its letter (a small PDF) and deliver it, as the PDF task does."""
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    document = Document(
        kind=Document.Kind.APPROVAL_LETTER if decision.outcome == "approved" else Document.Kind.REJECTION_LETTER,
        application=app,
        decision=decision,
        reference=app.reference or "",
        sha256=hashlib.sha256(PDF_BYTES).hexdigest(),
        size=len(PDF_BYTES),
        pages=1,
        template_version="test",
        verification_code=f"TEST{decision.pk:08d}",
    )
    document.file.save("letter.pdf", ContentFile(PDF_BYTES), save=False)
    document.save()
    return services.decision_deliver(decision_id=decision.pk)


def test_the_timeline_shows_each_public_step_with_its_date(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    world.fire(app, "request_completion", world.instructor, message="Joindre la délibération.")
    world.fire(app, "resubmit", world.applicant)
    app = world.fire(app, "declare_eligible", world.instructor)
    body = page(applicant, app)
    timeline = body.split('id="timeline"', 1)[1].split("</ol>", 1)[0]
    labels = [
        "Brouillon créé",
        "Dossier déposé",
        "Compléments demandés",
        "Compléments transmis, dossier redéposé",
        "Dossier recevable",
    ]
    positions = [timeline.index(label) for label in labels]
    assert positions == sorted(positions)
    assert "Joindre la délibération." in timeline
    assert timeline.count("<time datetime=") == 5


def test_the_timeline_shows_the_committee_and_the_notified_decision(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.APPROVED)
    deliver_decision(world, app)
    body = page(applicant, app)
    for label in (
        "Dossier en évaluation",
        "Dossier transmis au comité",
        "Dossier retenu par le comité",
        "Décision notifiée",
    ):
        assert label in body


def test_opinions_and_reviews_are_never_shown_to_the_applicant(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(country="SN"), S.AWAITING_OPINIONS)
    services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    request = OpinionRequest.objects.get(application=app, country_id="SN")
    services.opinion_give(
        opinion_id=request.pk, user=world.embassy_sn, verdict="reserved", comment="AVIS-CONFIDENTIEL-DU-POSTE"
    )
    app.refresh_from_db()
    assert app.state == S.UNDER_REVIEW
    review = Review.objects.get(application=app, reviewer=world.reviewer1)
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={
            "scores": {c["code"]: 1 for c in world.call.scoring_criteria},
            "recommendation": "no",
            "comment": "EVALUATION-CONFIDENTIELLE",
        },
    )
    other = Review.objects.get(application=app, reviewer=world.reviewer2)
    services.review_decline(review_id=other.pk, user=world.reviewer2, reason="CONFLIT-INTERETS-CONFIDENTIEL")
    services.consensus_record(application_id=app.pk, user=world.instructor)
    world.fire(app, "schedule", world.secretary, session=world.session.pk)
    world.open_session()
    world.fire(app, "approve", world.secretary, amount="25000.00", comment="COMMENTAIRE-SECRETARIAT")
    deliver_decision(world, app)

    secrets = [
        "AVIS-CONFIDENTIEL-DU-POSTE",
        "EVALUATION-CONFIDENTIELLE",
        "CONFLIT-INTERETS-CONFIDENTIEL",
        "COMMENTAIRE-SECRETARIAT",
        "reviewer1",
        "reviewer2",
        "embassy-sn",
        "Réservé",
        "Défavorable",
        "Avis rendu",
        "Évaluation rendue",
    ]
    pages = [
        f"/mes-dossiers/{app.pk}/",
        f"/mes-dossiers/{app.pk}/verification/",
        "/",
    ]
    for path in pages:
        body = text(applicant.get(path))
        for secret in secrets:
            assert secret not in body, (path, secret)


def test_it_says_what_happens_next_for_a_submitted_application(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    body = page(applicant, app)
    assert "Prochaine étape : Recevabilité en cours d'examen" in body
    assert "réponse prévue d'ici le" in body


def test_it_shows_the_completion_request_with_its_due_date_and_the_resubmit_action(
    applicant: Client, world: World
) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    world.fire(
        app,
        "request_completion",
        world.instructor,
        message="Merci de joindre la délibération signée.",
        due_date="2099-06-30",
    )
    body = page(applicant, app)
    assert "Compléments demandés par le service instructeur" in body
    assert "Merci de joindre la délibération signée." in body
    assert "À transmettre avant le 30/06/2099." in body
    assert "Prochaine étape : Compléter avant le 30/06/2099" in body
    assert f'href="/mes-dossiers/{app.pk}/verification/"' in body
    assert "Vérifier et redéposer" in body


def test_the_completion_message_is_escaped(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    world.fire(app, "request_completion", world.instructor, message="<script>alert(1)</script>")
    raw = applicant.get(f"/mes-dossiers/{app.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw


def test_it_shows_the_reason_of_an_ineligibility(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    world.fire(
        app, "declare_ineligible", world.instructor, reason="Le projet ne relève pas de la coopération décentralisée."
    )
    body = page(applicant, app)
    assert "Motif de l'irrecevabilité" in body
    assert "Le projet ne relève pas de la coopération décentralisée." in body


def test_it_withdraws_after_a_confirmation_step(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    assert f'href="/mes-dossiers/{app.pk}/retrait/"' in page(applicant, app)
    confirm = applicant.get(f"/mes-dossiers/{app.pk}/retrait/")
    assert confirm.status_code == 200
    assert "Ce retrait est définitif" in text(confirm)
    app.refresh_from_db()
    assert app.state == S.SUBMITTED  # the GET changed nothing
    response = applicant.post(f"/mes-dossiers/{app.pk}/retrait/", {"comment": "Projet reporté à l'an prochain."})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.state == S.WITHDRAWN
    body = page(applicant, app)
    assert "Le dossier a été retiré." in body
    assert "Dossier retiré" in body
    assert "Projet reporté à l'an prochain." in body
    assert "/retrait/" not in body


def test_it_refuses_to_withdraw_a_decided_application(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.APPROVED)
    assert "/retrait/" not in page(applicant, app)
    response = applicant.post(f"/mes-dossiers/{app.pk}/retrait/", {"comment": ""})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.state == S.APPROVED
    assert "ne peut pas être retiré" in text(applicant.get(response["Location"]))


def test_the_decision_letter_is_offered_only_once_delivered(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.APPROVED)
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    body = page(applicant, app)
    assert "Décision en cours de notification" in body
    assert 'id="decision-letter"' not in body

    deliver_decision_after_sign(app)
    body = page(applicant, app)
    assert "Votre projet est retenu" in body
    assert "Subvention attribuée : 25\u202f000,00\u00a0€." in body
    assert "Télécharger la lettre de notification de la décision" in body
    document = Document.objects.get(decision__application=app)
    response = applicant.get(f"/mes-dossiers/{app.pk}/documents/{document.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert f'filename="{app.reference}-approval_letter.pdf"' in response["Content-Disposition"]


def deliver_decision_after_sign(app: Application) -> None:
    decision = Decision.objects.get(application=app)
    document = Document(
        kind=Document.Kind.APPROVAL_LETTER,
        application=app,
        decision=decision,
        reference=app.reference or "",
        sha256=hashlib.sha256(PDF_BYTES).hexdigest(),
        size=len(PDF_BYTES),
        pages=1,
        template_version="test",
        verification_code=f"TESTB{decision.pk:08d}",
    )
    document.file.save("letter.pdf", ContentFile(PDF_BYTES), save=False)
    document.save()
    services.decision_deliver(decision_id=decision.pk)


def test_an_undelivered_decision_letter_cannot_be_downloaded(applicant: Client, world: World) -> None:
    app = world.advance(world.draft(), S.REJECTED)
    decision = Decision.objects.get(application=app)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    document = Document(
        kind=Document.Kind.REJECTION_LETTER,
        application=app,
        decision=decision,
        reference=app.reference or "",
        sha256="0" * 64,
        size=len(PDF_BYTES),
        pages=1,
        template_version="test",
        verification_code="TESTSIGNEDONLY",
    )
    document.file.save("letter.pdf", ContentFile(PDF_BYTES), save=False)
    document.save()
    assert applicant.get(f"/mes-dossiers/{app.pk}/documents/{document.pk}/").status_code == 404
    assert 'id="decision-letter"' not in page(applicant, app)


def _page_queries(client: Client, app: Application) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/mes-dossiers/{app.pk}/")
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_application_page_query_count_does_not_grow_with_the_history(applicant: Client, world: World) -> None:
    short = world.advance(world.draft(), S.INCOMPLETE)
    long = world.advance(world.draft(), S.INCOMPLETE)
    for _ in range(8):
        world.fire(long, "resubmit", world.applicant)
        world.fire(long, "request_completion", world.instructor, message="Encore un complément.")
    assert long.history.count() >= short.history.count() + 16
    for _ in range(10):
        world.draft(attachments=False)  # other applications do not count either
    assert _page_queries(applicant, long) == _page_queries(applicant, short)


@pytest.mark.parametrize(
    "target",
    [
        S.DRAFT,
        S.SUBMITTED,
        S.INCOMPLETE,
        S.INELIGIBLE,
        S.AWAITING_OPINIONS,
        S.UNDER_REVIEW,
        S.IN_COMMITTEE,
        S.APPROVED,
        S.REJECTED,
        S.WITHDRAWN,
    ],
)
def test_the_application_page_renders_in_every_state_and_both_languages(
    applicant: Client, world: World, target: str
) -> None:
    app = world.advance(world.draft(), target)
    assert applicant.get(f"/mes-dossiers/{app.pk}/").status_code == 200
    response = applicant.get(f"/mes-dossiers/{app.pk}/", **EN)
    assert response.status_code == 200
    assert '<html lang="en"' in response.content.decode()


def test_the_withdraw_page_renders_in_english(applicant: Client, world: World) -> None:
    app = world.draft()
    assert applicant.get(f"/mes-dossiers/{app.pk}/retrait/", **EN).status_code == 200
