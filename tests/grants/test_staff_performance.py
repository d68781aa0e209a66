"""Every staff list runs a constant number of queries whatever the rows shown: measured
at 10 and at 100 rows. The rows are bulk-created (the lists only read them)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grants.models import (
    Application,
    BudgetLine,
    CommitteeSession,
    Decision,
    Document,
    OpinionRequest,
    Review,
    Role,
)
from tests.factories import CallFactory, UserFactory, World
from workflows.engine import append_log
from workflows.models import Task, TaskKind

S = Application.State
_numbers = itertools.count(1)


def bulk_applications(
    world: World, n: int, state: str, *, session: CommitteeSession | None = None
) -> list[Application]:
    """``n`` applications in ``state`` with a country, two budget lines, a given opinion
    and a submitted review: what the lists display."""
    now = timezone.now()
    apps = []
    for _ in range(n):
        number = next(_numbers)
        apps.append(
            Application(
                call=world.call,
                organisation=world.lyon,
                state=state,
                reference=f"{world.call.code}-B{number:05d}",
                reference_number=100000 + number,
                title=f"Projet {number}",
                summary="Résumé.",
                own_cash=Decimal("15000.00"),
                own_in_kind=Decimal("5000.00"),
                partner_funding=Decimal("10000.00"),
                other_funding=Decimal("45000.00"),
                requested_amount=Decimal("25000.00"),
                session=session,
                submitted_at=now,
            )
        )
    Application.objects.bulk_create(apps)
    through = Application.countries.through
    through.objects.bulk_create([through(application_id=a.pk, country_id="SN") for a in apps])
    BudgetLine.objects.bulk_create(
        [
            BudgetLine(application=a, year=year, category="staff", label="Ligne", amount=Decimal("50000.00"))
            for a in apps
            for year in (1, 2)
        ]
    )
    OpinionRequest.objects.bulk_create(
        [
            OpinionRequest(
                application=a,
                call_id=a.call_id,
                authority=OpinionRequest.Authority.EMBASSY,
                country_id="SN",
                state=OpinionRequest.State.GIVEN if state != S.AWAITING_OPINIONS else OpinionRequest.State.REQUESTED,
                verdict="favorable" if state != S.AWAITING_OPINIONS else "",
                due_at=now + dt.timedelta(days=10),
            )
            for a in apps
        ]
    )
    scores = {c["code"]: 4 for c in world.call.scoring_criteria}
    Review.objects.bulk_create(
        [
            Review(
                application=a,
                reviewer=world.reviewer1,
                state=Review.State.SUBMITTED if state != S.UNDER_REVIEW else Review.State.ASSIGNED,
                scores=scores if state != S.UNDER_REVIEW else {},
                recommendation="yes" if state != S.UNDER_REVIEW else "",
            )
            for a in apps
        ]
    )
    return apps


def bulk_decisions(world: World, n: int, state: str) -> list[Decision]:
    apps = bulk_applications(world, n, S.APPROVED)
    now = timezone.now()
    decisions = [
        Decision(
            application=a,
            call_id=a.call_id,
            outcome=Decision.Outcome.APPROVED,
            state=state,
            amount=Decimal("25000.00"),
            rate=Decimal("0.25"),
            tranches=[{"number": 1, "year": 1, "amount": "25000.00", "condition": "signature"}],
            signed_at=now if state != Decision.State.DRAFT else None,
            signed_by=world.signatory if state != Decision.State.DRAFT else None,
            delivered_at=now if state in (Decision.State.DELIVERED, Decision.State.RECORDED) else None,
        )
        for a in apps
    ]
    Decision.objects.bulk_create(decisions)
    if state == Decision.State.DELIVERED:
        Document.objects.bulk_create(
            [
                Document(
                    kind=Document.Kind.APPROVAL_LETTER,
                    application=d.application,
                    decision=d,
                    reference=d.application.reference,
                    file="documents/x.pdf",
                    sha256="0" * 64,
                    size=1,
                    pages=1,
                    template_version="t",
                    verification_code=f"v{d.pk}",
                )
                for d in decisions
            ]
        )
    return decisions


def bulk_tasks(world: World, apps: list[Application], kind: str, role: str, **scope: Any) -> None:
    now = timezone.now()
    Task.objects.bulk_create(
        [
            Task(
                kind=kind,
                application=a,
                queue_role=role,
                due_at=now + dt.timedelta(days=i - 5),
                subject_type="grants.opinionrequest" if kind == TaskKind.GIVE_OPINION else "",
                subject_id=str(a.opinion_requests.first().pk) if kind == TaskKind.GIVE_OPINION else "",
                **scope,
            )
            for i, a in enumerate(apps)
        ]
    )


def queries(client, url: str, params: dict[str, str] | None = None) -> int:
    client.get(url, params or {})  # warm up (session, caches)
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(context)


def assert_constant(
    client, user: Any, url: str, grow: Callable[[int], None], params: dict[str, str] | None = None
) -> None:
    client.force_login(user)
    grow(10)
    at_10 = queries(client, url, params)
    grow(90)
    at_100 = queries(client, url, params)
    assert at_10 == at_100, f"{url}: {at_10} queries at 10 rows, {at_100} at 100"


def test_the_inbox_runs_a_constant_number_of_queries(world: World, client) -> None:
    def grow(n: int) -> None:
        apps = bulk_applications(world, n, S.SUBMITTED)
        bulk_tasks(world, apps, TaskKind.CHECK_ELIGIBILITY, Role.INSTRUCTOR, scope_call=world.call)

    assert_constant(client, world.instructor, reverse("tasks"), grow)


def test_the_embassy_inbox_and_opinion_list_run_a_constant_number_of_queries(world: World, client) -> None:
    def grow(n: int) -> None:
        apps = bulk_applications(world, n, S.AWAITING_OPINIONS)
        bulk_tasks(world, apps, TaskKind.GIVE_OPINION, Role.EMBASSY, scope_country_id="SN")

    assert_constant(client, world.embassy_sn, reverse("opinions"), grow)
    assert_constant(client, world.embassy_sn, reverse("tasks"), grow, {"country": "SN"})


def test_the_review_list_runs_a_constant_number_of_queries(world: World, client) -> None:
    assert_constant(client, world.reviewer1, reverse("reviews"), lambda n: bulk_applications(world, n, S.UNDER_REVIEW))


def test_the_session_list_runs_a_constant_number_of_queries(world: World, client) -> None:
    def grow(n: int) -> None:
        CommitteeSession.objects.bulk_create(
            [CommitteeSession(call=world.call, date=timezone.localdate() + dt.timedelta(days=i)) for i in range(n)]
        )

    assert_constant(client, world.secretary, reverse("sessions"), grow)


def test_the_agenda_runs_a_constant_number_of_queries(world: World, client) -> None:
    assert_constant(
        client,
        world.secretary,
        reverse("session", args=[world.session.pk]),
        lambda n: bulk_applications(world, n, S.IN_COMMITTEE, session=world.session),
    )


def test_the_signatory_list_runs_a_constant_number_of_queries(world: World, client) -> None:
    def grow(n: int) -> None:
        bulk_decisions(world, n, Decision.State.DRAFT)
        bulk_decisions(world, n, Decision.State.SIGNED)

    assert_constant(client, world.signatory, reverse("signatory"), grow)
    assert_constant(client, world.signatory, reverse("signatory-progress"), grow)


def test_the_finance_list_runs_a_constant_number_of_queries(world: World, client) -> None:
    assert_constant(
        client, world.finance, reverse("finance"), lambda n: bulk_decisions(world, n, Decision.State.DELIVERED)
    )


def test_the_dashboard_list_and_a_dashboard_run_a_constant_number_of_queries(world: World, client) -> None:
    def grow(n: int) -> None:
        for _ in range(n):
            CallFactory()

    assert_constant(client, world.instructor, reverse("dashboards"), grow)
    assert_constant(
        client,
        world.instructor,
        reverse("call-dashboard", args=[world.call.code]),
        lambda n: bulk_applications(world, n, S.IN_COMMITTEE),
    )


def test_a_dashboard_costs_the_same_with_more_late_opinions_and_decisions(world: World, client) -> None:
    def grow(n: int) -> None:
        apps = bulk_applications(world, n, S.AWAITING_OPINIONS)
        late = OpinionRequest.objects.filter(application__in=apps)
        late.filter(application__in=apps[: n // 2]).update(due_at=timezone.now() - dt.timedelta(days=1))
        late.filter(application__in=apps[n // 2 :]).update(state=OpinionRequest.State.EXPIRED)
        bulk_decisions(world, n, Decision.State.SIGNED)

    url = reverse("call-dashboard", args=[world.call.code])
    assert_constant(client, world.instructor, url, grow)
    page = client.get(url).content.decode()
    assert 'id="dashboard-committed">2\u202f500\u202f000,00\u00a0€' in page  # 100 × 25,000 approved


def test_the_application_page_runs_a_constant_number_of_queries_whatever_its_history(world: World, client) -> None:
    app = world.advance(world.draft(), S.UNDER_REVIEW)

    def grow(n: int) -> None:
        for _ in range(n):
            append_log(
                subject=app,
                application=app,
                transition="note",
                source=app.state,
                target=app.state,
                user=world.instructor,
                role=Role.INSTRUCTOR,
                comment="Relance téléphonique.",
            )

    assert_constant(client, world.instructor, reverse("staff-application", args=[app.pk]), grow)


def test_the_application_page_costs_the_same_with_1_or_6_reviews_and_opinions(world: World, client) -> None:
    """Each review's and each opinion's action check reads the page's application (its
    call, its state) from the page itself, not one query each."""
    app = world.advance(world.draft(), S.UNDER_REVIEW)
    added = itertools.count(1)

    def grow(n: int) -> None:
        # 10 then 90 from assert_constant: one then five more of each.
        for _ in range(1 if n == 10 else 5):
            i = next(added)
            reviewer = UserFactory(username=f"perf-reviewer-{i}")
            Review.objects.create(application=app, reviewer=reviewer, state=Review.State.ASSIGNED)
            OpinionRequest.objects.create(
                application=app,
                call_id=app.call_id,
                authority=OpinionRequest.Authority.EMBASSY,
                country_id="SN",
                due_at=timezone.now() + dt.timedelta(days=i),
            )

    url = reverse("staff-application", args=[app.pk])
    assert_constant(client, world.instructor, url, grow)
    page = client.get(url).content.decode()
    assert page.count("perf-reviewer-") >= 6  # the six reviews are on the page


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods"])
def test_exports_read_the_decisions_in_bounded_chunks(world: World, client, fmt: str) -> None:
    bulk_decisions(world, 30, Decision.State.DELIVERED)
    client.force_login(world.finance)
    with CaptureQueriesContext(connection) as context:
        response = client.get(reverse("finance-export", args=[fmt]))
        body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200
    assert body
    decision_reads = [q for q in context.captured_queries if 'FROM "grants_decision"' in q["sql"]]
    assert len(decision_reads) == 1  # one chunked read (server-side cursor), not one per row


def test_the_application_page_reads_each_companion_table_once(world: World, client) -> None:
    """The budget's figures and rules, the header and the post-award section use the rows
    the page read: its budget lines, countries, application and decision once each."""
    app = world.advance(world.draft(), S.APPROVED)
    client.force_login(world.instructor)
    client.get(reverse("staff-application", args=[app.pk]))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("staff-application", args=[app.pk]))
    assert response.status_code == 200
    assert "Budget" in response.content.decode()

    def reading(table: str) -> int:
        return sum(
            1 for q in queries.captured_queries if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"]
        )

    assert reading("grants_budgetline") == 1
    assert reading("grants_application_countries") + reading("grants_country") == 1
    assert reading("grants_application") == 1
    assert reading("grants_decision") == 1


def test_no_page_of_an_application_reads_its_session_s_frozen_ranking(world: World, client) -> None:
    """A closed session's frozen ranking holds its whole agenda: the applicant's home and
    application page and the staff application page read the session without it (it was
    decoded again for each row of the home)."""
    app = world.advance(world.draft(), S.IN_COMMITTEE)
    session = CommitteeSession.objects.get(pk=app.session_id)
    CommitteeSession.objects.filter(pk=session.pk).update(
        frozen_ranking={"rows": [{"application": str(app.pk), "reference": "X" * 50}] * 500}
    )
    pages = [
        (world.applicant, reverse("home")),
        (world.applicant, reverse("applicant-application", args=[app.pk])),
        (world.instructor, reverse("staff-application", args=[app.pk])),
    ]
    for user, url in pages:
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        assert app.reference in response.content.decode()
        assert not [q["sql"] for q in queries.captured_queries if "frozen_ranking" in q["sql"]], url
