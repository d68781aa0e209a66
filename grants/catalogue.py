"""Every Spec of the domain, registered with the engine at start-up (``GrantsConfig``).

The tables the screens, the API and the histories need (labels, public entries,
internal comments, payload fields) are read from these Specs through
``workflows.registry``, never written again elsewhere.
"""

from __future__ import annotations

from grants.machines import application, consensus, decision, opinion, postaward, review, session
from grants.writes import drafts
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
    )
