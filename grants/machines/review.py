"""The review's machine (a committee member scores an application) and the reviewer's
assignment, a write run by the engine like a transition."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.machines.application import maybe_open_schedule_task, open_review_task
from grants.machines.payload import reason_validate, text
from grants.models import Application, Review, Role, RoleGrant
from grants.policy import UNDECLARED_REASON
from grants.scoring import criterion_label
from workflows import tasks_service
from workflows.engine import Conflict, Context, Field, Invalid, Spec, append_log
from workflows.models import TaskKind
from workflows.registry import publish

A = Application.State
# States in which an instructor may still assign a reviewer.
REVIEWER_ASSIGNABLE_STATES = (A.SUBMITTED, A.AWAITING_OPINIONS, A.UNDER_REVIEW)


def _review_submit_validate(payload: dict[str, Any], review: Review) -> dict[str, Any]:
    grid = review.application.call.scoring_criteria
    criteria = [c["code"] for c in grid]
    labels = {c["code"]: criterion_label(c) for c in grid}
    scores = payload.get("scores")
    errors: dict[str, list[str]] = {}
    if not isinstance(scores, dict):
        errors["scores"] = [_("Donnez une note de 0 à 5 pour chaque critère.")]
    else:
        unknown = sorted(set(scores) - set(criteria))
        missing = [c for c in criteria if c not in scores]
        bad = [
            c
            for c in criteria
            if c in scores
            and (isinstance(scores[c], bool) or not isinstance(scores[c], int) or not 0 <= scores[c] <= 5)
        ]
        messages = []
        if missing:
            messages.append(_("Critères non notés : %(list)s.") % {"list": ", ".join(labels[c] for c in missing)})
        if unknown:
            messages.append(_("Critères inconnus : %(list)s.") % {"list": ", ".join(unknown)})
        if bad:
            messages.append(
                _("Les notes sont des entiers de 0 à 5 (%(list)s).") % {"list": ", ".join(labels[c] for c in bad)}
            )
        if messages:
            errors["scores"] = messages
    recommendation = payload.get("recommendation")
    if recommendation not in Review.Recommendation.values:
        errors["recommendation"] = [
            _("Choisissez une recommandation : %(list)s.")
            % {"list": ", ".join(str(label) for _code, label in Review.Recommendation.choices)}
        ]
    if errors:
        raise Invalid(errors=errors)
    return {
        "scores": {c: scores[c] for c in criteria},  # type: ignore[index]
        "recommendation": recommendation,
        "comment": text(payload, "comment", required=False),
    }


def _review_submit_guard(review: Review, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    # Independent and impartial: a review is given only once the absence of conflict of
    # interest is declared (the reviewer reads the application only then).
    return [] if review.declared_at is not None else [str(UNDECLARED_REASON)]


def _review_submit_effects(review: Review, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.close_tasks(ctx.application, TaskKind.REVIEW, subject=review)
    publish("review_submitted", application=ctx.application, subject=review, actor=ctx.user)
    maybe_open_schedule_task(ctx.application)


def _review_decline_effects(review: Review, cleaned: dict[str, Any], ctx: Context) -> None:
    tasks_service.cancel_tasks(ctx.application, TaskKind.REVIEW, subject=review)
    publish("review_declined", application=ctx.application, subject=review, actor=ctx.user)


REVIEW_SUBMIT = Spec(
    Review,
    "submit",
    (Role.REVIEWER,),
    gettext_lazy("Rendre l'évaluation"),
    validate=_review_submit_validate,
    guard=_review_submit_guard,
    fsm_kwargs=lambda c, ctx: dict(c),
    effects=_review_submit_effects,
    comment_field="comment",
    history_label=gettext_lazy("Évaluation rendue"),
)
REVIEW_DECLINE = Spec(
    Review,
    "decline",
    (Role.REVIEWER,),
    gettext_lazy("Décliner"),
    validate=reason_validate,
    fsm_kwargs=lambda c, ctx: {"reason": c["reason"]},
    effects=_review_decline_effects,
    comment_field="reason",
    history_label=gettext_lazy("Évaluation déclinée"),
    fields=(Field("reason", "longtext", gettext_lazy("Motif"), required=True),),
)


TRUE_WORDS = ("true", "1", "on", "yes", "oui")
FALSE_WORDS = ("false", "0", "off", "no", "non")


def _declare_validate(payload: dict[str, Any], review: Review) -> dict[str, Any]:
    raw = payload.get("conflict")
    if isinstance(raw, str) and raw.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        raw = raw.strip().lower() in TRUE_WORDS
    if not isinstance(raw, bool):
        raise Invalid(
            errors={"conflict": [_("Indiquez si vous avez un conflit d'intérêts avec ce dossier (oui ou non).")]}
        )
    details = text(payload, "details", required=False)
    if raw and not details:
        raise Invalid(errors={"details": [_("Décrivez le conflit d'intérêts.")]})
    return {"conflict": raw, "details": details}


def _declare_guard(review: Review, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    if review.state != Review.State.ASSIGNED:
        return [_("Cette évaluation n'est plus à faire.")]
    if review.declared_at is not None:
        return [_("Vous avez déjà déclaré l'absence de conflit d'intérêts sur ce dossier.")]
    return []


def _declare_apply(review: Review, cleaned: dict[str, Any], ctx: Context) -> Review:
    """The declaration, dated and logged (``declare``). A conflict declines the review
    (``decline``, the details as its reason), tells the instructors and leaves the
    application open to another reviewer's assignment."""
    app = ctx.application
    conflict = cleaned["conflict"]
    review.declared_at = ctx.now
    ctx.log = append_log(
        subject=review,
        application=app,
        transition="declare",
        source=review.state,
        target=review.state,
        user=ctx.user,
        role=ctx.role,
        comment=cleaned["details"] if conflict else "",
        payload={"conflict": conflict},
        at=ctx.now,
    )
    if not conflict:
        review.save(update_fields=["declared_at"])
        return review
    source = review.state
    review.decline(reason=cleaned["details"])
    review.save()
    ctx.log = append_log(
        subject=review,
        application=app,
        transition="decline",
        source=source,
        target=review.state,
        user=ctx.user,
        role=ctx.role,
        comment=cleaned["details"],
        at=ctx.now,
    )
    tasks_service.cancel_tasks(app, TaskKind.REVIEW, subject=review)
    publish("review_conflict", application=app, subject=review, actor=ctx.user, extra={"reason": cleaned["details"]})
    return review


