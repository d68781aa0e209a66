"""The state machines match the contract, and the diagrams in docs/ are not stale."""

from __future__ import annotations

import io

from django.core.management import call_command

from workflows import diagrams, registry

CONTRACT_STATES = {
    "draft",
    "submitted",
    "incomplete",
    "ineligible",
    "awaiting_opinions",
    "under_review",
    "in_committee",
    "approved",
    "rejected",
    "withdrawn",
}
CONTRACT_TRANSITIONS = {
    ("submit", "draft", "submitted"),
    ("request_completion", "submitted", "incomplete"),
    ("resubmit", "incomplete", "submitted"),
    ("declare_ineligible", "submitted", "ineligible"),
    ("declare_ineligible", "incomplete", "ineligible"),
    ("declare_eligible", "submitted", "awaiting_opinions"),
    ("close_opinions", "awaiting_opinions", "under_review"),
    ("schedule", "under_review", "in_committee"),
    ("approve", "in_committee", "approved"),
    ("reject", "in_committee", "rejected"),
    ("defer", "in_committee", "under_review"),
    *{("withdraw", s, "withdrawn") for s in ("draft", "submitted", "incomplete", "awaiting_opinions", "under_review")},
    ("reinstate", "ineligible", "submitted"),
    ("reinstate", "withdrawn", "submitted"),
}


def test_the_application_machine_is_exactly_the_contract() -> None:
    states, edges = diagrams.machine("grants.Application")
    assert {code for code, _label in states} == CONTRACT_STATES
    assert {(name, source, target) for source, target, name in edges} == CONTRACT_TRANSITIONS


def test_graph_transitions_prints_the_application_machine() -> None:
    out = io.StringIO()
    call_command("graph_transitions", "grants.Application", stdout=out)
    text = out.getvalue()
    assert "digraph" in text and "declare_eligible" in text and "reinstate" in text


def test_the_diagrams_in_docs_are_up_to_date() -> None:
    for label in registry.machines():
        path = diagrams.DIAGRAM_DIR / f"{label.replace('.', '_').lower()}.dot"
        assert path.exists(), f"{path} is missing: run `make diagrams`"
        assert path.read_text(encoding="utf-8") == diagrams.dot(label), f"{path} is stale: run `make diagrams`"


def test_each_call_variant_has_its_generated_diagram_up_to_date() -> None:
    variants = {v.name: v for v in registry.diagram_variants() if v.machine == "grants.Application"}
    assert set(variants) == {"generalist", "thematic", "joint_fund", "turnkey"}
    for variant in variants.values():
        path = diagrams.variant_path(variant)
        assert path.exists(), f"{path} is missing: run `make diagrams`"
        assert path.read_text(encoding="utf-8") == diagrams.variant_dot(variant), f"{path} is stale"
    joint = diagrams.variant_dot(variants["joint_fund"])
    assert "close_opinions\\n[validation du gouvernement partenaire" in joint
    assert "approve\\n[pas d'avis défavorable du gouvernement partenaire]" in joint
    assert "request_partner_validation" in joint
    turnkey = diagrams.variant_dot(variants["turnkey"])
    assert "submit\\n[porteur : association ou GIP]" in turnkey
    # Today's machine, unchanged: no condition added, no step.
    assert "\\n[" not in diagrams.variant_dot(variants["generalist"])
    assert "dashed" not in diagrams.variant_dot(variants["generalist"])
