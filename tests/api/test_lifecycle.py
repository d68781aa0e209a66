"""The whole lifecycle driven through the API only, from a draft to a recorded decision."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from grants import services
from grants.models import Decision
from tests.factories import PDF_BYTES, World, complete_data


def _sign_in(username: str, client_class: type[APIClient] = APIClient) -> APIClient:
    client = client_class(HTTP_ACCEPT_LANGUAGE="fr")
    response = client.post("/api/v1/auth/token/", {"username": username, "password": "pw"}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.content)
    return response.json()


def test_an_application_goes_from_draft_to_a_recorded_decision_through_the_api(world: World) -> None:
    drive_lifecycle(world)


def drive_lifecycle(world: World, client_class: type[APIClient] = APIClient) -> None:
    """Every step through the API; ``client_class`` may check each response (see test_schema)."""

    def _signed_in(username: str) -> APIClient:
        return _sign_in(username, client_class)

    applicant = _signed_in("applicant")
    call = _ok(applicant.get(f"/api/v1/calls/{world.call.code}/"))
    assert call["required_attachments"] == ["partnership_agreement", "council_resolution"]

    # Draft: created, then completed with the call's required attachments.
    app = _ok(applicant.post("/api/v1/applications/", complete_data(world.call), format="json"), 201)
    app_id = app["id"]
    assert app["state"] == "draft"
    assert app["available_transitions"] == ["withdraw"]
    assert [b["name"] for b in app["blocked_transitions"]] == ["submit"]
    for kind in call["required_attachments"]:
        upload = SimpleUploadedFile(f"{kind}.pdf", PDF_BYTES, content_type="application/pdf")
        _ok(applicant.post(f"/api/v1/applications/{app_id}/attachments/", {"kind": kind, "file": upload}), 201)
    app = _ok(applicant.get(f"/api/v1/applications/{app_id}/"))
    assert app["available_transitions"] == ["submit", "withdraw"]

    app = _ok(applicant.post(f"/api/v1/applications/{app_id}/transitions/submit/", {}, format="json"))
    assert app["state"] == "submitted"
    assert app["reference"] == f"{world.call.code}-00001"

    # Eligibility: the instructor takes the task, assigns a reviewer, declares it eligible.
    instructor = _signed_in("instructor")
    tasks = _ok(instructor.get("/api/v1/tasks/"))["results"]
    task = next(t for t in tasks if t["application"] == app_id)
    assert task["kind"] == "check_eligibility"
    assert _ok(instructor.post(f"/api/v1/tasks/{task['id']}/claim/"))["assignee"] == "instructor"
    review = _ok(
        instructor.post(f"/api/v1/applications/{app_id}/reviewers/", {"reviewer": "reviewer1"}, format="json"), 201
    )
    assert review["state"] == "assigned"
    app = _ok(instructor.post(f"/api/v1/applications/{app_id}/transitions/declare_eligible/", {}, format="json"))
    assert app["state"] == "awaiting_opinions"

    # The embassy gives its opinion: the last one closes the opinion phase by itself.
    embassy = _signed_in("embassy-sn")
    opinions = _ok(embassy.get("/api/v1/opinions/", {"state": "requested"}))["results"]
    opinion = next(o for o in opinions if o["application"] == app_id)
    assert opinion["country"] == "SN"
    given = _ok(
        embassy.post(
            f"/api/v1/opinions/{opinion['id']}/give/",
            {"verdict": "favorable", "comment": "Partenariat solide."},
            format="json",
        )
    )
    assert given["state"] == "given"
    assert _ok(instructor.get(f"/api/v1/applications/{app_id}/"))["state"] == "under_review"

    # The reviewer scores it with the call's grid.
    reviewer = _signed_in("reviewer1")
    mine = _ok(reviewer.get("/api/v1/reviews/"))["results"]
    assert [r["id"] for r in mine] == [review["id"]]
    scores = {c["code"]: 4 for c in mine[0]["criteria"]}
    # First the declaration of no conflict of interest, then the scores.
    declared = _ok(reviewer.post(f"/api/v1/reviews/{review['id']}/declare/", {"conflict": False}, format="json"))
    assert declared["declared_at"] is not None
    submitted = _ok(
        reviewer.post(
            f"/api/v1/reviews/{review['id']}/submit/", {"scores": scores, "recommendation": "yes"}, format="json"
        )
    )
    assert submitted["state"] == "submitted"

    # The consensus of the reviews (the call requires it before the committee).
    consensus = _ok(instructor.post(f"/api/v1/applications/{app_id}/consensus/", {"comment": "Solide."}, format="json"))
    assert consensus["weighted_score"] == "4.0"

    # The committee: a session, the scheduling, the approval.
    secretary = _signed_in("secretary")
    day = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    session = _ok(secretary.post("/api/v1/sessions/", {"call": world.call.code, "date": day}, format="json"), 201)
    app = _ok(
        secretary.post(
            f"/api/v1/applications/{app_id}/transitions/schedule/", {"session": session["id"]}, format="json"
        )
    )
    assert app["state"] == "in_committee"
    assert _ok(secretary.post(f"/api/v1/sessions/{session['id']}/open/"))["state"] == "open"
    app = _ok(
        secretary.post(f"/api/v1/applications/{app_id}/transitions/approve/", {"amount": "25000.00"}, format="json")
    )
    assert app["state"] == "approved"
    assert app["decision"]["amount"] == "25000.00"

    # The signatory signs; the letter is rendered and delivered by a background job.
    signatory = _signed_in("signatory")
    decision = next(d for d in _ok(signatory.get("/api/v1/decisions/"))["results"] if d["application"] == app_id)
    assert decision["state"] == "draft"
    signed = _ok(signatory.post(f"/api/v1/decisions/{decision['id']}/sign/"))
    assert signed["state"] in ("signed", "delivered")
    if Decision.objects.get(pk=decision["id"]).state == Decision.State.SIGNED:
        services.decision_deliver(decision_id=decision["id"])

    # The letter: a PDF once the background job has rendered it, a 404 before.
    letter = signatory.get(f"/api/v1/decisions/{decision['id']}/pdf/")
    assert letter.status_code in (200, 404)
    if letter.status_code == 200:
        assert letter["Content-Type"] == "application/pdf"

    # Finance records the commitment.
    finance = _signed_in("finance")
    delivered = _ok(finance.get("/api/v1/decisions/", {"state": "delivered"}))["results"]
    assert [d["id"] for d in delivered] == [decision["id"]]
    recorded = _ok(
        finance.post(
            f"/api/v1/decisions/{decision['id']}/record/", {"commitment_number": "EJ-2026-000123"}, format="json"
        )
    )
    assert recorded["state"] == "recorded"
    assert recorded["commitment_number"] == "EJ-2026-000123"

    # The applicant follows it all, without the confidential steps (docs/policy.md): the
    # decision's signature and its budget commitment are the delegation's own steps.
    app = _ok(applicant.get(f"/api/v1/applications/{app_id}/"))
    assert app["state"] == "approved"
    assert app["decision"]["state"] == "recorded"
    steps = [(h["subject"], h["transition"]) for h in app["history"]]
    assert steps == [
        ("application", "create"),
        ("application", "submit"),
        ("application", "declare_eligible"),
        ("application", "close_opinions"),
        ("application", "schedule"),
        ("application", "approve"),
        ("decision", "deliver"),
        # The commitment itself stays internal; its effect, the first tranche released, is not.
        ("payment", "make_payable"),
    ]
    assert _ok(applicant.get("/api/v1/decisions/"))["results"][0]["id"] == decision["id"]
