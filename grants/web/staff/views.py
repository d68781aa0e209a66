"""Staff workspaces: the inbox ("Mes tâches") and the application page for staff.

The other screens live in ``views_staff_opinions`` (embassies, prefectures, reviewers),
``views_staff_committee`` (secretary), ``views_staff_decisions`` (signatory, finance)
and ``views_staff_dashboard`` (instructors).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, prefetch_related_objects
from django.db.models.expressions import RawSQL
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import dateformat, formats, timezone
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from grants import budget, evaluation, policy, services
from grants.documents.downloads import attachment_response
from grants.machines import dossier
from grants.models import (
    SESSION_DEFERRED,
    Application,
    ApplicationPartner,
    Attachment,
    BudgetLine,
    Call,
    CommitteeSession,
    Country,
    Decision,
    OpinionRequest,
    Role,
)
from grants.reference_data import collation_key
from grants.scoring import score_summary
from grants.templatetags.french_format import decimal_fr
from grants.variants import variant_for
from grants.web.staff.common import (
    DECISION_BADGES,
    STATE_BADGES,
    VERDICT_BADGES,
    Key,
    NotSignedIn,
    apply_errors,
    csrf_input,
    decorate,
    keyset_page,
    person_name,
    raise_for,
    require_staff,
    safe_next,
    staff_render,
    staff_view,
    url_maker,
)
from grants.web.staff.forms import (
    InboxFilterForm,
    StaffForm,
    action_form,
    payload_from,
)
from workflows import engine, tasks_service
from workflows.engine import TransitionError
from workflows.models import TaskKind

# --- inbox ----------------------------------------------------------------------------------

INBOX_KEYS = (Key("due_at", "datetime", nullable=True), Key("id", "int"))


def _task_link(task: Any) -> str:
    """The screen where the task is done (``task``: a Task or an inbox row)."""
    if task.kind in (TaskKind.GIVE_OPINION, TaskKind.VALIDATE_PROJECT) and task.subject_id:
        return url_maker("opinion")(task.subject_id)
    if task.kind == TaskKind.REVIEW and task.subject_id:
        return url_maker("review")(task.subject_id)
    if task.kind == TaskKind.SIGN_DECISION:
        return reverse("signatory") + f"#decision-{task.subject_id}"
    if task.kind == TaskKind.RECORD_COMMITMENT:
        return reverse("finance") + f"#decision-{task.subject_id}"
    from grants.web.postaward import task_link  # the grant's life after the commitment

    if link := task_link(task):
        return link
    return url_maker("staff-application", "uuid")(task.application_id)


@dataclass
class InboxRow:
    """One task of the inbox as the page shows it, read as plain values (no model
    instance for the task, its application, call, authority and assignee)."""

    pk: int
    kind: str
    kind_label: str
    subject_id: str
    application_id: int
    due_at: Any
    overdue: bool
    reference: str
    title: str
    organisation: str
    call_code: str
    countries: str
    assignee_id: int | None
    assignee_name: str
    mine: bool
    reserved: bool
    link: str = ""
    claim_url: str = ""
    unclaim_url: str = ""


INBOX_ROW_VALUES = (
    "id", "kind", "subject_id", "application_id", "due_at", "assignee_id", "reserved",
    "application__reference", "application__title", "application__organisation__name", "application__call__code",
    "assignee__username", "assignee__first_name", "assignee__last_name",
)  # fmt: skip


def _inbox_rows(values: list[dict[str, Any]], user: Any, now: Any) -> list[InboxRow]:
    """The page's rows from its values: the countries of their applications in one query
    (ISO order, the reader's language), the labels translated once per kind, the URLs made
    from patterns reversed once."""
    names: dict[int, list[str]] = {}
    english = (get_language() or "fr").startswith("en")
    through = Application.countries.through.objects
    for app_id, name_fr, name_en in (
        through.filter(application_id__in={v["application_id"] for v in values})
        .order_by("application_id", "country_id")
        .values_list("application_id", "country__name_fr", "country__name_en")
    ):
        names.setdefault(app_id, []).append(name_en if english else name_fr)
    labels = {code: str(label) for code, label in TaskKind.choices}
    claim, unclaim = url_maker("task-claim"), url_maker("task-unclaim")
    rows = []
    for v in values:
        full_name = f"{v['assignee__first_name'] or ''} {v['assignee__last_name'] or ''}".strip()
        row = InboxRow(
            pk=v["id"],
            kind=v["kind"],
            kind_label=labels.get(v["kind"], v["kind"]),
            subject_id=v["subject_id"],
            application_id=v["application_id"],
            due_at=v["due_at"],
            overdue=v["due_at"] is not None and v["due_at"] < now,
            reference=v["application__reference"],
            title=v["application__title"],
            organisation=v["application__organisation__name"],
            call_code=v["application__call__code"],
            countries=", ".join(names.get(v["application_id"], ())),
            assignee_id=v["assignee_id"],
            assignee_name=full_name or (v["assignee__username"] or ""),
            mine=v["assignee_id"] == user.pk,
            reserved=v["reserved"],
        )
        row.link = _task_link(row)
        row.claim_url, row.unclaim_url = claim(row.pk), unclaim(row.pk)
        rows.append(row)
    return rows


#: The distinct countries of the applications, by a recursive skip scan of the index on
#: grants_application_countries.country_id (PostgreSQL has no loose index scan of its own).
COUNTRIES_IN_USE = """
    WITH RECURSIVE used(c) AS (
        SELECT MIN(country_id) FROM grants_application_countries
        UNION ALL
        SELECT (SELECT MIN(country_id) FROM grants_application_countries WHERE country_id > used.c)
        FROM used WHERE used.c IS NOT NULL
    )
    SELECT c FROM used WHERE c IS NOT NULL
"""

#: The posts asked for opinions: their queues hold only the tasks of opinion requests.
POSTS = frozenset({Role.EMBASSY, Role.PREFECTURE, Role.PARTNER})


def _filter_choices(user: Any) -> tuple[list[Call], list[Country]]:
    """The calls and countries worth filtering the user's inbox by: the calls of its open
    tasks, and the countries of its posts (embassy) or the eligible countries of those
    calls (every country when one of them is open to all), in French alphabetical order.
    Neither reads the queue's tasks one by one: the countries of every open task's
    application grew with the queue (docs/decisions.md)."""
    s = policy.scopes(user)
    open_tasks = tasks_service.inbox(user).order_by()
    if s.roles <= POSTS:
        # A post's queue holds one task per open opinion request addressed to it, and the
        # request carries its call: per call, one probe of opinion_open_country_call (or
        # _region_), where going through the tasks' applications read the whole queue.
        with_tasks: Exists | Q = Exists(
            policy.own_opinion_requests(user).filter(state=OpinionRequest.State.REQUESTED, call=OuterRef("pk"))
        )
    else:
        # Per call, one probe of an index: the tasks that name their call (the delegation's
        # and the reviewers' queues: task_open_call_due), else through their application (a
        # semi-join from the call to every application of the call scanned them all: 1 s at
        # 100,000 applications).
        with_tasks = Exists(open_tasks.filter(scope_call=OuterRef("pk"))) | Exists(
            open_tasks.filter(scope_call__isnull=True, application__call=OuterRef("pk"))
        )
    calls = list(Call.objects.filter(with_tasks).only("code", "title", "state", "opens_at").order_by("-opens_at")[:100])
    if s.roles <= {Role.EMBASSY, Role.APPLICANT}:
        countries = Country.objects.filter(iso2__in=sorted(s.countries.get(Role.EMBASSY, set())))
    else:
        # The countries some application is in (a skip scan of the countries' index: one
        # probe per country, whatever the number of applications) that are eligible to one
        # of these calls (or any, when one of them is open to all): an application's
        # countries are among its call's eligible ones (checked on submission), so every
        # country of the user's tasks is offered, and no country without an application.
        ids = [call.pk for call in calls]
        eligible = Call.eligible_countries.through.objects.filter(call_id__in=ids)
        open_to_all = Call.objects.filter(pk__in=ids).exclude(
            pk__in=Call.eligible_countries.through.objects.filter(call_id__in=ids).values("call_id")
        )
        countries = Country.objects.filter(
            Q(pk__in=RawSQL(COUNTRIES_IN_USE, [])),  # noqa: S611 - constant SQL, no parameter
            Q(pk__in=eligible.values("country_id")) | Q(Exists(open_to_all)),
        )
    return calls, sorted(countries.exclude(iso2="FR"), key=lambda c: collation_key(c.name))


def inbox(request: HttpRequest) -> HttpResponse:
    """Open tasks of every queue of the user, overdue first then by due date.

    Also the staff home: the applicant portal's ``/`` calls this view for staff users.
    One GROUP BY counts the user's open tasks per kind; the rows come by keyset on
    (due_at, id), the order of the partial index ``task_open_queue_due``.
    """
    try:
        user = require_staff(request)
    except NotSignedIn:
        return redirect_to_login(request.get_full_path())
    calls, countries = _filter_choices(user)
    form = InboxFilterForm(request.GET or None, calls=calls, countries=countries, kinds=policy.kinds_for(user))
    form.is_valid()
    # The form offers what the user's queues can hold; a value it does not offer (a
    # bookmarked or typed URL) is no error: it applies, and matches none of the user's
    # tasks, since the rows are the user's queues whatever the filters.
    filters: dict[str, str] = {
        name: str(request.GET[name])[:64] for name in ("call", "kind", "country") if request.GET.get(name)
    }
    base = tasks_service.inbox(user)
    if "call" in filters:
        base = base.filter(application__call__code=filters["call"])
    if "country" in filters:
        base = base.filter(application__countries=filters["country"])
    now = timezone.now()
    counts = {
        row["kind"]: row
        for row in base.order_by()
        .values("kind")
        # COUNT(*): an index-only scan of task_open_queue_kind (it holds no id).
        .annotate(n=Count("*"), overdue=Count("due_at", filter=Q(due_at__lt=now)))
        .order_by()
    }
    kind_counts = [
        {"kind": code, "label": label, "n": counts[code]["n"], "overdue": counts[code]["overdue"]}
        for code, label in TaskKind.choices
        if code in counts
    ]
    rows_qs = base
    if "kind" in filters:
        rows_qs = rows_qs.filter(kind=filters["kind"])
    page = keyset_page(rows_qs.values(*INBOX_ROW_VALUES), INBOX_KEYS, request.GET.get("cursor"))
    page.rows = _inbox_rows(page.rows, user, now)
    query = request.GET.copy()
    query.pop("cursor", None)
    return staff_render(
        request,
        "grants/staff/inbox.html",
        {
            "form": form,
            "page": page,
            "kind_counts": kind_counts,
            "total_overdue": sum(c["overdue"] for c in kind_counts),
            "filters_query": query.urlencode(),
            "here": request.get_full_path(),
            "csrf_input": csrf_input(request),
            # Translated once for the page's rows, not once per row.
            "labels": {
                "no_due": _("sans échéance"),
                "overdue": _("En retard"),
                "you": _("Vous"),
                "claim": _("Prendre en charge"),
                "unclaim": _("Rendre à la file"),
            },
        },
        active="tasks",
    )


def _claim_or_unclaim(request: HttpRequest, task_id: int, *, claim: bool) -> HttpResponse:
    try:
        user = require_staff(request)
    except NotSignedIn:
        return redirect_to_login(reverse("tasks"))
    try:
        if claim:
            tasks_service.claim(task_id, user=user)
            messages.success(request, _("Tâche prise en charge."))
        else:
            tasks_service.unclaim(task_id, user=user)
            messages.success(request, _("Tâche remise dans la file."))
    except TransitionError as error:
        if error.status == 404:
            raise Http404(error.message) from None
        # Taken by someone else, reserved, no longer open: the inbox again, with why.
        messages.error(request, error.message)
        response = inbox(request)
        response.status_code = error.status
        return response
    return redirect(safe_next(request, reverse("tasks")))


@require_POST
def task_claim(request: HttpRequest, task_id: int) -> HttpResponse:
    return _claim_or_unclaim(request, task_id, claim=True)


@require_POST
def task_unclaim(request: HttpRequest, task_id: int) -> HttpResponse:
    return _claim_or_unclaim(request, task_id, claim=False)


# --- the application page for staff ---------------------------------------------------------


def visible_application(user: Any, application_id: Any) -> Application:
    """The application if ``user`` may see it, else 404 (never leak its existence)."""
    app = (
        policy.visible_applications(user, Application.objects.all())
        .filter(pk=application_id)
        .select_related("call", "organisation", "organisation__region", "session", "created_by")
        .defer(*SESSION_DEFERRED)
        .first()
    )
    if app is None:
        raise Http404(_("Introuvable."))
    return app


def readable_application(user: Any, application_id: Any) -> Application:
    """``visible_application``, and readable: 403 with the policy's reason for a reviewer
    that has not declared the absence of conflict of interest."""
    app = visible_application(user, application_id)
    reason = policy.read_refusal(user, app)
    if reason:
        raise PermissionDenied(reason)
    return app


def _reviewer_choices(app: Application, candidates: evaluation.Candidates | None = None) -> list[tuple[str, str]]:
    """The reviewers that may be assigned, each labelled with its load and known conflicts
    (grants.evaluation.reviewer_candidates)."""
    candidates = candidates or evaluation.reviewer_candidates(app)
    choices = []
    for c in candidates.reviewers:
        label = f"{c.name} ({c.username}) — " + _("évaluations en cours : %(n)s") % {"n": c.open_reviews}
        if c.conflicts:
            label += " — " + _("conflit : %(list)s") % {"list": ", ".join(c.conflict_labels)}
        choices.append((c.username, label))
    return choices


def _candidate_rows(candidates: evaluation.Candidates) -> SafeString:
    """The rows of the reviewers' table beside the assignment form (a reviewer of every
    call per row: the template's loop was a third of a submitted application's page), as
    the template wrote them: every text escaped, the numbers localized, the next due date
    as ``|date:"SHORT_DATE_FORMAT"`` in the current time zone."""
    e = html.escape
    short = formats.get_format("SHORT_DATE_FORMAT")  # a date's format: the day is enough
    days: dict[dt.date, str] = {}
    labels = {code: e(str(label)) for code, label in evaluation.CONFLICT_LABELS.items()}  # once a page
    none = e(_("aucun"))
    out = []
    for c in candidates.reviewers:
        due = "—"
        if c.next_due_at:
            day = timezone.localtime(c.next_due_at).date()
            due = days.get(day) or days.setdefault(day, e(dateformat.format(day, short)))
        overdue = (
            f'<span class="fr-badge fr-badge--error fr-badge--sm">{localize(c.overdue)}</span>' if c.overdue else "0"
        )
        if c.conflicts:
            conflicts = " ".join(
                f'<span class="fr-badge fr-badge--warning fr-badge--sm">{labels[code]}</span>' for code in c.conflicts
            )
        else:
            conflicts = none
        out.append(
            f'\n                  <tr id="candidate-{e(c.username)}">'
            f'\n                    <th scope="row">{e(c.name)} <span class="fr-hint-text">{e(c.username)}</span></th>'
            f"\n                    <td>{localize(c.open_reviews)}</td>"
            f"\n                    <td>{due}</td>"
            f"\n                    <td>{overdue}</td>"
            f"\n                    <td>{conflicts}</td>"
            "\n                  </tr>\n                "
        )
    return mark_safe("".join(out))  # noqa: S308 - every text above escaped


def _history_rows(entries: list[Any]) -> SafeString:
    """The history table's rows (policy.history's entries, a long history's rows were a
    tenth of the page), as the template wrote them: every text escaped, the time as
    ``|date:"d/m/Y H:i"`` in the current time zone."""
    e = conditional_escape
    system = e(_("Système"))
    out = []
    for entry in entries:
        at = timezone.localtime(entry.at)  # what the template's |date did
        states = (
            f'<br><span class="staff-muted fr-text--sm">{e(entry.source_label)} → {e(entry.target_label)}</span>'
            if entry.is_application and entry.source and entry.target
            else ""
        )
        out.append(
            "\n            <tr>"
            f'\n              <td class="staff-nowrap">{at.day:02d}/{at.month:02d}/{at.year:04d} {at.hour:02d}:{at.minute:02d}</td>'
            f"\n              <td>{e(entry.label)}{states}</td>"
            f"\n              <td>{e(entry.by) if entry.by else system}"
            f'<br><span class="staff-muted fr-text--sm">{e(entry.role_label)}</span></td>'
            f'\n              <td class="staff-pre" lang="fr">{e(entry.comment or "")}</td>'
            "\n            </tr>\n            "
        )
    return mark_safe("".join(out))  # noqa: S308 - every text above escaped


def _score_rows(scores: Any, reviews: list[Any]) -> list[tuple[Any, SafeString]]:
    """Each criterion of the score table with its reviews' cells (``4/5``, empty when a
    review has no score for it), as the template's loop over every review's scores for
    every criterion wrote them."""
    rows = []
    for criterion in scores.criteria:
        cells = []
        for review in reviews:
            given = review.scores if isinstance(review.scores, dict) else {}
            cell = f"{conditional_escape(localize(given[criterion.code]))}/5" if criterion.code in given else ""
            cells.append(f"<td>{cell}</td>")
        rows.append((criterion, mark_safe("".join(cells))))  # noqa: S308 - the scores escaped
    return rows


def _sessions(app: Application) -> list[CommitteeSession]:
    return list(
        CommitteeSession.objects.filter(call=app.call)
        .exclude(state=CommitteeSession.State.CLOSED)
        .select_related("call")
        .order_by("date", "pk")
    )


def _action_form(
    spec: engine.Spec, app: Application, data: Any = None, candidates: evaluation.Candidates | None = None
) -> StaffForm:
    initial = None
    if spec is services.APPROVE and data is None:
        initial = {"amount": decimal_fr(app.requested_amount)}
    sessions = _sessions(app) if any(f.kind == "session" for f in spec.fields) else None
    reviewers = _reviewer_choices(app, candidates) if any(f.kind == "reviewer" for f in spec.fields) else None
    # The partner government's part is asked on a joint fund only (grants.variants).
    exclude = frozenset() if variant_for(app.call).partner_validation else frozenset({"partner_amount"})
    return action_form(spec, data, initial=initial, sessions=sessions, reviewers=reviewers, exclude=exclude)


def _members(app: Application) -> list[Any]:
    members = list(app.members.select_related("region").prefetch_related("resolutions"))
    for member in members:
        decorate(member, resolution=next(iter(member.resolutions.all()), None))
    return members


def _dossier(app: Application) -> None:
    """The application's companions (countries, partners, budget lines, attachments,
    co-applicants) and its call's questions, fetched once: one statement on PostgreSQL
    (grants.machines.dossier, the submission's read), each partner and budget line given
    its country from the countries read with them (one query more only for a country
    outside them); a prefetch per companion elsewhere."""
    if connection.vendor != "postgresql":
        prefetch_related_objects(
            [app],
            Prefetch("countries", queryset=Country.objects.order_by("name_fr", "iso2")),
            Prefetch("budget_lines", queryset=BudgetLine.objects.select_related("country")),
            Prefetch("partners", queryset=ApplicationPartner.objects.select_related("country")),
        )
    dossier.prefetch(app)
    if connection.vendor != "postgresql":
        return
    known = {country.pk: country for country in (*app.countries.all(), *app.call.eligible_countries.all())}
    rows: list[Any] = [*app.partners.all(), *app.budget_lines.all()]
    missing = {row.country_id for row in rows if row.country_id is not None and row.country_id not in known}
    if missing:
        known.update((country.pk, country) for country in Country.objects.filter(pk__in=missing))
    for row in rows:
        if row.country_id is not None:
            type(row).country.field.set_cached_value(row, known[row.country_id])


def application_context(
    request: HttpRequest,
    app: Application,
    *,
    bound: dict[str, StaffForm] | None = None,
    unmet: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    user = request.user
    bound = bound or {}
    unmet = unmet or {}
    # Read once for the page, the budget's figures and rules, the call's questions and the
    # reviewers' conflicts alike (each read them again).
    _dossier(app)
    countries = list(app.countries.all())
    partners = list(app.partners.all())
    lines = list(app.budget_lines.all())
    figures = budget.figures(app, countries=countries)
    rules = budget.evaluate(app)
    attachments = list(app.attachments.all())
    opinions = list(
        policy.visible_opinion_requests(user)
        .filter(application=app)
        .select_related("country", "region", "given_by")
        .order_by("requested_at", "pk")
    )
    now = timezone.now()
    for opinion in opinions:
        # The page's application, already loaded: each action check reads its call and
        # state (one query per opinion and per review otherwise).
        opinion.application = app
        decorate(
            opinion,
            overdue=opinion.state == OpinionRequest.State.REQUESTED and opinion.due_at < now,
            badge=VERDICT_BADGES.get(opinion.verdict, ""),
            can_give=engine.available(services.GIVE_OPINION, opinion, user),
        )
    reviews = list(
        policy.visible_reviews(user).filter(application=app).select_related("reviewer").order_by("assigned_at", "pk")
    )
    criteria = app.call.scoring_criteria
    for review in reviews:
        review.application = app
        decorate(review, can_submit=engine.available(services.REVIEW_SUBMIT, review, user))
    scores = score_summary(criteria, reviews)

    # The engine decides which actions are offered and why one is not possible yet.
    actions = []
    offered_specs = list(services.APPLICATION_TRANSITIONS.values())
    if variant_for(app.call).partner_validation:
        # A joint fund: asking (or asking again) the partner government to validate.
        offered_specs.append(services.REQUEST_PARTNER_VALIDATION)
    for spec in offered_specs:
        if not engine.offered(spec, app, user):
            continue
        _role, reasons = engine.check(spec, app, user)
        actions.append(
            {
                "name": spec.name,
                "label": spec.label,
                "unmet": unmet.get(spec.name) or reasons,
                "form": bound.get(spec.name) or _action_form(spec, app),
                "open": spec.name in bound or spec.name in unmet,
                "confirm": spec.confirm,
                "confirm_errors": getattr(bound.get(spec.name), "confirm_errors", []),
                "danger": spec in (services.DECLARE_INELIGIBLE, services.REJECT),
            }
        )
    assign_form = None
    candidates = None
    if engine.offered(services.ASSIGN_REVIEWER, app, user):
        # Load, conflicts and the call's minimum of reviews beside the form (grants.evaluation).
        candidates = evaluation.reviewer_candidates(app)
        assign_form = bound.get(services.ASSIGN_REVIEWER.name) or _action_form(
            services.ASSIGN_REVIEWER, app, candidates=candidates
        )

    # The application's decision, and whether the reader may see it, in one read: the page
    # shows it when visible; the post-award section reads it (or its absence) from the
    # application's reverse accessor, visible or not, as it always did.
    row = (
        Decision.objects.filter(application=app)
        .annotate(visible=Exists(policy.visible_decisions(user).filter(pk=OuterRef("pk"))))
        .select_related("document")
        .first()
    )
    Application.decision.related.set_cached_value(app, row)
    if row is not None:
        row.application = app  # the page's application: its engine checks read it
    decision = row if row is not None and row.visible else None
    decision_actions = {}
    if decision is not None:
        decorate(decision, badge=DECISION_BADGES.get(decision.state, ""))
        decision_actions = {
            "sign": engine.available(services.DECISION_SIGN, decision, user),
            "record": engine.available(services.DECISION_RECORD, decision, user),
        }

    history = policy.history(user, app)
    return {
        "consensus_offered": engine.offered(services.RECORD_CONSENSUS, app, user),
        "app": app,
        "state_badge": STATE_BADGES.get(app.state, ""),
        "countries": countries,
        "partners": partners,
        "co_applicants": list(app.co_applicants.all()),
        # A turnkey programme's member authorities, each with its resolution (or None).
        "members": _members(app) if variant_for(app.call).members else None,
        "lines": lines,
        "figures": figures,
        "rules": rules,
        "attachments": attachments,
        "opinions": opinions,
        "show_opinions": policy.is_staff_user(user),
        "reviews": reviews,
        "scores": scores,
        "score_rows": _score_rows(scores, reviews) if reviews else [],
        "history": history,
        "history_rows": _history_rows(history),
        "actions": actions,
        "assign_form": assign_form,
        "candidates": candidates,
        "candidate_rows": _candidate_rows(candidates) if candidates and candidates.reviewers else "",
        "assign_unmet": unmet.get(services.ASSIGN_REVIEWER.name),
        "decision": decision,
        "decision_actions": decision_actions,
        # Issued documents the policy lets this reader download (letters, evaluation summary…).
        "documents": policy.application_documents(user, app, row),
    }


@require_GET
@staff_view()
def application_page(request: HttpRequest, application_id: Any) -> HttpResponse:
    app = readable_application(request.user, application_id)
    return staff_render(request, "grants/staff/application.html", application_context(request, app))


def _fire_from_form(
    request: HttpRequest, app: Application, spec: engine.Spec, done: Callable[[Any], str]
) -> HttpResponse:
    """Fire ``spec`` with the payload typed in its form. Errors come back on the page:
    400 with the field and reason, 409 with the unmet conditions; 403 and 404 raised."""
    user = request.user
    form = _action_form(spec, app, request.POST)
    status = 400
    unmet: dict[str, list[str]] = {}
    if form.is_valid():
        payload = payload_from(form)
        if spec.confirm:  # the page asks the confirmation: its answer goes with the payload
            payload["confirm"] = request.POST.get("confirm", "")
        try:
            result = engine.fire(spec, app.pk, user=user, payload=payload)
        except TransitionError as error:
            raise_for(error)
            status = error.status
            if error.status == 400:
                form.confirm_errors = error.errors.pop("confirm", [])  # type: ignore[attr-defined]
                if error.errors or not form.confirm_errors:
                    apply_errors(form, error)
            else:
                unmet[spec.name] = error.unmet
        else:
            messages.success(request, done(result))
            return redirect("staff-application", application_id=app.pk)
    else:  # the confirmation's error too, with the fields' (every payload error at once)
        refusal = engine.confirmation_refusal(spec, {"confirm": request.POST.get("confirm", "")})
        form.confirm_errors = refusal.get("confirm", [])  # type: ignore[attr-defined]
    app = visible_application(user, app.pk)
    context = application_context(request, app, bound={spec.name: form}, unmet=unmet)
    return staff_render(request, "grants/staff/application.html", context, status=status)


@require_POST
@staff_view()
def application_action(request: HttpRequest, application_id: Any, name: str) -> HttpResponse:
    app = visible_application(request.user, application_id)
    spec = services.APPLICATION_TRANSITIONS.get(name) or services.VARIANT_ACTIONS.get(name)
    if spec is None:
        raise Http404(_("Action inconnue."))
    return _fire_from_form(request, app, spec, lambda _result: _("« %(action)s » : fait.") % {"action": spec.label})


@require_POST
@staff_view(Role.INSTRUCTOR)
def assign_reviewer(request: HttpRequest, application_id: Any) -> HttpResponse:
    app = visible_application(request.user, application_id)
    return _fire_from_form(
        request,
        app,
        services.ASSIGN_REVIEWER,
        lambda review: _("%(name)s est assigné à l'évaluation du dossier.") % {"name": person_name(review.reviewer)},
    )


@require_GET
@staff_view()
def attachment_download(request: HttpRequest, application_id: Any, attachment_id: int) -> FileResponse:
    app = readable_application(request.user, application_id)
    attachment = Attachment.objects.filter(application=app, pk=attachment_id).first()
    if attachment is None:
        raise Http404(_("Introuvable."))
    return attachment_response(attachment)
