"""State diagrams generated from the machines themselves (never drawn by hand)."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps
from django.utils import translation
from django_fsm import FSMFieldMixin

from workflows import registry

DIAGRAM_DIR = Path(__file__).resolve().parent.parent / "docs" / "diagrams"


def machine(label: str) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(states with their French labels, transitions (source, target, name)), sorted."""
    model = apps.get_model(label)
    field = next(f for f in model._meta.get_fields() if isinstance(f, FSMFieldMixin))
    with translation.override("fr"):
        states = sorted((str(code), str(name)) for code, name in field.choices)
    edges: set[tuple[str, str, str]] = set()
    for transition in field.get_all_transitions(model):
        sources = [code for code, _ in states] if transition.source == "*" else [transition.source]
        for source in sources:
            edges.add((str(source), str(transition.target), transition.name))
    return states, sorted(edges)


def dot(label: str) -> str:
    states, edges = machine(label)
    targets = {s for s, _t, _n in edges}
    lines = [f'digraph "{label}" {{', "  rankdir=LR;", '  node [fontname="DejaVu Sans"];']
    for code, name in states:
        shape = "circle" if code in targets else "doublecircle"
        lines.append(f'  "{code}" [label="{name}\\n({code})" shape={shape}];')
    for source, target, name in edges:
        lines.append(f'  "{source}" -> "{target}" [label="{name}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_all(directory: Path = DIAGRAM_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for label in registry.machines():
        path = directory / f"{label.replace('.', '_').lower()}.dot"
        path.write_text(dot(label), encoding="utf-8")
        written.append(path)
    return written
