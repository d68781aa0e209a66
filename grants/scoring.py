"""Review scores: one calculator for every figure shown on screen, in the committee
booklet and in the API.

Scores are integers 0–5 per criterion of the call's grid; a review's score is the
weighted mean of its criteria; an application's score is the mean of its submitted
reviews' scores. Means are computed exactly (Decimal) and rounded once, half up, to
one decimal (``PRECISION``), the precision shown everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from django.utils import translation

from grants.models import Review

PRECISION = Decimal("0.1")


class Scored(Protocol):
    """What the calculator reads of a review: a ``Review``, or its values as a tuple (a
    list's rows read no model instance)."""

    @property
    def state(self) -> str: ...
    @property
    def scores(self) -> dict[str, Any]: ...
    @property
    def recommendation(self) -> str: ...


def criterion_label(criterion: dict[str, Any], language: str | None = None) -> str:
    """A criterion's label in ``language`` (default: the active one): its ``label_en``
    in English when the call gives one, else its French ``label`` (else its code)."""
    language = language or translation.get_language() or "fr"
    if language.startswith("en") and criterion.get("label_en"):
        return str(criterion["label_en"])
    return str(criterion.get("label") or criterion["code"])


def rounded(value: Decimal | None) -> Decimal | None:
    return value.quantize(PRECISION, rounding=ROUND_HALF_UP) if value is not None else None


def _weight(criterion: dict[str, Any]) -> Decimal:
    return Decimal(str(criterion.get("weight", 1)))


def exact_review_score(review: Scored, criteria: list[dict[str, Any]]) -> Decimal | None:
    total_weight = Decimal(0)
    total = Decimal(0)
    for criterion in criteria:
        score = review.scores.get(criterion["code"])
        if score is None:
            continue
        weight = _weight(criterion)
        total += weight * Decimal(int(score))
        total_weight += weight
    return total / total_weight if total_weight else None


def review_average(review: Scored, criteria: list[dict[str, Any]]) -> Decimal | None:
    """The weighted mean of one review on the 0–5 scale, rounded for display."""
    return rounded(exact_review_score(review, criteria))


def application_score(reviews: Iterable[Scored], criteria: list[dict[str, Any]]) -> Decimal | None:
    """The mean of the submitted reviews' weighted scores, rounded once."""
    exact = [
        s
        for s in (exact_review_score(r, criteria) for r in reviews if r.state == Review.State.SUBMITTED)
        if s is not None
    ]
    return rounded(sum(exact, Decimal(0)) / len(exact)) if exact else None


@dataclass(frozen=True)
class CriterionSummary:
    code: str
    label: str
    weight: Any
    average: Decimal | None
    scores: list[int]


@dataclass(frozen=True)
class ScoreSummary:
    criteria: list[CriterionSummary]
    average: Decimal | None
    count: int
    recommendations: dict[str, int]

    @property
    def recommendation_text(self) -> str:
        return self.recommendations_text(dict(Review.Recommendation.choices))

    def recommendations_text(self, labels: dict[str, Any]) -> str:
        """``recommendation_text`` with the labels given (a list translates them once)."""
        return ", ".join(f"{labels[code]} × {n}" for code, n in self.recommendations.items() if n)


def score_summary(
    criteria: list[dict[str, Any]], reviews: Iterable[Scored], *, per_criterion: bool = True
) -> ScoreSummary:
    """The reviews' figures; without ``per_criterion``, no criterion's (the summary's ``criteria`` is
    empty: a list's row shows the mean, the count and the recommendations only)."""
    submitted = [r for r in reviews if r.state == Review.State.SUBMITTED]
    by_criterion = []
    for criterion in criteria if per_criterion else ():
        scores = [int(r.scores[criterion["code"]]) for r in submitted if criterion["code"] in r.scores]
        by_criterion.append(
            CriterionSummary(
                code=str(criterion["code"]),
                label=criterion_label(criterion),
                weight=criterion.get("weight", 1),
                average=rounded(Decimal(sum(scores)) / Decimal(len(scores))) if scores else None,
                scores=scores,
            )
        )
    recommendations = {code: 0 for code in Review.Recommendation.values}
    for review in submitted:
        if review.recommendation in recommendations:
            recommendations[review.recommendation] += 1
    return ScoreSummary(by_criterion, application_score(submitted, criteria), len(submitted), recommendations)


# --- the consensus ------------------------------------------------------------------------------

#: A criterion whose submitted scores differ by more than this is flagged for discussion.
SPREAD_LIMIT = 2


def criterion_means(criteria: list[dict[str, Any]], reviews: Iterable[Review]) -> dict[str, int]:
    """The consensus scores offered by default: each criterion's mean of the submitted
    reviews, rounded half up to the whole point (the grid's scale is integer)."""
    defaults = {}
    for item in score_summary(criteria, reviews).criteria:
        if item.scores:
            mean = Decimal(sum(item.scores)) / Decimal(len(item.scores))
            defaults[item.code] = int(mean.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return defaults


def spreads(criteria: list[dict[str, Any]], reviews: Iterable[Review]) -> dict[str, int]:
    """Each criterion's spread (highest minus lowest submitted score)."""
    return {
        item.code: max(item.scores) - min(item.scores)
        for item in score_summary(criteria, reviews).criteria
        if item.scores
    }


def weighted_score(scores: dict[str, Any], criteria: list[dict[str, Any]]) -> Decimal | None:
    """The weighted mean of a score sheet (a consensus), rounded once like every score."""
    total_weight = Decimal(0)
    total = Decimal(0)
    for criterion in criteria:
        score = scores.get(criterion["code"])
        if score is None:
            continue
        weight = _weight(criterion)
        total += weight * Decimal(int(score))
        total_weight += weight
    return rounded(total / total_weight) if total_weight else None
