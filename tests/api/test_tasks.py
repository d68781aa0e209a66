"""GET /tasks/, POST /tasks/{id}/claim/ and /unclaim/."""

from __future__ import annotations

from collections.abc import Callable

from rest_framework.test import APIClient

from grants.models import Application, Role
from tests.api.helpers import body, submitted, url
from tests.factories import UserFactory, World, grant
from workflows.models import Task


def test_the_inbox_lists_the_open_tasks_of_the_callers_queues(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    (task,) = body(api(world.instructor).get(url("tasks/")), 200)["results"]
    assert task["kind"] == "check_eligibility"
    assert task["state"] == "open"
    assert task["application"] == str(app.pk)
    assert task["reference"] == app.reference
    assert task["assignee"] is None
    assert task["due_at"]
    assert task["overdue"] is False
    assert body(api(world.embassy_sn).get(url("tasks/")), 200)["results"] == []
    assert body(api(world.secretary).get(url("tasks/")), 200)["results"] == []


def test_the_inbox_filters_by_kind(world: World, api: Callable[..., APIClient]) -> None:
    submitted(world)
    client = api(world.instructor)
    assert body(client.get(url("tasks/"), {"kind": "review"}), 200)["results"] == []
    assert list(body(client.get(url("tasks/"), {"kind": "nap"}), 400)["errors"]) == ["kind"]


def test_the_inbox_is_paginated_by_due_date(world: World, api: Callable[..., APIClient]) -> None:
    for _ in range(3):
        submitted(world)
    client = api(world.instructor)
    page = body(client.get(url("tasks/"), {"page_size": 2}), 200)
    rest = body(client.get(page["next"]), 200)
    ids = [t["id"] for t in page["results"] + rest["results"]]
    assert ids == list(Task.objects.filter(state="open").order_by("due_at", "id").values_list("id", flat=True))


def test_claiming_and_giving_back_a_task(world: World, api: Callable[..., APIClient]) -> None:
    submitted(world)
    task = Task.objects.get(kind="check_eligibility")
    other = UserFactory(username="instructor2")
    grant(other, Role.INSTRUCTOR)
    mine = api(world.instructor)
    assert body(mine.post(url(f"tasks/{task.pk}/claim/")), 200)["assignee"] == "instructor"
    taken = body(api(other).post(url(f"tasks/{task.pk}/claim/")), 409)
    assert "instructor" in taken["detail"]
    assert body(api(other).post(url(f"tasks/{task.pk}/unclaim/")), 409)
    assert body(mine.post(url(f"tasks/{task.pk}/unclaim/")), 200)["assignee"] is None


def test_a_task_outside_the_callers_queues_is_not_found(world: World, api: Callable[..., APIClient]) -> None:
    submitted(world)
    task = Task.objects.get(kind="check_eligibility")
    assert body(api(world.embassy_sn).post(url(f"tasks/{task.pk}/claim/")), 404) == {"detail": "Introuvable."}
    assert body(api(world.instructor).post(url("tasks/999999/claim/")), 404)


def test_a_reserved_task_cannot_be_given_back(world: World, api: Callable[..., APIClient]) -> None:
    world.advance(world.draft(), Application.State.UNDER_REVIEW)
    task = Task.objects.get(kind="review", state="open")
    assert body(api(world.reviewer1).post(url(f"tasks/{task.pk}/unclaim/")), 403)["detail"]
    assert body(api(world.reviewer2).post(url(f"tasks/{task.pk}/claim/")), 404)


def test_a_closed_task_cannot_be_claimed(world: World, api: Callable[..., APIClient]) -> None:
    app = submitted(world)
    task = Task.objects.get(kind="check_eligibility")
    world.fire(app, "declare_eligible", world.instructor)
    assert body(api(world.instructor).post(url(f"tasks/{task.pk}/claim/")), 409)["detail"] == (
        "Cette tâche n'est plus ouverte."
    )
