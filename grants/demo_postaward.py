"""Demo grants at every stage after the decision (ARCHITECTURE.md, "Demo data"): each is
a demo application approved by the demo committee, its letter issued, its commitment
recorded, then driven through the real services (payments, reports, amendments,
renunciation), never by writing a state. ``finance``, ``instructor`` and ``applicant``
find post-award work on their first sign-in:

- finance: a first tranche to pay, a reduced balance to pay, two recoveries to record;
- instructor: an interim report to check, an extension to decide;
- applicant (Ville de Lyon): an interim report due, a returned report to refile.

Idempotent: a stage whose application exists already is skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from grants import services
from grants.models import Application, Call, CommitteeSession, Decision
from grants.postaward import Payment, Report

log = logging.getLogger(__name__)

CENT = Decimal("0.01")

#: (title, country, summary, owner, stage), in the order they are created.
STAGES: list[tuple[str, str, str, str, str]] = [
    ("Suivi : adduction d'eau à Podor", "SN", "Réseau d'eau potable de trois quartiers.", "applicant", "payable"),
    ("Suivi : marchés de Kaolack", "SN", "Halles et gestion des marchés.", "applicant", "first_paid"),
    (
        "Suivi : archives municipales de Ziguinchor",
        "SN",
        "Numérisation des actes d'état civil.",
        "applicant",
        "returned",
    ),
    ("Suivi : déchets de Rabat", "MA", "Collecte sélective des déchets.", "applicant2", "submitted"),
    ("Suivi : éclairage public de Thiès", "SN", "Éclairage solaire des axes principaux.", "applicant", "extension"),
    (
        "Suivi : formation des élus de Louga",
        "SN",
        "Cycle de formation des élus locaux.",
        "applicant",
        "reduced_balance",
    ),
    ("Suivi : tourisme solidaire à Essaouira", "MA", "Circuits et accueil chez l'habitant.", "applicant2", "recovery"),
    ("Suivi : bibliothèques de Saint-Louis", "SN", "Réseau de lecture publique.", "applicant", "renounced"),
    ("Suivi : jumelage scolaire de Fatick", "SN", "Échanges entre écoles.", "applicant", "closed"),
]

NARRATIVE_NAME = "compte-rendu-technique.pdf"


def seed(*, call: Call, users: dict[str, Any], session: CommitteeSession, first_index: int = 200) -> int:
    """Create the missing post-award stages; returns how many applications it created."""
    from grants import demo

    created = 0
    for offset, (title, country, summary, owner, stage) in enumerate(STAGES):
        index = first_index + offset
        if Application.objects.filter(call=call, title=f"{title} ({index + 1})").exists():
            continue
        with transaction.atomic():
            application = demo._draft(index, call, users[owner], project=(title, country, summary))
            demo._advance(application, Application.State.APPROVED, users, session, users[owner])
            decision = _commit(application, users, index)
            _drive(decision, stage, users[owner], users)
        created += 1
    return created


def _commit(application: Application, users: dict[str, Any], index: int) -> Decision:
    """Sign, deliver (the real letter when it can be rendered here), record."""
    from grants.documents.issuing import issue_decision_letter

    decision = Decision.objects.get(application=application)
    services.decision_sign(decision_id=decision.pk, user=users["signatory"])
    try:
        issue_decision_letter(decision.pk)
    except Exception:
        log.warning("demo: the letter of decision %s was not rendered", decision.pk, exc_info=True)
    decision.refresh_from_db()
    if decision.state == Decision.State.SIGNED:
        services.decision_deliver(decision_id=decision.pk)
    return services.decision_record(
        decision_id=decision.pk, user=users["finance"], commitment_number=f"EJ-DEMO-{index + 1:04d}"
    )


def _pay(decision: Decision, number: int, users: dict[str, Any], days_ago: int) -> None:
    payment = Payment.objects.get(decision=decision, number=number)
    services.payment_pay(
        payment_id=payment.pk,
        user=users["finance"],
        paid_on=timezone.localdate() - dt.timedelta(days=days_ago),
        payment_reference=f"DP-DEMO-{decision.pk:04d}-{number}",
    )


def _expenses(decision: Decision, total: Decimal) -> list[dict[str, Any]]:
    """``total`` spread over the budget's categories and years, in proportion."""
    from grants.machines.postaward import current_budget

    lines: dict[tuple[str, int], Decimal] = {}
    for line in current_budget(decision):
        key = (str(line["category"]), int(line["year"]))
        lines[key] = lines.get(key, Decimal(0)) + Decimal(str(line["amount"]))
    budget_total = sum(lines.values(), Decimal(0))
    out, allotted = [], Decimal(0)
    keys = sorted(lines, key=lambda k: (k[1], k[0]))
    for position, key in enumerate(keys):
        if position == len(keys) - 1:
            amount = total - allotted
        else:
            amount = (total * lines[key] / budget_total).quantize(CENT, rounding=ROUND_DOWN)
        allotted += amount
        out.append({"category": key[0], "year": key[1], "amount": f"{amount:f}"})
    return out


