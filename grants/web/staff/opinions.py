"""Embassies and prefectures (opinion requests) and reviewers (the scoring grid)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.db.models import CharField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Cast
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from grants import budget, policy, services
from grants.models import Application, Country, OpinionRequest, Review, Role
from grants.scoring import criterion_label, review_average
from grants.web.staff.common import (
    STATE_BADGES,
    VERDICT_BADGES,
    Key,
    decorate,
    keyset_page,
    raise_for,
    report_error,
    staff_render,
    staff_view,
)
from grants.web.staff.forms import DeclarationForm, DeclineForm, OpinionForm, ReviewForm
from workflows import engine
from workflows.engine import TransitionError
from workflows.models import Task, TaskKind

# --- opinions -------------------------------------------------------------------------------

OPINION_KEYS = (Key("due_at", "datetime"), Key("id", "int"))


@staff_view(Role.EMBASSY, Role.PREFECTURE, Role.PARTNER)
def opinion_list(request: HttpRequest) -> HttpResponse:
    """The requests of the user's countries / regions: to give first (by due date, the
    index ``opinion_country_state`` serves it), or all of them."""
    user = request.user
    show = request.GET.get("etat", "requested")
    qs = policy.own_opinion_requests(user)
    if show == "requested":
        qs = qs.filter(state=OpinionRequest.State.REQUESTED)
    else:
        show = "all"
    qs = qs.select_related(
        "application", "application__call", "application__organisation", "country", "region"
    ).prefetch_related(Prefetch("application__countries", queryset=Country.objects.order_by("iso2")))
    page = keyset_page(qs, OPINION_KEYS, request.GET.get("cursor"))
    now = timezone.now()
    for opinion in page.rows:
        decorate(
            opinion,
            overdue=opinion.state == OpinionRequest.State.REQUESTED and opinion.due_at < now,
            badge=VERDICT_BADGES.get(opinion.verdict, ""),
            can_give=engine.available(services.GIVE_OPINION, opinion, user),
        )
    # A partner government validates projects (a joint fund's): its own wording.
    partner = Role.PARTNER in policy.scopes(user).roles and not policy.scopes(user).roles & {
        Role.EMBASSY,
        Role.PREFECTURE,
    }
    context = {"page": page, "show": show, "partner": partner}
    return staff_render(request, "grants/staff/opinion_list.html", context, active="opinions")


def _visible_opinion(user: Any, opinion_id: int) -> OpinionRequest:
    opinion = (
        policy.own_opinion_requests(user)
        .filter(pk=opinion_id)
        .select_related("application", "application__call", "application__organisation", "country", "region")
        .first()
    )
    if opinion is None:
        raise Http404(_("Introuvable."))
    return opinion


def _application_summary(app: Application, user: Any) -> dict[str, Any]:
    countries = list(app.countries.order_by("name_fr"))
    return {
        "app": app,
        "state_badge": STATE_BADGES.get(app.state, ""),
        "countries": countries,
        "partners": list(app.partners.select_related("country")),
        "figures": budget.figures(app, countries=countries),
        "can_open": policy.can_view(user, app),
    }


@require_http_methods(["GET", "POST"])
@staff_view(Role.EMBASSY, Role.PREFECTURE, Role.PARTNER)
def opinion_page(request: HttpRequest, opinion_id: int) -> HttpResponse:
    user = request.user
    opinion = _visible_opinion(user, opinion_id)
    status = 200
    form = OpinionForm(request.POST or None, partner=opinion.authority == OpinionRequest.Authority.PARTNER)
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.opinion_give(
                    opinion_id=opinion.pk,
                    user=user,
                    verdict=form.cleaned_data.get("verdict") or "",
                    comment=form.cleaned_data.get("comment") or "",
                )
            except TransitionError as error:
                raise_for(error)
                status = error.status
                report_error(form, error)
                opinion = _visible_opinion(user, opinion_id)
            else:
                messages.success(
                    request,
                    _("Votre validation est enregistrée. Merci.")
                    if opinion.authority == OpinionRequest.Authority.PARTNER
                    else _("Votre avis est enregistré. Merci."),
                )
                return redirect("opinions")
    decorate(
        opinion,
        overdue=opinion.state == OpinionRequest.State.REQUESTED and opinion.due_at < timezone.now(),
        badge=VERDICT_BADGES.get(opinion.verdict, ""),
    )
    context = {
        **_application_summary(opinion.application, user),
        "opinion": opinion,
        "place": opinion.country.name if opinion.country else (opinion.region.name if opinion.region else ""),
        "form": form,
        "can_give": engine.available(services.GIVE_OPINION, opinion, user),
        "partner": opinion.authority == OpinionRequest.Authority.PARTNER,
    }
    return staff_render(request, "grants/staff/opinion.html", context, active="opinions", status=status)


# --- reviews --------------------------------------------------------------------------------


def _review_due() -> Subquery:
    """The due date of the review's task (the latest one: the review phase opened it)."""
    return Subquery(
        Task.objects.filter(
            kind=TaskKind.REVIEW, subject_type="grants.review", subject_id=Cast(OuterRef("pk"), CharField())
        )
        .order_by("-created_at", "-pk")
        .values("due_at")[:1]
    )


