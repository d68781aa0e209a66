"""Duplicated periodic work, with real processes on a private Redis: a second beat
started, the outbox relay and the documents sweep run four times at the same instant.
Each reminder step, each e-mail, each letter and each receipt comes out exactly once.

The same guarantees are proved at the function level with threads released together
(test_exactly_once_races.py), with a worker killed mid-render (test_pdf_worker.py) and
with a broker outage (test_outbox_worker.py, test_broker_outage.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grants.models import Attachment, Decision, Document, Snapshot
from notifications.models import Notification, Reminder
from tests.reliability.infra import Api, PrivateRedis, Stack, wait_until

pytestmark = [pytest.mark.worker]

E = Notification.EmailState


def nothing_pending() -> bool:
    return not Notification.objects.filter(email_state=E.PENDING).exists()


def assert_each_notification_mailed_once(stack: Stack) -> int:
    sent = dict(Notification.objects.filter(email_state=E.SENT).values_list("pk", "attempts"))
    mails = stack.mails_per_notification()
    assert set(sent.values()) == {1}, "a row marked sent more than once"
    assert set(mails) == set(sent), "a sent row without its e-mail, or an e-mail of no row"
    duplicates = {pk: n for pk, n in mails.items() if n != 1}
    assert not duplicates, f"e-mailed more than once: {duplicates}"
    return len(sent)


def test_two_beats_at_once_send_each_reminder_step_and_each_e_mail_once(
    make_stack: Callable[..., Stack], orm: Callable[..., Any]
) -> None:
    stack = make_stack(beat_seconds=1)
    stack.scenario("seed", "--submitted", "2", "--due-tasks", "30")
    stack.worker(concurrency=3)
    beats = [stack.beat(), stack.beat()]  # the second one by mistake: both fire every second

    with orm(stack):
        wait_until(
            lambda: Reminder.objects.count() == 30 and nothing_pending(),
            timeout=90,
            what="the reminders of the 30 due tasks",
        )
    time.sleep(5)  # five more rounds of each beat: nothing new may come out

    fired = [beat.log.read_text().count("Sending due task notifications-sweep") for beat in beats]
    assert all(beat.alive() for beat in beats)
    assert min(fired) >= 3, f"both beats must have fired the sweep several times: {fired}"
    with orm(stack):
        assert Reminder.objects.filter(outcome=Reminder.Outcome.SENT).count() == 30
        assert Notification.objects.filter(message="task_reminder").count() == 30
        mailed = assert_each_notification_mailed_once(stack)
    print(f"two beats: sweeps fired {fired}, {mailed} notifications e-mailed once each")


def test_the_relay_and_the_documents_sweep_four_times_at_once_send_and_store_each_thing_once(
    make_stack: Callable[..., Stack], private_redis: PrivateRedis, orm: Callable[..., Any]
) -> None:
    stack = make_stack(sweep_after_seconds=1)
    seeded = stack.scenario("seed", "--drafts", "2", "--approved", "2")
    stack.web()
    api = Api(stack.base_url)
    for app in seeded["drafts"]:
        assert api.transition(app, "submit", seeded["owners"][app]).status_code == 200
    for decision in seeded["decisions"]:
        assert api.request("POST", f"decisions/{decision}/sign/", "signatory").status_code == 200
    # No worker yet: every after-commit message waits in Redis. Lose them all.
    private_redis.stop()
    private_redis.start()
    time.sleep(1.5)  # older than the sweep's grace

    stack.worker(concurrency=4)
    probe = stack.celery_probe()
    try:
        for _ in range(4):  # four relays and four sweeps, all at once, over four processes
            probe.send_task("notifications.relay", queue="default")
            probe.send_task("grants.tasks.sweep_documents", queue="default")
    finally:
        probe.close()

    decisions = seeded["decisions"]
    with orm(stack):

        def done() -> bool:
            return (
                Decision.objects.filter(pk__in=decisions, state=Decision.State.DELIVERED).count() == len(decisions)
                and not Snapshot.objects.filter(receipt__isnull=True).exists()
                and Document.objects.filter(kind=Document.Kind.APPROVAL_LETTER_EN).count() == len(decisions)
                and nothing_pending()
            )

        wait_until(done, timeout=150, what="the relays and the sweeps to send and store everything")
        time.sleep(3)  # the duplicated renders still running finish (and discard their copy)
        attempts = sorted(Decision.objects.filter(pk__in=decisions).values_list("render_attempts", flat=True))
        assert Document.objects.filter(decision_id__in=decisions).count() == len(decisions)
        assert Snapshot.objects.count() == Document.objects.filter(kind=Document.Kind.DEPOSIT_RECEIPT).count()
        mailed = assert_each_notification_mailed_once(stack)
        stored = {str(Path(name)) for name in Document.objects.values_list("file", flat=True)}
        stored |= {str(Path(name)) for name in Attachment.objects.values_list("file", flat=True)}
    on_disk = {str(path.relative_to(stack.media_root)) for path in stack.media_root.rglob("*") if path.is_file()}
    # The renders that lost the race deleted their file: no orphan, no row without its file.
    assert on_disk == stored
    assert stack.manage("verify_documents").stdout.strip().splitlines()[-1].endswith(" 0 bad")
    print(f"four relays and four sweeps: render attempts per decision {attempts}, {mailed} e-mails, once each")
