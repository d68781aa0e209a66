"""The decision-letter flow: sign → (after commit) render task → stored letter → delivered.

The Celery tasks run in-process with ``task.apply()`` (retries included, countdowns
skipped); the real worker and real Redis are exercised in tests/reliability.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from config.celery import app as celery_app
from grants import services, tasks
from grants.documents import issuing
from grants.models import Decision, Document, Snapshot
from workflows import registry
from workflows.engine import Conflict
from workflows.models import Task, TaskKind, TransitionLog


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media: Path) -> list[Path]:
    return sorted(p for p in media.rglob("*.pdf"))


def decided(world: Any, outcome: str = "approved", **draft: Any) -> Decision:
    app = world.advance(world.draft(**draft), outcome)
    return Decision.objects.get(application=app)


def signed(world: Any, outcome: str = "approved", **draft: Any) -> Decision:
    decision = decided(world, outcome, **draft)
    services.decision_sign(decision_id=decision.pk, user=world.signatory)
    return Decision.objects.get(pk=decision.pk)


def raising(error: Exception) -> Any:
    def render(*args: Any, **kwargs: Any) -> Any:
        raise error

    return render


class Sent:
    """Replaces `Task.apply_async` and records what would have been sent to the broker."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Any]]] = []

    def patch(self, monkeypatch: pytest.MonkeyPatch, task: Any) -> None:
        def apply_async(args: Any = None, **options: Any) -> None:
            # What goes to the broker must survive JSON (the project's only serializer).
            self.calls.append((task.name, json.loads(json.dumps(list(args or ())))))

        monkeypatch.setattr(task, "apply_async", apply_async)


# --- enqueueing -----------------------------------------------------------------------------


def test_the_pdf_tasks_are_routed_to_the_pdf_queue() -> None:
    router = celery_app.amqp.router
    for task in (tasks.render_decision, tasks.render_receipt, tasks.render_ineligibility_notice):
        assert router.route({}, task.name, args=(1,))["queue"].name == "pdf"
    assert router.route({}, tasks.build_committee_booklet.name, args=(1,))["queue"].name == "pdf"
    assert router.route({}, tasks.sweep_documents.name, args=())["queue"].name == "default"
    assert tasks.render_decision.acks_late is True


