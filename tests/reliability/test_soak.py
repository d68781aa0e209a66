"""A soak: mixed load through the API and the web for RELIABILITY_SOAK_SECONDS (default
60, the CI run; 600 for the full run), with the PDF worker killed once (SIGKILL of its
whole process group, mid-render most likely) and Redis restarted once (in memory only:
every queued message lost). Afterwards, once the relay and the documents sweep have
caught up: verify_audit passes, every issued document's file matches its stored hash,
every outbox row was e-mailed exactly once, every request was answered with the status
its step expects.

The figures (requests, statuses, latencies, transitions, documents, notifications,
durations) go to RELIABILITY_RESULTS (default var/reliability/soak.json); docs/
reliability.md reports those of the last full run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import threading
import time
import types
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db.models import Count
from django.utils import timezone

from grants.models import Call, Decision, Document, Snapshot
from notifications.models import Notification
from tests.factories import PDF_BYTES, complete_data
from tests.reliability.infra import ROOT, Api, PrivateRedis, Stack, wait_until, web_sign_in
from workflows.models import TransitionLog

pytestmark = [pytest.mark.worker]

E = Notification.EmailState
SOAK_SECONDS = float(os.environ.get("RELIABILITY_SOAK_SECONDS", "60"))
RESULTS = Path(os.environ.get("RELIABILITY_RESULTS") or ROOT / "var" / "reliability" / "soak.json")
LIFECYCLE_THREADS = 2
REDIS_DOWN_SECONDS = 3
DRAIN_TIMEOUT = 300
MAX_LOOPS = 10_000  # every client loop is bounded in count as well as in time


class Unexpected(Exception):
    pass


@dataclass
class Load:
    api: Api
    base_url: str
    call: str
    criteria: list[str]
    deadline: float
    consensus_required: bool = False
    calls: list[tuple[str, int | str, float]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    lifecycles: int = 0
    decisions: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sequence: int = 0

    def next_number(self) -> int:
        with self.lock:
            self.sequence += 1
            return self.sequence

    def call_api(self, label: str, expect: tuple[int, ...], method: str, path: str, user: str, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            response = self.api.request(method, path, user, **kwargs)
        except requests.RequestException as exc:
            self._record(label, type(exc).__name__, started)
            raise Unexpected(f"{label}: {exc!r}") from exc
        self._record(label, response.status_code, started)
        if response.status_code not in expect:
            raise Unexpected(f"{label}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content and "json" in response.headers.get("Content-Type", "") else None

    def _record(self, label: str, status: int | str, started: float) -> None:
        with self.lock:
            self.calls.append((label, status, time.monotonic() - started))

    def fail(self, message: str) -> None:
        with self.lock:
            self.unexpected.append(message)

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    # --- the clients ------------------------------------------------------------------

    def new_submitted(self, owner: str) -> str:
        data = complete_data(types.SimpleNamespace(code=self.call), title=f"Projet {self.next_number()}")
        app = self.call_api("create draft", (201,), "POST", "applications/", owner, json=data)["id"]
        for kind in ("partnership_agreement", "council_resolution"):
            self.call_api(
                "upload",
                (201,),
                "POST",
                f"applications/{app}/attachments/",
                owner,
                data={"kind": kind},
                files={"file": (f"{kind}.pdf", PDF_BYTES, "application/pdf")},
            )
        self.call_api("submit", (200,), "POST", f"applications/{app}/transitions/submit/", owner, json={})
        return app

    def lifecycle(self, index: int) -> None:
        """Draft → submitted → eligible → opinion → review → committee → decision signed; the
        decisions delivered meanwhile are recorded by finance."""
        owner = ("applicant", "applicant2")[index % 2]
        mine: list[int] = []
        for loop in range(MAX_LOOPS):
            if not self.running():
                break
            try:
                self.record_delivered(mine)
                app = self.new_submitted(owner)
                transition = f"applications/{app}/transitions"
                review = self.call_api(
                    "assign reviewer",
                    (201,),
                    "POST",
                    f"applications/{app}/reviewers/",
                    "instructor",
                    json={"reviewer": "reviewer1"},
                )
                self.call_api(
                    "declare eligible", (200,), "POST", f"{transition}/declare_eligible/", "instructor", json={}
                )
                opinions = self.call_api("opinions", (200,), "GET", "opinions/?state=requested", "embassy-sn")
                opinion = next(o for o in opinions["results"] if o["application"] == app)
                self.call_api(
                    "give opinion",
                    (200,),
                    "POST",
                    f"opinions/{opinion['id']}/give/",
                    "embassy-sn",
                    json={"verdict": "favorable", "comment": "Partenariat solide."},
                )
                self.call_api(
                    "declare no conflict",
                    (200,),
                    "POST",
                    f"reviews/{review['id']}/declare/",
                    "reviewer1",
                    json={"conflict": False},
                )
                self.call_api(
                    "submit review",
                    (200,),
                    "POST",
                    f"reviews/{review['id']}/submit/",
                    "reviewer1",
                    json={"scores": dict.fromkeys(self.criteria, 4), "recommendation": "yes"},
                )
                if self.consensus_required:  # the call wants the reviews' consensus before the committee
                    self.call_api(
                        "consensus",
                        (200, 201),
                        "POST",
                        f"applications/{app}/consensus/",
                        "instructor",
                        json={"comment": "Projet solide."},
                    )
                day = (timezone.localdate() + dt.timedelta(days=10 + loop % 300)).isoformat()
                session = self.call_api(
                    "create session", (201,), "POST", "sessions/", "secretary", json={"call": self.call, "date": day}
                )
                self.call_api(
                    "schedule", (200,), "POST", f"{transition}/schedule/", "secretary", json={"session": session["id"]}
                )
                self.call_api("open session", (200,), "POST", f"sessions/{session['id']}/open/", "secretary")
                if loop % 4 == 3:
                    outcome = ("reject", {"reasons": "Budget insuffisamment justifié."})
                else:
                    outcome = ("approve", {"amount": "1000.00"})
                body = self.call_api(
                    outcome[0], (200,), "POST", f"{transition}/{outcome[0]}/", "secretary", json=outcome[1]
                )
                self.call_api("close session", (200,), "POST", f"sessions/{session['id']}/close/", "secretary")
                decision = body["decision"]["id"]
                self.call_api("sign", (200,), "POST", f"decisions/{decision}/sign/", "signatory")
                mine.append(decision)
                with self.lock:
                    self.lifecycles += 1
                    self.decisions.append(decision)
            except Unexpected as exc:
                self.fail(str(exc))
            except Exception as exc:  # a response without the expected shape
                self.fail(f"lifecycle: {exc!r}")

    def record_delivered(self, mine: list[int]) -> None:
        for decision in list(mine):
            # The signatory sees every decision; finance only the delivered approvals.
            body = self.call_api("read decision", (200,), "GET", f"decisions/{decision}/", "signatory")
            if body["state"] == "delivered" and body["outcome"] == "approved":
                self.call_api(
                    "record",
                    (200,),
                    "POST",
                    f"decisions/{decision}/record/",
                    "finance",
                    json={"commitment_number": f"EJ-{decision:06d}"},
                )
                mine.remove(decision)
            elif body["state"] == "delivered":
                mine.remove(decision)

    def churn(self) -> None:
        """Withdraw and reinstate two applications, over and over."""
        try:
            apps = [self.new_submitted("applicant2") for _ in range(2)]
        except Unexpected as exc:
            self.fail(str(exc))
            return
        state = dict.fromkeys(apps, "submitted")
        for _ in range(MAX_LOOPS):
            if not self.running():
                break
            for app in apps:
                try:
                    if state[app] == "submitted":
                        path, user, payload = "withdraw", "applicant2", {"comment": "Retrait"}
                    else:
                        path, user, payload = "reinstate", "admin", {"reason": "Retrait par erreur"}
                    body = self.call_api(
                        path, (200,), "POST", f"applications/{app}/transitions/{path}/", user, json=payload
                    )
                    state[app] = body["state"]
                except Unexpected as exc:
                    self.fail(str(exc))
            time.sleep(0.2)

    def reader(self) -> None:
        """What people look at meanwhile: lists, the inbox, the applicant's web pages."""
        try:
            browser = web_sign_in(self.base_url, "applicant")
        except AssertionError as exc:
            self.fail(f"web sign-in: {exc}")
            return
        for _ in range(MAX_LOOPS):
            if not self.running():
                break
            try:
                self.call_api("list applications", (200,), "GET", "applications/", "applicant")
                self.call_api("inbox", (200,), "GET", "tasks/", "instructor")
                self.call_api("decisions", (200,), "GET", "decisions/", "signatory")
                started = time.monotonic()
                page = browser.get(f"{self.base_url}/", timeout=30)
                self._record("web home", page.status_code, started)
                if page.status_code != 200:
                    self.fail(f"web home: {page.status_code}")
            except (Unexpected, requests.RequestException) as exc:
                self.fail(f"reader: {exc!r}")
            time.sleep(0.5)


