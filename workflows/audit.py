"""Verification of the transition log's hash chains (one chain per application, and
one per subject for logs without an application)."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.models import GENESIS_HASH, TransitionLog


@dataclass
class Report:
    entries: int = 0
    chains: int = 0
    problems: list[str] = field(default_factory=list)


def verify() -> Report:
    report = Report()
    last: dict[str, str] = {}
    broken: set[str] = set()
    # One pass in id order: memory is one hash per chain, whatever the log's size.
    for entry in TransitionLog.objects.order_by("pk").iterator(chunk_size=2000):
        key = (
            f"application {entry.application_id}"
            if entry.application_id
            else f"{entry.subject_type} {entry.subject_id}"
        )
        report.entries += 1
        if key not in last:
            report.chains += 1
        if key in broken:
            continue
        expected_prev = last.get(key, GENESIS_HASH)
        if entry.prev_hash != expected_prev:
            report.problems.append(
                f"broken link: {key}, entry #{entry.pk} ({entry.transition}) does not follow the previous entry"
            )
            broken.add(key)
        elif entry.compute_hash() != entry.hash:
            report.problems.append(
                f"altered entry: {key}, entry #{entry.pk} ({entry.transition}) does not match its hash"
            )
            broken.add(key)
        last[key] = entry.hash
    return report
