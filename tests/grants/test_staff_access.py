"""Who may open which staff screen: every role against every screen (403 for a role
without the screen, the sign-in page for an anonymous visitor); keyset pagination of a
descending list."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from grants.models import CommitteeSession
from grants.web.staff import common as views_staff_common
from tests.factories import World

ROLES = [
    "applicant",
    "instructor",
    "embassy_sn",
    "prefecture_ara",
    "reviewer1",
    "secretary",
    "signatory",
    "finance",
    "admin",
]
EVERY_STAFF = set(ROLES) - {"applicant"}
SCREENS: dict[str, set[str]] = {
    "tasks": EVERY_STAFF,
    "opinions": {"embassy_sn", "prefecture_ara"},
    "reviews": {"reviewer1"},
    "sessions": {"secretary", "admin"},
    "session": {"secretary", "admin"},
    "signatory": {"signatory", "admin"},
    "signatory-progress": {"signatory", "admin"},
    "finance": {"finance", "admin"},
    "finance-export": {"finance", "admin"},
    "dashboards": {"instructor", "secretary", "admin"},
    "call-dashboard": {"instructor", "secretary", "admin"},
}


def _url(world: World, screen: str) -> str:
    if screen == "session":
        return reverse(screen, args=[world.session.pk])
    if screen == "finance-export":
        return reverse(screen, args=["csv"])
    if screen == "call-dashboard":
        return reverse(screen, args=[world.call.code])
    return reverse(screen)


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_each_screen_opens_for_its_roles_and_is_refused_to_the_others(world: World, client, screen: str) -> None:
    url = _url(world, screen)
    answers = {}
    for role in ROLES:
        client.force_login(getattr(world, role))
        answers[role] = client.get(url).status_code
    expected = {role: 200 if role in SCREENS[screen] else 403 for role in ROLES}
    assert answers == expected


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_an_anonymous_visitor_is_sent_to_sign_in(world: World, client, screen: str) -> None:
    response = client.get(_url(world, screen))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_descending_keyset_walks_every_session_once(world: World, client, monkeypatch: pytest.MonkeyPatch) -> None:
    today = timezone.localdate()
    for days in (5, 5, 3, 9, 1):  # two on the same day: the id breaks the tie
        CommitteeSession.objects.create(call=world.call, date=today + dt.timedelta(days=days))
    expected = [s.pk for s in CommitteeSession.objects.order_by("-date", "-pk")]
    monkeypatch.setattr(views_staff_common, "PAGE_SIZE", 2)
    client.force_login(world.secretary)
    seen: list[int] = []
    url = reverse("sessions")
    for _ in range(10):
        html = client.get(url).content.decode()
        seen += [int(pk) for pk in re.findall(r'href="/comites/(\d+)/"', html)]
        found = re.search(r'href="\?(cursor=[^"]+)" rel="next"', html)
        if not found:
            break
        url = reverse("sessions") + "?" + found.group(1).replace("&amp;", "&")
    assert seen == expected
    assert len(seen) == 6