def test_signing_enqueues_the_render_only_after_commit(
    world: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    decision = decided(world)
    sent = Sent()
    sent.patch(monkeypatch, tasks.render_decision)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.decision_sign(decision_id=decision.pk, user=world.signatory)
        assert sent.calls == []  # nothing while the transaction is open
    for callback in callbacks:
        callback()
    assert ("grants.tasks.render_decision", [decision.pk]) in sent.calls


def test_a_submission_enqueues_its_receipt_and_an_ineligibility_its_notice(
    world: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    sent = Sent()
    sent.patch(monkeypatch, tasks.render_receipt)
    sent.patch(monkeypatch, tasks.render_ineligibility_notice)
    with django_capture_on_commit_callbacks(execute=True):
        app = world.advance(world.draft(), "ineligible")
    snapshot = Snapshot.objects.get(application=app)
    log = TransitionLog.objects.get(application=app, transition="declare_ineligible")
    assert sent.calls == [
        ("grants.tasks.render_receipt", [snapshot.pk]),
        ("grants.tasks.render_ineligibility_notice", [str(app.pk), log.pk]),
    ]


def test_a_broker_outage_at_enqueue_does_not_fail_the_signature(
    world: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    decision = decided(world)

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise BrokerUnavailable("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.render_decision, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        services.decision_sign(decision_id=decision.pk, user=world.signatory)
    assert Decision.objects.get(pk=decision.pk).state == Decision.State.SIGNED


def test_the_sweep_enqueues_again_a_signed_decision_left_without_a_letter(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    forgotten = signed(world)
    recent = signed(world, title="Projet signé à l'instant")
    Decision.objects.filter(pk=forgotten.pk).update(signed_at=timezone.now() - dt.timedelta(hours=1))
    sent = Sent()
    sent.patch(monkeypatch, tasks.render_decision)
    sent.patch(monkeypatch, tasks.render_receipt)
    Snapshot.objects.update(created_at=timezone.now() - dt.timedelta(hours=1))

    result = tasks.sweep_documents.apply().get()

    assert ("grants.tasks.render_decision", [forgotten.pk]) in sent.calls
    assert ("grants.tasks.render_decision", [recent.pk]) not in sent.calls
    assert result["decisions"] == 1
    assert result["receipts"] == Snapshot.objects.count() == 2


# --- rendering, storing, delivering ---------------------------------------------------------


def test_the_render_task_stores_the_letter_then_delivers_the_decision(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    decision = signed(world)
    seen: list[tuple[str, bool]] = []

    def listen(event: str, **kwargs: Any) -> None:
        # delivered is announced inside the transaction that stored the letter
        seen.append((event, Document.objects.filter(decision_id=decision.pk).exists()))

    monkeypatch.setattr(registry, "_listeners", [*registry._listeners, listen])

    assert tasks.render_decision.apply(args=[decision.pk]).get() == issuing.ISSUED

    decision.refresh_from_db()
    assert decision.state == Decision.State.DELIVERED
    assert decision.delivered_at is not None
    assert decision.render_attempts == 1 and decision.render_error == ""
    assert ("decision_delivered", True) in seen
    assert Document.objects.filter(decision=decision).count() == 1
    finance_task = Task.objects.get(application=decision.application, kind=TaskKind.RECORD_COMMITMENT)
    assert finance_task.state == Task.State.OPEN
    deliver_log = TransitionLog.objects.get(subject_type="grants.decision", transition="deliver")
    assert (deliver_log.source, deliver_log.target, deliver_log.role) == ("signed", "delivered", "system")


def test_a_rejection_is_delivered_without_a_finance_task(world: Any) -> None:
    decision = signed(world, "rejected")
    tasks.render_decision.apply(args=[decision.pk])
    decision.refresh_from_db()
    assert decision.state == Decision.State.DELIVERED
    assert Document.objects.get(decision=decision).kind == Document.Kind.REJECTION_LETTER
    assert not Task.objects.filter(application=decision.application, kind=TaskKind.RECORD_COMMITMENT).exists()


def test_a_second_delivery_of_the_task_produces_no_second_document(world: Any, _media: Path) -> None:
    decision = signed(world)
    assert tasks.render_decision.apply(args=[decision.pk]).get() == issuing.ISSUED
    first = Document.objects.get(decision=decision)
    content = Path(first.file.path).read_bytes()

    assert tasks.render_decision.apply(args=[decision.pk]).get() == issuing.ALREADY_ISSUED

    assert Document.objects.filter(decision=decision).count() == 1
    again = Document.objects.get(decision=decision)
    assert (again.pk, again.file.name, again.sha256, again.verification_code) == (
        first.pk,
        first.file.name,
        first.sha256,
        first.verification_code,
    )
    assert Path(again.file.path).read_bytes() == content
    # the letter and the evaluation summary stored with it, nothing more
    assert stored_files(_media) == sorted(Path(d.file.path) for d in Document.objects.all())
    assert Document.objects.filter(kind=Document.Kind.EVALUATION_SUMMARY).count() == 1


def test_a_delivered_or_recorded_letter_is_never_rendered_again(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    decision = signed(world)
    tasks.render_decision.apply(args=[decision.pk])
    services.decision_record(decision_id=decision.pk, user=world.finance, commitment_number="EJ-2026-0042")
    document = Document.objects.get(decision=decision)

    def must_not_render(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a delivered letter was rendered again")

    monkeypatch.setattr(issuing, "render_pdf", must_not_render)
    assert tasks.render_decision.apply(args=[decision.pk]).get() == issuing.ALREADY_ISSUED
    assert Document.objects.get(decision=decision).sha256 == document.sha256
    assert Decision.objects.get(pk=decision.pk).state == Decision.State.RECORDED


def test_an_unsigned_or_unknown_decision_is_not_rendered(world: Any) -> None:
    draft = decided(world)
    assert tasks.render_decision.apply(args=[draft.pk]).get() == issuing.NOT_APPLICABLE
    assert tasks.render_decision.apply(args=[999_999_999]).get() == issuing.MISSING
    assert not Document.objects.exists()
    assert Decision.objects.get(pk=draft.pk).render_attempts == 0


def test_a_worker_losing_the_race_keeps_the_first_letter_and_deletes_its_own_file(
    world: Any, monkeypatch: pytest.MonkeyPatch, _media: Path
) -> None:
    decision = signed(world)
    original = issuing.render_pdf
    raced = {"done": False}

    def slow_render(template: str, context: dict[str, Any]) -> Any:
        rendered = original(template, context)
        if not raced["done"]:  # another worker stores and delivers while this one renders
            raced["done"] = True
            assert issuing.issue_decision_letter(decision.pk) == issuing.ISSUED
        return rendered

    monkeypatch.setattr(issuing, "render_pdf", slow_render)

    assert issuing.issue_decision_letter(decision.pk) == issuing.ALREADY_ISSUED

    winner = Document.objects.get(decision=decision)
    # the winner's letter and summary; the loser's files are deleted
    assert Path(winner.file.path) in stored_files(_media)
    assert stored_files(_media) == sorted(Path(d.file.path) for d in Document.objects.all())
    assert Document.objects.filter(kind=Document.Kind.EVALUATION_SUMMARY).count() == 1
    assert Decision.objects.get(pk=decision.pk).state == Decision.State.DELIVERED


# --- failures -------------------------------------------------------------------------------


def test_a_transient_rendering_failure_is_retried_then_shown_on_the_decision(
    world: Any, monkeypatch: pytest.MonkeyPatch, _media: Path
) -> None:
    decision = signed(world)
    calls: list[str] = []

    def disk_full(template: str, context: dict[str, Any]) -> Any:
        calls.append(template)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(issuing, "render_pdf", disk_full)

    result = tasks.render_decision.apply(args=[decision.pk])

    assert result.failed()
    assert len(calls) == 1 + tasks.MAX_RETRIES
    decision.refresh_from_db()
    assert decision.state == Decision.State.SIGNED  # not delivered, not stuck silently:
    assert decision.render_attempts == 1 + tasks.MAX_RETRIES
    assert "Échec de la génération du PDF après 6 tentative(s)" in decision.render_error
    assert "No space left on device" in decision.render_error
    assert issuing.render_failed(decision)
    assert issuing.batch_progress([decision.pk]) == {"total": 1, "signed": 1, "delivered": 0, "failed": 1}
    assert not Document.objects.exists() and stored_files(_media) == []


def test_a_lost_database_connection_is_retried_and_the_letter_then_delivered(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    decision = signed(world)
    original = issuing.render_pdf
    failures = iter([OperationalError("server closed the connection unexpectedly")])

    def flaky(template: str, context: dict[str, Any]) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return original(template, context)

    monkeypatch.setattr(issuing, "render_pdf", flaky)

    assert tasks.render_decision.apply(args=[decision.pk]).get() == issuing.ISSUED
    decision.refresh_from_db()
    assert decision.state == Decision.State.DELIVERED
    assert decision.render_attempts == 2 and decision.render_error == ""


def test_an_error_retrying_cannot_fix_is_shown_at_once(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    decision = signed(world)
    calls: list[str] = []

    def template_bug(template: str, context: dict[str, Any]) -> Any:
        calls.append(template)
        raise KeyError("pdf/approval_letter.html: missing context keys ['granted_amount']")

    monkeypatch.setattr(issuing, "render_pdf", template_bug)
    tasks.render_decision.apply(args=[decision.pk])

    assert len(calls) == 1
    decision.refresh_from_db()
    assert "après 1 tentative(s)" in decision.render_error and "granted_amount" in decision.render_error


def test_a_failed_letter_rendered_again_is_delivered_and_its_failure_cleared(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    decision = signed(world)
    with monkeypatch.context() as patched:
        patched.setattr(issuing, "render_pdf", raising(KeyError("bug")))
        tasks.render_decision.apply(args=[decision.pk])
    assert Decision.objects.get(pk=decision.pk).render_error

    # staff's "retry" (grants.tasks.enqueue_decision_render) runs the same task again
    assert tasks.render_decision.apply(args=[decision.pk]).get() == issuing.ISSUED
    decision.refresh_from_db()
    assert decision.state == Decision.State.DELIVERED and decision.render_error == ""


def test_a_failed_delivery_rolls_back_and_leaves_no_document_and_no_file(
    world: Any, monkeypatch: pytest.MonkeyPatch, _media: Path
) -> None:
    decision = signed(world)

    def refuse(spec: Any, pk: Any, **kwargs: Any) -> Decision:
        raise Conflict("Le dossier a été modifié en même temps par quelqu'un d'autre.")

    monkeypatch.setattr(issuing, "fire", refuse)
    tasks.render_decision.apply(args=[decision.pk])

    assert not Document.objects.exists()
    assert stored_files(_media) == []
    decision.refresh_from_db()
    assert decision.state == Decision.State.SIGNED
    assert "modifié en même temps" in decision.render_error


def test_the_backoff_doubles_and_stays_short() -> None:
    assert [tasks.backoff_seconds(n) for n in range(tasks.MAX_RETRIES)] == [2, 4, 8, 16, 32]
    assert tasks.backoff_seconds(20) == 60


# --- the other documents' tasks -------------------------------------------------------------


def test_the_receipt_task_issues_one_receipt_per_snapshot_however_often_it_runs(world: Any) -> None:
    app = world.advance(world.draft(), "submitted")
    snapshot = Snapshot.objects.get(application=app)
    assert tasks.render_receipt.apply(args=[snapshot.pk]).get() == issuing.ISSUED
    assert tasks.render_receipt.apply(args=[snapshot.pk]).get() == issuing.ALREADY_ISSUED
    assert Document.objects.filter(snapshot=snapshot).count() == 1


def test_the_booklet_task_returns_the_new_booklet(world: Any) -> None:
    world.advance(world.draft(), "in_committee")
    document_id = tasks.build_committee_booklet.apply(args=[world.session.pk]).get()
    assert issuing.latest_booklet(world.session).pk == document_id


# --- batch progress -------------------------------------------------------------------------


def test_batch_progress_counts_signed_delivered_and_failed_decisions(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivered = signed(world, title="Projet A")
    failed = signed(world, title="Projet B")
    pending = signed(world, title="Projet C")
    unsigned = decided(world, title="Projet D")
    tasks.render_decision.apply(args=[delivered.pk])
    with monkeypatch.context() as patched:
        patched.setattr(issuing, "render_pdf", raising(ValueError("bug")))
        tasks.render_decision.apply(args=[failed.pk])

    progress = issuing.batch_progress([delivered.pk, failed.pk, pending.pk, unsigned.pk, 999_999_999])

    assert progress == {"total": 4, "signed": 3, "delivered": 1, "failed": 1}


def test_web_and_workers_start_without_loading_weasyprint() -> None:
    """A machine still missing Pango runs the web and the workers (renders fail, visibly)."""
    import subprocess
    import sys

    code = (
        "import django, sys; django.setup(); "
        "import grants.tasks, grants.web.applicant.views, grants.web.staff.views, api.views, config.urls; "
        "sys.exit(1 if 'weasyprint' in sys.modules else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