def _file(decision: Decision, kind: str, owner: Any, total: Decimal, *, name: str = "submit") -> Report:
    from grants.demo import DEMO_PDF

    report = Report.objects.get(decision=decision, kind=kind)
    payload = {"narrative": DEMO_PDF, "narrative_name": NARRATIVE_NAME, "expenses": _expenses(decision, total)}
    services.report_transition(report_id=report.pk, name=name, user=owner, payload=payload)
    return report


def _accept(report: Report, users: dict[str, Any]) -> None:
    services.report_transition(report_id=report.pk, name="accept", user=users["instructor"])


def _final_total(decision: Decision, due: Decimal) -> Decimal:
    """The actual expenses for which the delegation owes ``due`` (its rate applied)."""
    from grants.machines.postaward import eligible_rate

    rate = eligible_rate(decision.application, decision)
    # Rounded up: the rate applied to it, rounded down to the cent, gives ``due`` exactly.
    return (due / rate).quantize(CENT, rounding=ROUND_UP)


def _drive(decision: Decision, stage: str, owner: Any, users: dict[str, Any]) -> None:
    if stage == "payable":
        return  # the first tranche waits for finance
    _pay(decision, 1, users, days_ago=40)
    if stage == "first_paid":
        return  # the interim report is due
    if stage == "extension":
        services.amendment_request(
            decision_id=decision.pk,
            user=owner,
            payload={
                "kind": "extension",
                "months": 4,
                "reason": "Livraison des lampadaires retardée par le fournisseur.",
            },
        )
        return
    if stage == "renounced":
        services.decision_renounce(
            decision_id=decision.pk,
            user=owner,
            reason="La commune partenaire a confié le projet à un autre bailleur.",
        )
        return
    interim = _file(decision, Report.Kind.INTERIM, owner, Decimal("46500.00"))
    if stage == "submitted":
        return  # the instructor checks it
    if stage == "returned":
        services.report_transition(
            report_id=interim.pk,
            name="return",
            user=users["instructor"],
            payload={
                "message": "Merci de joindre les justificatifs des missions et le détail des frais de formation.",
                "due_date": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
            },
        )
        return
    _accept(interim, users)
    _pay(decision, 2, users, days_ago=10)
    paid = sum((p.amount for p in Payment.objects.filter(decision=decision, state=Payment.State.PAID)), Decimal(0))
    # Reduced balance: the delegation owes 1 300 € more than paid; recovery: 2 500 € less.
    due = paid + Decimal("1300.00") if stage in ("reduced_balance", "closed") else paid - Decimal("2500.00")
    final = _file(decision, Report.Kind.FINAL, owner, _final_total(decision, due))
    _accept(final, users)
    if stage == "closed":
        balance = Payment.objects.get(decision=decision, kind=Payment.Kind.BALANCE, state=Payment.State.PAYABLE)
        _pay(decision, balance.number, users, days_ago=1)
