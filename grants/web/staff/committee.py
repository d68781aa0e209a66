"""The committee secretariat: sessions, the agenda, scheduling, and recording the
outcomes of a whole agenda at once (all or nothing)."""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from grants import budget, evaluation, policy, search, services
from grants.models import (
    ZERO,
    Application,
    BudgetLine,
    Call,
    CommitteeSession,
    Country,
    Decision,
    OpinionRequest,
    Review,
    Role,
)
from grants.scoring import score_summary
from grants.templatetags.french_format import decimal_fr, euros, percent_fr
from grants.variants import variant_for
from grants.web.rows import url_maker
from grants.web.staff.common import (
    DECISION_BADGES,
    STATE_BADGES,
    VERDICT_BADGES,
    Key,
    apply_errors,
    keyset_page,
    staff_render,
    staff_view,
)
from grants.web.staff.forms import OutcomeRowForm, SessionCreateForm
from workflows import engine
from workflows.engine import Invalid, TransitionError

SESSION_KEYS = (Key("date", "date", descending=True), Key("id", "int", descending=True))
# Candidates are listed by the index application_call_state (call, state, -created_at);
# the uuid tiebreak only orders rows created in the same microsecond.
CANDIDATE_KEYS = (Key("created_at", "datetime", descending=True), Key("id", "str", descending=True))


def _session_or_404(user: Any, session_id: int) -> CommitteeSession:
    session = policy.run_sessions(user).filter(pk=session_id).select_related("call").first()
    if session is None:
        raise Http404(_("Introuvable."))
    return session


# --- sessions -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_view(Role.SECRETARY, Role.ADMIN)
def session_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    calls = list(policy.run_calls(user).exclude(state=Call.State.ARCHIVED).order_by("-opens_at")[:100])
    form = SessionCreateForm(request.POST or None, calls=calls)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                session = services.session_create(
                    call_code=form.cleaned_data.get("call") or "",
                    date=form.cleaned_data["date"],
                    user=user,
                    title=form.cleaned_data.get("title") or "",
                )
            except TransitionError as error:
                status = error.status if error.status != 404 else 400
                apply_errors(form, error)
            else:
                messages.success(request, _("Comité de sélection créé."))
                return redirect("session", session_id=session.pk)
    # Neither the frozen rankings (a JSON of up to 9,000 rows a closed session) nor a
    # GROUP BY over every application of every session: the page's sessions' counts are
    # read afterwards from the index application_session_state.
    qs = policy.run_sessions(user).select_related("call").defer("frozen_ranking")
    page = keyset_page(qs, SESSION_KEYS, request.GET.get("cursor"))
    counts = {
        row["session_id"]: row
        for row in Application.objects.filter(session__in=[session.pk for session in page.rows])
        .values("session_id")
        .annotate(total=Count("*"), pending=Count("state", filter=Q(state=Application.State.IN_COMMITTEE)))
        .order_by()
    }
    for session in page.rows:
        row = counts.get(session.pk, {})
        session.n_applications = row.get("total", 0)
        session.n_pending = row.get("pending", 0)
    return staff_render(
        request,
        "grants/staff/session_list.html",
        {"page": page, "form": form},
        active="sessions",
        status=status,
    )


# --- the agenda -----------------------------------------------------------------------------


class AgendaReview(NamedTuple):
    """A submitted review as the score's calculator reads it (grants.scoring.Scored)."""

    state: str
    scores: dict[str, Any]
    recommendation: str


@dataclass
class AgendaRow:
    """One application of the agenda, from its values (``AGENDA_VALUES``): no model
    instance per row."""

    app: dict[str, Any]
    form: OutcomeRowForm | None  # a pending row's, when posted or for a joint fund
    requested_rate: Decimal | None
    cap_rate: Decimal | None
    countries: list[str]
    opinions: list[dict[str, Any]]
    scores: Any
    errors: list[str] = field(default_factory=list)
    joint_fund: bool = False  # the call's variant records the partner government's part
    # The decision's controls built once in Python (grants.web.staff.committee.
    # _outcome_controls); empty: the form is rendered by grants/staff/_outcome_form.html
    # (errors, joint funds).
    controls: str = ""

    @property
    def pk(self) -> Any:
        return self.app["id"]

    @property
    def pending(self) -> bool:
        return self.app["state"] == Application.State.IN_COMMITTEE


