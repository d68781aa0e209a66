"""The dossier a submission reads (grants.machines.dossier): on PostgreSQL one statement
puts in the prefetch caches exactly what ``prefetch_related`` would, in the same order,
with the same values and types, and the head of the log chain with it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django.db import connection
from django.db.models import Model, prefetch_related_objects
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grants import services
from grants.machines import dossier
from grants.models import Application, AttachmentKind, Call, Country
from grants.questions import CallQuestion
from grants.writes import drafts
from tests.factories import PDF_BYTES, World
from workflows.models import GENESIS_HASH, TransitionLog


def _dossier(world: World) -> Application:
    lines = [
        {"year": year, "category": category, "label": f"{category} {year}", "amount": amount}
        for year, amount in ((2, "12500.50"), (1, "7000.00"))
        for category in ("staff", "travel")
    ]
    app = world.draft(
        partners=[{"name": "Commune de Podor", "country": "SN"}, {"name": "Région de Matam", "country": "SN"}],
        budget={
            "lines": lines,
            "funding": {
                "own_cash": "15000.00",
                "own_in_kind": "5000.00",
                "partner": "1000.00",
                "other": "0.00",
                "requested": "18001.00",
            },
        },
    )
    app.countries.add(Country.objects.get(iso2="MA"))
    app.co_applicants.add(world.rennes)
    for i in range(2):  # two of one kind: ordered by upload time
        drafts.attachment_add(
            application_id=app.pk,
            user=world.applicant,
            kind=AttachmentKind.OTHER,
            name=f"annexe-{i}.pdf",
            content=PDF_BYTES,
        )
    call = cast(Call, world.call)
    call.eligible_countries.set(Country.objects.filter(iso2__in=["SN", "MA", "TN"]))
    CallQuestion.objects.create(call=call, code="b", label="Deux", position=2, min_value=Decimal("1.50"))
    CallQuestion.objects.create(
        call=call,
        code="a",
        label="Une",
        type="choice",
        choices=[{"value": "x", "label": "X", "weight": 1.5}],  # a JSON column's number stays a float
        required=True,
        position=1,
    )
    return app


def _rows(objects: list[Model]) -> list[list[tuple[str, Any, type]]]:
    return [
        [(f.attname, getattr(o, f.attname), type(getattr(o, f.attname))) for f in o._meta.concrete_fields]
        for o in objects
    ]


def _locked(pk: Any) -> Application:
    return Application.objects.select_related("call", "organisation").get(pk=pk)


def test_one_statement_reads_what_prefetch_related_reads(world: World) -> None:
    app = _dossier(world)
    read = _locked(app.pk)
    with CaptureQueriesContext(connection) as captured:
        head = dossier.prefetch(read, chain_head=True)
    expected = _locked(app.pk)
    prefetch_related_objects([expected], *dossier.COMPANIONS)
    prefetch_related_objects([expected.call], *dossier.CALL_COMPANIONS)
    if connection.vendor != "postgresql":  # the embedded default: prefetch_related itself
        assert head is None
        return
    assert len(captured) == 1
    assert head == TransitionLog.objects.filter(application=app).order_by("-pk").values_list("hash", flat=True).first()
    with CaptureQueriesContext(connection) as reading:
        for name in dossier.COMPANIONS:
            assert _rows(list(getattr(read, name).all())) == _rows(list(getattr(expected, name).all())), name
        for name in dossier.CALL_COMPANIONS:
            assert _rows(list(getattr(read.call, name).all())) == _rows(list(getattr(expected.call, name).all())), name
        assert all(p.application is read for p in read.partners.all())  # as prefetched: no query
        assert [ln.amount for ln in read.budget_lines.all()] == [Decimal("7000.00")] * 2 + [Decimal("12500.50")] * 2
        assert str(read.budget_lines.all()[2].amount) == "12500.50"
        assert isinstance(read.attachments.all()[0].uploaded_at, dt.datetime)
        assert timezone.is_aware(read.attachments.all()[0].uploaded_at)
        assert [q.code for q in read.call.questions.all()] == ["a", "b"]
        assert read.call.questions.all()[1].min_value == Decimal("1.50")
        assert type(read.call.questions.all()[0].choices[0]["weight"]) is float
    assert len(reading) == 0


def test_what_is_fetched_is_not_fetched_again(world: World) -> None:
    app = _locked(world.draft().pk)
    dossier.prefetch(app)
    with CaptureQueriesContext(connection) as captured:
        assert dossier.prefetch(app) is None
    assert len(captured) == 0
    if connection.vendor == "postgresql":
        with CaptureQueriesContext(connection) as captured:
            head = dossier.prefetch(app, chain_head=True)  # the head alone
        assert len(captured) == 1 and head != GENESIS_HASH


def test_the_submission_follows_the_chain_head_read_with_the_dossier(world: World) -> None:
    app = _dossier(world)
    CallQuestion.objects.filter(call=cast(Call, world.call), required=True).delete()
    services.application_transition(application_id=app.pk, name="submit", user=world.applicant)
    entries = list(TransitionLog.objects.filter(application=app).order_by("pk"))
    assert [e.transition for e in entries] == ["create", "submit"]
    assert entries[1].prev_hash == entries[0].hash and entries[1].hash == entries[1].compute_hash()


def test_the_rules_read_the_call_s_countries_and_questions_from_the_dossier(world: World) -> None:
    app = _dossier(world)
    cast(Call, world.call).eligible_countries.set(Country.objects.filter(iso2="SN"))
    unmet = services.submission_unmet(_locked(app.pk), now=timezone.now())
    assert "Maroc n'est pas éligible à cet appel." in unmet
    assert "Question obligatoire sans réponse : « Une »." in unmet
