"""The floor every signed-in page pays (session, account, roles, second factor, badge,
layout), made cheaper without a change a user could notice: an expired or unknown
session still signs out, a device confirmed elsewhere still asks for the code, each role
still reads its own scopes and menu, the badge still counts, and the layout's parts kept
per language still follow the language and never carry one user's data to another."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.template import Engine, TemplateSyntaxError, engines
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.sessions import SessionStore
from grants.models import Call, Country, Role
from grants.policy import scopes
from grants.policy.scopes import forget
from notifications.models import Category, Notification
from tests.factories import UserFactory, World, grant

pytestmark = pytest.mark.django_db


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _menu(html: str) -> list[str]:
    nav = html.split('id="main-nav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'class="fr-nav__link" href="[^"]+"[^>]*>([^<]+)</a>', nav)


def _badge(html: str) -> str | None:
    link = html.split('id="notifications-badge"', 1)[1].split("</a>", 1)[0]
    found = re.search(r'fr-badge--info fr-ml-1v">([^<]+)<', link)
    return found.group(1) if found else None


# --- the session ------------------------------------------------------------------------


def test_a_valid_session_opens_the_page_and_an_expired_one_signs_out(world: World) -> None:
    client = _signed_in(world.instructor)
    assert client.get("/tasks/").status_code == 200
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    response = client.get("/tasks/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_unknown_session_key_is_a_visitor_and_the_next_sign_in_works(world: World) -> None:
    client = Client()
    client.cookies["sessionid"] = "z" * 32
    response = client.get("/tasks/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.post("/accounts/login/", {"username": "instructor", "password": "pw"}).status_code == 302
    assert client.get("/tasks/").status_code == 200
    assert client.session.session_key != "z" * 32


def test_the_store_reads_back_what_django_wrote_until_it_expires() -> None:
    written = SessionStore()
    written["answer"] = {"kept": [1, "é"]}
    written.save()
    key = written.session_key
    assert key is not None
    read = SessionStore(key)
    assert read["answer"] == {"kept": [1, "é"]} and read.session_key == key
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    expired = SessionStore(key)
    assert expired.load() == {} and expired.session_key is None  # a new session, as Django's own store
    assert SessionStore("unknown-key-0123456789").load() == {}


# --- roles, menu, badge ---------------------------------------------------------------------


def test_each_grant_gives_its_role_and_scope(world: World) -> None:
    user = UserFactory(username="many-hats")
    grant(user, Role.EMBASSY, country=Country.objects.get(iso2="SN"), supervisor=True)
    grant(user, Role.EMBASSY, country=Country.objects.get(iso2="MA"))
    grant(user, Role.INSTRUCTOR, call=world.call)
    grant(user, Role.REVIEWER)
    forget(user)
    s = scopes(user)
    assert s.roles == {Role.EMBASSY, Role.INSTRUCTOR, Role.REVIEWER}
    assert s.countries[Role.EMBASSY] == {"SN", "MA"} and s.supervisor == {Role.EMBASSY}
    assert s.calls[Role.INSTRUCTOR] == {world.call.pk} and s.covers_call(Role.INSTRUCTOR, world.call.pk)
    other = Call.objects.exclude(pk=world.call.pk).values_list("pk", flat=True).first() or world.call.pk + 1
    assert not s.covers_call(Role.INSTRUCTOR, other)
    assert s.unscoped == {Role.REVIEWER}
    assert scopes(world.admin).has(Role.ADMIN) and Role.ADMIN in scopes(world.admin).unscoped  # the superuser
    assert scopes(UserFactory(username="nobody")).roles == set()


def test_the_menu_is_each_roles_own(world: World) -> None:
    instructor = _menu(_signed_in(world.instructor).get("/tasks/").content.decode())
    embassy = _menu(_signed_in(world.embassy_sn).get("/tasks/").content.decode())
    finance = _menu(_signed_in(world.finance).get("/tasks/").content.decode())
    assert instructor == ["Mes tâches", "Dossiers", "Tableaux de bord", "Appels à projets"]
    assert embassy == ["Mes tâches", "Dossiers", "Avis"]
    assert finance == ["Mes tâches", "Dossiers", "Finances", "Versements"]


def _notify(user: Any, n: int, *, read: bool = False) -> None:
    start = Notification.objects.count()
    Notification.objects.bulk_create(
        Notification(
            recipient=user,
            event="test",
            message="test",
            category=Category.values[0],
            dedupe_key=f"floor-{start + i}",
            read_at=timezone.now() if read else None,
        )
        for i in range(n)
    )


def test_the_badge_counts_the_unread_only_and_stops_at_99(world: World) -> None:
    client = _signed_in(world.applicant)
    assert _badge(client.get("/").content.decode()) is None
    _notify(world.applicant, 3)
    _notify(world.applicant, 2, read=True)
    _notify(world.instructor, 4)  # somebody else's
    assert _badge(client.get("/").content.decode()) == "3"
    _notify(world.applicant, 97)
    assert _badge(client.get("/").content.decode()) == "99+"


# --- the second factor ------------------------------------------------------------------------


def test_a_device_confirmed_elsewhere_asks_for_the_code_on_the_next_page(world: World) -> None:
    client = _signed_in(world.instructor)
    TOTPDevice.objects.create(user=world.instructor, name="pending", confirmed=False)
    assert client.get("/tasks/").status_code == 200  # a device being enrolled asks nothing yet
    TOTPDevice.objects.create(user=world.instructor, name="phone", confirmed=True)
    response = client.get("/tasks/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/second-factor/verify/")
    # Somebody else's device changes nothing for another account.
    assert _signed_in(world.secretary).get("/tasks/").status_code == 200


# --- the queries -------------------------------------------------------------------------------


def test_an_empty_inbox_reads_each_fixed_row_once_and_nothing_more(world: World) -> None:
    user = UserFactory(username="embassy-jp")
    grant(user, Role.EMBASSY, country=Country.objects.get(iso2="JP"))
    client = _signed_in(user)
    assert client.get("/tasks/").status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        html = client.get("/tasks/").content.decode()
    tables = [q["sql"].split(' FROM "', 1)[1].split('"', 1)[0] for q in ctx.captured_queries]
    for table in ("django_session", "auth_user", "grants_rolegrant", "otp_totp_totpdevice"):
        assert tables.count(table) == 1, (table, tables)
    assert tables.count("notifications_notification") == 1
    assert len(tables) <= 9, tables
    assert "Aucune tâche ouverte" in html


# --- the layout kept per language --------------------------------------------------------------


def test_the_layout_follows_the_language_and_each_user_sees_their_own_header(world: World) -> None:
    world.instructor.first_name, world.instructor.last_name = "Inès", "Tructrice"
    world.instructor.save()
    world.finance.first_name, world.finance.last_name = "Fabien", "<Nance>"
    world.finance.save()
    instructor = _signed_in(world.instructor)
    finance = _signed_in(world.finance)
    first = instructor.get("/tasks/").content.decode()
    second = finance.get("/tasks/").content.decode()
    assert "Inès Tructrice" in first and "Fabien" not in first
    assert "Fabien &lt;Nance&gt;" in second and "Inès" not in second
    assert ">Mentions légales</a>" in first and ">Mentions légales</a>" in second
    finance.cookies["django_language"] = "en"
    english = finance.get("/tasks/").content.decode()
    assert '<html lang="en"' in english and "Mentions légales" not in english
    assert "Mentions légales" in instructor.get("/tasks/").content.decode()  # French again for the other
    # A visitor gets the same layout, without anybody's name or badge.
    visitor = Client().get("/accessibilite/").content.decode()
    assert "Mentions légales" in visitor and "notifications-badge" not in visitor and "Inès" not in visitor


@pytest.mark.parametrize(
    "body",
    [
        "{{ user.username }}",
        "{% if user.is_authenticated %}x{% endif %}",
        "{% url view_name %}",
        "{% translate message %}",
        "{% csrf_token %}",
        "{% static path %}",
    ],
)
def test_a_kept_part_refuses_anything_that_could_differ_between_requests(body: str) -> None:
    engine = Engine(libraries={"per_language": "config.fragments"}, builtins=["django.templatetags.i18n"])
    with pytest.raises(TemplateSyntaxError):
        engine.from_string("{% load static per_language %}{% per_language %}" + body + "{% endper_language %}")


def test_a_kept_part_is_rendered_once_per_language() -> None:
    from django.utils import translation

    template = engines["django"].from_string(
        "{% load i18n per_language %}{% per_language %}{% translate 'Mentions légales' %} "
        "{% url 'legal' %}{% endper_language %}"
    )
    with translation.override("fr"):
        french = template.render({})
    with translation.override("en"):
        english = template.render({})
    with translation.override("fr"):
        assert template.render({}) == french
    assert french.startswith("Mentions légales /mentions-legales/")
    assert english != french and english.endswith(" /mentions-legales/")
    node = template.template.nodelist[-1]  # type: ignore[attr-defined]
    assert set(node.rendered) == {"fr", "en"}
