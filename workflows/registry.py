"""What the domain tells the engine, registered once at start-up (``AppConfig.ready``).

The engine knows nothing of the domain's models: the domain registers how to lock a
subject and its root record (one lock order), who may see it and under which role a
user acts on it, which tasks are in a user's queues, its machines (for the diagrams)
and its transition Specs (the catalogue). Listeners receive the domain's events inside
the transaction that raised them (the outbox writes its rows there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from django.db.models import Q

    from workflows.engine import Spec


class Domain(Protocol):
    def lock(self, model: type[Any], pk: Any) -> tuple[Any, Any]:
        """Lock and return (subject, root): the root row first, then the subject."""

    def root_of(self, subject: Any) -> Any:
        """The record whose history the subject's entries join (an application), or None."""

    def can_view(self, user: Any, subject: Any, root: Any) -> bool: ...

    def role_for(self, user: Any, roles: tuple[str, ...], subject: Any, root: Any) -> str | None: ...

    def queue_filter(self, user: Any) -> Q: ...


_domain: Domain | None = None
_specs: dict[tuple[str, str], Spec] = {}
_machines: list[str] = []
_listeners: list[Callable[..., None]] = []
_jobs: dict[str, Callable[..., None]] = {}
_diagram_variants: list[DiagramVariant] = []


@dataclass(frozen=True)
class DiagramVariant:
    """A variant of a machine, for its own diagram: the machine's states and transitions,
    plus conditions on some transitions and steps inside some states (the domain
    declares them; the engine only draws them)."""

    machine: str  # "grants.Application"
    name: str  # "joint_fund": the file is <machine>_<name>.dot
    title: str
    conditions: tuple[tuple[str, str], ...] = ()  # (transition name, condition text)
    steps: tuple[tuple[str, str, str], ...] = ()  # (source, target, label)


def register_diagram_variant(variant: DiagramVariant) -> None:
    if all((v.machine, v.name) != (variant.machine, variant.name) for v in _diagram_variants):
        _diagram_variants.append(variant)


def diagram_variants() -> list[DiagramVariant]:
    return list(_diagram_variants)


def register_domain(domain: Domain) -> None:
    global _domain
    _domain = domain


def domain() -> Domain:
    if _domain is None:
        raise RuntimeError("No domain registered with the workflow engine (AppConfig.ready).")
    return _domain


def register_specs(specs: Iterable[Spec]) -> None:
    for spec in specs:
        key = (spec.subject_type, spec.name)
        if key in _specs and _specs[key] is not spec:
            raise RuntimeError(f"Two Specs named {key}")
        _specs[key] = spec


def spec(subject_type: str, name: str) -> Spec | None:
    return _specs.get((subject_type, name))


def specs(subject_type: str | None = None) -> list[Spec]:
    return [s for (t, _n), s in _specs.items() if subject_type is None or t == subject_type]


def register_machines(labels: Iterable[str]) -> None:
    for label in labels:
        if label not in _machines:
            _machines.append(label)


def machines() -> list[str]:
    return list(_machines)


def subscribe(listener: Callable[..., None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def publish(event: str, **kwargs: Any) -> None:
    """Tell every listener, in the caller's transaction (a listener's failure rolls it back)."""
    for listener in _listeners:
        listener(event, **kwargs)


def register_job(name: str, enqueue: Callable[..., None]) -> None:
    """A background job the domain's effects may ask for (run once committed)."""
    _jobs[name] = enqueue


def run_job(name: str, *args: Any) -> None:
    _jobs[name](*args)