@staff_view(Role.REVIEWER)
def review_list(request: HttpRequest) -> HttpResponse:
    """The reviewer's dashboard: to declare (conflict of interest), in progress, submitted,
    declined; with due dates, overdue first, then the nearest due date."""
    user = request.user
    now = timezone.now()
    reviews = list(
        policy.visible_reviews(user)
        .filter(reviewer_id=user.pk)
        .annotate(due_at=_review_due())
        .select_related("application", "application__call", "application__organisation")
        .prefetch_related(Prefetch("application__countries", queryset=Country.objects.order_by("iso2")))
        .order_by("-assigned_at", "-pk")
    )
    sections: dict[str, list[Review]] = {"declare": [], "progress": [], "submitted": [], "declined": []}
    for review in reviews:
        overdue = review.state == Review.State.ASSIGNED and review.due_at is not None and review.due_at < now
        decorate(review, overdue=overdue, average=review_average(review, review.application.call.scoring_criteria))
        if review.state == Review.State.ASSIGNED:
            sections["progress" if review.declared_at else "declare"].append(review)
        else:
            sections[str(review.state)].append(review)
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    for key in ("declare", "progress"):
        sections[key].sort(
            key=lambda r: (not getattr(r, "overdue", False), getattr(r, "due_at", None) or far, r.assigned_at)
        )
    titles = {
        "declare": _("À déclarer : absence de conflit d'intérêts"),
        "progress": _("En cours"),
        "submitted": _("Rendues"),
        "declined": _("Déclinées"),
    }
    context = {
        "sections": [(key, titles[key], rows) for key, rows in sections.items()],
        "total": len(reviews),
        "overdue": sum(1 for r in reviews if getattr(r, "overdue", False)),
    }
    return staff_render(request, "grants/staff/review_list.html", context, active="reviews")


def _own_review(user: Any, review_id: int) -> Review:
    review = (
        policy.visible_reviews(user)
        .filter(pk=review_id, reviewer_id=user.pk)
        .select_related("application", "application__call", "application__organisation")
        .first()
    )
    if review is None:
        raise Http404(_("Introuvable."))
    return review


