"""PostgreSQL restarted in the middle of a burst of transitions (gunicorn on a private
cluster, real HTTP): every request is either committed whole or refused with a clear
503, nothing is half-written, and the service recovers by itself.

The burst: six client threads cycle 24 applications through submit → withdraw →
reinstate → withdraw … through the API while the cluster is restarted twice, once
cleanly (``pg_ctl -m fast``: every backend disconnected) and once like a crash
(``-m immediate``: no checkpoint, WAL recovery at start).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from grants.models import Application, Snapshot
from notifications.models import Notification
from tests.reliability.infra import Api, PrivatePostgres, Stack, wait_until
from workflows.models import TransitionLog

pytestmark = [pytest.mark.worker]

APPLICATIONS = 24
THREADS = 6
BURST_LIMIT_SECONDS = 60
MAX_REQUESTS_PER_THREAD = 400

# state → (transition, who fires it, payload): a cycle that never ends.
NEXT: dict[str, tuple[str, str, dict[str, Any]]] = {
    "draft": ("submit", "owner", {}),
    "submitted": ("withdraw", "owner", {"comment": "Retrait"}),
    "withdrawn": ("reinstate", "admin", {"reason": "Retrait par erreur"}),
}


@dataclass
class Outcome:
    app: str
    transition: str  # "" for a state read
    status: int | str  # HTTP status, or the client error's name
    retry_after: str | None = None
    detail: str = ""


@dataclass
class Burst:
    api: Api
    owners: dict[str, str]
    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)

    def fire_next(self, app: str, state: str) -> tuple[Outcome, str | None]:
        name, who, payload = NEXT[state]
        user = self.owners[app] if who == "owner" else who
        try:
            response = self.api.transition(app, name, user, payload)
        except requests.RequestException as exc:
            return Outcome(app, name, type(exc).__name__), None
        body: Any = {}
        with contextlib.suppress(ValueError):
            body = response.json()
        outcome = Outcome(
            app, name, response.status_code, response.headers.get("Retry-After"), str(body.get("detail", ""))
        )
        return outcome, body.get("state") if response.status_code == 200 else None

    def read_state(self, app: str) -> str | None:
        try:
            response = self.api.request("GET", f"applications/{app}/", self.owners[app], timeout=15)
        except requests.RequestException as exc:
            self.record(Outcome(app, "", type(exc).__name__))
            return None
        self.record(Outcome(app, "", response.status_code, response.headers.get("Retry-After")))
        return response.json()["state"] if response.status_code == 200 else None

    def run(self, apps: list[str]) -> None:
        states: dict[str, str | None] = dict.fromkeys(apps, "draft")
        for _ in range(MAX_REQUESTS_PER_THREAD):
            if self.stop.is_set():
                return
            for app in apps:
                state = states[app]
                if state is None:  # after a refusal: what did the database keep?
                    states[app] = self.read_state(app)
                    continue
                outcome, new_state = self.fire_next(app, state)
                self.record(outcome)
                states[app] = new_state  # None unless committed: read it back next time


def fire_round(api: Api, owners: dict[str, str]) -> list[int]:
    """One transition per application, after the faults: each must succeed."""
    statuses = []
    for app, owner in owners.items():
        state = api.state(app, owner)
        name, who, payload = NEXT[state]
        statuses.append(api.transition(app, name, owner if who == "owner" else who, payload).status_code)
    return statuses


def database_ok(stack: Stack) -> bool:
    return stack.health().get("database") == "ok"


def test_a_postgresql_restart_mid_burst_leaves_each_transition_whole_or_refused_with_a_503(
    make_stack: Callable[..., Stack], private_pg: PrivatePostgres, orm: Callable[..., Any]
) -> None:
    stack = make_stack()
    seeded = stack.scenario("seed", "--drafts", str(APPLICATIONS))
    owners: dict[str, str] = {app: seeded["owners"][app] for app in seeded["drafts"]}
    stack.web(workers=2, threads=4)
    api = Api(stack.base_url)
    for user in {*owners.values(), "admin"}:
        api.token(user)

    burst = Burst(api, owners)
    apps = list(owners)
    threads = [
        threading.Thread(target=burst.run, args=(apps[i::THREADS],), name=f"burst-{i}", daemon=True)
        for i in range(THREADS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(3)
    private_pg.restart("fast")
    wait_until(lambda: database_ok(stack), timeout=30, what="the web to reach PostgreSQL again")
    time.sleep(3)
    private_pg.restart("immediate")
    wait_until(lambda: database_ok(stack), timeout=30, what="the web to reach PostgreSQL after a crash restart")
    time.sleep(3)
    burst.stop.set()
    for thread in threads:
        thread.join(timeout=BURST_LIMIT_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    elapsed = time.monotonic() - started

    # The service recovered by itself (same gunicorn processes): every application moves on.
    assert fire_round(api, owners) == [200] * len(owners)

    fired = [o for o in burst.outcomes if o.transition]
    by_status = Counter(o.status for o in burst.outcomes)
    print(f"burst: {len(burst.outcomes)} requests in {elapsed:.1f} s, statuses {dict(by_status)}")
    # Each request either succeeded or was refused with a clear 503: never a 500, never a hang.
    unexpected = [o for o in burst.outcomes if o.status not in (200, 503)]
    assert not unexpected, unexpected[:10]
    refused = [o for o in burst.outcomes if o.status == 503]
    assert refused, "the restarts happened during the burst: some requests must have been refused"
    assert all(o.retry_after for o in refused)
    assert all("indisponible" in o.detail for o in refused if o.transition)

    committed = Counter(o.app for o in fired if o.status == 200)
    in_doubt = Counter(o.app for o in fired if o.status == 503)
    for app in owners:
        committed[app] += 1  # fire_round's

    with orm(stack):
        logs = list(
            TransitionLog.objects.filter(application_id__in=apps, subject_type="grants.application").order_by("pk")
        )
        by_app: dict[str, list[TransitionLog]] = {}
        for entry in logs:
            by_app.setdefault(str(entry.application_id), []).append(entry)
        states = {str(pk): state for pk, state in Application.objects.filter(pk__in=apps).values_list("pk", "state")}
        anchors = Counter(int(key.split(":")[1]) for key in Notification.objects.values_list("dedupe_key", flat=True))
        snapshots = set(Snapshot.objects.filter(application_id__in=apps).values_list("application_id", "created_at"))
        references = sorted(
            Application.objects.filter(pk__in=apps, reference__isnull=False).values_list("reference", flat=True)
        )

    for app in apps:
        history = by_app[app]
        # The application's state is its log's last target: no transition half-applied.
        assert states[app] == history[-1].target, (app, states[app], history[-1])
        entries = [entry for entry in history if entry.transition != "create"]  # the draft's own entry
        # Every 200 is in the log; a 503 is in it only if the COMMIT landed as the connection
        # dropped (the one case where a refusal may hide a success: never half of one).
        assert committed[app] <= len(entries) <= committed[app] + in_doubt[app], (app, len(entries), committed[app])
        for entry in entries:
            # The transition's outbox rows share its transaction: each entry has its
            # notifications (every one of these transitions notifies the applicant).
            assert anchors[entry.pk] >= 1, entry
            if entry.transition == "submit":
                assert (entry.application_id, entry.at) in snapshots  # the frozen snapshot too
    log_ids = {entry.pk for entry in logs}
    assert set(anchors) <= log_ids  # no notification of a transition that did not happen
    # Gap-free references: a refused submission gave its number back.
    assert [int(ref.rsplit("-", 1)[1]) for ref in references] == list(range(1, len(apps) + 1))

    audit = stack.manage("verify_audit")
    assert audit.stdout.strip().splitlines()[-1] == "audit: ok"
