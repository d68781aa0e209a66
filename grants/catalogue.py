"""Every Spec of the domain, registered with the engine at start-up (``GrantsConfig``).

The tables the screens, the API and the histories need (labels, public entries,
internal comments, payload fields) are read from these Specs through
``workflows.registry``, never written again elsewhere.
"""

from __future__ import annotations

from grants.machines import application, call, consensus, decision, opinion, partner, postaward, review, session
from grants.writes import calls, drafts
from workflows.engine import Spec


def specs() -> tuple[Spec, ...]:
    return (
        *application.SPECS,
        *opinion.SPECS,
        *review.SPECS,
        *consensus.SPECS,
        *decision.SPECS,
        *session.SPECS,
        *postaward.SPECS,
        *drafts.SPECS,
        *partner.SPECS,
        *call.SPECS,  # the call editor (issue 15)
        *calls.SPECS,
    )