def settled(decisions: list[int]) -> bool:
    now = timezone.now()
    return (
        not Decision.objects.filter(pk__in=decisions, state=Decision.State.SIGNED).exists()
        and not Snapshot.objects.filter(receipt__isnull=True).exists()
        and not Decision.objects.filter(
            outcome=Decision.Outcome.APPROVED, state__in=[Decision.State.DELIVERED, Decision.State.RECORDED]
        )
        .exclude(application__documents__kind=Document.Kind.APPROVAL_LETTER_EN)
        .exists()
        and not Notification.objects.filter(email_state=E.PENDING, next_attempt_at__lte=now).exists()
    )


def busy(stack: Stack, worker: Any, *, timeout: float) -> list[str]:
    """The tasks ``worker`` is running, asked until it runs one (bounded): the kill then
    lands in the middle of a render."""
    probe = stack.celery_probe()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                active = probe.control.inspect(destination=[worker.hostname], timeout=1).active() or {}
            except Exception:  # a pooled connection gone stale: ask again
                active = {}
            names = [task["name"] for task in active.get(worker.hostname, [])]
            if names or time.monotonic() > deadline:
                return names
            time.sleep(0.05)
    finally:
        probe.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_a_soak_with_a_worker_killed_and_redis_restarted_ends_consistent(
    make_stack: Callable[..., Stack], private_redis: PrivateRedis, orm: Callable[..., Any]
) -> None:
    started = time.monotonic()
    stack = make_stack(beat_seconds=3, sweep_after_seconds=10)
    seeded = stack.scenario("seed")
    stack.web(workers=2, threads=4)
    stack.worker(concurrency=2, queues="default")
    pdf_worker = stack.worker(concurrency=2, queues="pdf")
    stack.beat()
    api = Api(stack.base_url)
    for user in ("applicant", "applicant2", "instructor", "embassy-sn", "reviewer1", "secretary", "signatory"):
        api.token(user)
    for user in ("finance", "admin"):
        api.token(user)
    criteria = [
        c["code"] for c in api.request("GET", f"calls/{seeded['call']}/", "applicant").json()["scoring_criteria"]
    ]
    with orm(stack):
        logs_before = TransitionLog.objects.count()
        consensus_required = bool(getattr(Call.objects.get(code=seeded["call"]), "consensus_required", False))

    load_started = time.monotonic()
    load = Load(
        api,
        stack.base_url,
        seeded["call"],
        criteria,
        deadline=load_started + SOAK_SECONDS,
        consensus_required=consensus_required,
    )
    threads = [threading.Thread(target=load.lifecycle, args=(i,), daemon=True) for i in range(LIFECYCLE_THREADS)]
    threads += [threading.Thread(target=load.churn, daemon=True), threading.Thread(target=load.reader, daemon=True)]
    for thread in threads:
        thread.start()

    faults: list[dict[str, Any]] = []
    time.sleep(SOAK_SECONDS / 3)
    in_flight = busy(stack, pdf_worker, timeout=min(30.0, SOAK_SECONDS / 6))
    pdf_worker.kill()  # SIGKILL to the worker and its pool children, mid-render when it was busy
    faults.append(
        {
            "fault": "pdf worker killed (SIGKILL, process group)",
            "at_s": round(time.monotonic() - load_started, 1),
            "tasks_running_when_killed": in_flight,
        }
    )
    stack.worker(concurrency=2, queues="pdf")
    time.sleep(max(0.0, load_started + 2 * SOAK_SECONDS / 3 - time.monotonic()))
    private_redis.stop()
    down_at = time.monotonic()
    time.sleep(REDIS_DOWN_SECONDS)
    private_redis.start()
    faults.append(
        {
            "fault": "redis restarted (in memory: queues lost)",
            "at_s": round(down_at - load_started, 1),
            "down_s": round(time.monotonic() - down_at, 1),
        }
    )

    # A worker may die of the Redis restart (kombu: "Unrecoverable error: AttributeError
    # 'NoneType' object has no attribute 'hostname'" when a late ack meets the dropped
    # connection): production restarts it (a supervisor), so does the test, and says so.
    time.sleep(5)
    deaths = stack.supervise()
    for thread in threads:
        thread.join(timeout=SOAK_SECONDS + 120)
    deaths += stack.supervise()
    assert not any(thread.is_alive() for thread in threads)
    load_seconds = time.monotonic() - load_started

    drain_started = time.monotonic()
    with orm(stack):
        wait_until(lambda: settled(load.decisions), timeout=DRAIN_TIMEOUT, what="the relay and the sweeps to catch up")
        drain_seconds = time.monotonic() - drain_started
        time.sleep(6)  # one more relay and sweep round: nothing may be sent or stored again
        transitions = TransitionLog.objects.count() - logs_before
        documents = dict(Document.objects.values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
        sent = dict(Notification.objects.filter(email_state=E.SENT).values_list("pk", "attempts"))
        states = dict(
            Notification.objects.values_list("email_state").annotate(n=Count("pk")).values_list("email_state", "n")
        )
        render_attempts = Counter(
            Decision.objects.filter(pk__in=load.decisions).values_list("render_attempts", flat=True)
        )
        delivers = TransitionLog.objects.filter(transition="deliver").count()
        letters = Document.objects.filter(decision_id__in=load.decisions).count()
    mails = stack.mails_per_notification()
    audit = stack.manage("verify_audit").stdout.strip().splitlines()[-1]
    verified = stack.manage("verify_documents", check=False)
    durations = [seconds for _, _, seconds in load.calls]
    results = {
        "mode": "full" if SOAK_SECONDS >= 600 else "short",
        "soak_seconds": SOAK_SECONDS,
        "finished_at": timezone.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()},
        "clients": {"lifecycle": LIFECYCLE_THREADS, "churn": 1, "reader": 1},
        "requests": {
            "total": len(load.calls),
            "by_status": dict(Counter(str(status) for _, status, _ in load.calls)),
            "by_step": dict(Counter(label for label, _, _ in load.calls)),
            "unexpected": len(load.unexpected),
            "latency_ms": {
                "p50": round(1000 * statistics.median(durations), 1) if durations else 0,
                "p95": round(1000 * percentile(durations, 0.95), 1),
                "max": round(1000 * max(durations, default=0), 1),
            },
        },
        "lifecycles": load.lifecycles,
        "transitions": transitions,
        "documents": documents,
        "decisions": {
            "signed": len(load.decisions),
            "render_attempts": {str(k): v for k, v in render_attempts.items()},
        },
        "notifications": {"by_state": states, "sent": len(sent), "e_mails": sum(mails.values())},
        "faults": faults,
        "workers_died_and_restarted": deaths,
        "durations_s": {
            "load": round(load_seconds, 1),
            "drain_after_load": round(drain_seconds, 1),
            "total_with_setup": round(time.monotonic() - started, 1),
        },
        "verify_audit": audit,
        "verify_documents": verified.stdout.strip().splitlines()[-1],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))

    assert not load.unexpected, load.unexpected[:10]
    assert load.lifecycles >= 2, "the load must have gone through whole lifecycles"
    assert audit == "audit: ok"
    assert verified.returncode == 0, verified.stdout
    assert set(states) <= {E.SENT, E.SKIPPED, E.DIGEST}
    assert set(sent.values()) == {1}
    assert set(mails) == set(sent)
    assert set(mails.values()) == {1}, {pk: n for pk, n in mails.items() if n != 1}
    assert letters == len(load.decisions)
    assert delivers == len(load.decisions)