# A write on the review that is not a transition of its machine (a conflict declines it).
DECLARE = Spec(
    Review,
    "declare",
    (Role.REVIEWER,),
    gettext_lazy("Déclarer l'absence de conflit d'intérêts"),
    validate=_declare_validate,
    guard=_declare_guard,
    fsm=False,
    apply=_declare_apply,
    comment_field="details",
    history_label=gettext_lazy("Déclaration de conflit d'intérêts"),
    fields=(
        Field("conflict", "text", gettext_lazy("Conflit d'intérêts"), required=True),
        Field("details", "longtext", gettext_lazy("Nature du conflit")),
    ),
)


def _assign_validate(payload: dict[str, Any], app: Application) -> dict[str, Any]:
    username = payload.get("reviewer")
    username = username.strip() if isinstance(username, str) else ""
    if not username:
        raise Invalid(errors={"reviewer": [_("Choisissez un évaluateur.")]})
    reviewer = get_user_model().objects.filter(username=username, is_active=True).first()
    grants = RoleGrant.objects.filter(user=reviewer, role=Role.REVIEWER) if reviewer else RoleGrant.objects.none()
    if reviewer is None or (
        not grants.filter(call__isnull=True).exists() and not grants.filter(call=app.call).exists()
    ):
        raise Invalid(errors={"reviewer": [_("Aucun évaluateur de cet appel ne porte cet identifiant.")]})
    return {"reviewer": reviewer}


def _assign_guard(app: Application, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    reviewer = cleaned.get("reviewer")
    if reviewer is not None and Review.objects.filter(application=app, reviewer=reviewer).exists():
        raise Conflict(_("Cet évaluateur est déjà assigné à ce dossier."))
    return []


def _assign_apply(app: Application, cleaned: dict[str, Any], ctx: Context) -> Review:
    reviewer = cleaned["reviewer"]
    review = Review.objects.create(application=app, reviewer=reviewer, assigned_by=ctx.user, assigned_at=ctx.now)
    ctx.log = append_log(
        subject=review,
        application=app,
        transition="assign",
        source="",
        target=Review.State.ASSIGNED,
        user=ctx.user,
        role=ctx.role,
        payload={"reviewer": reviewer.get_username()},
        at=ctx.now,
    )
    if app.state == A.UNDER_REVIEW:
        open_review_task(review, app, ctx.now)
    publish("review_assigned", application=app, subject=review, actor=ctx.user)
    return review


# Logged on the review (its first entry), fired on the application (the row it locks).
ASSIGN_REVIEWER = Spec(
    Application,
    "assign_reviewer",
    (Role.INSTRUCTOR,),
    gettext_lazy("Assigner un évaluateur"),
    validate=_assign_validate,
    guard=_assign_guard,
    fsm=False,
    apply=_assign_apply,
    states=REVIEWER_ASSIGNABLE_STATES,
    fields=(Field("reviewer", "reviewer", gettext_lazy("Évaluateur"), required=True),),
)
# The history label of the entry ``assign`` writes on the review.
ASSIGNED = Spec(Review, "assign", (Role.INSTRUCTOR,), history_label=gettext_lazy("Évaluateur assigné"), fsm=False)

SPECS = (REVIEW_SUBMIT, REVIEW_DECLINE, DECLARE, ASSIGN_REVIEWER, ASSIGNED)
