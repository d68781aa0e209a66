"""The consensus on an application: once the call's minimum of reviews is submitted, the
instructor (or the committee's secretary) records one score sheet for the committee,
a comment meant for the applicant and an internal one. A write run by the engine on the
application (``fsm=False``), logged ``consensus``; ``schedule`` asks for it when the call
says so (``Call.consensus_required``)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.machines.payload import text
from grants.models import Application, Consensus, Review, Role
from grants.scoring import criterion_means
from workflows.engine import Context, Field, Invalid, Spec, append_log
from workflows.registry import publish

A = Application.State
#: Recorded while the application is evaluated, corrected until the committee decides.
CONSENSUS_STATES = (A.UNDER_REVIEW, A.IN_COMMITTEE)


def _submitted(app: Application) -> list[Review]:
    return list(app.reviews.filter(state=Review.State.SUBMITTED))


def _validate(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    grid = app.call.scoring_criteria
    codes = [c["code"] for c in grid]
    labels = {c["code"]: str(c.get("label") or c["code"]) for c in grid}
    scores = payload.get("scores")
    comments = {
        "comment": text(payload, "comment", required=False),
        "internal_comment": text(payload, "internal_comment", required=False),
    }
    if scores in (None, "", {}):
        # Not given: the reviewers' means, rounded to the whole point (the guard says
        # when the reviews are not in yet).
        scores = criterion_means(grid, _submitted(app))
        if len(scores) < len(codes) and app.reviews.filter(state=Review.State.SUBMITTED).count() < app.call.min_reviews:
            return {"scores": scores, **comments}
    errors: list[str] = []
    if not isinstance(scores, dict):
        raise Invalid(errors={"scores": [_("Donnez une note de 0 à 5 pour chaque critère.")]})
    unknown = sorted(set(scores) - set(codes))
    missing = [c for c in codes if c not in scores]
    bad = [
        c
        for c in codes
        if c in scores and (isinstance(scores[c], bool) or not isinstance(scores[c], int) or not 0 <= scores[c] <= 5)
    ]
    if missing:
        errors.append(_("Critères non notés : %(list)s.") % {"list": ", ".join(labels[c] for c in missing)})
    if unknown:
        errors.append(_("Critères inconnus : %(list)s.") % {"list": ", ".join(unknown)})
    if bad:
        errors.append(
            _("Les notes sont des entiers de 0 à 5 (%(list)s).") % {"list": ", ".join(labels[c] for c in bad)}
        )
    if errors:
        raise Invalid(errors={"scores": errors})
    return {"scores": {c: scores[c] for c in codes}, **comments}


def _guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    submitted = app.reviews.filter(state=Review.State.SUBMITTED).count()
    if submitted < app.call.min_reviews:
        return [
            _("Évaluations rendues : %(n)s sur les %(min)s requises avant le consensus.")
            % {"n": submitted, "min": app.call.min_reviews}
        ]
    return []


def _apply(app: Application, cleaned: dict[str, Any], ctx: Context) -> Consensus:
    consensus, _created = Consensus.objects.update_or_create(
        application=app,
        defaults={
            "scores": cleaned["scores"],
            "comment_for_applicant": cleaned["comment"],
            "internal_comment": cleaned["internal_comment"],
            "recorded_by": ctx.user,
            "recorded_at": ctx.now,
        },
    )
    ctx.log = append_log(
        subject=app,
        application=app,
        transition="consensus",
        source=app.state,
        target=app.state,
        user=ctx.user,
        role=ctx.role,
        comment=cleaned["internal_comment"],
        payload={"scores": cleaned["scores"]},
        at=ctx.now,
    )
    # The instructors and the secretaries hear of it (notifications.events), not the applicant.
    publish("consensus_recorded", application=app, actor=ctx.user)
    return consensus


RECORD_CONSENSUS = Spec(
    Application,
    "consensus",
    (Role.INSTRUCTOR, Role.SECRETARY),
    gettext_lazy("Enregistrer le consensus"),
    validate=_validate,
    guard=_guard,
    fsm=False,
    apply=_apply,
    states=CONSENSUS_STATES,
    comment_field="internal_comment",
    history_label=gettext_lazy("Consensus des évaluations enregistré"),
    internal_comment=True,
    fields=(
        Field("scores", "text", gettext_lazy("Notes de consensus")),
        Field("comment", "longtext", gettext_lazy("Commentaire pour le porteur")),
        Field("internal_comment", "longtext", gettext_lazy("Commentaire interne")),
    ),
)

SPECS = (RECORD_CONSENSUS,)
