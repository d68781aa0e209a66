"""The committee secretariat: sessions, agenda, scheduling, batch outcomes, envelope."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from grants import services
from grants.models import Application, Call, CommitteeSession, Decision, OpinionRequest, Review, Role
from tests.factories import CallFactory, UserFactory, World, grant
from workflows.models import TransitionLog

S = Application.State


def _outcomes(session: CommitteeSession, rows: dict[Application, tuple[str, str, str]]) -> dict[str, str]:
    data: dict[str, str] = {}
    for app, (outcome, amount, text) in rows.items():
        data[f"{app.pk}-outcome"] = outcome
        data[f"{app.pk}-amount"] = amount
        data[f"{app.pk}-text"] = text
    return data


def test_the_secretary_lists_and_creates_sessions(world: World, client) -> None:
    client.force_login(world.secretary)
    html = client.get(reverse("sessions")).content.decode()
    assert str(world.session) in html
    date = timezone.localdate() + dt.timedelta(days=40)
    response = client.post(
        reverse("sessions"), {"call": world.call.code, "date": date.isoformat(), "title": "Comité de printemps"}
    )
    created = CommitteeSession.objects.get(title="Comité de printemps")
    assert response.status_code == 302
    assert response["Location"] == reverse("session", args=[created.pk])
    assert created.date == date
    assert created.call == world.call


def test_creating_a_session_without_a_date_is_400(world: World, client) -> None:
    client.force_login(world.secretary)
    response = client.post(reverse("sessions"), {"call": world.call.code, "date": "", "title": "X"})
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in response.content.decode()
    assert not CommitteeSession.objects.filter(title="X").exists()


def test_the_agenda_shows_amount_rate_opinions_scores_and_recommendations(world: World, client) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    client.force_login(world.secretary)
    html = client.get(reverse("session", args=[world.session.pk])).content.decode()
    assert app.reference in html
    assert "25\u202f000,00\u00a0€" in html  # requested
    assert "25\u202f%" in html  # requested rate
    assert "plafond 70\u202f%" in html
    assert "SN : " in html and "Favorable" in html  # the embassy's verdict
    assert "<strong>4/5</strong>" in html  # average score
    assert "Favorable × 1" in html  # recommendations
    # Outcomes are recorded while the session sits: the form only once it is open.
    assert "Enregistrer les décisions de l'ordre du jour" not in html
    world.open_session()
    html = client.get(reverse("session", args=[world.session.pk])).content.decode()
    assert "Enregistrer les décisions de l'ordre du jour" in html


def test_the_secretary_schedules_applications_under_review_into_the_session(world: World, client) -> None:
    ready = world.advance(world.draft(), S.UNDER_REVIEW)
    review = Review.objects.get(application=ready)
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={"scores": {c["code"]: 3 for c in world.call.scoring_criteria}, "recommendation": "maybe"},
    )
    services.consensus_record(application_id=ready.pk, user=world.instructor)
    not_ready = world.advance(world.draft(), S.UNDER_REVIEW)
    client.force_login(world.secretary)
    page = client.get(reverse("session", args=[world.session.pk])).content.decode()
    assert f'value="{ready.pk}"' in page and f'value="{not_ready.pk}"' in page
    response = client.post(
        reverse("session-schedule", args=[world.session.pk]), {"application": [str(ready.pk), str(not_ready.pk)]}
    )
    assert response.status_code == 200  # one done, one refused: the report says which and why
    html = response.content.decode()
    assert "Évaluations rendues : 0 sur les 1 requises avant le comité." in html
    ready.refresh_from_db()
    not_ready.refresh_from_db()
    assert (ready.state, ready.session_id) == (S.IN_COMMITTEE, world.session.pk)
    assert not_ready.state == S.UNDER_REVIEW


def test_recording_the_outcomes_of_the_whole_agenda_at_once(world: World, client) -> None:
    approved = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    rejected = world.advance(world.draft(), S.IN_COMMITTEE)
    deferred = world.advance(world.draft(), S.IN_COMMITTEE)
    untouched = world.advance(world.draft(), S.IN_COMMITTEE)
    client.force_login(world.secretary)
    data = _outcomes(
        world.session,
        {
            approved: ("approve", "24 000,00", "Très bon projet."),
            rejected: ("reject", "", "Budget insuffisamment justifié."),
            deferred: ("defer", "", "Revoir le partenariat."),
            untouched: ("", "", ""),
        },
    )
    response = client.post(reverse("session-outcomes", args=[world.session.pk]), data)
    assert response.status_code == 302
    states = {
        a.pk: s
        for a, s in ((a, Application.objects.get(pk=a.pk).state) for a in (approved, rejected, deferred, untouched))
    }
    assert states == {
        approved.pk: S.APPROVED,
        rejected.pk: S.REJECTED,
        deferred.pk: S.UNDER_REVIEW,
        untouched.pk: S.IN_COMMITTEE,
    }
    assert Decision.objects.get(application=approved).amount == Decimal("24000.00")
    assert Decision.objects.get(application=rejected).reasons == "Budget insuffisamment justifié."
    assert "3 décisions enregistrées." in client.get(response["Location"]).content.decode()


def test_an_envelope_overrun_refuses_the_whole_batch_nothing_half_recorded(world: World, client) -> None:
    first = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    second = world.advance(world.draft(), S.IN_COMMITTEE)
    third = world.advance(world.draft(), S.IN_COMMITTEE)
    Call.objects.filter(pk=world.call.pk).update(envelope=Decimal("45000.00"))
    logs_before = TransitionLog.objects.count()
    client.force_login(world.secretary)
    data = _outcomes(
        world.session,
        {
            first: ("approve", "25000.00", ""),
            second: ("approve", "25000.00", ""),  # 50 000 > 45 000: this row fails
            third: ("reject", "", "Hors priorités."),
        },
    )
    response = client.post(reverse("session-outcomes", args=[world.session.pk]), data)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Aucune décision n&#x27;a été enregistrée" in html
    assert "L&#x27;enveloppe de l&#x27;appel serait dépassée" in html
    assert f'<tr id="row-{second.pk}" class="staff-overdue">' in html
    # Nothing recorded: every state unchanged, no decision, no log entry, no task.
    assert [Application.objects.get(pk=a.pk).state for a in (first, second, third)] == [S.IN_COMMITTEE] * 3
    assert Decision.objects.count() == 0
    assert TransitionLog.objects.count() == logs_before
    # What was typed is kept for the correction.
    assert 'value="Hors priorités."' in html or "Hors priorités.</textarea>" in html


def test_a_row_without_reasons_or_above_the_request_refuses_the_batch(world: World, client) -> None:
    good = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    bad = world.advance(world.draft(), S.IN_COMMITTEE)
    client.force_login(world.secretary)
    response = client.post(
        reverse("session-outcomes", args=[world.session.pk]),
        _outcomes(world.session, {good: ("approve", "10000", ""), bad: ("reject", "", "")}),
    )
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in response.content.decode()
    response = client.post(
        reverse("session-outcomes", args=[world.session.pk]),
        _outcomes(world.session, {good: ("approve", "10000", ""), bad: ("approve", "26000", "")}),
    )
    assert response.status_code == 409
    assert "dépasse le montant demandé" in response.content.decode()
    assert Decision.objects.count() == 0
    assert Application.objects.filter(state=S.IN_COMMITTEE).count() == 2


def test_recording_nothing_is_400(world: World, client) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    client.force_login(world.secretary)
    response = client.post(
        reverse("session-outcomes", args=[world.session.pk]), _outcomes(world.session, {app: ("", "", "")})
    )
    assert response.status_code == 400
    assert "Aucune décision saisie." in response.content.decode()


def test_the_envelope_is_recomputed_on_the_server_as_amounts_are_typed(world: World, client) -> None:
    first = world.advance(world.draft(), S.IN_COMMITTEE)
    world.open_session()
    second = world.advance(world.draft(), S.IN_COMMITTEE)
    Call.objects.filter(pk=world.call.pk).update(envelope=Decimal("40000.00"))
    client.force_login(world.secretary)
    url = reverse("session-envelope", args=[world.session.pk])
    html = client.post(
        url, _outcomes(world.session, {first: ("approve", "15000", ""), second: ("reject", "9", "")})
    ).content.decode()
    assert 'id="envelope-entered">15\u202f000,00\u00a0€' in html
    assert 'id="envelope-remaining">25\u202f000,00\u00a0€' in html
    assert "envelope-exceeded" not in html
    html = client.post(
        url, _outcomes(world.session, {first: ("approve", "25000", ""), second: ("approve", "20 000,00", "")})
    ).content.decode()
    assert 'id="envelope-exceeded"' in html
    assert "-5\u202f000,00\u00a0€" in html
    assert 'id="outcomes-submit" hx-swap-oob="true" disabled' in html
    html = client.post(url, _outcomes(world.session, {first: ("approve", "abc", "")})).content.decode()
    assert "1 montant illisible" in html


def test_the_session_is_opened_and_closed_once_every_application_is_decided(world: World, client) -> None:
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    client.force_login(world.secretary)
    assert client.post(reverse("session-transition", args=[world.session.pk, "open"])).status_code == 302
    unconfirmed = client.post(reverse("session-transition", args=[world.session.pk, "close"]))
    assert unconfirmed.status_code == 400  # the closing's confirmation, not ticked
    assert 'aria-describedby="confirm-close-error"' in unconfirmed.content.decode()
    response = client.post(reverse("session-transition", args=[world.session.pk, "close"]), {"confirm": "1"})
    assert response.status_code == 409
    assert "Des dossiers inscrits n&#x27;ont pas encore de décision :" in response.content.decode()
    assert app.reference in response.content.decode()
    world.fire(app, "reject", world.secretary, reasons="Non prioritaire.")
    assert (
        client.post(reverse("session-transition", args=[world.session.pk, "close"]), {"confirm": "1"}).status_code
        == 302
    )
    world.session.refresh_from_db()
    assert world.session.state == CommitteeSession.State.CLOSED
    assert client.post(reverse("session-transition", args=[world.session.pk, "explode"])).status_code == 404


def test_the_committee_screens_are_refused_to_other_roles_and_other_calls(world: World, client) -> None:
    for user in (world.applicant, world.instructor, world.embassy_sn, world.reviewer1, world.finance):
        client.force_login(user)
        assert client.get(reverse("sessions")).status_code == 403
        assert client.get(reverse("session", args=[world.session.pk])).status_code == 403
        assert client.post(reverse("session-outcomes", args=[world.session.pk]), {}).status_code == 403
    other_call = CallFactory()
    scoped = UserFactory(username="secretary-other")
    grant(scoped, Role.SECRETARY, call=other_call)
    client.force_login(scoped)
    assert client.get(reverse("session", args=[world.session.pk])).status_code == 404
    assert client.post(reverse("session-outcomes", args=[world.session.pk]), {}).status_code == 404
    assert str(world.session) not in client.get(reverse("sessions")).content.decode()


def test_a_scheduled_application_shows_its_opinion_verdicts_to_the_secretary(world: World, client) -> None:
    app = world.advance(world.draft(country="MA"), S.AWAITING_OPINIONS)
    request = OpinionRequest.objects.get(application=app)
    services.opinion_give(opinion_id=request.pk, user=world.embassy_ma, verdict="unfavorable", comment="Risque.")
    review = Review.objects.get(application=app)
    services.review_submit(
        review_id=review.pk,
        user=world.reviewer1,
        payload={"scores": {c["code"]: 2 for c in world.call.scoring_criteria}, "recommendation": "no"},
    )
    services.consensus_record(application_id=app.pk, user=world.instructor)
    world.fire(app, "schedule", world.secretary, session=world.session.pk)
    client.force_login(world.secretary)
    html = client.get(reverse("session", args=[world.session.pk])).content.decode()
    assert "MA : " in html and "Défavorable" in html
    assert "<strong>2/5</strong>" in html