#: The columns an agenda row shows (and its decision's, when it has one).
AGENDA_VALUES = (
    "id",
    "reference",
    "title",
    "requested_amount",
    "state",
    "call_id",
    "organisation__name",
    "decision__id",
    "decision__amount",
    "decision__partner_amount",
    "decision__state",
)


def _agenda_queryset(user: Any, session: CommitteeSession) -> QuerySet[Any]:
    """The session's applications the user may see, as the values a row shows; the
    countries, budget lines, opinions and reviews of a page are read by its ids."""
    return policy.visible_applications(user, Application.objects.filter(session=session)).values(*AGENDA_VALUES)


#: Rows of the agenda and of the ranking per page: the ranking is the committee's working
#: document (867 rows at 100,000 applications, 9,000 in a closed session), so both are
#: paged, with the whole agenda's counts and the envelope line's place above them.
AGENDA_SIZE = 50
RANKING_SIZE = 100


@dataclass
class AgendaPage:
    """One page of the agenda by reference, both ways: ``?ordre=n~REF~ID`` (after that
    row) or ``?ordre=p~REF~ID`` (before it)."""

    rows: list[AgendaRow]
    cursor: str
    previous_cursor: str | None
    next_cursor: str | None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None


#: The agenda's keyset (grants.search): by reference, the id breaking ties.
AGENDA_KEYS = (search.SortKey("reference", "str"), search.SortKey("id", "uuid"))


def _agenda_cursor(raw: str | None) -> tuple[bool, list[Any]] | None:
    """``(backwards, [reference, id])`` from ``?ordre=``, None for the first page."""
    if not raw or raw[:2] not in ("n~", "p~"):
        return None
    try:
        reference, pk = raw[2:].rsplit("~", 1)
        return raw[0] == "p", [reference, uuid.UUID(pk)]
    except ValueError:
        return None


def _agenda_key(app: dict[str, Any]) -> str:
    return f"{app['reference'] or ''}~{app['id']}"


def _agenda_page(user: Any, session: CommitteeSession, cursor: str | None, data: Any = None) -> AgendaPage:
    """One page of the session's agenda by reference: the page's rows only are read (the
    shared keyset, grants.search.keyset_slice; the agenda keeps its own ``?ordre=`` links)."""
    position = _agenda_cursor(cursor)
    backwards, values = position if position is not None else (False, None)
    part = search.keyset_slice(_agenda_queryset(user, session), AGENDA_KEYS, values, AGENDA_SIZE, backwards=backwards)
    apps = part.rows
    return AgendaPage(
        rows=_agenda_rows(user, session, apps, data),
        cursor=(cursor or "") if position is not None else "",
        previous_cursor="p~" + _agenda_key(apps[0]) if part.has_previous else None,
        next_cursor="n~" + _agenda_key(apps[-1]) if part.has_next else None,
    )


def _agenda_rows(user: Any, session: CommitteeSession, apps: list[dict[str, Any]], data: Any = None) -> list[AgendaRow]:
    """The page's rows from its values: its applications' countries, budget totals by
    country, the opinions and the submitted reviews the user may read, one query each."""
    ids = [app["id"] for app in apps]
    if not ids:
        return []
    calls = {session.call_id: session.call}
    others = {app["call_id"] for app in apps} - calls.keys()
    if others:  # an agenda holds its session's call's applications; read any other once
        calls.update(Call.objects.in_bulk(others))
    countries: dict[Any, list[Country]] = {}
    name = Country.name_field()
    for app_id, iso2, country_name, tier in (
        Application.countries.through.objects.filter(application_id__in=ids)
        .order_by("application_id", "country_id")
        .values_list("application_id", "country_id", f"country__{name}", "country__tier")
    ):
        countries.setdefault(app_id, []).append(Country(iso2=iso2, tier=tier, **{name: country_name}))
    lines: dict[Any, dict[str | None, Decimal]] = {}
    for app_id, country_id, total in (
        BudgetLine.objects.filter(application_id__in=ids)
        .order_by()
        .values_list("application_id", "country_id")
        .annotate(total=Sum("amount"))
        .values_list("application_id", "country_id", "total")
    ):
        lines.setdefault(app_id, {})[country_id] = total
    opinions: dict[Any, list[Any]] = {}
    for opinion in (
        policy.visible_opinion_requests(user)
        .filter(application_id__in=ids)
        .order_by("pk")
        .values("application_id", "country_id", "region__short", "verdict", "state")
    ):
        opinions.setdefault(opinion["application_id"], []).append(opinion)
    reviews: dict[Any, list[AgendaReview]] = {}
    for app_id, state, scores, recommendation in (
        policy.visible_reviews(user)
        .filter(application_id__in=ids, state=Review.State.SUBMITTED)
        .order_by("pk")
        .values_list("application_id", "state", "scores", "recommendation")
    ):
        reviews.setdefault(app_id, []).append(AgendaReview(state, scores, recommendation))
    rows = []
    for app in apps:
        pk = app["id"]
        call = calls[app["call_id"]]
        shown = countries.get(pk, [])
        requested_rate, cap_rate = budget.rates(call, shown, lines.get(pk, {}), app["requested_amount"])
        form = None
        joint_fund = variant_for(call).partner_validation
        # A pending row's form: to validate what was posted, or for the joint fund's
        # partner field (its template); an unbound row's controls are written from values.
        if app["state"] == Application.State.IN_COMMITTEE and (data is not None or joint_fund):
            form = OutcomeRowForm(data, prefix=str(pk), initial={"amount": decimal_fr(app["requested_amount"])})
            form.joint_fund = joint_fund
        rows.append(
            AgendaRow(
                app=app,
                form=form,
                requested_rate=requested_rate,
                cap_rate=cap_rate,
                countries=[country.name for country in shown],
                opinions=opinions.get(pk, []),
                scores=score_summary(call.scoring_criteria, reviews.get(pk, []), per_criterion=False),
                joint_fund=joint_fund,
            )
        )
    return rows


