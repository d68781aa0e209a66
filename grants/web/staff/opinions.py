"""Embassies and prefectures (opinion requests) and reviewers (the scoring grid)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from grants import budget, policy, services
from grants.models import Application, Country, OpinionRequest, Review, Role
from grants.scoring import review_average
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
from grants.web.staff.forms import DeclineForm, OpinionForm, ReviewForm
from workflows import engine
from workflows.engine import TransitionError

# --- opinions -------------------------------------------------------------------------------

OPINION_KEYS = (Key("due_at", "datetime"), Key("id", "int"))
REVIEW_KEYS = (Key("assigned_at", "datetime", descending=True), Key("id", "int", descending=True))


@staff_view(Role.EMBASSY, Role.PREFECTURE)
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
    return staff_render(request, "grants/staff/opinion_list.html", {"page": page, "show": show}, active="opinions")


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
@staff_view(Role.EMBASSY, Role.PREFECTURE)
def opinion_page(request: HttpRequest, opinion_id: int) -> HttpResponse:
    user = request.user
    opinion = _visible_opinion(user, opinion_id)
    status = 200
    form = OpinionForm(request.POST or None)
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
                messages.success(request, _("Votre avis est enregistré. Merci."))
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
    }
    return staff_render(request, "grants/staff/opinion.html", context, active="opinions", status=status)


# --- reviews --------------------------------------------------------------------------------


@staff_view(Role.REVIEWER)
def review_list(request: HttpRequest) -> HttpResponse:
    """The applications assigned to the user for review, newest assignment first."""
    user = request.user
    show = request.GET.get("etat", "assigned")
    qs = policy.visible_reviews(user).filter(reviewer_id=user.pk)
    if show == "assigned":
        qs = qs.filter(state=Review.State.ASSIGNED)
    else:
        show = "all"
    qs = qs.select_related("application", "application__call", "application__organisation").prefetch_related(
        Prefetch("application__countries", queryset=Country.objects.order_by("iso2"))
    )
    page = keyset_page(qs, REVIEW_KEYS, request.GET.get("cursor"))
    for review in page.rows:
        decorate(review, average=review_average(review, review.application.call.scoring_criteria))
    return staff_render(request, "grants/staff/review_list.html", {"page": page, "show": show}, active="reviews")


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


def _review_context(review: Review, user: Any, form: ReviewForm, decline_form: DeclineForm) -> dict[str, Any]:
    criteria = review.application.call.scoring_criteria
    labels = {c["code"]: c.get("label", c["code"]) for c in criteria}
    return {
        **_application_summary(review.application, user),
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
