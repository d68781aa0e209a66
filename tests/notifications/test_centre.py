"""The in-app centre: the header's unread badge, the list, mark read, preferences."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from grants.models import Application
from notifications import outbox
from notifications.models import Mode, Notification, Preference
from tests.factories import World

S = Application.State
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "enqueue", lambda ids: 0)


def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def test_the_header_shows_the_unread_count_with_a_link_to_the_centre(world: World, client: Client) -> None:
    world.advance(world.draft(), S.AWAITING_OPINIONS)  # receipt + eligible
    page = signed_in(client, world.applicant).get(reverse("notifications:centre"))
    html = page.content.decode()
    assert 'id="notifications-badge"' in html
    assert 'href="/notifications/"' in html
    # The visible text is part of the accessible name (no aria-label hiding it): "Notifications 2 non lues".
    assert (
        '<span class="fr-badge fr-badge--sm fr-badge--info fr-ml-1v">2<span class="fr-sr-only"> non lues</span>' in html
    )
    assert "aria-label" not in html.split('id="notifications-badge"')[1][:100]


def test_the_centre_lists_the_user_s_own_notifications_only(world: World, client: Client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    page = signed_in(client, world.applicant).get("/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"Dossier {app.reference} déposé" in html
    assert "Nouveau dossier déposé" not in html  # the instructor's notice


def test_the_centre_is_shown_in_the_interface_language(world: World, client: Client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client = signed_in(client, world.applicant)
    client.post("/i18n/setlang/", {"language": "en", "next": "/notifications/"})
    html = client.get("/notifications/").content.decode()
    assert f"{app.reference} submitted" in html
    assert f"Dossier {app.reference} déposé" not in html


def test_opening_a_notification_marks_it_read_and_leads_to_the_application(world: World, client: Client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    receipt = Notification.objects.get(message="receipt")
    answer = signed_in(client, world.applicant).get(f"/notifications/{receipt.pk}/")
    assert answer.status_code == 302
    assert answer["Location"] == f"/mes-dossiers/{app.pk}/"
    receipt.refresh_from_db()
    assert receipt.read_at is not None


def test_mark_read_and_mark_all_read(world: World, client: Client) -> None:
    world.advance(world.draft(), S.AWAITING_OPINIONS)
    client = signed_in(client, world.applicant)
    first, _second = Notification.objects.filter(recipient=world.applicant).order_by("pk")
    answer = client.post(f"/notifications/{first.pk}/lu/", {"next": "/notifications/?non-lues=1"})
    assert (answer.status_code, answer["Location"]) == (302, "/notifications/?non-lues=1")
    assert Notification.objects.filter(recipient=world.applicant, read_at__isnull=True).count() == 1
    client.post("/notifications/tout-lire/")
    assert not Notification.objects.filter(recipient=world.applicant, read_at__isnull=True).exists()
    assert "non lue" not in client.get("/notifications/").content.decode().split('id="notifications-badge"')[1][:200]


def test_it_never_redirects_off_site_after_marking_read(world: World, client: Client) -> None:
    world.advance(world.draft(), S.SUBMITTED)
    receipt = Notification.objects.get(message="receipt")
    answer = signed_in(client, world.applicant).post(
        f"/notifications/{receipt.pk}/lu/", {"next": "https://evil.example/"}
    )
    assert answer["Location"] == "/notifications/"


def test_someone_else_s_notification_is_not_found(world: World, client: Client) -> None:
    world.advance(world.draft(), S.SUBMITTED)
    theirs = Notification.objects.get(recipient=world.instructor)
    client = signed_in(client, world.applicant2)
    assert client.get(f"/notifications/{theirs.pk}/").status_code == 404
    assert client.post(f"/notifications/{theirs.pk}/lu/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_read_refuses_get(world: World, client: Client) -> None:
    world.advance(world.draft(), S.SUBMITTED)
    receipt = Notification.objects.get(message="receipt")
    assert signed_in(client, world.applicant).get(f"/notifications/{receipt.pk}/lu/").status_code == 405


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, db: None) -> None:
    answer = client.get("/notifications/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/login/")


def test_the_preferences_form_saves_modes_language_and_hour(world: World, client: Client) -> None:
    client = signed_in(client, world.instructor)
    page = client.get("/notifications/preferences/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Instruction des dossiers" in html
    answer = client.post(
        "/notifications/preferences/",
        {
            "language": "en",
            "digest_hour": "7",
            "mode_instruction": Mode.DIGEST,
            "mode_opinions": Mode.IMMEDIATE,
            "mode_committee": Mode.OFF,
            "mode_reminders": Mode.IMMEDIATE,
        },
    )
    assert answer.status_code == 302
    assert dict(Preference.objects.filter(user=world.instructor).values_list("category", "mode")) == {
        "instruction": "digest",
        "opinions": "immediate",
        "committee": "off",
        "reminders": "immediate",
    }
    assert "Vos préférences sont enregistrées." in client.get(answer["Location"]).content.decode()


def test_the_preferences_form_refuses_to_delay_a_legal_notice_with_a_400(world: World, client: Client) -> None:
    client = signed_in(client, world.applicant)
    answer = client.post(
        "/notifications/preferences/",
        {"language": "fr", "digest_hour": "8", "mode_status": Mode.DIGEST, "mode_legal": Mode.DIGEST},
    )
    assert answer.status_code == 400
    assert "délai légal" in answer.content.decode()
    assert not Preference.objects.filter(user=world.applicant).exists()


def test_the_preferences_form_names_the_field_in_error(world: World, client: Client) -> None:
    client = signed_in(client, world.applicant)
    answer = client.post("/notifications/preferences/", {"language": "fr", "digest_hour": "8", "mode_status": "x"})
    assert answer.status_code == 400
    assert "fr-fieldset--error" in answer.content.decode()


def test_opening_leads_each_reader_to_its_work_page(world: World, client: Client) -> None:
    from django.urls import reverse as url

    from grants.models import OpinionRequest, Review

    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    request = OpinionRequest.objects.get(application=app)
    review = Review.objects.get(application=app)
    expected = {
        world.embassy_sn: ("opinion_requested", url("opinion", kwargs={"opinion_id": request.pk})),
        world.reviewer1: ("review_assigned", url("review", kwargs={"review_id": review.pk})),
        world.instructor: ("submitted_staff", url("staff-application", kwargs={"application_id": app.pk})),
        world.applicant: ("eligible", url("applicant-application", kwargs={"pk": app.pk})),
    }
    for user, (message, path) in expected.items():
        notification = Notification.objects.get(recipient=user, message=message)
        client.force_login(user)
        assert client.get(f"/notifications/{notification.pk}/")["Location"] == path, message