class _RowLabels:
    """The agenda rows' labels, translated once for a page."""

    def __init__(self) -> None:
        self.states = {code: str(label) for code, label in Application.State.choices}
        self.decision_states = {code: str(label) for code, label in Decision.State.choices}
        self.verdicts = {code: str(label) for code, label in OpinionRequest.Verdict.choices}
        self.opinion_states = {code: str(label) for code, label in OpinionRequest.State.choices}
        self.recommendations = {code: str(label) for code, label in Review.Recommendation.choices}
        self.cap = _("plafond")
        self.partner = _("gouvernement partenaire")


def _agenda_rows_html(rows: list[AgendaRow]) -> SafeString:
    """The agenda's rows, rendered here rather than by the template (fifty rows of nested
    loops and filters were a third of the page), as the template wrote them. Every text
    read from the database is escaped (``html.escape``: what ``django.utils.html.escape``
    does); the amounts, rates and scores go through the template's own filters. A form
    the controls do not cover (errors, joint funds) is rendered by its template."""
    e = html.escape
    labels = _RowLabels()
    href = url_maker("staff-application", "uuid")
    counts: dict[int, str] = {}  # the reviews' count's phrase, once per count
    out = []
    for row in rows:
        app = row.app
        pk = str(app["id"])
        countries = ", ".join(e(name) for name in row.countries)
        rate = ""
        if row.requested_rate is not None and row.requested_rate <= 1:
            rate = percent_fr(row.requested_rate)
        if row.cap_rate is not None:
            rate += f" / {e(labels.cap)} {percent_fr(row.cap_rate)}"
        opinions = "".join(
            '<p class="fr-mb-1v">'
            f"{e(str(o['country_id'] if o['country_id'] else o['region__short'] or ''))} : "
            + (
                f'<span class="fr-badge fr-badge--sm {VERDICT_BADGES.get(o["verdict"], "")}">'
                f"{e(labels.verdicts.get(o['verdict'], o['verdict']))}</span>"
                if o["verdict"]
                else e(labels.opinion_states.get(o["state"], o["state"]))
            )
            + "</p>"
            for o in row.opinions
        )
        scores = row.scores
        if scores.average is not None:
            # The count's phrase is {% blocktranslate count %}'s: the page's own text.
            count = counts.get(scores.count)
            if count is None:
                n = scores.count
                count = counts[n] = ngettext("%(n)s évaluation", "%(n)s évaluations", n) % {"n": n}
            score = (
                f'<strong>{decimal_fr(scores.average, 1)}/5</strong> <span class="staff-muted">({count})</span>'
                f"<br>{e(scores.recommendations_text(labels.recommendations))}"
            )
        else:
            score = "—"
        if row.pending:
            controls = row.controls or _outcome_form(row)
            errors = ""
            if row.errors:
                errors = (
                    '<div class="fr-messages-group" role="alert">'
                    + "".join(f'<p class="fr-message fr-message--error">{e(str(m))}</p>' for m in row.errors)
                    + "</div>"
                )
            cell = f"\n                {controls}\n                {errors}\n              "
        else:
            state = app["state"]
            decision = ""
            if app["decision__id"] is not None:
                partner = app["decision__partner_amount"]
                joint = f" + {euros(partner)} ({e(labels.partner)})" if row.joint_fund and partner else ""
                decided = app["decision__state"]
                decision = (
                    f"<br>{euros(app['decision__amount'])}{joint} — "
                    f'<span class="fr-badge fr-badge--sm {DECISION_BADGES.get(decided, "")}">'
                    f"{e(labels.decision_states.get(decided, decided))}</span>"
                )
            cell = (
                f'\n                <span class="fr-badge fr-badge--sm {STATE_BADGES.get(state, "")}">'
                f"{e(labels.states.get(state, state))}</span>\n                {decision}\n              "
            )
        out.append(
            f'\n          <tr id="row-{pk}"{_OVERDUE if row.errors else ""}>\n'
            f'            <td class="staff-title"><a class="fr-link" href="{e(href(app["id"]))}">'
            f"<strong>{e(str(app['reference']))}</strong></a><br>{e(str(app['title']))}<br>"
            f'<span class="staff-muted">{e(str(app["organisation__name"]))} — {countries}</span></td>\n'
            f'            <td class="staff-amount">{euros(app["requested_amount"])}<br>'
            f'<span class="staff-muted">{rate}</span></td>\n'
            f"            <td>{opinions or '—'}</td>\n"
            f"            <td>{score}</td>\n"
            f'            <td class="staff-decision-cell">\n              {cell}\n            </td>\n'
            "          </tr>\n        "
        )
    # Every interpolated text was escaped just above (the rest is this function's markup).
    return mark_safe("".join(out))  # noqa: S308


