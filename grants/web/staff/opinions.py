"""Embassies and prefectures (opinion requests) and reviewers (the scoring grid)."""

from __future__ import annotations

import html
from typing import Any, cast

from django.contrib import messages
from django.db.models import Case, CharField, Count, OuterRef, Prefetch, Q, Subquery, Value, When
from django.db.models.functions import Cast
from django.db.models.lookups import LessThan
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from grants import budget, policy, services
from grants.models import Application, Country, OpinionRequest, Review, Role
from grants.scoring import criterion_label, review_average
from grants.templatetags.french_format import decimal_fr
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
    url_maker,
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


#: The reviewer's sections: (key, filter, keyset). The open ones by due date (overdue
#: first: the earliest due), tasks without a due date last, then by assignment; the closed
#: ones newest first. Each section shows one keyset page: a reviewer of every call holds
#: thousands of reviews after a few years (2,287 for one generated reviewer: 2 s a page).
REVIEW_SECTIONS: tuple[tuple[str, Q, tuple[Key, ...]], ...] = (
    (
        "declare",
        Q(state=Review.State.ASSIGNED, declared_at__isnull=True),
        (Key("due_at", "datetime", nullable=True), Key("assigned_at", "datetime"), Key("id", "int")),
    ),
    (
        "progress",
        Q(state=Review.State.ASSIGNED, declared_at__isnull=False),
        (Key("due_at", "datetime", nullable=True), Key("assigned_at", "datetime"), Key("id", "int")),
    ),
    (
        "submitted",
        Q(state=Review.State.SUBMITTED),
        (Key("assigned_at", "datetime", descending=True), Key("id", "int", descending=True)),
    ),
    (
        "declined",
        Q(state=Review.State.DECLINED),
        (Key("assigned_at", "datetime", descending=True), Key("id", "int", descending=True)),
    ),
)
REVIEW_SECTION_SIZE = 20


#: What a section's keyset reads first: its keys and what they need, no join (an open
#: section sorts every open review by its due date: joined first, each of them was).
REVIEW_KEY_VALUES = ("id", "state", "assigned_at", "due_at")
#: What a row of each section shows, read as plain values (no model instance for the
#: review, its application, call and organisation), for the page's reviews only: every
#: section's columns, then its own (the button's wording, the score and recommendation,
#: the reason of a decline).
REVIEW_ROW_VALUES = (
    "id", "application_id", "application__reference", "application__title",
    "application__organisation__name", "application__call__code",
)  # fmt: skip
REVIEW_SECTION_VALUES: dict[str, tuple[str, ...]] = {
    "declare": ("declared_at",),
    "progress": ("declared_at",),
    "submitted": ("scores", "recommendation", "application__call__scoring_criteria"),
    "declined": ("decline_reason",),
}


def _review_countries(app_ids: set[Any]) -> dict[Any, list[str]]:
    """The countries of the applications of every section's rows, in one query: their
    names in the reader's language, in ISO order (the order the page always gave)."""
    names: dict[Any, list[str]] = {}
    if not app_ids:
        return names
    for app_id, name in (
        Application.countries.through.objects.filter(application_id__in=app_ids)
        .order_by("application_id", "country_id")
        .values_list("application_id", f"country__{Country.name_field()}")
    ):
        names.setdefault(app_id, []).append(name)
    return names


def _date(value: Any, zone: Any) -> str:
    local = value.astimezone(zone)  # what the template's |date:"d/m/Y" wrote (timezone.localtime)
    return f"{local.day:02d}/{local.month:02d}/{local.year:04d}"


class _Scores:
    """What the score calculator reads of a review (its ``scores``), for a row read as
    values: a model instance per row cost more than the rest of the row."""

    __slots__ = ("scores",)

    def __init__(self, scores: dict[str, Any]) -> None:
        self.scores = scores


