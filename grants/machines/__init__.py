"""The Specs of each machine, run by the one transition service (``workflows.engine``):
``application``, ``opinion``, ``review``, ``decision``, ``session``; ``payload`` reads
their inputs, ``locks`` holds the one lock order, ``domain`` is what the engine asks.
"""

MACHINES = (
    "grants.Application",
    "grants.OpinionRequest",
    "grants.Review",
    "grants.Decision",
    "grants.CommitteeSession",
    "grants.Call",
    "grants.Payment",
    "grants.Report",
    "grants.Amendment",
)