_OVERDUE = ' class="staff-overdue"'


def _outcome_form(row: AgendaRow) -> str:
    """A row's form with its errors or its joint fund's partner field, by its template."""
    html_ = render_to_string("grants/staff/_outcome_form.html", {"row": row}).removesuffix("\n")
    return "\n                " + html_  # the template's indentation, as the page wrote it


def _control_labels() -> dict[str, Any]:
    """The decision controls' labels in the active language, once for a page (escaped)."""
    fields = OutcomeRowForm.base_fields
    e = html.escape
    return {
        "outcome": e(str(fields["outcome"].label)),
        "amount": e(str(fields["amount"].label)),
        "text": e(str(fields["text"].label)),
        "choices": [(e(str(value)), value, e(str(label))) for value, label in OutcomeRowForm.OUTCOMES],
        "options": {},  # the <option>s by the value selected, written once per page
    }


def _outcome_controls(form: OutcomeRowForm, labels: dict[str, Any]) -> str:
    """The outcome select, the amount and the text of one agenda row, as the template
    renders them, without a widget template per field (a millisecond a row). Only for a
    form without errors and without the joint fund's partner field; every value escaped."""
    # The outcome as the template compared it (None selects nothing); the amount and the
    # text as their widgets write them (``format_value``: None or "" is no value).
    prefix = str(form.prefix)
    return _controls_html(prefix, form["outcome"].value(), form["amount"].value(), form["text"].value(), labels)


def _controls_html(prefix: str, chosen: Any, amount: Any, text: Any, labels: dict[str, Any]) -> str:
    """``_outcome_controls`` from the values (an unbound row's are its initial ones: no
    form is built for it). Django's names (``PREFIX-field``) and ids (``id_PREFIX-field``)."""
    e = html.escape
    options = labels["options"].get(chosen)
    if options is None:
        options = labels["options"][chosen] = "".join(
            f'<option value="{escaped}"{" selected" if value == chosen else ""}>{label}</option>'
            for escaped, value, label in labels["choices"]
        )
    name = e(prefix)
    amount_value = f' value="{e(str(amount))}"' if amount not in (None, "") else ""
    return (
        '<div class="fr-select-group fr-mb-1w">\n'
        f'<label class="fr-label" for="id_{name}-outcome">{labels["outcome"]}</label>\n'
        f'<select class="fr-select" id="id_{name}-outcome" name="{name}-outcome">{options}</select>\n'
        "</div>\n"
        '<div class="fr-input-group fr-mb-1w">\n'
        f'<label class="fr-label" for="id_{name}-amount">{labels["amount"]}</label>\n'
        f'<input type="text" name="{name}-amount"{amount_value} inputmode="decimal" autocomplete="off" '
        f'class="fr-input" id="id_{name}-amount">\n'
        "</div>\n"
        '<div class="fr-input-group fr-mb-1w">\n'
        f'<label class="fr-label" for="id_{name}-text">{labels["text"]}</label>\n'
        f'<textarea name="{name}-text" cols="40" rows="2" class="fr-input" id="id_{name}-text">\n'
        f"{e(str(text)) if text else ''}</textarea>\n"
        "</div>"
    )