def _review_rows(rows: list[dict[str, Any]], countries: dict[Any, list[str]], now: Any) -> SafeString:
    """A section's rows as the template's loop wrote them, rendered here (its tags and
    lookups, per row, were most of the page's time). Every text read from the database
    goes through ``html.escape`` (quotes included: what ``django.utils.html.escape``
    calls); the translated words are the page's own text, as ``{% translate %}`` trusts it."""
    e = html.escape
    review_url = url_maker("review")
    overdue_badge = f' <span class="fr-badge fr-badge--sm fr-badge--error">{_("En retard")}</span>'
    evaluate, declare = _("Évaluer"), _("Déclarer")
    recommendations = {code: str(label) for code, label in Review.Recommendation.choices}
    zone = timezone.get_current_timezone()
    out = []
    for row in rows:
        pk = row["id"]
        url = e(review_url(pk))
        state = row["state"]
        due_at = row["due_at"]
        overdue = state == Review.State.ASSIGNED and due_at is not None and due_at < now
        due = _date(due_at, zone) + (overdue_badge if overdue else "") if due_at is not None else "—"
        if state == Review.State.SUBMITTED:
            scores = cast(Review, _Scores(row["scores"]))
            average = review_average(scores, row["application__call__scoring_criteria"])
            recommendation = row["recommendation"]
            note = f"{e(decimal_fr(average, 1))}/5 — {e(recommendations.get(recommendation, recommendation))}"
        elif state == Review.State.ASSIGNED:
            note = f'<a class="fr-btn fr-btn--sm" href="{url}">{evaluate if row["declared_at"] else declare}</a>'
        else:
            note = e(Truncator(row["decline_reason"]).chars(80)) or "—"
        app = row["application_id"]
        out.append(
            f'\n        <tr id="review-{pk}" class="{"staff-overdue" if overdue else ""}">\n'
            f'          <td class="staff-nowrap">{_date(row["assigned_at"], zone)}</td>\n'
            f'          <td class="staff-nowrap">{due}</td>\n'
            f'          <td><a class="fr-link" href="{url}"><strong>{e(str(row["application__reference"]))}</strong></a>'
            f'<br>{e(str(row["application__title"]))}<br><span class="staff-muted">'
            f"{e(str(row['application__organisation__name']))} · {e(str(row['application__call__code']))}</span></td>\n"
            f"          <td>{', '.join(e(name) for name in countries.get(app, ()))}</td>\n"
            f"          <td>{note}</td>\n"
            "        </tr>\n      "
        )
    # Every interpolated text read from the database was escaped just above.
    return mark_safe("".join(out))  # noqa: S308


@staff_view(Role.REVIEWER)
def review_list(request: HttpRequest) -> HttpResponse:
    """The reviewer's dashboard: to declare (conflict of interest), in progress, submitted,
    declined; with due dates, overdue first, then the nearest due date. Each section one
    keyset page (``?section=<key>&cursor=…`` pages one section) read as values, its count
    and the overdue count from one grouped query, the countries of every section's rows
    from one query."""
    user = request.user
    now = timezone.now()
    mine = policy.own_reviews(user)
    # The due dates of the open reviews only (CASE reads the task of an assigned review,
    # never of a closed one), counted with the sections in the same query.
    due = _review_due()  # built once: each query resolves its own copy
    open_due = Case(When(state=Review.State.ASSIGNED, then=due))
    counted = mine.aggregate(
        **{key: Count("pk", filter=condition) for key, condition, _keys in REVIEW_SECTIONS},
        overdue=Count("pk", filter=LessThan(open_due, Value(now))),
    )
    paged = request.GET.get("section")
    titles = {
        "declare": _("À déclarer : absence de conflit d'intérêts"),
        "progress": _("En cours"),
        "submitted": _("Rendues"),
        "declined": _("Déclinées"),
    }
    pages = []
    for key, condition, keys in REVIEW_SECTIONS:
        keyed = mine.filter(condition).annotate(due_at=due).values(*REVIEW_KEY_VALUES)
        pages.append(keyset_page(keyed, keys, request.GET.get("cursor") if paged == key else None, REVIEW_SECTION_SIZE))
    # Then the shown reviews' columns and joins, every section's in one query.
    shown = (
        mine.filter(pk__in=[row["id"] for page in pages for row in page.rows])
        .values(*REVIEW_ROW_VALUES, *dict.fromkeys(v for values in REVIEW_SECTION_VALUES.values() for v in values))
        .order_by()
    )
    columns = {row["id"]: row for row in shown}
    sections = []
    for (key, _condition, _keys), page in zip(REVIEW_SECTIONS, pages, strict=True):
        # A review gone between the two reads (none is ever deleted) is left out.
        page.rows = [{**columns[row["id"]], **row} for row in page.rows if row["id"] in columns]
        sections.append(
            {"key": key, "title": titles[key], "rows": page.rows, "page": page, "count": counted[key],
             "query": f"section={key}"}
        )  # fmt: skip
    countries = _review_countries({row["application_id"] for section in sections for row in section["rows"]})
    for section in sections:
        section["html"] = _review_rows(section["rows"], countries, now)
    context = {
        "sections": sections,
        "total": sum(counted[key] for key, _condition, _keys in REVIEW_SECTIONS),
        "overdue": counted["overdue"],
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
