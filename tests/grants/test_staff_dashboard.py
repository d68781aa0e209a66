"""The call dashboard for instructors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.urls import reverse
from django.utils import timezone

from grants import services
from grants.models import Application, OpinionRequest, Role
from grants.web.staff.dashboard import duration_text, median_stays
from tests.factories import CallFactory, UserFactory, World, grant

S = Application.State
DAY = dt.timedelta(days=1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[dt.datetime], None]:
    """Set the time the transition service records (``timezone.now``)."""

    def set_to(when: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: when)

    return set_to


def test_the_median_time_in_each_state_comes_from_the_transition_log(world: World, clock) -> None:
    base = timezone.now()
    apps = []
    for eligible_after, closed_after in ((2, 1), (4, 1), (10, 3)):
        clock(base)
        app = world.fire(world.draft(), "submit", world.applicant)
        clock(base + eligible_after * DAY)
        world.fire(app, "declare_eligible", world.instructor)
        clock(base + (eligible_after + closed_after) * DAY)
        world.fire(app, "close_opinions", world.instructor, comment="Fin anticipée.")
        apps.append(app)
    medians = median_stays(world.call)
    assert medians[S.SUBMITTED] == (pytest.approx(4 * 86400), 3)
    assert medians[S.AWAITING_OPINIONS] == (pytest.approx(1 * 86400), 3)
    assert S.UNDER_REVIEW not in medians  # stays still going on are not counted


def test_an_even_number_of_stays_gives_the_mean_of_the_two_middle_ones(world: World, clock) -> None:
    base = timezone.now()
    for hours in (2, 4, 8, 30):
        clock(base)
        app = world.fire(world.draft(), "submit", world.applicant)
        clock(base + dt.timedelta(hours=hours))
        world.fire(app, "declare_eligible", world.instructor)
    assert median_stays(world.call)[S.SUBMITTED] == (pytest.approx(6 * 3600), 4)


def test_durations_read_in_minutes_hours_or_days() -> None:
    assert duration_text(None) == "—"
    assert duration_text(90) == "2 minutes"
    assert duration_text(6 * 3600) == "6 h"
    assert duration_text(86400) == "1 jour"
    assert duration_text(4.5 * 86400) == "4,5 jours"


def test_the_dashboard_shows_states_overdue_opinions_medians_and_the_envelope(world: World, client, clock) -> None:
    base = timezone.now()
    clock(base)
    world.advance(world.draft(), S.SUBMITTED)
    late = world.advance(world.draft(), S.AWAITING_OPINIONS)
    expired = world.advance(world.draft(country="MA"), S.AWAITING_OPINIONS)
    world.advance(world.draft(), S.APPROVED)
    OpinionRequest.objects.filter(application=late).update(due_at=base - DAY)
    services.opinion_expire(opinion_id=OpinionRequest.objects.get(application=expired).pk)
    clock(base + 2 * DAY)
    client.force_login(world.instructor)
    response = client.get(reverse("call-dashboard", args=[world.call.code]))
    assert response.status_code == 200
    html = response.content.decode()
    # Applications per state (drafts excluded).
    assert (
        '<tr id="state-submitted"><td><span class="fr-badge fr-badge--sm fr-badge--new">Déposé</span></td><td class="staff-amount">1</td>'
        in html
    )
    assert '<tr id="state-awaiting_opinions">' in html
    assert "<strong>4</strong>" in html
    # Overdue opinions by country.
    assert "<td>Sénégal</td>" in html and "<td>Maroc</td>" in html
    assert '<span class="fr-badge fr-badge--sm fr-badge--error">1</span>' in html
    # The envelope.
    assert 'id="dashboard-committed">25\u202f000,00\u00a0€' in html
    assert "1\u202f975\u202f000,00\u00a0€" in html


def test_the_dashboard_list_shows_the_calls_of_the_user(world: World, client) -> None:
    other = CallFactory()
    scoped = UserFactory(username="instructor-other")
    grant(scoped, Role.INSTRUCTOR, call=other)
    client.force_login(scoped)
    html = client.get(reverse("dashboards")).content.decode()
    assert other.code in html
    assert world.call.code not in html
    assert client.get(reverse("call-dashboard", args=[world.call.code])).status_code == 404
    assert client.get(reverse("call-dashboard", args=["NOPE"])).status_code == 404
    client.force_login(world.instructor)
    html = client.get(reverse("dashboards")).content.decode()
    assert other.code in html and world.call.code in html


def test_the_dashboard_is_refused_to_other_roles(world: World, client) -> None:
    for user in (world.applicant, world.embassy_sn, world.reviewer1, world.signatory, world.finance):
        client.force_login(user)
        assert client.get(reverse("dashboards")).status_code == 403
        assert client.get(reverse("call-dashboard", args=[world.call.code])).status_code == 403
    client.force_login(world.secretary)
    assert client.get(reverse("call-dashboard", args=[world.call.code])).status_code == 200