def _agenda_counts(user: Any, session: CommitteeSession) -> dict[str, int]:
    """The whole agenda's counts in one aggregate (the page shows one page of it)."""
    return policy.visible_applications(user, Application.objects.filter(session=session)).aggregate(
        total=Count("pk"), pending=Count("pk", filter=Q(state=Application.State.IN_COMMITTEE))
    )


@dataclass(frozen=True)
class Envelope:
    envelope: Decimal
    committed: Decimal
    entered: Decimal
    invalid: int

    @property
    def remaining(self) -> Decimal:
        return self.envelope - self.committed

    @property
    def remaining_after(self) -> Decimal:
        return self.envelope - self.committed - self.entered

    @property
    def exceeded(self) -> bool:
        return self.remaining_after < 0

    @property
    def used_percent(self) -> int:
        if self.envelope <= 0:
            return 100
        return min(100, int((self.committed + self.entered) * 100 / self.envelope))


def _envelope(user: Any, session: CommitteeSession, data: Any = None) -> Envelope:
    """Committed on the call plus what is being typed for the rows marked "approve" (any
    pending row of the agenda the user may see). The amounts are parsed by the same
    function the approval uses."""
    entered = ZERO
    invalid = 0
    if data is not None:
        pending = policy.visible_applications(
            user, Application.objects.filter(session=session, state=Application.State.IN_COMMITTEE)
        ).values_list("pk", flat=True)
        for pk in pending:
            prefix = str(pk)
            if data.get(f"{prefix}-outcome") != "approve":
                continue
            try:
                entered += services.parse_amount(data.get(f"{prefix}-amount", ""), "amount")
            except Invalid:
                invalid += 1
    call = session.call
    return Envelope(envelope=call.envelope, committed=budget.committed_amount(call), entered=entered, invalid=invalid)


#: The columns a candidate row shows (and its keyset's).
CANDIDATE_VALUES = ("id", "reference", "title", "requested_amount", "organisation__name", "created_at")


def _candidates(request: HttpRequest, session: CommitteeSession) -> Any:
    qs = policy.visible_applications(
        request.user,
        Application.objects.filter(call=session.call, state=Application.State.UNDER_REVIEW),
    ).values(*CANDIDATE_VALUES)
    page = keyset_page(qs, CANDIDATE_KEYS, request.GET.get("cursor"))
    # The submitted reviews of the page's rows only (a COUNT joined to the query counted
    # every review of the call's applications under review before the page was cut).
    counts = dict(
        Review.objects.filter(application__in=[app["id"] for app in page.rows], state=Review.State.SUBMITTED)
        .values_list("application_id")
        .annotate(n=Count("*"))
        .values_list("application_id", "n")
    )
    for app in page.rows:
        app["n_reviews"] = counts.get(app["id"], 0)
    return page


def _candidate_rows_html(rows: list[dict[str, Any]], min_reviews: int) -> SafeString:
    """The candidates' rows, rendered here rather than by the template, as it wrote them;
    every text read from the database is escaped."""
    e = html.escape
    href = url_maker("staff-application", "uuid")
    short = f' <span class="fr-badge fr-badge--sm fr-badge--warning">{_("insuffisant")}</span>'
    out = []
    for app in rows:
        pk = e(str(app["id"]))
        n = app["n_reviews"]
        out.append(
            "\n            <tr>\n"
            '              <td><div class="fr-checkbox-group fr-checkbox-group--sm">'
            f'<input type="checkbox" id="schedule-{pk}" name="application" value="{pk}">'
            f'<label class="fr-label staff-nowrap" for="schedule-{pk}">{e(str(app["reference"]))}</label></div></td>\n'
            f'              <td class="staff-title"><a class="fr-link" href="{e(href(app["id"]))}">{e(str(app["title"]))}</a>'
            f'<br><span class="staff-muted">{e(str(app["organisation__name"]))}</span></td>\n'
            f'              <td class="staff-amount">{euros(app["requested_amount"])}</td>\n'
            f"              <td>{n} / {min_reviews}{short if n < min_reviews else ''}</td>\n"
            "            </tr>\n          "
        )
    # Every interpolated text was escaped just above (the rest is this function's markup).
    return mark_safe("".join(out))  # noqa: S308


