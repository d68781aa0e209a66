"""Demo data of the evaluation (called from `grants.demo.seed`): a committee session that
has met and is closed, so its ranking is frozen in its minutes, with three projects
scored by a consensus, decided, their letters delivered with their evaluation summaries.

Its own call (`DEMO-2026-EVAL`) keeps `DEMO-2026` at the number of applications asked
for. Idempotent: once the session is closed nothing is added.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from grants import services
from grants.models import Application, CommitteeSession, Decision

log = logging.getLogger(__name__)

EVALUATION_CALL = "DEMO-2026-EVAL"
SESSION_TITLE = "Comité de sélection de démonstration — séance close"

#: (consensus score on every criterion, comment for the applicant, outcome) per project.
OUTCOMES = [
    (5, "Partenariat exemplaire, indicateurs de suivi précis.", "approve"),
    (4, "Projet pertinent ; la pérennité après le financement reste à démontrer.", "approve"),
    (2, "Le partenaire étranger est peu associé à la conception du projet.", "reject"),
]


def seed_evaluation(users: dict[str, Any]) -> int:
    """The closed session and its three decided projects; returns the applications created."""
    from grants import demo

    call = demo._call(
        EVALUATION_CALL,
        title="Appel à projets de démonstration 2026 — comité clos",
        description="Appel de démonstration dont le comité s'est réuni : classement figé, synthèses envoyées.",
        envelope=Decimal("60000.00"),
    )
    session, _created = CommitteeSession.objects.get_or_create(
        call=call, title=SESSION_TITLE, defaults={"date": timezone.localdate() - dt.timedelta(days=7)}
    )
    if session.state == CommitteeSession.State.CLOSED:
        return 0
    created = 0
    with transaction.atomic():
        for index, (score, comment, _outcome) in enumerate(OUTCOMES):
            owner = users["applicant"] if index % 2 == 0 else users["applicant2"]
            app = demo._draft(index, call, owner, project=demo.PROJECTS[index % len(demo.PROJECTS)])
            demo._advance(app, Application.State.IN_COMMITTEE, users, session, owner)
            services.consensus_record(
                application_id=app.pk,
                user=users["instructor"],
                scores={c["code"]: score for c in call.scoring_criteria},
                comment=comment,
                internal_comment="Discussion courte : accord des évaluateurs.",
            )
            created += 1
        services.session_transition(session_id=session.pk, name="open", user=users["secretary"])
        for app, (_score, _comment, outcome) in zip(_agenda(session), OUTCOMES, strict=True):
            payload = (
                {"amount": "25000.00"}
                if outcome == "approve"
                else {"reasons": "Le partenariat avec la collectivité étrangère doit être consolidé."}
            )
            services.application_transition(
                application_id=app.pk, name=outcome, user=users["secretary"], payload=payload
            )
        # The close freezes the ranking in the minutes (grants.evaluation.freeze_ranking).
        services.session_transition(session_id=session.pk, name="close", user=users["secretary"])
        for decision in Decision.objects.filter(application__session=session).order_by("pk"):
            services.decision_sign(decision_id=decision.pk, user=users["signatory"])
    _deliver(session)
    return created


def _agenda(session: CommitteeSession) -> list[Application]:
    return list(Application.objects.filter(session=session).order_by("reference_number"))


def _deliver(session: CommitteeSession) -> None:
    """Each letter issued now with its evaluation summary (a letter that cannot be
    rendered here, without Pango, is left to the worker's retries)."""
    from grants.documents.issuing import issue_decision_letter

    signed = Decision.objects.filter(application__session=session, state=Decision.State.SIGNED)
    for decision_id in signed.values_list("pk", flat=True):
        try:
            issue_decision_letter(decision_id)
        except Exception:
            log.warning("demo: the letter of decision %s was not rendered", decision_id, exc_info=True)
