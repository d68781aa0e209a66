"""The staff inbox ("Mes tâches") at /tasks/ and as the staff home."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grants.models import Application, Role
from grants.web.staff import common as views_staff_common
from grants.web.staff import views as views_staff
from tests.factories import CallFactory, UserFactory, World, grant
from workflows.models import Task, TaskKind

S = Application.State


def _references(html: str) -> list[str]:
    return re.findall(r"<strong>(AAP-[A-Z0-9-]+)</strong>", html)


def test_an_applicant_reaching_the_inbox_is_refused(world: World, client) -> None:
    client.force_login(world.applicant)
    assert client.get(reverse("tasks")).status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in(world: World, client) -> None:
    response = client.get(reverse("tasks"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/tasks/")


def test_it_lists_the_open_tasks_of_the_user_s_queues_overdue_first_and_highlighted(world: World, client) -> None:
    late = world.advance(world.draft(), S.SUBMITTED)
    soon = world.advance(world.draft(), S.SUBMITTED)
    Task.objects.filter(application=late).update(due_at=timezone.now() - dt.timedelta(days=3))
    client.force_login(world.instructor)
    response = client.get(reverse("tasks"))
    html = response.content.decode()
    assert response.status_code == 200
    assert _references(html) == [late.reference, soon.reference]
    late_row = re.search(rf'<tr class="staff-overdue" id="task-\d+">.*?{late.reference}', html, re.S)
    assert late_row is not None
    assert "En retard" in html
    assert "Vérifier la recevabilité · 2 (1 en retard)" in html


def test_it_counts_the_tasks_per_kind_and_filters_by_kind(world: World, client) -> None:
    world.advance(world.draft(), S.SUBMITTED)
    world.advance(world.draft(), S.UNDER_REVIEW)  # reviewer1 gets a review task
    both = UserFactory(username="instructor-reviewer")
    grant(both, Role.INSTRUCTOR)
    grant(both, Role.REVIEWER)
    client.force_login(world.reviewer1)
    html = client.get(reverse("tasks")).content.decode()
    assert "Évaluer le dossier · 1" in html
    client.force_login(world.instructor)
    html = client.get(reverse("tasks"), {"kind": TaskKind.REVIEW}).content.decode()
    assert _references(html) == []
    html = client.get(reverse("tasks"), {"kind": TaskKind.CHECK_ELIGIBILITY}).content.decode()
    assert len(_references(html)) == 1


def test_it_filters_by_call_and_by_country(world: World, client) -> None:
    sn = world.advance(world.draft(), S.SUBMITTED)
    ma = world.advance(world.draft(country="MA"), S.SUBMITTED)
    other_call = CallFactory()
    client.force_login(world.instructor)
    assert _references(client.get(reverse("tasks"), {"country": "MA"}).content.decode()) == [ma.reference]
    assert _references(client.get(reverse("tasks"), {"country": "SN"}).content.decode()) == [sn.reference]
    assert len(_references(client.get(reverse("tasks"), {"call": world.call.code}).content.decode())) == 2
    assert _references(client.get(reverse("tasks"), {"call": other_call.code}).content.decode()) == []


def test_an_embassy_inbox_never_shows_another_country_s_request(world: World, client) -> None:
    sn = world.advance(world.draft(), S.AWAITING_OPINIONS)
    ma = world.advance(world.draft(country="MA"), S.AWAITING_OPINIONS)
    client.force_login(world.embassy_sn)
    html = client.get(reverse("tasks")).content.decode()
    assert sn.reference in html
    assert ma.reference not in html
    client.force_login(world.embassy_ma)
    html = client.get(reverse("tasks")).content.decode()
    assert ma.reference in html
    assert sn.reference not in html


def test_a_reviewer_s_inbox_only_shows_its_own_reviews(world: World, client) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    client.force_login(world.reviewer2)
    assert app.reference not in client.get(reverse("tasks")).content.decode()
    client.force_login(world.reviewer1)
    html = client.get(reverse("tasks")).content.decode()
    assert app.reference in html
    assert reverse("review", args=[app.reviews.get().pk]) in html


def test_it_claims_and_unclaims_a_task(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    task = Task.objects.get(application=app, state=Task.State.OPEN)
    client.force_login(world.instructor)
    response = client.post(reverse("task-claim", args=[task.pk]), {"next": "/tasks/?kind=check_eligibility"})
    assert response.status_code == 302
    assert response["Location"] == "/tasks/?kind=check_eligibility"
    task.refresh_from_db()
    assert task.assignee == world.instructor
    html = client.get(reverse("tasks")).content.decode()
    assert "Rendre à la file" in html
    client.post(reverse("task-unclaim", args=[task.pk]))
    task.refresh_from_db()
    assert task.assignee is None


def test_claiming_a_task_someone_else_took_is_refused_with_409_and_who_took_it(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    task = Task.objects.get(application=app, state=Task.State.OPEN)
    colleague = UserFactory(username="instructor2", first_name="Camille", last_name="Martin")
    grant(colleague, Role.INSTRUCTOR)
    client.force_login(colleague)
    client.post(reverse("task-claim", args=[task.pk]))
    client.force_login(world.instructor)
    response = client.post(reverse("task-claim", args=[task.pk]))
    assert response.status_code == 409
    assert "déjà prise en charge" in response.content.decode()
    task.refresh_from_db()
    assert task.assignee == colleague


def test_claiming_a_task_outside_the_user_s_queues_is_404(world: World, client) -> None:
    app = world.advance(world.draft(), S.AWAITING_OPINIONS)
    task = Task.objects.get(application=app, kind=TaskKind.GIVE_OPINION)
    client.force_login(world.embassy_ma)
    assert client.post(reverse("task-claim", args=[task.pk])).status_code == 404
    assert client.get(reverse("task-claim", args=[task.pk])).status_code == 405


def test_a_reserved_review_task_cannot_be_handed_back(world: World, client) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    task = Task.objects.get(application=app, kind=TaskKind.REVIEW)
    client.force_login(world.reviewer1)
    response = client.post(reverse("task-unclaim", args=[task.pk]))
    assert response.status_code == 403
    assert "ne peut pas être rendue" in response.content.decode()


def test_keyset_pagination_walks_every_task_once_without_offset_nor_count(
    world: World, client, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = [world.advance(world.draft(), S.SUBMITTED) for _ in range(5)]
    now = timezone.now()
    # Two share a due date (the id breaks the tie), one has none (listed last).
    Task.objects.filter(application=apps[0]).update(due_at=now + dt.timedelta(days=1))
    Task.objects.filter(application=apps[1]).update(due_at=now + dt.timedelta(days=1))
    Task.objects.filter(application=apps[2]).update(due_at=None)
    Task.objects.filter(application=apps[3]).update(due_at=now - dt.timedelta(days=1))
    monkeypatch.setattr(views_staff_common, "PAGE_SIZE", 2)
    client.force_login(world.instructor)
    seen: list[str] = []
    url = reverse("tasks")
    with CaptureQueriesContext(connection) as queries:
        for _ in range(10):
            html = client.get(url).content.decode()
            seen += _references(html)
            found = re.search(r'href="\?(cursor=[^"]+)" rel="next"', html)
            if not found:
                break
            url = reverse("tasks") + "?" + found.group(1).replace("&amp;", "&")
    expected_order = [apps[3], apps[0], apps[1], apps[4], apps[2]]
    assert seen == [a.reference for a in expected_order]
    task_sql = [q["sql"] for q in queries.captured_queries if '"workflows_task"' in q["sql"]]
    assert task_sql
    assert not any("OFFSET" in sql.upper() for sql in task_sql)
    assert not any("COUNT(" in sql.upper() and "GROUP BY" not in sql.upper() for sql in task_sql)


def test_a_tampered_cursor_shows_the_first_page(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    response = client.get(reverse("tasks"), {"cursor": "not-a-date~'; DROP TABLE x"})
    assert response.status_code == 200
    assert app.reference in response.content.decode()


def test_the_inbox_view_serves_the_staff_home_page(world: World) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    request = RequestFactory().get("/")
    request.user = world.instructor
    request.LANGUAGE_CODE = "fr"
    from django.contrib.messages.storage.fallback import FallbackStorage

    request.session = {}  # type: ignore[assignment]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    response = views_staff.inbox(request)
    assert response.status_code == 200
    assert app.reference in response.content.decode()
    assert "Mes tâches" in response.content.decode()


def test_the_inbox_renders_in_english(world: World, client) -> None:
    world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    response = client.get(reverse("tasks"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert '<html lang="en"' in response.content.decode()


def test_the_site_root_shows_a_staff_user_its_inbox(world: World, client) -> None:
    app = world.advance(world.draft(), S.SUBMITTED)
    client.force_login(world.instructor)
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Mes tâches</h1>" in html
    assert app.reference in html


def _country_choices(client) -> list[str]:
    response = client.get(reverse("tasks"))
    assert response.status_code == 200
    return [code for code, _label in response.context["form"].fields["country"].choices if code]


def test_the_country_filter_offers_the_eligible_countries_of_the_calls_of_the_user_s_tasks(
    world: World, client
) -> None:
    world.call.eligible_countries.set(["SN", "MA", "TN"])
    world.advance(world.draft(), S.SUBMITTED)
    world.draft(country="MA", attachments=False)  # a draft: no task, but an application in Morocco
    client.force_login(world.instructor)
    # Maroc is offered (an application of the call may reach the queue there); Tunisie,
    # eligible but without any application, is not; nor any country the call excludes.
    assert sorted(_country_choices(client)) == ["MA", "SN"]


def test_a_call_open_to_every_country_offers_the_countries_of_its_applications(world: World, client) -> None:
    world.advance(world.draft(), S.SUBMITTED)
    world.draft(country="TN", attachments=False)
    client.force_login(world.instructor)
    assert sorted(_country_choices(client)) == ["SN", "TN"]


def test_an_inbox_row_shows_its_task_in_the_reader_s_language_with_a_working_claim_form(world: World, client) -> None:
    """The rows are read as plain values: the kind's label and the countries follow the
    reader's language, the authority's text stays escaped, the claim form carries the CSRF
    token and claims the task."""
    app = world.advance(world.draft(), S.SUBMITTED)
    Application.objects.filter(pk=app.pk).update(title="<script>alert(1)</script> Eau")
    task = Task.objects.get(application=app, kind=TaskKind.CHECK_ELIGIBILITY)
    client.force_login(world.instructor)
    english = client.get(reverse("tasks"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = re.search(rf'<tr class="" id="task-{task.pk}">(.*?)</tr>', english, re.S)
    assert row is not None, english
    cells = row.group(1)
    assert "Check admissibility" in cells
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Eau" in cells and "<script>alert" not in cells
    country = app.countries.get()
    assert country.name_en in cells
    assert f'action="/tasks/{task.pk}/claim/"' in cells
    assert 'name="csrfmiddlewaretoken"' in cells
    french = client.get(reverse("tasks")).content.decode()
    assert country.name_fr in french and "Vérifier la recevabilité" in french
    client.post(f"/tasks/{task.pk}/claim/", {"next": "/tasks/"})
    task.refresh_from_db()
    assert task.assignee_id == world.instructor.pk
    mine = client.get(reverse("tasks")).content.decode()
    assert f'action="/tasks/{task.pk}/unclaim/"' in mine and "Rendre à la file" in mine


def test_urls_made_once_per_list_match_reverse_and_refuse_text() -> None:
    import uuid as uuid_module

    app_id = uuid_module.uuid4()
    assert views_staff_common.url_maker("task-claim")(42) == reverse("task-claim", args=[42])
    assert views_staff_common.url_maker("staff-application", "uuid")(app_id) == reverse(
        "staff-application", args=[app_id]
    )
    assert views_staff_common.url_maker("staff-application", "uuid")(str(app_id)) == reverse(
        "staff-application", args=[app_id]
    )
    with pytest.raises(ValueError):
        views_staff_common.url_maker("task-claim")("../admin")
    with pytest.raises(ValueError):
        views_staff_common.url_maker("staff-application", "uuid")("../../etc/passwd")
