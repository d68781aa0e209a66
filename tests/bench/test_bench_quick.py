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