def _review_context(
    review: Review,
    user: Any,
    form: ReviewForm,
    decline_form: DeclineForm,
    declaration_form: DeclarationForm | None = None,
) -> dict[str, Any]:
    criteria = review.application.call.scoring_criteria
    labels = {c["code"]: criterion_label(c) for c in criteria}
    app = review.application
    if policy.restricted_reader(user, app):
        # Before the declaration: reference, title, lead authority (the header) and the
        # partners, nothing of the content (read policy).
        return {
            "app": app,
            "state_badge": STATE_BADGES.get(app.state, ""),
            "partners": list(app.partners.select_related("country")),
            "review": review,
            "restricted": True,
            "declaration_form": declaration_form or DeclarationForm(prefix="declaration"),
            "can_declare": engine.available(services.DECLARE, review, user),
        }
    return {
        **_application_summary(app, user),
        "review": review,
        "form": form,
        "decline_form": decline_form,
        "can_submit": engine.available(services.REVIEW_SUBMIT, review, user),
        "given_scores": [(labels.get(code, code), score) for code, score in (review.scores or {}).items()],
        "average": review_average(review, criteria),
    }


@require_http_methods(["GET", "POST"])
@staff_view(Role.REVIEWER)
def review_page(request: HttpRequest, review_id: int) -> HttpResponse:
    user = request.user
    review = _own_review(user, review_id)
    criteria = review.application.call.scoring_criteria
    if request.method == "POST" and "declaration-conflict" in request.POST:
        return _review_declare(request, review)
    form = ReviewForm(request.POST or None, criteria=criteria, prefix="score")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.review_submit(review_id=review.pk, user=user, payload=form.payload())
            except TransitionError as error:
                raise_for(error)
                status = error.status
                report_error(form, error)
                review = _own_review(user, review_id)
            else:
                messages.success(request, _("Votre évaluation est enregistrée. Merci."))
                return redirect("reviews")
    context = _review_context(review, user, form, DeclineForm(prefix="decline"))
    return staff_render(request, "grants/staff/review.html", context, active="reviews", status=status)


def _review_declare(request: HttpRequest, review: Review) -> HttpResponse:
    """The declaration form (shown first on the review page): no conflict opens the
    application to the reviewer; a conflict declines the review."""
    user = request.user
    declaration_form = DeclarationForm(request.POST, prefix="declaration")
    status = 400
    if declaration_form.is_valid():
        conflict = declaration_form.cleaned_data["conflict"] == "true"
        try:
            services.review_declare(
                review_id=review.pk,
                user=user,
                conflict=conflict,
                details=declaration_form.cleaned_data.get("details") or "",
            )
        except TransitionError as error:
            raise_for(error)
            status = error.status
            report_error(declaration_form, error)
            review = _own_review(user, review.pk)
        else:
            if conflict:
                messages.success(request, _("Vous avez déclaré un conflit d'intérêts : l'évaluation est déclinée."))
                return redirect("reviews")
            messages.success(request, _("Votre déclaration est enregistrée : vous pouvez évaluer le dossier."))
            return redirect("review", review_id=review.pk)
    form = ReviewForm(None, criteria=review.application.call.scoring_criteria, prefix="score")
    context = _review_context(review, user, form, DeclineForm(prefix="decline"), declaration_form)
    return staff_render(request, "grants/staff/review.html", context, active="reviews", status=status)


@require_POST
@staff_view(Role.REVIEWER)
def review_decline(request: HttpRequest, review_id: int) -> HttpResponse:
    user = request.user
    review = _own_review(user, review_id)
    decline_form = DeclineForm(request.POST, prefix="decline")
    status = 400
    if decline_form.is_valid():
        try:
            services.review_decline(
                review_id=review.pk, user=user, reason=decline_form.cleaned_data.get("reason") or ""
            )
        except TransitionError as error:
            raise_for(error)
            status = error.status
            report_error(decline_form, error)
            review = _own_review(user, review_id)
        else:
            messages.success(request, _("Vous avez décliné cette évaluation. L'instruction en est informée."))
            return redirect("reviews")
    form = ReviewForm(None, criteria=review.application.call.scoring_criteria, prefix="score")
    context = _review_context(review, user, form, decline_form)
    context["decline_open"] = True
    return staff_render(request, "grants/staff/review.html", context, active="reviews", status=status)
