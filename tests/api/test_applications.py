"""POST/GET /applications/, GET/PATCH /applications/{id}/, attachments and reviewers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from grants.models import Application, Attachment, Review
from tests.api.helpers import body, english, pdf, submitted, url
from tests.factories import World, complete_data

S = Application.State


# --- create ---------------------------------------------------------------------------------


def test_an_applicant_creates_a_draft(world: World, api: Callable[..., APIClient]) -> None:
    response = api(world.applicant).post(url("applications/"), complete_data(world.call), format="json")
    app = body(response, 201)
    assert response["Location"] == f"/api/v1/applications/{app['id']}/"
    assert app["state"] == "draft"
    assert app["state_label"] == "Brouillon"
    assert app["reference"] is None
    assert app["organisation"]["name"] == "Ville de Lyon"
    assert app["countries"] == ["SN"]
    assert app["partners"] == [{"name": "Commune de Saint-Louis", "country": "SN"}]
    assert app["budget"]["funding"] == {
        "own_cash": "15000.00",
        "own_in_kind": "5000.00",
        "partner": "10000.00",
        "other": "45000.00",
        "requested": "25000.00",
    }
    assert app["budget"]["total_expenses"] == "100000.00"
    assert [h["transition"] for h in app["history"]] == ["create"]


def test_amounts_are_kept_exactly_as_decimals(world: World, api: Callable[..., APIClient]) -> None:
    data = complete_data(world.call)
    data["budget"]["funding"]["requested"] = "25000.10"
    app = body(api(world.applicant).post(url("applications/"), data, format="json"), 201)
    assert app["budget"]["funding"]["requested"] == "25000.10"
    assert str(Application.objects.get(pk=app["id"]).requested_amount) == "25000.10"


def test_the_delegation_cannot_create_an_application(world: World, api: Callable[..., APIClient]) -> None:
    response = api(world.instructor).post(url("applications/"), complete_data(world.call), format="json")
    assert body(response, 403)["detail"] == "Seul un porteur de projet peut créer un dossier."


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"call": "NOPE"}, "call"),
        ({"title": ""}, "title"),
        ({"countries": ["ZZ"]}, "countries"),
        ({"budget": {"funding": {"requested": "12.345"}}}, "budget.funding.requested"),
        (
            {"budget": {"lines": [{"year": 1, "category": "rockets", "label": "x", "amount": "1"}]}},
            "budget.lines.0.category",
        ),
        ({"duration_months": "two years"}, "duration_months"),
        ({"start_date": "31/12/2027"}, "start_date"),
        ({"partners": [{"name": "A\x00B", "country": "SN"}]}, "partners.0.name"),
    ],
)
def test_it_rejects_invalid_input_field_by_field(
    world: World, api: Callable[..., APIClient], change: dict[str, Any], field: str
) -> None:
    data = {**complete_data(world.call), **change}
    errors = body(api(world.applicant).post(url("applications/"), data, format="json"), 400)["errors"]
    assert field in errors
    assert all(isinstance(m, str) and m for m in errors[field])


def test_it_rejects_a_float_amount_with_the_domain_reason(world: World, api: Callable[..., APIClient]) -> None:
    data = complete_data(world.call)
    data["budget"]["funding"]["requested"] = 25000.5
    errors = body(api(world.applicant).post(url("applications/"), data, format="json"), 400)["errors"]
    assert "budget.funding.requested" in errors


def test_it_answers_validation_errors_in_english_when_asked(world: World, api: Callable[..., APIClient]) -> None:
    data = complete_data(world.call)
    del data["title"]
    errors = body(api(world.applicant, language="en").post(url("applications/"), data, format="json"), 400)["errors"]
    assert errors == {"title": ["This field is required."]}


# --- list -----------------------------------------------------------------------------------


def test_the_list_shows_only_what_the_caller_may_see(world: World, api: Callable[..., APIClient]) -> None:
    mine = world.draft()
    theirs = world.draft(world.applicant2)
    ids = [a["id"] for a in body(api(world.applicant).get(url("applications/")), 200)["results"]]
    assert ids == [str(mine.pk)]
    ids = [a["id"] for a in body(api(world.applicant2).get(url("applications/")), 200)["results"]]
    assert ids == [str(theirs.pk)]
    # Drafts are the applicant's own business.
    assert body(api(world.instructor).get(url("applications/")), 200)["results"] == []
    assert body(api(world.embassy_sn).get(url("applications/")), 200)["results"] == []


def test_the_list_filters_by_state_and_call(world: World, api: Callable[..., APIClient]) -> None:
    draft = world.draft()
    sent = submitted(world)
    client = api(world.applicant)
    assert [a["id"] for a in body(client.get(url("applications/"), {"state": "draft"}), 200)["results"]] == [
        str(draft.pk)
    ]
    listed = body(client.get(url("applications/"), {"state": "submitted", "call": world.call.code}), 200)["results"]
    assert [a["id"] for a in listed] == [str(sent.pk)]
    assert listed[0]["reference"] == sent.reference
    assert body(client.get(url("applications/"), {"call": "OTHER"}), 200)["results"] == []
    assert list(body(client.get(url("applications/"), {"state": "sent"}), 400)["errors"]) == ["state"]


def test_the_list_is_paginated_by_cursor(world: World, api: Callable[..., APIClient]) -> None:
    made = [world.draft(attachments=False) for _ in range(3)]
    client = api(world.applicant)
    seen: list[str] = []
    page = body(client.get(url("applications/"), {"page_size": 2}), 200)
    seen += [a["id"] for a in page["results"]]
    assert page["previous"] is None
    page = body(client.get(page["next"]), 200)
    seen += [a["id"] for a in page["results"]]
    assert page["next"] is None
    assert seen == [str(a.pk) for a in reversed(made)]


@pytest.mark.parametrize("cursor", ["garbage", "cD1ub3QtYS1kYXRl", "bz0teA=="])
def test_a_forged_cursor_is_a_400(world: World, api: Callable[..., APIClient], cursor: str) -> None:
    errors = body(api(world.applicant).get(url("applications/"), {"cursor": cursor}), 400)["errors"]
    assert list(errors) == ["cursor"]


# --- detail -----------------------------------------------------------------------------------


def test_an_application_of_another_authority_is_not_found(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    assert body(api(world.applicant2).get(url(f"applications/{app.pk}/")), 404) == {"detail": "Introuvable."}
    assert body(api(world.applicant2).get(url(f"applications/{uuid.uuid4()}/")), 404) == {"detail": "Introuvable."}


def test_an_embassy_sees_only_its_countries_applications(world: World, api: Callable[..., APIClient]) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    assert body(api(world.embassy_sn).get(url(f"applications/{app.pk}/")), 200)["id"] == str(app.pk)
    assert body(api(world.embassy_ma).get(url(f"applications/{app.pk}/")), 404)["detail"]
    assert body(api(world.embassy_ma, language="en").get(url(f"applications/{app.pk}/")), 404) == {
        "detail": english("Introuvable.")
    }


def test_available_transitions_are_what_the_caller_may_fire_now(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    assert body(api(world.applicant).get(url(f"applications/{app.pk}/")), 200)["available_transitions"] == ["withdraw"]
    assert body(api(world.instructor).get(url(f"applications/{app.pk}/")), 200)["available_transitions"] == [
        "request_completion",
        "declare_ineligible",
        "declare_eligible",
    ]
    assert body(api(world.secretary).get(url(f"applications/{app.pk}/")), 200)["available_transitions"] == []


def test_a_draft_says_why_it_cannot_be_submitted_yet(world: World, api: Callable[..., APIClient]) -> None:
    app = world.draft(attachments=False)
    data = body(api(world.applicant).get(url(f"applications/{app.pk}/")), 200)
    assert data["available_transitions"] == ["withdraw"]
    (blocked,) = data["blocked_transitions"]
    assert blocked["name"] == "submit"
    assert "Pièce obligatoire manquante : Convention de partenariat." in blocked["unmet"]


def _closed_early(world: World) -> Application:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    return world.fire(app, "close_opinions", world.instructor, comment="Fin anticipée.")


def test_the_applicant_never_sees_opinions_reviews_nor_internal_comments(
    world: World, api: Callable[..., APIClient]
) -> None:
    app = _closed_early(world)
    history = body(api(world.applicant).get(url(f"applications/{app.pk}/")), 200)["history"]
    assert {h["subject"] for h in history} == {"application"}
    closing = next(h for h in history if h["transition"] == "close_opinions")
    assert closing["comment"] == ""
    assert closing["by"] == "Chargé de mission (instruction)"
    assert history[0]["by"] == "applicant"


def test_the_delegation_sees_the_whole_history(world: World, api: Callable[..., APIClient]) -> None:
    app = _closed_early(world)
    history = body(api(world.instructor).get(url(f"applications/{app.pk}/")), 200)["history"]
    subjects = [(h["subject"], h["transition"]) for h in history]
    assert ("review", "assign") in subjects
    assert ("opinion", "cancel") in subjects
    closing = next(h for h in history if h["transition"] == "close_opinions")
    assert (closing["comment"], closing["by"]) == ("Fin anticipée.", "instructor")


def test_an_embassy_sees_its_opinion_but_no_review(world: World, api: Callable[..., APIClient]) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    history = body(api(world.embassy_sn).get(url(f"applications/{app.pk}/")), 200)["history"]
    subjects = {(h["subject"], h["transition"]) for h in history}
    assert ("opinion", "give") in subjects
    assert not {s for s in subjects if s[0] == "review"}


def test_a_reviewer_sees_its_own_review_only(world: World, api: Callable[..., APIClient]) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    from grants import services

    services.review_assign(application_id=app.pk, reviewer_username="reviewer2", user=world.instructor)
    history = body(api(world.reviewer1).get(url(f"applications/{app.pk}/")), 200)["history"]
    reviews = [h for h in history if h["subject"] == "review"]
    # Its own review only (assigned, then its declaration of no conflict), not reviewer2's.
    assert [h["transition"] for h in reviews] == ["assign", "declare"]
    # reviewer2 reads the application only once it has declared no conflict of interest.
    assert "conflit d'intérêts" in body(api(world.reviewer2).get(url(f"applications/{app.pk}/")), 403)["detail"]
    second = app.reviews.get(reviewer=world.reviewer2)
    services.review_declare(review_id=second.pk, user=world.reviewer2, conflict=False)
    assert body(api(world.reviewer2).get(url(f"applications/{app.pk}/")), 200)["id"] == str(app.pk)


# --- PATCH --------------------------------------------------------------------------------------


def test_an_applicant_edits_its_draft(world: World, api: Callable[..., APIClient]) -> None:
    app = world.draft()
    data = body(
        api(world.applicant).patch(
            url(f"applications/{app.pk}/"),
            {"title": "Nouveau titre", "budget": {"funding": {"requested": "20000.00", "other": "50000.00"}}},
            format="json",
        ),
        200,
    )
    assert data["title"] == "Nouveau titre"
    assert data["budget"]["funding"]["requested"] == "20000.00"
    assert data["summary"] == "Collecte et valorisation des déchets ménagers."


def test_read_only_fields_are_never_written(world: World, api: Callable[..., APIClient]) -> None:
    app = world.draft()
    data = body(
        api(world.applicant).patch(
            url(f"applications/{app.pk}/"),
            {
                "state": "approved",
                "reference": "HACK-00001",
                "id": str(uuid.uuid4()),
                "history": [],
                "decision": {"amount": "999999.00", "state": "recorded"},
                "available_transitions": ["approve"],
                "title": "Titre",
            },
            format="json",
        ),
        200,
    )
    assert (data["id"], data["state"], data["reference"], data["decision"]) == (str(app.pk), "draft", None, None)
    app.refresh_from_db()
    assert (app.state, app.reference, app.title) == ("draft", None, "Titre")
    assert not hasattr(app, "decision") or app.decision is None


def test_a_submitted_application_cannot_be_edited(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    data = body(api(world.applicant).patch(url(f"applications/{app.pk}/"), {"title": "x"}, format="json"), 409)
    assert "Déposé" in data["detail"]
    assert data["unmet"] == [data["detail"]]


def test_the_delegation_cannot_edit_an_application(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    assert body(api(world.instructor).patch(url(f"applications/{app.pk}/"), {"title": "x"}, format="json"), 403)


def test_editing_another_authoritys_application_is_not_found(world: World, api: Callable[..., APIClient]) -> None:
    app = world.draft()
    assert body(api(world.applicant2).patch(url(f"applications/{app.pk}/"), {"title": "x"}, format="json"), 404)


def test_an_edit_with_invalid_fields_changes_nothing(world: World, api: Callable[..., APIClient]) -> None:
    app = world.draft()
    errors = body(
        api(world.applicant).patch(
            url(f"applications/{app.pk}/"), {"title": "Autre", "gender_marker": 7}, format="json"
        ),
        400,
    )["errors"]
    assert list(errors) == ["gender_marker"]
    app.refresh_from_db()
    assert app.title == "Gestion des déchets à Saint-Louis"


# --- attachments ----------------------------------------------------------------------------------


def test_an_attachment_is_sniffed_and_stored_under_a_generated_name(
    world: World, api: Callable[..., APIClient]
) -> None:
    app = world.draft(attachments=False)
    client = api(world.applicant)
    upload = pdf("../../etc/passwd <script>.doc")
    data = body(client.post(url(f"applications/{app.pk}/attachments/"), {"kind": "budget_detail", "file": upload}), 201)
    assert data["kind"] == "budget_detail"
    assert data["content_type"] == "application/pdf"
    assert data["name"] == "passwd <script>.doc"  # display text only
    stored = Attachment.objects.get(pk=data["id"])
    assert "passwd" not in stored.file.name and "script" not in stored.file.name
    download = client.get(data["url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    assert "passwd" not in download["Content-Disposition"]


def test_a_file_is_judged_by_its_content_not_its_name(world: World, api: Callable[..., APIClient]) -> None:
    app = world.draft(attachments=False)
    fake = pdf("convention.pdf", b"#!/bin/sh\necho not a pdf\n")
    errors = body(
        api(world.applicant).post(url(f"applications/{app.pk}/attachments/"), {"kind": "other", "file": fake}), 400
    )["errors"]
    assert list(errors) == ["file"]
    assert "PDF" in errors["file"][0]


def test_a_file_over_the_size_limit_is_refused(world: World, api: Callable[..., APIClient], settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 2 * 1024 * 1024
    app = world.draft(attachments=False)
    big = pdf("big.pdf", b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024))
    too_big = "Le fichier dépasse la taille maximale de %(mb)s Mo."
    for language, words in (("fr", too_big % {"mb": 2}), ("en", english(too_big) % {"mb": 2})):
        errors = body(
            api(world.applicant, language=language).post(
                url(f"applications/{app.pk}/attachments/"), {"kind": "other", "file": big}
            ),
            400,
        )["errors"]
        assert errors["file"] == [words]
        big.seek(0)
    assert not Attachment.objects.filter(application=app).exists()


def test_an_upload_needs_a_kind_and_a_file(world: World, api: Callable[..., APIClient]) -> None:
    app = world.draft(attachments=False)
    errors = body(api(world.applicant).post(url(f"applications/{app.pk}/attachments/"), {}), 400)["errors"]
    assert set(errors) == {"kind", "file"}
    errors = body(
        api(world.applicant).post(url(f"applications/{app.pk}/attachments/"), {"kind": "poem", "file": pdf()}), 400
    )["errors"]
    assert list(errors) == ["kind"]


def test_attachments_follow_the_applications_rules(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    post = lambda user: api(user).post(  # noqa: E731
        url(f"applications/{app.pk}/attachments/"), {"kind": "other", "file": pdf()}
    )
    assert body(post(world.applicant), 409)["unmet"]
    assert body(post(world.instructor), 403)["detail"]
    assert body(post(world.applicant2), 404)["detail"]


def test_an_applicant_removes_an_attachment_of_its_draft(world: World, api: Callable[..., APIClient]) -> None:
    app = world.draft()
    attachment = app.attachments.first()
    assert attachment is not None
    client = api(world.applicant)
    assert body(api(world.applicant2).delete(url(f"applications/{app.pk}/attachments/{attachment.pk}/")), 404)
    assert client.delete(url(f"applications/{app.pk}/attachments/{attachment.pk}/")).status_code == 204
    assert body(client.delete(url(f"applications/{app.pk}/attachments/{attachment.pk}/")), 404)


# --- reviewers -----------------------------------------------------------------------------------


def test_an_instructor_assigns_a_reviewer(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    client = api(world.instructor)
    review = body(client.post(url(f"applications/{app.pk}/reviewers/"), {"reviewer": "reviewer2"}, format="json"), 201)
    assert (review["state"], review["reviewer"], review["application"]) == ("assigned", "reviewer2", str(app.pk))
    assert Review.objects.filter(application=app, reviewer=world.reviewer2).exists()
    again = body(client.post(url(f"applications/{app.pk}/reviewers/"), {"reviewer": "reviewer2"}, format="json"), 409)
    assert again["unmet"] == ["Cet évaluateur est déjà assigné à ce dossier."]


def test_only_a_reviewer_of_the_call_can_be_assigned(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    client = api(world.instructor)
    errors = body(client.post(url(f"applications/{app.pk}/reviewers/"), {"reviewer": "applicant"}, format="json"), 400)
    assert list(errors["errors"]) == ["reviewer"]
    errors = body(client.post(url(f"applications/{app.pk}/reviewers/"), {}, format="json"), 400)
    assert list(errors["errors"]) == ["reviewer"]


def test_assigning_reviewers_is_the_instructors_job(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    payload = {"reviewer": "reviewer1"}
    assert body(api(world.applicant).post(url(f"applications/{app.pk}/reviewers/"), payload, format="json"), 403)
    assert body(api(world.applicant2).post(url(f"applications/{app.pk}/reviewers/"), payload, format="json"), 404)
    draft = world.draft()
    assert body(api(world.instructor).post(url(f"applications/{draft.pk}/reviewers/"), payload, format="json"), 404)
