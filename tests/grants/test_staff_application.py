"""The application page for staff and the instructor's actions on it."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from grants import services
from grants.models import Application, OpinionRequest, Review
from tests.factories import PDF_BYTES, World

S = Application.State


def _page(client, app: Application):
    return client.get(reverse("staff-application", args=[app.pk]))


def _act(client, app: Application, name: str, *, confirm: str = "1", **fields: str):
    """Post an action's form, its confirmation ticked (as the page's checkbox sends it)."""
    data = {f"{name}-{key}": value for key, value in fields.items()}
    if confirm:
        data["confirm"] = confirm
    return client.post(reverse("staff-application-action", args=[app.pk, name]), data)


def test_it_shows_every_section_of_the_application_to_the_instructor(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    response = _page(client, app)
    html = response.content.decode()
    assert response.status_code == 200
    for text in (
        app.reference,
        "Gestion des déchets à Saint-Louis",  # project
        "Commune de Saint-Louis",  # partner
        "Sénégal",  # country
        "Expertise",  # budget line
        "50\u202f000,00\u00a0€",
        "25\u202f000,00\u00a0€",  # requested
        "respecte le plafond de 70",  # budget rule from grants.budget.evaluate
        "partnership_agreement.pdf",  # attachment
        "Dossier déposé",  # history
        "Déclarer recevable",  # actions
        "Demander des compléments",
        "Déclarer irrecevable",
        "Assigner un évaluateur",
    ):
        assert text in html, text


def test_an_application_the_user_may_not_see_is_404(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.embassy_ma)
    assert _page(client, app).status_code == 404
    draft = world.draft()
    client.force_login(world.instructor)
    assert _page(client, draft).status_code == 404  # drafts are the applicant's own


def test_a_reviewer_never_sees_an_unassigned_application(world: World, client) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)  # assigned to reviewer1 only
    client.force_login(world.reviewer2)
    assert _page(client, app).status_code == 404
    client.force_login(world.reviewer1)
    assert _page(client, app).status_code == 200


def test_an_applicant_is_refused_the_staff_page_even_for_its_own_application(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.applicant)
    assert _page(client, app).status_code == 403


def test_the_instructor_declares_the_application_eligible(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    response = _act(client, app, "declare_eligible")
    assert response.status_code == 302
    assert response["Location"] == reverse("staff-application", args=[app.pk])
    app.refresh_from_db()
    assert app.state == S.AWAITING_OPINIONS
    assert OpinionRequest.objects.filter(application=app, country_id="SN").exists()
    assert "Déclarer recevable » : fait." in client.get(response["Location"]).content.decode()


def test_an_irreversible_act_without_its_confirmation_ticked_is_400_on_the_checkbox(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    response = _act(client, app, "declare_eligible", confirm="")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="action-declare_eligible" open' in html
    assert 'aria-describedby="confirm-declare_eligible-error"' in html
    assert "Cette confirmation est requise pour continuer." in html
    app.refresh_from_db()
    assert app.state == S.SUBMITTED
    both = _act(client, app, "declare_ineligible", confirm="", reason="")
    assert both.status_code == 400  # every payload error at once: the reason and the confirmation
    html = both.content.decode()
    assert "Ce champ est obligatoire." in html and 'aria-describedby="confirm-declare_ineligible-error"' in html


def test_declaring_ineligible_without_a_reason_is_400_with_the_field_and_reason(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    response = _act(client, app, "declare_ineligible", reason="  ")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Ce champ est obligatoire." in html
    assert 'id="action-declare_ineligible" open' in html
    app.refresh_from_db()
    assert app.state == S.SUBMITTED


def test_declaring_ineligible_with_a_reason(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    assert _act(client, app, "declare_ineligible", reason="Collectivité non éligible.").status_code == 302
    app.refresh_from_db()
    assert app.state == S.INELIGIBLE
    assert "Collectivité non éligible." in _page(client, app).content.decode()  # in the history


def test_requesting_completion_with_a_message_and_a_due_date(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    due = timezone.localdate() + dt.timedelta(days=10)
    client.force_login(world.instructor)
    response = _act(client, app, "request_completion", message="Joindre la délibération signée.", due_date=str(due))
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.state == S.INCOMPLETE
    assert app.completion_message == "Joindre la délibération signée."
    assert app.completion_due == due


def test_requesting_completion_with_a_past_due_date_is_400(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    past = timezone.localdate() - dt.timedelta(days=1)
    response = _act(client, app, "request_completion", message="Compléter.", due_date=str(past))
    assert response.status_code == 400
    assert "La date limite ne peut pas être dans le passé." in response.content.decode()
    response = _act(client, app, "request_completion", message="", due_date="")
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in response.content.decode()


def test_ending_the_opinion_phase_early_requires_a_comment(world: World, client) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    client.force_login(world.instructor)
    response = _act(client, app, "close_opinions", comment="")
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in response.content.decode()
    assert _act(client, app, "close_opinions", comment="Le poste ne répond pas.").status_code == 302
    app.refresh_from_db()
    assert app.state == S.UNDER_REVIEW
    assert OpinionRequest.objects.get(application=app).state == OpinionRequest.State.CANCELLED


def test_an_action_not_available_shows_why(world: World, client) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)  # the review is assigned, not submitted
    client.force_login(world.secretary)
    html = _page(client, app).content.decode()
    assert "Inscrire en comité" in html
    assert "Évaluations rendues : 0 sur les 1 requises avant le comité." in html


def test_firing_an_action_whose_conditions_are_unmet_is_409_with_the_reasons(world: World, client) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    client.force_login(world.secretary)
    response = _act(client, app, "schedule", session=str(world.session.pk))
    assert response.status_code == 409
    assert "Évaluations rendues : 0 sur les 1 requises avant le comité." in response.content.decode()
    app.refresh_from_db()
    assert app.state == S.UNDER_REVIEW


def test_an_action_of_another_role_is_403_and_an_unknown_one_404(world: World, client) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    client.force_login(world.embassy_sn)
    assert _act(client, app, "declare_ineligible", reason="Non.").status_code == 403
    client.force_login(world.instructor)
    assert _act(client, app, "explode").status_code == 404
    assert client.get(reverse("staff-application-action", args=[app.pk, "declare_eligible"])).status_code == 405


def test_the_secretary_schedules_and_approves_from_the_application_page(world: World, client) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    review = Review.objects.get(application=app)
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={"scores": {c["code"]: 3 for c in world.call.scoring_criteria}, "recommendation": "maybe"},
    )
    services.consensus_record(application_id=app.pk, user=world.instructor)
    client.force_login(world.secretary)
    assert _act(client, app, "schedule", session=str(world.session.pk)).status_code == 302
    world.open_session()
    response = _act(client, app, "approve", amount="30000,00")
    assert response.status_code == 409
    assert "dépasse le montant demandé" in response.content.decode()
    assert _act(client, app, "approve", amount="20 000,50").status_code == 302
    app.refresh_from_db()
    assert app.state == S.APPROVED
    assert str(app.decision.amount) == "20000.50"


def test_the_instructor_assigns_a_reviewer(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    page = _page(client, app).content.decode()
    assert 'value="reviewer2"' in page
    response = client.post(reverse("staff-assign-reviewer", args=[app.pk]), {"assign_reviewer-reviewer": "reviewer2"})
    assert response.status_code == 302
    assert Review.objects.filter(application=app, reviewer=world.reviewer2).exists()
    assert 'value="reviewer2"' not in _page(client, app).content.decode()


def test_assigning_an_unknown_reviewer_is_400(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    response = client.post(reverse("staff-assign-reviewer", args=[app.pk]), {"assign_reviewer-reviewer": "embassy-sn"})
    assert response.status_code == 400
    assert not Review.objects.filter(application=app).exists()
    client.force_login(world.secretary)
    response = client.post(reverse("staff-assign-reviewer", args=[app.pk]), {"assign_reviewer-reviewer": "reviewer2"})
    assert response.status_code == 403


def test_attachments_are_downloadable_by_staff_who_see_the_application(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    attachment = app.attachments.first()
    url = reverse("staff-attachment", args=[app.pk, attachment.pk])
    client.force_login(world.instructor)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert attachment.original_name in response["Content-Disposition"]
    client.force_login(world.embassy_ma)
    assert client.get(url).status_code == 404


def test_opinions_and_the_average_score_per_criterion_are_shown_to_staff(world: World, client) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    second = services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    services.review_declare(review_id=second.pk, user=world.reviewer2, conflict=False)
    request = OpinionRequest.objects.get(application=app)
    services.opinion_give(
        opinion_id=request.pk, user=world.embassy_sn, verdict="reserved", comment="Partenaire fragile."
    )
    codes = [c["code"] for c in world.call.scoring_criteria]
    for reviewer, score, recommendation in ((world.reviewer1, 4, "yes"), (world.reviewer2, 1, "no")):
        review = Review.objects.get(application=app, reviewer=reviewer)
        services.review_submit(
            review_id=review.pk,
            user=reviewer,
            payload={"scores": dict.fromkeys(codes, score), "recommendation": recommendation, "comment": "Vu."},
        )
    client.force_login(world.instructor)
    html = _page(client, app).content.decode()
    assert "Réservé" in html
    assert "Partenaire fragile." in html
    assert "Pertinence au regard des ODD" in html
    assert "2,5/5" in html  # (4 + 1) / 2 on every criterion and weighted
    assert "Favorable × 1, Défavorable × 1" in html


def test_a_reviewer_sees_only_its_own_review_not_the_others_nor_their_comments(world: World, client) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    second = services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    services.review_declare(review_id=second.pk, user=world.reviewer2, conflict=False)
    world.fire(app, "close_opinions", world.instructor, comment="Fin anticipée.")
    review2 = Review.objects.get(application=app, reviewer=world.reviewer2)
    services.review_submit(
        review_id=review2.pk,
        user=world.reviewer2,
        payload={
            "scores": {c["code"]: 1 for c in world.call.scoring_criteria},
            "recommendation": "no",
            "comment": "Commentaire confidentiel du second évaluateur.",
        },
    )
    client.force_login(world.reviewer1)
    html = _page(client, app).content.decode()
    assert "Commentaire confidentiel du second évaluateur." not in html
    assert "reviewer2" not in html.split('id="historique"')[0]


def test_the_page_renders_in_english(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    response = client.get(reverse("staff-application", args=[app.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
