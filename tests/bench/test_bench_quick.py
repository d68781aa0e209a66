"""The benchmarks never rot: a tiny run of the generator (bulk by COPY, then a sample
through the transition service), its verification, one page benchmark and the report.
No timing is asserted (CI machines are noisy): only that everything runs and is consistent."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db


def test_a_tiny_database_is_generated_verified_measured_and_reported(tmp_path: Path) -> None:
    from bench import generate, pages, scale

    result = generate.generate(300, submit_pool=4)
    world = result.pop("world")
    assert result["rows"]["grants_application"] == 300 + 4  # and the submission pool
    assert result["log_per_application"] > 3
    assert set(result["states"]) == set(generate.OPEN) | set(generate.DECIDED) | set(generate.IN_INSTRUCTION)

    sample = generate.service_sample(world, n=10)
    assert sum(sample["service_sample_states"].values()) == 10

    verification = generate.verify()
    assert verification["ok"], verification["problems"]
    assert verification["unreachable_states"] == 0
    assert verification["verify_audit"][-1] == "audit: ok"

    figures = pages.run(world, repeat=1, only=["instructor_inbox"])
    page = figures["instructor_inbox"]
    assert page["status"] == 200
    assert page["queries"] > 0
    assert page["raw_sql_ms"] > 0
    assert page["plan_key_lines"]

    results = {"sizes": {"300": {"generation": result, "verification": verification, "pages": figures}}}
    results["targets"] = scale.targets(results)
    assert scale.write_plot(results, tmp_path / "growth.png")
    assert (tmp_path / "growth.png").stat().st_size > 0
    report = scale.markdown(results)
    assert "Instructor inbox" in report
    assert "EXPLAIN ANALYZE" in report


def test_the_staff_list_its_search_and_its_exports_are_measured_on_a_tiny_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import exports, generate, pages
    from grants import search
    from grants.models import Application

    result = generate.generate(300)
    world = result.pop("world")
    # The generated search documents are the application's own (grants.search computes them).
    apps = list(Application.objects.exclude(reference=None).select_related("organisation")[:25])
    assert apps and all(app.search_text == search.document(app) for app in apps)

    names = [
        "dossiers", "dossiers_q_word", "dossiers_q_reference", "dossiers_filtered", "dossiers_next",
        "dossiers_previous", "api_applications_q",
    ]  # fmt: skip
    figures = pages.run(world, repeat=1, with_explain=False, only=names)
    reference = figures["chosen_dossiers"]["reference"]
    assert reference
    for name in names:
        if name in ("dossiers_next", "dossiers_previous") and name not in figures:
            continue  # fewer than two pages of applications
        assert figures[name]["status"] == 200, name
        assert figures[name]["raw_sql_ms"] > 0, name
        assert figures[name]["queries_constant_over_runs"], name
    assert figures["dossiers_q_word"]["target_ms"] == 100

    # The reference typed whole is found, first.
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-instructor"))
    body = client.get(f"/dossiers/?q={reference}").content.decode()
    assert reference in body
    word = client.get(f"/dossiers/?q={pages.COMMON_WORD}")
    assert word.status_code == 200 and "/instruction/" in word.content.decode()

    measured = exports.run(isolated=False, trace=True, kinds=("csv", "baseline"))
    visible = Application.objects.exclude(state=Application.State.DRAFT).count()
    assert measured["visible_rows"] == visible
    assert measured["csv"]["status"] == 200
    assert measured["csv"]["rows"] == visible == measured["baseline"]["rows"]
    assert measured["csv"]["header"][:2] == ["Référence", "Titre du projet"]
    for kind in ("csv", "baseline"):
        assert measured[kind]["tracemalloc_peak_mb"] > 0
        assert measured[kind]["rss_peak_mb"] > 0
        assert measured[kind]["bytes"] > 0

    # The background jobs' spreadsheets, built synchronously: every visible row in each.
    monkeypatch.setenv("BENCH_EXPORT_COUNT_ROWS", "1")
    sheets = exports.run(isolated=False, trace=False, kinds=("xlsx", "ods"))
    for kind in ("xlsx", "ods"):
        assert sheets[kind]["state"] == "done", sheets[kind]
        assert sheets[kind]["rows"] == visible
        assert sheets[kind]["bytes"] > 0
        assert sheets[kind]["rss_peak_mb"] > 0


def test_the_load_checks_every_foreign_key_the_triggers_did_not() -> None:
    """The generator loads with the foreign-key triggers off and checks each constraint
    afterwards: a row pointing at nothing is reported with its table, column and count."""
    import uuid

    from django.db import connection

    from bench import generate

    with connection.cursor() as cursor:
        assert generate.foreign_key_orphans(cursor, ["grants_budgetline"]) == []
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "INSERT INTO grants_budgetline (year, category, label, amount, application_id) "
            "VALUES (1, 'staff', 'x', 1.00, %s)",
            [uuid.uuid4()],
        )
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
        assert generate.foreign_key_orphans(cursor, ["grants_budgetline", "grants_organisation"]) == [
            "grants_budgetline.application_id → grants_application: 1"
        ]


def test_the_log_is_numbered_in_time_order_across_chains_and_the_triggers_are_back() -> None:
    from django.db import connection

    from bench import generate

    generate.generate(200)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), COUNT(DISTINCT subject_id), bool_and(ok) FROM ("
            " SELECT subject_id, at >= lag(at, 1, at) OVER (ORDER BY id) AS ok FROM workflows_transitionlog) x"
        )
        entries, chains, ordered = cursor.fetchone()
        assert entries > 200 * 3 and chains > 200 and ordered
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"
        cursor.execute("SELECT MAX(id) = COUNT(*) FROM workflows_transitionlog")
        assert cursor.fetchone()[0]


def test_a_prepared_database_gives_back_what_its_measurement_needs() -> None:
    """`bench.run --prepare` keeps a generated size; `--reuse` measures it later with the same
    pool of drafts to submit, the same authority and the preparation's figures."""
    from bench import generate, scale

    result = generate.generate(150, submit_pool=3)
    world = result.pop("world")
    scale._write_prepared(world, {"database": "x", "generation": result})
    again, figures = scale._read_prepared()
    assert again.submit_pool == world.submit_pool and len(again.submit_pool) == 3
    assert again.submit_org == world.submit_org
    assert again.applicants == world.applicants and again.accounts["bench-instructor"]
    assert figures["generation"]["rows_total"] == result["rows_total"] and figures["prepared_at"]
    assert "database" not in figures
