"""A worker killed in the middle of a decision render: real worker, real Redis.

The decision's render is made slow with GRANTS_TEST_RENDER_DELAY (honoured only under
config.settings_test, see grants.documents.issuing._test_render_delay): the worker sleeps after
rendering and before storing, and the test kills it then.

- Pool child killed (SIGKILL): the worker's main process sees the child die; the task is
  ``acks_late`` with ``reject_on_worker_lost``, so the message goes back to the queue at
  once and the worker's new child renders the letter again.
- Whole worker killed (SIGKILL of its process group): nobody acknowledges nor rejects
  the message; it stays in kombu's Redis ``unacked`` hash. A worker started afterwards
  puts it back on the queue once it is older than the *visibility timeout* (kombu's
  ``restore_visible``, at the first poll and then periodically). The project's timeout is
  one hour (longer than any task); the second worker here runs with a 5-second one
  (``broker_transport_options`` set on the app before ``worker_main``), which changes
  nothing else.

Either way exactly one Document is stored and the decision is delivered once.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from django.conf import settings

from config.celery import app as celery_app
from grants import services
from grants.documents.issuing import TEST_RENDER_DELAY_ENV
from grants.models import Decision, Document
from tests.conftest import ROOT, _worker_env
from tests.reliability.infra import wait_until
from workflows.models import TransitionLog

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RENDER_DELAY_SECONDS = "6"
SHORT_VISIBILITY_TIMEOUT = 5

# A worker whose Redis transport gives unacknowledged messages back after 5 s.
WORKER_WITH_SHORT_VISIBILITY = f"""
import sys
from config.celery import app
options = dict(app.conf.broker_transport_options or {{}})
options.update(visibility_timeout={SHORT_VISIBILITY_TIMEOUT}, unacked_restore_interval=1, unacked_restore_throttle=1)
app.conf.broker_transport_options = options
app.worker_main(sys.argv[1:])
"""


@pytest.fixture
def clean_broker() -> None:
    """No message or unacknowledged delivery left over by an earlier run in this Redis db."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("pdf", "default", "unacked", "unacked_index", "unacked_mutex")


@pytest.fixture
def slow_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers started after this fixture sleep once a decision letter is rendered."""
    monkeypatch.setenv(TEST_RENDER_DELAY_ENV, RENDER_DELAY_SECONDS)


@contextmanager
def second_worker() -> Iterator[subprocess.Popen[bytes]]:
    env = _worker_env()
    env.pop(TEST_RENDER_DELAY_ENV, None)  # this one renders at normal speed
    hostname = f"second-{os.getpid()}-{time.monotonic_ns()}@localhost"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            WORKER_WITH_SHORT_VISIBILITY,
            "worker",
            "-Q",
            "default,pdf",
            "-c",
            "1",
            "-n",
            hostname,
            "-l",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def sign_an_approved_decision(world: Any) -> Decision:
    app = world.advance(world.draft(), "approved")
    decision = Decision.objects.get(application=app)
    # Transactional test: the commit enqueues grants.tasks.render_decision for real.
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    return decision


def rendering_started(decision_id: int) -> bool:
    return Decision.objects.get(pk=decision_id).render_attempts >= 1


def delivered(decision_id: int) -> bool:
    return Decision.objects.get(pk=decision_id).state == Decision.State.DELIVERED


def render_pid(hostname: str, decision_id: int) -> int | None:
    """The pool child running render_decision(decision_id), from the worker's own report."""
    replies = celery_app.control.inspect(destination=[hostname], timeout=2).active() or {}
    for task in replies.get(hostname, []):
        if task.get("name") == "grants.tasks.render_decision" and list(task.get("args") or []) == [decision_id]:
            return int(task["worker_pid"])
    return None


def assert_exactly_one_letter(decision_id: int) -> Document:
    letters = list(Document.objects.filter(decision_id=decision_id))
    assert len(letters) == 1
    delivers = TransitionLog.objects.filter(
        subject_type="grants.decision", subject_id=str(decision_id), transition="deliver"
    )
    assert delivers.count() == 1
    with letters[0].file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == letters[0].sha256
    return letters[0]


def test_a_pool_child_killed_mid_render_leaves_exactly_one_letter_after_redelivery(
    clean_broker: None, slow_renders: None, celery_worker_process: subprocess.Popen[bytes], world: Any
) -> None:
    decision = sign_an_approved_decision(world)
    wait_until(lambda: rendering_started(decision.pk), timeout=60, what="the render to start")
    hostname = celery_worker_process.hostname  # type: ignore[attr-defined]
    pid = wait_until(lambda: render_pid(hostname, decision.pk), timeout=10, what="the pool child's pid")

    os.kill(pid, signal.SIGKILL)

    wait_until(lambda: delivered(decision.pk), timeout=120, what="the redelivered render")
    assert_exactly_one_letter(decision.pk)
    assert Decision.objects.get(pk=decision.pk).render_attempts == 2  # the killed one and the redelivery
    assert celery_worker_process.poll() is None  # the worker itself carried on


def test_a_worker_killed_mid_render_leaves_exactly_one_letter_once_another_worker_takes_over(
    clean_broker: None, slow_renders: None, celery_worker_process: subprocess.Popen[bytes], world: Any
) -> None:
    decision = sign_an_approved_decision(world)
    wait_until(lambda: rendering_started(decision.pk), timeout=60, what="the render to start")

    os.killpg(celery_worker_process.pid, signal.SIGKILL)  # the main process and its pool children
    celery_worker_process.wait(timeout=10)

    assert Decision.objects.get(pk=decision.pk).state == Decision.State.SIGNED
    assert not Document.objects.filter(decision_id=decision.pk).exists()
    unacked = redis.Redis.from_url(settings.CELERY_BROKER_URL).hlen("unacked")
    assert unacked >= 1  # the killed worker's delivery, neither acknowledged nor rejected

    with second_worker():
        wait_until(lambda: delivered(decision.pk), timeout=120, what="the render restored from the unacked set")
        letter = assert_exactly_one_letter(decision.pk)

    assert Decision.objects.get(pk=decision.pk).render_attempts == 2
    assert letter.kind == Document.Kind.APPROVAL_LETTER
