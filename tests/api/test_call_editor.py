"""The call editor through the API (issue 15): POST /calls/, PATCH /calls/{code}/, the
call's transitions, its questions and the applications' answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from grants.models import Application, Call, CallQuestion, CommitteeSession, Role, Snapshot
from notifications.models import Notification
from tests.api.helpers import body, english, url
from tests.factories import CallFactory, UserFactory, World, grant
from workflows import audit
from workflows.models import TransitionLog

Api = Callable[..., APIClient]


def _future(days: int) -> str:
    return (timezone.localtime() + dt.timedelta(days=days)).replace(microsecond=0, tzinfo=None).isoformat()


QUESTIONS = [
    {"code": "public", "label": "Public visé", "label_en": "Target audience", "type": "text", "required": True},
    {
        "code": "sector",
        "label": "Secteur principal",
        "label_en": "Main sector",
        "type": "choice",
        "choices": [{"value": "water", "label": "Eau", "label_en": "Water"}],
        "required": True,
    },
    {"code": "jobs", "label": "Emplois créés", "type": "number", "min": "0", "max": "500"},
    {"code": "youth", "label": "Projet jeunesse", "type": "yes_no"},
]


def _new_call(client: APIClient, code: str = "AAP-2027-GEN", **more: Any) -> dict[str, Any]:
    payload = {
        "code": code,
        "title": "Appel généraliste 2027",
        "opens_at": _future(-1),
        "closes_at": _future(30),
        "envelope": "1500000.00",
        "min_reviews": 1,
        **more,
    }
    return body(client.post(url("calls/"), payload, format="json"), 201)


def test_a_call_is_created_fails_to_publish_is_fixed_published_and_an_application_answers_and_is_decided(
    world: World, api: Api
) -> None:
    client = api(world.instructor)
    call = _new_call(
        client,
        envelope="0",
        rate_pma="1.2",
        scoring_criteria=[
            {"code": "sdg", "label": "ODD", "weight": 0},
            {"code": "impact", "label": "Impact", "weight": 2},
        ],
        required_attachments=["partnership_agreement", "casier_judiciaire"],
        questions=QUESTIONS,
    )
    assert call["state"] == "draft"
    assert [q["code"] for q in call["questions"]] == ["public", "sector", "jobs", "youth"]
    assert call["version"] == 1

    refused = body(client.post(url("calls/AAP-2027-GEN/transitions/publish/")), 409)
    unmet = refused["unmet"]
    assert "L'enveloppe doit être supérieure à zéro." in unmet
    assert "Le taux maximal PMA (120 %) doit être compris entre 0 et 100 %." in unmet
    assert "Le critère « ODD » a un poids de 0 : les poids doivent être positifs." in unmet
    assert "Types de pièces obligatoires inconnus : casier_judiciaire." in unmet
    assert "La question « Secteur principal » est à choix mais propose moins de deux choix." in unmet
    assert len(unmet) == 5
    assert Call.objects.get(code="AAP-2027-GEN").state == Call.State.DRAFT

    fixed_questions = [dict(q) for q in QUESTIONS]
    fixed_questions[1]["choices"] = [
        {"value": "water", "label": "Eau", "label_en": "Water"},
        {"value": "health", "label": "Santé", "label_en": "Health"},
    ]
    fixed = body(
        client.patch(
            url("calls/AAP-2027-GEN/"),
            {
                "version": call["version"],
                "envelope": "1500000.00",
                "rate_pma": "0.8",
                "scoring_criteria": [
                    {"code": "sdg", "label": "ODD", "label_en": "SDG", "weight": 1},
                    {"code": "impact", "label": "Impact", "weight": 2},
                ],
                "required_attachments": ["partnership_agreement"],
                "questions": fixed_questions,
            },
            format="json",
        ),
        200,
    )
    assert fixed["version"] == 2 and fixed["rate_pma"] == "0.8000"
    published = body(client.post(url("calls/AAP-2027-GEN/transitions/publish/")), 200)
    assert published["state"] == "published"

    # An application on the new call answers its questions, submits, and is decided.
    world.call = Call.objects.get(code="AAP-2027-GEN")
    world.session = CommitteeSession.objects.create(call=world.call, date=timezone.localdate() + dt.timedelta(days=40))
    applicant = api(world.applicant)
    app = world.draft()
    blocked = body(applicant.get(url(f"applications/{app.pk}/")), 200)["blocked_transitions"]
    submit = next(b for b in blocked if b["name"] == "submit")
    assert "Question obligatoire sans réponse : « Public visé »." in submit["unmet"]
    assert "Question obligatoire sans réponse : « Secteur principal »." in submit["unmet"]
    answers = {"public": "Jeunes de 16 à 25 ans", "sector": "health", "jobs": "12", "youth": True}
    detail = body(applicant.patch(url(f"applications/{app.pk}/"), {"answers": answers}, format="json"), 200)
    assert detail["answers"] == {"public": "Jeunes de 16 à 25 ans", "sector": "health", "jobs": "12", "youth": True}
    unblocked = body(applicant.get(url(f"applications/{app.pk}/")), 200)
    assert "submit" in unblocked["available_transitions"]
    decided = world.advance(Application.objects.get(pk=app.pk), Application.State.APPROVED)  # submitted, then decided
    assert decided.state == Application.State.APPROVED
    assert decided.reference == "AAP-2027-GEN-00001"
    assert Snapshot.objects.get(application=app).data["answers"]["sector"] == "health"
    staff = body(api(world.instructor).get(url(f"applications/{app.pk}/")), 200)
    assert staff["answers"]["public"] == "Jeunes de 16 à 25 ans"
    # The call's own history (create, update, publish) is a valid hash chain like any other.
    entries = TransitionLog.objects.filter(subject_type="grants.call", subject_id=str(world.call.pk))
    assert list(entries.order_by("pk").values_list("transition", flat=True)) == ["create", "update", "publish"]
    assert audit.verify().problems == []


def _published_call_with_questions(world: World) -> Call:
    call = CallFactory(code="AAP-Q")
    for position, question in enumerate(QUESTIONS):
        CallQuestion.objects.create(
            call=call,
            position=position,
            **{k: v for k, v in question.items() if k not in ("min", "max", "choices")},
            choices=question.get("choices", [])
            + ([{"value": "health", "label": "Santé"}] if "choices" in question else []),
            min_value=question.get("min"),
            max_value=question.get("max"),
        )
    world.call = call
    return call


def test_wrong_answers_are_refused_with_the_questions_label(world: World, api: Api) -> None:
    _published_call_with_questions(world)
    app = world.draft()
    client = api(world.applicant)
    bad = {"jobs": "9000", "sector": "mining", "youth": "peut-être", "public": 12}
    errors = body(client.patch(url(f"applications/{app.pk}/"), {"answers": bad}, format="json"), 400)["errors"]
    assert errors["answers.jobs"] == ["« Emplois créés » : le nombre doit être au plus 500."]
    assert errors["answers.sector"] == ["« Secteur principal » : ce choix n'est pas proposé."]
    assert errors["answers.youth"] == ["« Projet jeunesse » : répondez par oui ou par non."]
    assert errors["answers.public"] == ["« Public visé » : la réponse doit être un texte."]
    errors = body(client.patch(url(f"applications/{app.pk}/"), {"answers": {"jobs": "douze"}}, format="json"), 400)
    assert errors["errors"]["answers.jobs"] == ["« Emplois créés » : indiquez un nombre."]
    unknown = body(client.patch(url(f"applications/{app.pk}/"), {"answers": {"nope": 1}}, format="json"), 400)
    assert "nope" in unknown["errors"]["answers"][0]
    assert Application.objects.get(pk=app.pk).answers == {}


def test_an_english_reader_reads_the_english_label(world: World, api: Api) -> None:
    _published_call_with_questions(world)
    app = world.draft()
    client = api(world.applicant, language="en")
    errors = body(client.patch(url(f"applications/{app.pk}/"), {"answers": {"sector": "x"}}, format="json"), 400)
    expected = english("« %(label)s » : ce choix n'est pas proposé.") % {"label": "Main sector"}
    assert errors["errors"]["answers.sector"] == [expected]


def test_a_reused_question_code_is_refused(world: World, api: Api) -> None:
    client = api(world.admin)
    payload = {
        "code": "AAP-DUP",
        "title": "Appel",
        "opens_at": _future(1),
        "closes_at": _future(20),
        "questions": [
            {"code": "q1", "label": "Première", "type": "text"},
            {"code": "q1", "label": "Seconde", "type": "long_text"},
        ],
    }
    errors = body(client.post(url("calls/"), payload, format="json"), 400)["errors"]
    assert errors["questions.1.code"] == [
        "Question n° 2 : le code « q1 » est déjà utilisé par une autre question de l'appel."
    ]
    assert not Call.objects.filter(code="AAP-DUP").exists()


def test_a_reused_call_code_and_bad_settings_are_refused(world: World, api: Api) -> None:
    client = api(world.admin)
    payload = {
        "code": world.call.code,
        "title": "Appel",
        "opens_at": _future(20),
        "closes_at": _future(1),
        "eligible_countries": ["SN", "XX"],
        "rate_apd": "beaucoup",
    }
    errors = body(client.post(url("calls/"), payload, format="json"), 400)["errors"]
    assert errors["code"] == ["Ce code est déjà celui d'un autre appel."]
    assert errors["eligible_countries"] == ["Codes pays inconnus : XX."]
    assert errors["closes_at"] == ["La clôture doit être postérieure à l'ouverture."]
    assert list(errors["rate_apd"])


def test_a_published_calls_rules_cannot_change(world: World, api: Api) -> None:
    client = api(world.instructor)
    refused = body(client.patch(url(f"calls/{world.call.code}/"), {"rate_pma": "0.9"}, format="json"), 409)
    assert refused["detail"] == "L'appel est publié : ses règles ne peuvent plus changer."
    assert "rate_pma" in refused["unmet"][0]
    refused = body(client.patch(url(f"calls/{world.call.code}/"), {"questions": []}, format="json"), 409)
    assert "questions" in refused["unmet"][0]
    earlier = (world.call.closes_at - dt.timedelta(days=1)).isoformat()
    refused = body(client.patch(url(f"calls/{world.call.code}/"), {"closes_at": earlier}, format="json"), 409)
    assert refused["detail"] == "La date de clôture d'un appel publié peut être reportée, jamais avancée."
    world.call.refresh_from_db()
    assert world.call.rate_pma == world.call._meta.get_field("rate_pma").default


def test_extending_a_published_call_notifies_the_authorities_with_drafts(world: World, api: Api) -> None:
    draft = world.draft()
    submitted = world.advance(
        world.draft(world.applicant2, country="MA"), Application.State.SUBMITTED, owner=world.applicant2
    )
    assert draft.state == "draft" and submitted.state == "submitted"
    later = world.call.closes_at + dt.timedelta(days=15)
    client = api(world.instructor)
    done = body(client.patch(url(f"calls/{world.call.code}/"), {"closes_at": later.isoformat()}, format="json"), 200)
    assert done["closes_at"] == timezone.localtime(later).isoformat()
    sent = Notification.objects.filter(event="call_extended")
    assert list(sent.values_list("recipient__username", flat=True)) == ["applicant"]  # Rennes has no draft
    # A second extension tells them again.
    body(
        client.patch(
            url(f"calls/{world.call.code}/"), {"closes_at": (later + dt.timedelta(days=1)).isoformat()}, format="json"
        ),
        200,
    )
    assert sent.count() == 2


def test_the_second_of_two_concurrent_saves_is_refused(world: World, api: Api) -> None:
    first, second = api(world.instructor), api(world.admin)
    call = _new_call(first)
    body(
        first.patch(url(f"calls/{call['code']}/"), {"version": call["version"], "title": "Titre A"}, format="json"), 200
    )
    refused = body(
        second.patch(url(f"calls/{call['code']}/"), {"version": call["version"], "title": "Titre B"}, format="json"),
        409,
    )
    assert refused["detail"].startswith("Cet appel a été modifié par quelqu'un d'autre")
    assert Call.objects.get(code=call["code"]).title == "Titre A"


def test_who_creates_and_edits_calls(world: World, api: Api) -> None:
    scoped = UserFactory(username="instructor-scoped")
    grant(scoped, Role.INSTRUCTOR, call=world.call)
    assert body(api(scoped).post(url("calls/"), {"code": "X-1"}, format="json"), 403)["detail"]
    assert body(api(world.applicant).post(url("calls/"), {"code": "X-1"}, format="json"), 403)
    draft = CallFactory(published=False)
    # A scoped instructor edits its own call, not another's draft (not even visible: 404).
    body(api(scoped).patch(url(f"calls/{draft.code}/"), {"title": "Autre"}, format="json"), 404)
    body(api(world.secretary).patch(url(f"calls/{draft.code}/"), {"title": "Autre"}, format="json"), 403)
    body(api(world.applicant).post(url(f"calls/{world.call.code}/transitions/close/")), 403)
    body(api(scoped).post(url(f"calls/{world.call.code}/transitions/close/")), 200)
    body(api(scoped).post(url(f"calls/{world.call.code}/transitions/nope/")), 404)


def test_a_call_is_duplicated_with_its_settings_criteria_and_questions(world: World, api: Api) -> None:
    source = _published_call_with_questions(world)
    source.eligible_countries.set(["SN", "MA"])
    copy = body(
        api(world.admin).post(url("calls/"), {"code": "AAP-COPY", "duplicate_of": source.code}, format="json"), 201
    )
    assert copy["state"] == "draft" and copy["title"] == f"Copie de {source.title}"
    assert copy["eligible_countries"] == ["MA", "SN"]
    assert [q["code"] for q in copy["questions"]] == ["public", "sector", "jobs", "youth"]
    assert copy["scoring_criteria"] == [dict(c) for c in source.scoring_criteria]
    assert copy["required_attachments"] == source.required_attachments


def test_archiving_waits_for_the_applications_in_progress(world: World, api: Api) -> None:
    world.advance(world.draft(), Application.State.SUBMITTED)
    client = api(world.admin)
    body(client.post(url(f"calls/{world.call.code}/transitions/archive/")), 409)
    body(client.post(url(f"calls/{world.call.code}/transitions/close/")), 200)
    refused = body(client.post(url(f"calls/{world.call.code}/transitions/archive/")), 409)
    assert refused["unmet"] == ["1 dossier(s) de cet appel sont encore en cours d'instruction."]
