"""Redis stopped for a while during submissions and signatures (gunicorn, a worker and
beat on a private redis-server, in memory only, so stopping it also loses every queued
message): the web keeps working, nothing is lost, and once Redis is back the outbox
relay and the documents sweep catch up; each notification is e-mailed exactly once.

Production runs beat every minute (relay) and five minutes (documents sweep) with a
ten-minute grace before a signed decision counts as lost; here beat runs every 2 s and
the grace is 5 s (tests/reliability/stack_settings.py, run_celery.py): the paths are the
same, only the clock is faster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from grants.models import Decision, Document, Snapshot
from notifications.models import Notification
from tests.reliability.infra import Api, PrivateRedis, Stack, wait_until, web_sign_in
from workflows.models import TransitionLog

pytestmark = [pytest.mark.worker]

E = Notification.EmailState
OUTAGE_SECONDS = float(os.environ.get("RELIABILITY_REDIS_OUTAGE_SECONDS", "15"))
CATCH_UP_TIMEOUT = 180


def caught_up(decisions: list[int]) -> bool:
    delivered = Decision.objects.filter(pk__in=decisions, state=Decision.State.DELIVERED).count()
    return (
        delivered == len(decisions)
        and not Snapshot.objects.filter(receipt__isnull=True).exists()
        and Document.objects.filter(kind=Document.Kind.APPROVAL_LETTER_EN).count() == len(decisions)
        and not Notification.objects.filter(email_state=E.PENDING).exists()
    )


def test_redis_stopped_during_submissions_and_signatures_loses_nothing_and_mails_each_notification_once(
    make_stack: Callable[..., Stack], private_redis: PrivateRedis, orm: Callable[..., Any]
) -> None:
    stack = make_stack(beat_seconds=2, sweep_after_seconds=5)
    seeded = stack.scenario("seed", "--drafts", "6", "--approved", "3")
    drafts, decisions, owners = seeded["drafts"], seeded["decisions"], seeded["owners"]
    stack.web()
    stack.worker()
    stack.beat()
    api = Api(stack.base_url)
    for user in ("applicant", "applicant2", "signatory"):
        api.token(user)
    browser = web_sign_in(stack.base_url, "applicant")

    private_redis.stop()
    down_at = time.monotonic()
    during: list[tuple[str, int, float]] = []

    def timed(label: str, call: Callable[[], requests.Response]) -> None:
        started = time.monotonic()
        response = call()
        during.append((label, response.status_code, time.monotonic() - started))

    for app in drafts[:4]:
        timed("submit", lambda app=app: api.transition(app, "submit", owners[app]))
    for decision in decisions:
        timed("sign", lambda decision=decision: api.request("POST", f"decisions/{decision}/sign/", "signatory"))
    timed("web home", lambda: browser.get(f"{stack.base_url}/", timeout=15))
    timed("web application", lambda: browser.get(f"{stack.base_url}/mes-dossiers/{drafts[0]}/", timeout=15))
    timed("web sign-in", lambda: web_sign_in(stack.base_url, "applicant2").get(f"{stack.base_url}/", timeout=15))
    health_down = stack.health()
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
    private_redis.start()
    up_at = time.monotonic()
    time.sleep(3)
    deaths = stack.supervise()  # a worker killed by the outage is restarted, as by systemd (see the soak)

    # The web kept working: every request answered, promptly, while Redis was away.
    assert [(label, status) for label, status, _ in during] == [(label, 200) for label, _, _ in during], during
    assert max(seconds for _, _, seconds in during) < 10, during
    assert health_down["status"] == 503 and health_down["broker"] == "unavailable", health_down

    for app in drafts[4:]:  # and afterwards, the ordinary path again
        assert api.transition(app, "submit", owners[app]).status_code == 200

    with orm(stack):
        wait_until(lambda: caught_up(decisions), timeout=CATCH_UP_TIMEOUT, what="the relay and the sweep to catch up")
        caught_up_after = time.monotonic() - up_at
        sent = dict(Notification.objects.filter(email_state=E.SENT).values_list("pk", "attempts"))
        states = set(Notification.objects.values_list("email_state", flat=True))
        letters = Document.objects.filter(decision_id__in=decisions).count()
        delivers = TransitionLog.objects.filter(transition="deliver", subject_type="grants.decision").count()
    time.sleep(4)  # two more relay and sweep rounds: nothing may be sent again
    mails = stack.mails_per_notification()
    print(
        f"outage {up_at - down_at:.1f} s; requests during it: "
        + ", ".join(f"{label} {seconds:.2f} s" for label, _, seconds in during)
        + f"; caught up {caught_up_after:.1f} s after Redis came back; workers restarted: {deaths or 'none'}; "
        f"{len(sent)} notifications e-mailed"
    )

    assert states <= {E.SENT, E.SKIPPED, E.DIGEST}
    assert set(sent.values()) == {1}  # marked sent at the first attempt, once
    assert set(mails) == set(sent)  # every sent row was e-mailed…
    assert set(mails.values()) == {1}  # …exactly once
    assert letters == delivers == len(decisions)  # one letter and one delivery per signed decision
    assert stack.manage("verify_documents").stdout.strip().splitlines()[-1].endswith(" 0 bad")
    assert stack.manage("verify_audit").stdout.strip().splitlines()[-1] == "audit: ok"
