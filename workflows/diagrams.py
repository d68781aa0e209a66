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


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def variant_dot(variant: registry.DiagramVariant) -> str:
    """A machine's diagram with a variant's conditions on its transitions (in brackets)
    and its steps inside states (dashed)."""
    states, edges = machine(variant.machine)
    targets = {s for s, _t, _n in edges}
    notes: dict[str, list[str]] = {}
    for name, text in variant.conditions:
        notes.setdefault(name, []).append(text)
    lines = [
        f'digraph "{variant.machine} {variant.name}" {{',
        "  rankdir=LR;",
        '  node [fontname="DejaVu Sans"];',
        '  edge [fontname="DejaVu Sans"];',
        f'  label="{_quoted(variant.title)}"; labelloc=t;',
    ]
    for code, name in states:
        shape = "circle" if code in targets else "doublecircle"
        lines.append(f'  "{code}" [label="{name}\\n({code})" shape={shape}];')
    for source, target, name in edges:
        label = name + "".join(f"\\n[{_quoted(n)}]" for n in notes.get(name, []))
        bold = " style=bold" if name in notes else ""
        lines.append(f'  "{source}" -> "{target}" [label="{label}"{bold}];')
    for source, target, text in variant.steps:
        lines.append(f'  "{source}" -> "{target}" [label="{_quoted(text)}" style=dashed];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def variant_path(variant: registry.DiagramVariant, directory: Path = DIAGRAM_DIR) -> Path:
    return directory / f"{variant.machine.replace('.', '_').lower()}_{variant.name}.dot"


def write_all(directory: Path = DIAGRAM_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for label in registry.machines():
        path = directory / f"{label.replace('.', '_').lower()}.dot"
        path.write_text(dot(label), encoding="utf-8")
        written.append(path)
    for variant in registry.diagram_variants():
        path = variant_path(variant, directory)
        path.write_text(variant_dot(variant), encoding="utf-8")
        written.append(path)
    return written
