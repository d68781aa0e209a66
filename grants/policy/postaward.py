"""Who reads the grant's life after the commitment: the payments, the reports and the
amendments of a decision are read by whoever reads the decision (the delegation of its
call; the lead and co-applicant authorities once its letter is delivered). Acting is
the engine's ``role_for``: finance pays, the instructor checks, the lead applicant files."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from grants.policy.applications import visible_decisions
from grants.postaward import Amendment, Payment, Report


def visible_payments(user: Any) -> QuerySet[Payment]:
    return Payment.objects.filter(decision__in=visible_decisions(user).values("pk"))


def visible_reports(user: Any) -> QuerySet[Report]:
    return Report.objects.filter(decision__in=visible_decisions(user).values("pk"))


def visible_amendments(user: Any) -> QuerySet[Amendment]:
    return Amendment.objects.filter(decision__in=visible_decisions(user).values("pk"))
