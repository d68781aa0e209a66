"""The call editor's pages (issue 15): the list, creating and duplicating a call, its
settings in sections, its questions, the preview, publishing; and the applicant's
answers in the project section, shown to staff, printed on the receipt, exported."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from grants.documents import issuing
from grants.models import Application, Call, CallQuestion, Role
from tests.factories import CallFactory, UserFactory, World, grant

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def _edit_form(call: Call, **changes: Any) -> dict[str, Any]:
    """The editor's form as the browser posts it, from the page's own values."""
    local = timezone.localtime(call.opens_at)
    data: dict[str, Any] = {
        "version": call.version,
        "title": call.title,
        "description": "",
        "kind": call.kind,
        "opens_at": local.strftime("%Y-%m-%dT%H:%M"),
        "closes_at": timezone.localtime(call.closes_at).strftime("%Y-%m-%dT%H:%M"),
        "envelope": "2 000 000",
        "rate_pma": "70",
        "rate_apd": "50",
        "rate_non_apd": "30",
        "multi_country_rule": "flat",
        "rate_multi_country": "60",
        "min_own_contribution": "10",
        "max_in_kind_share": "50",
        "min_duration_months": "12",
        "max_duration_months": "36",
        "eligibility_deadline_days": "15",
        "opinion_deadline_days": "21",
        "review_deadline_days": "21",
        "eligible_countries": "SN, MA",
        "required_attachments": ["partnership_agreement", "council_resolution"],
        "reminder_steps": "-7, -2, 0, 3",
        "interim_report_days": "60",
        "final_report_months": "6",
        "max_extension_months": "12",
        "budget_change_threshold": "20",
        "min_reviews": "1",
        "consensus_required": "on",
        "min_members": "3",
        "criteria-count": "2",
        "c-0-code": "sdg",
        "c-0-label": "Pertinence au regard des ODD",
        "c-0-label_en": "SDG relevance",
        "c-0-weight": "2",
        "c-1-code": "partnership",
        "c-1-label": "Qualité du partenariat",
        "c-1-weight": "1",
        "questions-count": "2",
        "q-0-position": "2",
        "q-0-code": "sector",
        "q-0-label": "Secteur principal",
        "q-0-label_en": "Main sector",
        "q-0-type": "choice",
        "q-0-choices": "Eau | Water\nSanté | Health",
        "q-0-required": "on",
        "q-1-position": "1",
        "q-1-code": "jobs",
        "q-1-label": "Emplois créés",
        "q-1-type": "number",
        "q-1-min": "0",
        "q-1-max": "500",
    }
    data.update(changes)
    return data


def test_an_instructor_creates_sets_up_previews_and_publishes_a_call(client: Client, world: World) -> None:
    signed_in(client, world.instructor)
    listing = client.get("/appels/")
    assert listing.status_code == 200 and world.call.code in text(listing)
    assert 'href="/appels/"' in text(client.get("/tasks/"))  # in the staff menu
    opens = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    closes = (timezone.localtime() + dt.timedelta(days=40)).strftime("%Y-%m-%dT%H:%M")
    created = client.post(
        "/appels/nouveau/", {"code": "AAP-WEB", "title": "Appel du web", "opens_at": opens, "closes_at": closes}
    )
    assert created.status_code == 302 and created["Location"] == "/appels/AAP-WEB/reglages/"
    call = Call.objects.get(code="AAP-WEB")
    assert call.state == Call.State.DRAFT
    assert timezone.localtime(call.opens_at).strftime("%Y-%m-%dT%H:%M") == opens  # typed in Paris time

    page = text(client.get("/appels/AAP-WEB/reglages/"))
    assert "L'enveloppe doit être supérieure à zéro." in page  # publish is offered, with its reasons
    # A bad percentage and a reused question code: nothing is saved, each error shown.
    bad = client.post("/appels/AAP-WEB/reglages/", _edit_form(call, rate_pma="soixante-dix", **{"q-1-code": "sector"}))
    assert bad.status_code == 400
    assert "Indiquez un pourcentage, par ex. 70 ou 12,5." in text(bad)
    bad = client.post("/appels/AAP-WEB/reglages/", _edit_form(call, **{"q-1-code": "sector"}))
    assert bad.status_code == 400
    assert "le code « sector » est déjà utilisé par une autre question de l'appel" in text(bad)
    assert Call.objects.get(code="AAP-WEB").version == 1

    saved = client.post("/appels/AAP-WEB/reglages/", _edit_form(call))
    assert saved.status_code == 302
    call.refresh_from_db()
    assert (call.rate_pma, call.version, call.envelope) == (call.rate_pma.__class__("0.7"), 2, 2000000)
    assert list(call.questions.values_list("code", flat=True)) == ["jobs", "sector"]  # reordered by "Ordre"
    assert call.questions.get(code="sector").choices == [
        {"value": "eau", "label": "Eau", "label_en": "Water"},
        {"value": "sante", "label": "Santé", "label_en": "Health"},
    ]
    assert sorted(call.eligible_countries.values_list("iso2", flat=True)) == ["MA", "SN"]

    preview = text(client.get("/appels/AAP-WEB/apercu/"))
    assert "Secteur principal *" in preview and "Emplois créés" in preview
    assert "Pays les moins avancés (PMA) : 70 %" in preview
    english = text(client.get("/appels/AAP-WEB/apercu/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "Main sector *" in english

    published = client.post("/appels/AAP-WEB/actions/publish/")
    assert published.status_code == 302
    assert Call.objects.get(code="AAP-WEB").state == Call.State.PUBLISHED
    frozen = text(client.get("/appels/AAP-WEB/reglages/"))
    assert "seule la date de clôture peut être reportée" in frozen
    assert re.search(r'<input[^>]*name="rate_pma"[^>]*disabled', frozen)
    closing = re.search(r'<input[^>]*name="closes_at"[^>]*>', frozen)
    assert closing and "disabled" not in closing.group(0)  # the one setting still editable


def test_publishing_lists_every_reason(client: Client, world: World) -> None:
    call = CallFactory(published=False, envelope=0, scoring_criteria=[])
    signed_in(client, world.admin)
    refused = client.post(f"/appels/{call.code}/actions/publish/", follow=True)
    body = text(refused)
    assert "L'enveloppe doit être supérieure à zéro." in body
    assert "La grille d'évaluation n'a aucun critère." in body
    assert Call.objects.get(pk=call.pk).state == Call.State.DRAFT


def test_a_stale_page_cannot_overwrite_a_newer_save(client: Client, world: World) -> None:
    call = CallFactory(published=False)
    signed_in(client, world.instructor)
    first = client.post(f"/appels/{call.code}/reglages/", _edit_form(call, title="Première version"))
    assert first.status_code == 302
    second = client.post(f"/appels/{call.code}/reglages/", _edit_form(call, title="Seconde version"))
    assert second.status_code == 409
    assert "modifié par quelqu'un d'autre" in text(second)
    assert 'value="Seconde version"' in text(second)  # what was typed is still on the page
    assert Call.objects.get(pk=call.pk).title == "Première version"


def test_a_published_calls_closing_date_is_extended_never_shortened(client: Client, world: World) -> None:
    signed_in(client, world.instructor)
    earlier = timezone.localtime(world.call.closes_at - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    refused = client.post(f"/appels/{world.call.code}/reglages/", _edit_form(world.call, closes_at=earlier))
    assert refused.status_code == 409
    assert "peut être reportée, jamais avancée" in text(refused)
    later = timezone.localtime(world.call.closes_at + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    done = client.post(f"/appels/{world.call.code}/reglages/", _edit_form(world.call, closes_at=later, rate_pma="99"))
    assert done.status_code == 302
    world.call.refresh_from_db()
    assert timezone.localtime(world.call.closes_at).strftime("%Y-%m-%dT%H:%M") == later
    assert str(world.call.rate_pma) == "0.7000"  # the rest stays as it was


def test_a_call_is_duplicated_from_the_list(client: Client, world: World) -> None:
    CallQuestion.objects.create(call=world.call, code="public", label="Public visé", type="text")
    signed_in(client, world.admin)
    form = text(client.get(f"/appels/nouveau/?depuis={world.call.code}"))
    assert f'<option value="{world.call.code}" selected>' in form
    done = client.post("/appels/nouveau/", {"code": "AAP-BIS", "duplicate_of": world.call.code})
    assert done.status_code == 302
    copy = Call.objects.get(code="AAP-BIS")
    assert copy.state == Call.State.DRAFT and list(copy.questions.values_list("code", flat=True)) == ["public"]
    again = client.post("/appels/nouveau/", {"code": "AAP-BIS", "duplicate_of": world.call.code})
    assert again.status_code == 400 and "Ce code est déjà celui d'un autre appel." in text(again)


def test_who_opens_the_editor(client: Client, world: World) -> None:
    scoped = UserFactory(username="instructor-scoped")
    grant(scoped, Role.INSTRUCTOR, call=world.call)
    other = CallFactory(published=False)
    signed_in(client, scoped)
    assert client.get(f"/appels/{world.call.code}/reglages/").status_code == 200
    assert client.get(f"/appels/{other.code}/reglages/").status_code == 404
    assert client.get("/appels/nouveau/").status_code == 403  # creating needs every call in scope
    assert "Créer un appel" not in text(client.get("/appels/"))
    signed_in(client, world.secretary)
    assert client.get("/appels/").status_code == 403


def _questions(call: Call) -> None:
    CallQuestion.objects.create(call=call, code="jobs", label="Emplois créés", type="number", max_value=500, position=0)
    CallQuestion.objects.create(
        call=call,
        code="sector",
        label="Secteur principal",
        label_en="Main sector",
        type="choice",
        choices=[{"value": "water", "label": "Eau", "label_en": "Water"}, {"value": "health", "label": "Santé"}],
        required=True,
        position=1,
    )


def test_the_applicant_answers_in_the_project_section(client: Client, world: World) -> None:
    _questions(world.call)
    app = world.draft()
    signed_in(client, world.applicant)
    section = f"/mes-dossiers/{app.pk}/saisie/projet/"
    page = text(client.get(section))
    assert "Questions de l'appel" in page and "Secteur principal *" in page
    base = {
        "title": app.title,
        "summary": app.summary,
        "objectives": "",
        "themes": "",
        "sdg_targets": "",
        "gender_marker": "0",
        "start_date": "2027-01-01",
        "duration_months": "24",
    }
    bad = client.post(section, {**base, "answer_jobs": "9000"})
    assert bad.status_code == 400
    assert "Le nombre doit être au plus 500." in text(bad)  # on the field "Emplois créés"
    assert 'id="id_answer_jobs_error"' in text(bad)
    # Submitting without the required answer is refused with the question's label.
    review = text(client.get(f"/mes-dossiers/{app.pk}/verification/"))
    assert "Question obligatoire sans réponse : « Secteur principal »." in review
    ok = client.post(section, {**base, "answer_jobs": "12", "answer_sector": "health"})
    assert ok.status_code == 302
    assert Application.objects.get(pk=app.pk).answers == {"jobs": "12", "sector": "health"}
    review = text(client.get(f"/mes-dossiers/{app.pk}/verification/"))
    assert "Question obligatoire sans réponse" not in review
    assert "Secteur principal *" in review and "Santé" in review  # the recap before submitting


def test_staff_read_the_answers_the_receipt_prints_them_and_the_export_carries_them(
    client: Client, world: World
) -> None:
    _questions(world.call)
    app = world.draft(answers={"jobs": "12", "sector": "water"})
    app = world.advance(app, Application.State.SUBMITTED)
    signed_in(client, world.instructor)
    page = text(client.get(f"/dossiers/{app.pk}/instruction/"))
    assert "Emplois créés" in page and "Eau" in page
    snapshot = app.snapshots.get()
    context = issuing.receipt_context(snapshot, code="TEST")
    assert context["answers"] == [
        {"label": "Emplois créés", "value": "12"},
        {"label": "Secteur principal", "value": "Eau"},
    ]
    export = b"".join(client.get("/dossiers/export/csv/").streaming_content).decode()
    assert "Réponses aux questions de l'appel" in export
    assert "jobs = 12; sector = water" in export


def test_the_snapshot_diff_lists_changed_answers() -> None:
    from grants.snapshots_diff import diff

    before = {"answers": {"jobs": "12", "sector": "water"}}
    after = {"answers": {"jobs": "15", "youth": True}}
    changes = [(c.section, c.kind, c.label, c.before, c.after) for c in diff(before, after)]
    assert changes == [
        ("answers", "changed", "jobs", "12", "15"),
        ("answers", "removed", "sector", "water", "—"),
        ("answers", "added", "youth", "—", "Oui"),
    ]


def test_the_deposit_receipt_is_rendered_with_the_answers(world: World) -> None:
    _questions(world.call)
    app = world.advance(world.draft(answers={"jobs": "3", "sector": "health"}), Application.State.SUBMITTED)
    snapshot = app.snapshots.get()
    assert issuing.issue_receipt(snapshot.pk) == issuing.ISSUED
    document = snapshot.receipt
    assert document.template_version == "deposit_receipt/2026.2" and document.pages >= 1