def _agenda_response(
    request: HttpRequest,
    session: CommitteeSession,
    *,
    data: Any = None,
    row_errors: dict[str, list[str]] | None = None,
    schedule_report: list[dict[str, Any]] | None = None,
    confirm_errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    agenda = _agenda_page(user, session, request.GET.get("ordre"), data)
    rows = agenda.rows
    labels: dict[str, Any] = {}
    for row in rows:
        row.errors = (row_errors or {}).get(str(row.pk), [])
        if row.form is not None and data is not None:
            row.form.is_valid()
        if row.form is not None and not row.joint_fund and not (row.form.is_bound and row.form.errors):
            labels = labels or _control_labels()
            row.controls = _outcome_controls(row.form, labels)
        elif row.form is None and row.pending:  # unbound: the form's initial values
            labels = labels or _control_labels()
            row.controls = _controls_html(str(row.pk), None, decimal_fr(row.app["requested_amount"]), None, labels)
    candidates = _candidates(request, session)
    context = {
        "session": session,
        "rows": rows,
        "agenda_rows": _agenda_rows_html(rows),
        "agenda": agenda,
        "agenda_counts": _agenda_counts(user, session),
        "pending": [r for r in rows if r.pending],
        "envelope": _envelope(user, session, data),
        "candidates": candidates,
        "candidate_rows": _candidate_rows_html(candidates.rows, session.call.min_reviews),
        "min_reviews": session.call.min_reviews,
        "schedule_report": schedule_report or [],
        "has_row_errors": bool(row_errors),
        # Outcomes only while the session sits (the engine's guard says so too).
        "can_record": session.state == CommitteeSession.State.OPEN,
        "confirm_errors": confirm_errors or [],
        "session_actions": [
            {"name": name, "label": spec.label, "confirm": spec.confirm}
            for name, spec in services.SESSION_TRANSITIONS.items()
            if engine.offered(spec, session, request.user)
        ],
        "booklet": _latest_booklet(session),
        **_ranking(request, session),
    }
    return staff_render(request, "grants/staff/session.html", context, active="sessions", status=status)


def _ranking(request: HttpRequest, session: CommitteeSession) -> dict[str, Any]:
    """The agenda best first (grants.budget.ranking, over the applications the user may
    see, read as few columns) and where the envelope line falls; one page of
    ``RANKING_SIZE`` rows from ``?rang=`` (the rank it starts at) is shown."""
    visible = policy.visible_applications(request.user, Application.objects.filter(session=session))
    try:
        start = int(request.GET.get("rang") or 1)
    except ValueError:
        start = 1
    start = max(start, 1)
    start -= (start - 1) % RANKING_SIZE  # a page's first rank: 1, 101, 201…
    if session.frozen_ranking is None:
        # The whole agenda is ranked from four values per application; only the page's
        # rows are converted, and only their titles read.
        agenda = evaluation.agenda_entries(
            visible.exclude(reference__isnull=True).order_by("reference_number", "reference"), labels=False
        )

        def page(first: int) -> tuple[evaluation.SessionRanking, list[bool]]:
            return evaluation.live_ranking_page(session, agenda, first, RANKING_SIZE)

    else:
        # Closed: the ranking frozen at the close (the minutes), never recomputed; only
        # the page's rows of its up to 9,000 are converted.
        def page(first: int) -> tuple[evaluation.SessionRanking, list[bool]]:
            return evaluation.frozen_ranking_page(session, visible, first, RANKING_SIZE)

    ranked, within = page(start - 1)
    total = len(within)
    line_at = next((index for index, inside in enumerate(within) if not inside), None)
    if start > max(total, 1):  # beyond the end: the last page
        start = max(total - 1, 0) // RANKING_SIZE * RANKING_SIZE + 1
        ranked, within = page(start - 1)
    shown = range(start - 1, min(start - 1 + RANKING_SIZE, total))
    titles = {}
    if not ranked.frozen:
        ids = [ranked.rows[index].application for index in shown]
        titles = {str(pk): title for pk, title in Application.objects.filter(pk__in=ids).values_list("pk", "title")}
    href = url_maker("staff-application", "uuid")
    lines = []
    for index in shown:
        row = ranked.rows[index]
        lines.append(
            {
                "rank": index + 1,
                "href": href(row.application),
                "line_before": not within[index] and (index == 0 or within[index - 1]),
                **row._asdict(),
                **({"title": titles.get(row.application, "")} if titles else {}),
            }
        )
    end = start + len(lines) - 1
    return {
        "ranking": lines,
        "ranking_rows": _ranking_rows_html(lines),
        "ranking_available": ranked.available,
        "ranking_frozen_at": ranked.frozen_at,
        "ranking_page": {
            "first": start,
            "last": end,
            "total": total,
            "previous": start - RANKING_SIZE if start > 1 else None,
            "next": end + 1 if end < total else None,
            # The page the envelope line falls on (rank of the first row outside it).
            "line_rank": line_at + 1 if line_at is not None else None,
            "line_page": line_at + 1 - line_at % RANKING_SIZE if line_at is not None else None,
        },
    }


def _ranking_rows_html(lines: list[dict[str, Any]]) -> SafeString:
    """The ranking's page of rows, rendered here rather than by the template, as it wrote
    them; every text read from the database (or the frozen ranking) is escaped."""
    e = html.escape
    limit = _("Limite de l'enveloppe")  # the page's own text, as {% translate %} writes it
    line = f'<tr class="staff-envelope-line" id="envelope-line"><td colspan="5"><strong>{limit}</strong></td></tr>'
    out = []
    for row in lines:
        score = row["weighted_score"]
        out.append(
            f"{line if row['line_before'] else ''}\n"
            f'        <tr id="rank-{e(row["application"])}"{"" if row["within_envelope"] else _MUTED}>\n'
            f"          <td>{row['rank']}</td>\n"
            f'          <td><a class="fr-link" href="{e(row["href"])}">{e(row["reference"])}</a> — {e(row["title"])}</td>\n'
            f"          <td>{'—' if score is None else decimal_fr(score, 1) + '/5'}</td>\n"
            f"          <td>{euros(row['requested'])}</td>\n"
            f"          <td>{euros(row['cumulative_requested'])}</td>\n"
            "        </tr>\n      "
        )
    # Every interpolated text was escaped just above (the rest is this function's markup).
    return mark_safe("".join(out))  # noqa: S308


_MUTED = ' class="staff-muted"'


def _latest_booklet(session: CommitteeSession) -> Any:
    from grants.documents import issuing

    return issuing.latest_booklet(session)


@staff_view(Role.SECRETARY, Role.ADMIN)
def session_page(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session_or_404(request.user, session_id)
    return _agenda_response(request, session)


@require_POST
@staff_view(Role.SECRETARY)
def session_envelope(request: HttpRequest, session_id: int) -> HttpResponse:
    """htmx: the envelope panel recomputed on the server from the amounts being typed."""
    session = _session_or_404(request.user, session_id)
    context = {"session": session, "envelope": _envelope(request.user, session, request.POST), "oob": True}
    return staff_render(request, "grants/staff/_envelope.html", context)


@require_POST
@staff_view(Role.SECRETARY)
def session_outcomes(request: HttpRequest, session_id: int) -> HttpResponse:
    """Record the outcomes of the whole agenda in ONE transaction: when one row fails
    (envelope exceeded, amount above the request, reasons missing…), nothing is
    recorded and every row's errors are shown."""
    user = request.user
    session = _session_or_404(user, session_id)
    pending = list(
        policy.visible_applications(
            user, Application.objects.filter(session=session, state=Application.State.IN_COMMITTEE)
        ).order_by("reference")
    )
    row_errors: dict[str, list[str]] = {}
    statuses: set[int] = set()
    recorded = 0
    with transaction.atomic():
        for app in pending:
            form = OutcomeRowForm(request.POST, prefix=str(app.pk))
            form.joint_fund = variant_for(app.call).partner_validation
            if not form.is_valid():
                row_errors[str(app.pk)] = [str(m) for messages_ in form.errors.values() for m in messages_]
                statuses.add(400)
                continue
            chosen = form.payload()
            if chosen is None:
                continue
            name, payload = chosen
            try:
                # Each transition runs in its own savepoint; the outer block decides.
                services.application_transition(application_id=app.pk, name=name, user=user, payload=payload)
            except TransitionError as error:
                statuses.add(error.status)
                reasons = [m for messages_ in error.errors.values() for m in messages_] if error.errors else []
                row_errors[str(app.pk)] = reasons or error.unmet or [error.message]
            else:
                recorded += 1
        if row_errors:
            transaction.set_rollback(True)
    if row_errors:
        messages.error(
            request,
            _(
                "Aucune décision n'a été enregistrée : corrigez les lignes signalées puis validez de nouveau l'ordre du jour."
            ),
        )
        status = 400 if 400 in statuses else max(statuses)
        return _agenda_response(request, session, data=request.POST, row_errors=row_errors, status=status)
    if not recorded:
        messages.warning(request, _("Aucune décision saisie."))
        return _agenda_response(request, session, data=request.POST, status=400)
    messages.success(
        request, ngettext("%(n)s décision enregistrée.", "%(n)s décisions enregistrées.", recorded) % {"n": recorded}
    )
    return redirect("session", session_id=session.pk)


@require_POST
@staff_view(Role.SECRETARY)
def session_schedule(request: HttpRequest, session_id: int) -> HttpResponse:
    """Schedule the ticked applications into this session, each in its own transaction
    (one refused application does not hold back the others); a report per application."""
    user = request.user
    session = _session_or_404(user, session_id)
    ids = request.POST.getlist("application")[:200]
    report = []
    for raw in ids:
        try:
            app = services.application_transition(
                application_id=raw, name="schedule", user=user, payload={"session": session.pk}
            )
        except TransitionError as error:
            label = (
                policy.visible_applications(user).filter(pk=raw).values_list("reference", flat=True).first()
                if _is_uuid(raw)
                else None
            )
            report.append(
                {"ok": False, "label": label or _("Dossier introuvable"), "reasons": error.unmet or [error.message]}
            )
        else:
            report.append({"ok": True, "label": app.reference, "reasons": []})
    if not ids:
        messages.warning(request, _("Cochez au moins un dossier à inscrire."))
        return _agenda_response(request, session, status=400)
    done = sum(1 for r in report if r["ok"])
    if done == len(report):
        messages.success(
            request,
            ngettext("%(n)s dossier inscrit à l'ordre du jour.", "%(n)s dossiers inscrits à l'ordre du jour.", done)
            % {"n": done},
        )
        return redirect("session", session_id=session.pk)
    return _agenda_response(request, session, schedule_report=report, status=200 if done else 409)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@require_POST
@staff_view(Role.SECRETARY)
def session_transition(request: HttpRequest, session_id: int, name: str) -> HttpResponse:
    user = request.user
    session = _session_or_404(user, session_id)
    spec = services.SESSION_TRANSITIONS.get(name)
    # The page asks the closing's confirmation: its answer goes with the transition.
    confirm = request.POST.get("confirm", "") if spec is not None and spec.confirm else None
    try:
        services.session_transition(session_id=session.pk, name=name, user=user, confirm=confirm)
    except TransitionError as error:
        if error.status == 404:
            raise Http404(error.message) from None
        if error.status == 400:
            errors = error.errors.get("confirm", [])
            return _agenda_response(request, session, confirm_errors=errors or [error.message], status=400)
        messages.error(request, " ".join([error.message, *[r for r in error.unmet if r != error.message]]))
        return _agenda_response(request, _session_or_404(user, session_id), status=error.status)
    labels = {"open": _("La séance est ouverte."), "close": _("La séance est close.")}
    messages.success(request, labels[name])
    return redirect("session", session_id=session.pk)


# --- committee booklet ------------------------------------------------------------------------


@require_POST
@staff_view(Role.SECRETARY)
def session_booklet_build(request: HttpRequest, session_id: int) -> HttpResponse:
    """Ask the pdf workers for a new booklet of the agenda (never rendered in the request)."""
    from grants import tasks as grant_tasks

    session = _session_or_404(request.user, session_id)
    transaction.on_commit(lambda: grant_tasks.enqueue_committee_booklet(session.pk))
    messages.success(request, _("Le dossier de séance est en préparation : il apparaîtra ici dans quelques instants."))
    return redirect("session", session_id=session.pk)


@staff_view(Role.SECRETARY, Role.INSTRUCTOR, Role.REVIEWER, Role.ADMIN)
def session_booklet(request: HttpRequest, session_id: int) -> FileResponse:
    from grants.documents import issuing

    session = policy.booklet_sessions(request.user).filter(pk=session_id).first()
    booklet = issuing.latest_booklet(session) if session is not None else None
    if session is None or booklet is None:
        raise Http404(_("Introuvable."))
    return FileResponse(
        booklet.file.open("rb"),
        content_type="application/pdf",
        as_attachment=True,
        filename=f"dossier-de-seance-{session.pk}-{booklet.issued_at:%Y%m%d-%H%M}.pdf",
    )
