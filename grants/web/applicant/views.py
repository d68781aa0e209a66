"""The applicant portal: home, the sectioned application form, attachments, review and
submission, the application page; plus the shared account pages (see urls_applicant).

Thin views: reads are scoped through ``grants.policy``; every write goes through
``grants.writes.drafts`` or ``grants.services``; every rule comes from ``grants.budget`` /
``grants.services.submission_unmet``. What an applicant may not see answers 404.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Prefetch, QuerySet, Value, prefetch_related_objects
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from grants import budget, policy, search, services
from grants.documents.downloads import attachment_response, safe_stem
from grants.models import (
    SESSION_DEFERRED,
    Application,
    Attachment,
    AttachmentKind,
    Call,
    Decision,
    Document,
    Role,
)
from grants.web.applicant.answers_form import AnswersForm, answers_form
from grants.web.applicant.forms import (
    AttachmentForm,
    BudgetLineFormSet,
    FundingForm,
    PartnerFormSet,
    ProjectForm,
    StartForm,
    WithdrawForm,
    amount_input,
    apply_domain_errors,
    country_choices,
    set_choices,
)
from grants.web.rows import url_maker
from grants.writes import drafts
from workflows import engine
from workflows.engine import Conflict, Forbidden, Invalid, NotFound, TransitionError
from workflows.models import Task, TaskKind

S = Application.State

# --- presentation tables ------------------------------------------------------------------

# DSFR badge class of each state (system colours for the outcomes, illustrative ones else).
STATE_BADGES: dict[str, str] = {
    S.DRAFT: "",
    S.SUBMITTED: "fr-badge--info",
    S.INCOMPLETE: "fr-badge--warning",
    S.INELIGIBLE: "fr-badge--error",
    S.AWAITING_OPINIONS: "fr-badge--purple-glycine",
    S.UNDER_REVIEW: "fr-badge--blue-cumulus",
    S.IN_COMMITTEE: "fr-badge--blue-ecume",
    S.APPROVED: "fr-badge--success",
    S.REJECTED: "fr-badge--pink-tuile",
    S.WITHDRAWN: "fr-badge--beige-gris-galet",
}

DELIVERED = policy.DELIVERED


@dataclass(frozen=True)
class Section:
    slug: str
    title: Promise


SECTIONS = [
    Section("projet", gettext_lazy("Le projet")),
    Section("partenaires", gettext_lazy("Partenaires et pays")),
    Section("budget", gettext_lazy("Budget et financements")),
    Section("pieces", gettext_lazy("Pièces justificatives")),
]
REVIEW_TITLE = gettext_lazy("Vérification et dépôt")
SECTION_SLUGS = [s.slug for s in SECTIONS]


# --- access helpers -------------------------------------------------------------------------


def applicant_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Signed-in applicants only; anyone else is sent to sign in or answered 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not policy.scopes(request.user).has(Role.APPLICANT):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _application(
    request: HttpRequest, pk: Any, qs: QuerySet[Application] | None = None, *, acting: bool = True
) -> Application:
    """The application if the caller may see it, else 404 (the portal never tells whether
    another authority's application exists). ``acting``: a page that changes it, for the
    lead authority only: a co-applicant authority reads it (403 here, as the policy says)."""
    base = qs if qs is not None else Application.objects.select_related("call", "organisation")
    app = policy.visible_applications(request.user, base).filter(pk=pk).first()
    if app is None:
        raise Http404
    if acting and policy.role_for(request.user, (Role.APPLICANT,), app) is None:
        raise PermissionDenied(_("Seule la collectivité cheffe de file agit sur ce dossier ; la vôtre le consulte."))
    return app


def named_error(form: Any, name: str, error: Any) -> str:
    """The summary's line for one error: "Field label : message" (the field is named, as
    the summary is read apart from the form); a form-wide error as it is."""
    if name not in form.fields:
        return str(error)
    return _("%(label)s : %(message)s") % {"label": form[name].label, "message": error}


def form_error_summary(form: Any) -> list[tuple[str, str]]:
    """(input id, message) of a form's errors, for the linked summary above the form."""
    return [
        (form[name].auto_id if name in form.fields else "content", named_error(form, name, error))
        for name, errors in form.errors.items()
        for error in errors
    ]


def _local_date(value: datetime | date | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return timezone.localtime(value).date()
    return value


def _short(value: datetime | date | None) -> str:
    day = _local_date(value)
    return formats.date_format(day, "SHORT_DATE_FORMAT") if day else ""


def _decision(app: Application) -> Decision | None:
    try:
        return app.decision
    except Decision.DoesNotExist:
        return None


def _editable_or_redirect(request: HttpRequest, app: Application) -> HttpResponse | None:
    if app.is_editable:
        return None
    messages.warning(
        request,
        _("Le dossier ne peut plus être modifié dans l'état « %(state)s ».") % {"state": app.get_state_display()},
    )
    return redirect("applicant-application", pk=app.pk)


# --- "what happens next" ------------------------------------------------------------------


@dataclass(frozen=True)
class NextStep:
    text: str
    detail: str = ""
    overdue: bool = False


def next_step(app: Application, open_tasks: list[Task], now: datetime | None = None) -> NextStep:
    """The applicant-facing next step of an application and its date, from data already
    loaded (the call, the session, the decision and the open tasks): no query."""
    now = now or timezone.now()
    state = app.state

    def due(kind: str) -> datetime | None:
        dates = [t.due_at for t in open_tasks if t.kind == kind and t.due_at is not None]
        return max(dates) if dates else None

    if state == S.DRAFT:
        call = app.call
        if call.is_accepting(now):
            return NextStep(
                _("À déposer avant le %(date)s") % {"date": _short(call.closes_at)},
                _(
                    "Complétez chaque section puis déposez le dossier avant la clôture de l'appel, le %(date)s à %(time)s."
                )
                % {"date": _short(call.closes_at), "time": timezone.localtime(call.closes_at).strftime("%H:%M")},
            )
        return NextStep(
            _("Appel clos : dépôt impossible"),
            _("L'appel à projets n'accepte plus de dépôt ; ce brouillon ne peut plus être déposé."),
        )
    if state == S.INCOMPLETE:
        when = app.completion_due or _local_date(due(TaskKind.COMPLETE_APPLICATION))
        overdue = bool(when and when < timezone.localdate())
        if when:
            return NextStep(
                _("Compléter avant le %(date)s") % {"date": _short(when)},
                _("Le service instructeur attend vos compléments avant le %(date)s.") % {"date": _short(when)},
                overdue,
            )
        return NextStep(_("Compléter le dossier"), _("Le service instructeur attend vos compléments."))
    if state == S.SUBMITTED:
        when = due(TaskKind.CHECK_ELIGIBILITY)
        text = _("Recevabilité en cours d'examen")
        if when:
            return NextStep(
                text,
                _("Le service instructeur vérifie la recevabilité de votre dossier ; réponse prévue d'ici le %(date)s.")
                % {"date": _short(when)},
            )
        return NextStep(text, _("Le service instructeur vérifie la recevabilité de votre dossier."))
    if state == S.AWAITING_OPINIONS:
        when = due(TaskKind.GIVE_OPINION)
        text = _("Avis en cours")
        if when:
            return NextStep(
                text,
                _(
                    "Les services de l'État consultés rendent leur avis d'ici le %(date)s ; le dossier passera ensuite en évaluation."
                )
                % {"date": _short(when)},
            )
        return NextStep(text, _("Les services de l'État consultés rendent leur avis."))
    if state == S.UNDER_REVIEW:
        return NextStep(
            _("Évaluation en cours"),
            _("Le dossier est évalué avant d'être inscrit à un comité de sélection."),
        )
    if state == S.IN_COMMITTEE:
        session = app.session
        if session is not None:
            return NextStep(
                _("Comité de sélection du %(date)s") % {"date": _short(session.date)},
                _(
                    "Le comité de sélection examinera votre dossier le %(date)s ; la décision vous sera ensuite notifiée."
                )
                % {"date": _short(session.date)},
            )
        return NextStep(_("Examen en comité"), _("Le comité de sélection examinera votre dossier."))
    if state in (S.APPROVED, S.REJECTED):
        decision = _decision(app)
        if decision is not None and decision.state in POSTAWARD_STATES:
            return postaward_next_step(decision, open_tasks)
        if decision is not None and decision.state in DELIVERED:
            return NextStep(
                _("Décision notifiée le %(date)s") % {"date": _short(decision.delivered_at)},
                _("La lettre de notification est disponible ci-dessous."),
            )
        return NextStep(
            _("Décision en cours de notification"),
            _("La décision est en cours de signature ; la lettre de notification vous sera adressée."),
        )
    if state == S.INELIGIBLE:
        return NextStep(
            _("Dossier irrecevable"), _("Le dossier a été déclaré irrecevable ; le motif figure ci-dessous.")
        )
    if state == S.WITHDRAWN:
        return NextStep(
            _("Dossier retiré le %(date)s") % {"date": _short(app.state_changed_at)},
            _("Vous avez retiré ce dossier ; il ne sera pas examiné."),
        )
    return NextStep("")  # pragma: no cover - every state is handled above


POSTAWARD_STATES = (Decision.State.RECORDED, Decision.State.CLOSED, Decision.State.RENOUNCED)


def postaward_next_step(decision: Decision, open_tasks: list[Task]) -> NextStep:
    """An engaged grant's next step: the nearest report to file (its open task), else
    the payments under way; a closed or renounced grant says so. No query."""
    if decision.state == Decision.State.CLOSED:
        return NextStep(
            _("Subvention soldée"), _("Le rapport final est accepté et le solde réglé : le suivi est terminé.")
        )
    if decision.state == Decision.State.RENOUNCED:
        return NextStep(_("Projet abandonné"), _("Vous avez renoncé à ce projet ; ce qui a été versé est à reverser."))
    dates = [t.due_at for t in open_tasks if t.kind == TaskKind.SUBMIT_REPORT and t.due_at is not None]
    if dates:
        when = min(dates)
        return NextStep(
            _("Rapport à déposer avant le %(date)s") % {"date": _short(when)},
            _("Déposez-le dans la section « Suivi de la subvention » ci-dessous."),
            _local_date(when) < timezone.localdate(),  # type: ignore[operator]
        )
    return NextStep(
        _("Subvention engagée"), _("Les versements suivent l'échéancier ci-dessous, au fil des rapports acceptés.")
    )


def _open_tasks_prefetch() -> Prefetch:
    return Prefetch(
        "tasks",
        queryset=Task.objects.filter(state=Task.State.OPEN).only("id", "kind", "due_at", "application_id"),
        to_attr="open_tasks",
    )


# --- calls ------------------------------------------------------------------------------------


def _accepting_calls(now: datetime) -> QuerySet[Call]:
    return Call.objects.filter(state=Call.State.PUBLISHED, opens_at__lte=now, closes_at__gt=now).order_by(
        "closes_at", "code"
    )


def call_rules(call: Call) -> list[tuple[str, str]]:
    """The call's rule settings as (label, value) pairs for the applicant."""
    labels = dict(AttachmentKind.choices)
    multi = (
        budget.fmt_percent(call.rate_multi_country)
        if call.multi_country_rule == Call.MultiCountryRule.FLAT
        else _("taux de chaque pays pondérés par le budget")
    )
    return [
        (
            _("Taux maximal de cofinancement"),
            _(
                "%(pma)s pour les pays les moins avancés, %(apd)s pour les autres pays éligibles à l'APD, %(non_apd)s hors APD ; projet multi-pays : %(multi)s"
            )
            % {
                "pma": budget.fmt_percent(call.rate_pma),
                "apd": budget.fmt_percent(call.rate_apd),
                "non_apd": budget.fmt_percent(call.rate_non_apd),
                "multi": multi,
            },
        ),
        (
            _("Apport minimal des collectivités françaises"),
            _("%(rate)s du budget total (numéraire et valorisation)")
            % {"rate": budget.fmt_percent(call.min_own_contribution)},
        ),
        (
            _("Valorisation"),
            _("au plus %(rate)s de l'apport des collectivités françaises ; la délégation ne finance qu'en numéraire")
            % {"rate": budget.fmt_percent(call.max_in_kind_share)},
        ),
        (
            _("Durée du projet"),
            _("de %(min)s à %(max)s mois") % {"min": call.min_duration_months, "max": call.max_duration_months},
        ),
        (
            _("Pièces obligatoires"),
            ", ".join(str(labels.get(kind, kind)) for kind in call.required_attachments) or _("aucune"),
        ),
    ]


# --- home ---------------------------------------------------------------------------------------


#: Applications per page of the applicant's home (newest first, keyset pages).
HOME_PAGE_SIZE = 20
HOME_DEFERRED = (
    *("search_text", "summary", "objectives", "answers", "themes", "sdg_targets", "completion_message"),
    *("call__description", "call__scoring_criteria", "call__required_attachments", "call__reminder_steps"),
    *("decision__tranches", "decision__reasons", "decision__render_error"),
    *SESSION_DEFERRED,
)


def home(request: HttpRequest) -> HttpResponseBase:
    """``/``: the applicant's dashboard, or the staff inbox for a staff user."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if policy.is_staff_user(request.user):
        try:
            staff_views = importlib.import_module("grants.web.staff.views")
            inbox = staff_views.inbox
        except (ImportError, AttributeError):
            return redirect("/tasks/")
        response: HttpResponseBase = inbox(request)
        return response
    now = timezone.now()
    is_applicant = policy.scopes(request.user).has(Role.APPLICANT)
    rows = []
    page: search.Window | None = None
    state_counts: list[dict[str, Any]] = []
    counted: dict[str, int] = {}
    status = 200
    if is_applicant:
        # A keyset page of the authority's applications, newest first, and how many in
        # each state: the page costs the same whatever the authority's history.
        # Led and co-applied separately, each from its index (policy.own_applications):
        # the counts an index-only scan of application_org_state plus the co-applications,
        # the page one keyset query of 21 rows per branch merged in Python.
        # Both branches' counts in one statement (UNION ALL), each branch's apart: a branch
        # with no application is not read for the page.
        led, co = (
            branch.order_by().values_list("state").annotate(branch=Value(i), n=Count("*"))
            for i, branch in enumerate(policy.own_applications(request.user))
        )
        in_branch = [0, 0]
        for state, i, n in led.union(co, all=True):
            counted[state] = counted.get(state, 0) + n
            in_branch[i] += n
        state_counts = [
            {"state": code, "label": label, "n": counted[code], "badge": STATE_BADGES.get(code, "")}
            for code, label in Application.State.choices
            if counted.get(code)
        ]
        branches = [
            branch
            for branch, n in zip(
                policy.own_applications(
                    request.user,
                    # The columns a row shows and its next step reads; the long texts and JSON of
                    # the application, its call and its decision left out (decoded for each row
                    # otherwise).
                    Application.objects.select_related("call", "session", "decision").defer(*HOME_DEFERRED),
                ),
                in_branch,
                strict=True,
            )
            if n
        ]
        ordering = search.ORDERINGS["-created_at"]
        try:
            page = search.merged_window(branches, ordering, request.GET.get("cursor"), HOME_PAGE_SIZE)
        except search.InvalidCursor:
            messages.error(request, _("Lien de page invalide : voici les dossiers les plus récents."))
            page = search.merged_window(branches, ordering, None, HOME_PAGE_SIZE)
            status = 400
        prefetch_related_objects(page.rows, _open_tasks_prefetch())
        # The rows' links from patterns reversed once, the state labels translated once.
        link = url_maker("applicant-application", "uuid")
        state_labels = {code: str(label) for code, label in Application.State.choices}
        for app in page.rows:
            open_tasks: list[Task] = app.open_tasks  # type: ignore[attr-defined]
            can_edit = engine.offered(drafts.UPDATE_DRAFT, app, request.user)
            editable = can_edit and (
                (app.state == Application.State.DRAFT and app.call.is_accepting(now))
                or app.state == Application.State.INCOMPLETE
            )
            rows.append(
                {
                    "app": app,
                    "badge": STATE_BADGES.get(app.state, ""),
                    "state_label": state_labels.get(app.state, app.state),
                    "next": next_step(app, open_tasks, now),
                    "can_edit": can_edit,
                    "url": link(app.pk),
                    "edit_url": reverse("applicant-edit", args=[app.pk, "projet"]) if editable else "",
                }
            )
    calls = [{"call": call, "rules": call_rules(call)} for call in _accepting_calls(now)] if is_applicant else []
    return render(
        request,
        "grants/applicant/home.html",
        {
            "rows": rows,
            "page": page,
            "state_counts": state_counts,
            "total": sum(c["n"] for c in state_counts),
            "calls": calls,
            "is_applicant": is_applicant,
            "now": now,
            # A report is due only on a recorded decision, whose application is approved (a
            # final state): none approved, no report to look for (postaward_due).
            "no_reports_due": not counted.get(Application.State.APPROVED),
        },
        status=status,
    )


@applicant_required
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, code: str) -> HttpResponse:
    """Start a draft for an open call: the title first, the rest section by section."""
    call = _accepting_calls(timezone.now()).filter(code=code).first()
    if call is None:
        raise Http404
    status = 200
    form = StartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            app = drafts.application_create(
                user=request.user, data={"call": call.code, "title": form.cleaned_data["title"]}
            )
        except Invalid as exc:
            apply_domain_errors(form, exc.errors, {"call": "title"})
        except Forbidden as exc:
            messages.error(request, exc.message)
            return redirect("home")
        else:
            messages.success(request, _("Votre brouillon est créé. Il est enregistré à chaque étape."))
            return redirect("applicant-edit", pk=app.pk, section=SECTIONS[0].slug)
    if request.method == "POST":
        status = 400
    return render(
        request,
        "grants/applicant/start.html",
        {"call": call, "rules": call_rules(call), "form": form, "error_summary": form_error_summary(form)},
        status=status,
    )


# --- the sectioned form -------------------------------------------------------------------------


def _stepper(index: int) -> dict[str, Any]:
    titles = [str(s.title) for s in SECTIONS] + [str(REVIEW_TITLE)]
    return {
        "current_step_id": index + 1,
        "current_step_title": titles[index],
        "next_step_title": titles[index + 1] if index + 1 < len(titles) else "",
        "total_steps": len(titles),
        "heading_tag": "h2",
    }


def _budget_years(app: Application, lines: list[Any]) -> int:
    from_duration = math.ceil(app.duration_months / 12) if app.duration_months else 3
    from_lines = max((int(getattr(line, "year", 0) or 0) for line in lines), default=0)
    return max(1, min(10, max(from_duration, from_lines)))


def budget_panel(app: Application) -> dict[str, Any]:
    """What the live panel shows, all computed by grants.budget (the one source of rules)."""
    fig = budget.figures(app)
    return {
        "figures": fig,
        "rules": budget.evaluate(app),
        "total": budget.fmt_euros(fig.total_expenses),
        "funding": budget.fmt_euros(fig.total_funding),
        "requested": budget.fmt_euros(fig.requested),
        "requested_rate": budget.fmt_percent(fig.requested_rate) if fig.requested_rate is not None else None,
        "cap_rate": budget.fmt_percent(fig.cap_rate) if fig.cap_rate is not None else None,
        "cap_amount": budget.fmt_euros(fig.cap_amount) if fig.cap_amount is not None else None,
        "own": budget.fmt_euros(fig.own_contribution),
        "years": [(year, budget.fmt_euros(amount)) for year, amount in fig.years.items()],
    }


class _SectionForms:
    """The bound or unbound forms of one section and how to turn them into domain data."""

    def __init__(self, request: HttpRequest, app: Application, section: str, *, bound: bool) -> None:
        self.section = section
        self.app = app
        self.errors: list[str] = []  # section-level errors (not tied to one input)
        data = request.POST if bound else None
        self.project: ProjectForm | None = None
        self.partners: Any = None
        self.lines: Any = None
        self.funding: FundingForm | None = None
        self.extra_row = bound and "add_row" in request.POST
        self.answers: AnswersForm | None = None
        if section == "projet":
            self.project = ProjectForm(data, initial=ProjectForm.initial_for(app), call=app.call)
            self.answers = answers_form(app, data)  # the call's own questions, when it asks any
        elif section == "partenaires":
            countries = country_choices()
            initial = [{"name": p.name, "country": p.country_id} for p in app.partners.all()]
            data = self._with_extra_row(data, "partners")
            self.partners = PartnerFormSet(
                data, prefix="partners", initial=initial, form_kwargs={"countries": countries}
            )
        elif section == "budget":
            lines = list(app.budget_lines.all())
            project_countries = [(c.iso2, c.name) for c in app.countries.all()]
            initial_lines = [
                {
                    "year": line.year,
                    "category": line.category,
                    "label": line.label,
                    "amount": amount_input(line.amount),
                    "country": line.country_id or "",
                }
                for line in lines
            ]
            data = self._with_extra_row(data, "lines")
            self.lines = BudgetLineFormSet(
                data,
                prefix="lines",
                initial=initial_lines,
                form_kwargs={
                    "years": _budget_years(app, lines),
                    "countries": project_countries if len(project_countries) > 1 else [],
                },
            )
            self.multi_country = len(project_countries) > 1
            self.funding = FundingForm(data, initial=FundingForm.initial_for(app))

    @staticmethod
    def _with_extra_row(data: Any, prefix: str) -> Any:
        """ "Add a row" re-displays the table with one more empty row, saving nothing."""
        if data is None or "add_row" not in data:
            return data
        data = data.copy()
        key = f"{prefix}-TOTAL_FORMS"
        with contextlib.suppress(ValueError):
            data[key] = str(min(int(data.get(key, "0")) + 1, 200))
        return data

    def is_valid(self) -> bool:
        valid = True
        for form in (self.project, self.answers, self.partners, self.lines, self.funding):
            if form is not None and not form.is_valid():
                valid = False
        return valid

    def to_data(self) -> dict[str, Any]:
        if self.project is not None:
            data = self.project.to_data()
            return {**data, **self.answers.to_data()} if self.answers is not None else data
        if self.partners is not None:
            rows = self.partners.rows()
            partners = [{"name": r["name"].strip(), "country": r["country"]} for r in rows]
            # The project's countries are its foreign partners' countries.
            return {"partners": partners, "countries": sorted({p["country"] for p in partners})}
        if self.lines is not None and self.funding is not None:
            lines = [
                {
                    "year": r.get("year") or 1,
                    "category": r.get("category"),
                    "label": r.get("label", "").strip(),
                    "amount": r.get("amount") or "0",
                    **({"country": r["country"]} if r.get("country") else {}),
                }
                for r in self.lines.rows()
            ]
            return {"budget": {"lines": lines, "funding": self.funding.to_data()}}
        return {}

    def typed_budget(self) -> dict[str, Any]:
        """The budget as typed, without the inputs in error: what the panel can still
        compute after a refused save (a funding field in error keeps its saved value)."""
        lines = []
        for form in self.lines.forms if self.lines is not None else []:
            data = getattr(form, "cleaned_data", None) or {}
            if form.errors or not data or data.get("DELETE"):
                continue
            if not any(str(data.get(name) or "").strip() for name in form.SIGNIFICANT):
                continue
            lines.append(
                {
                    "year": data.get("year") or 1,
                    "category": data.get("category"),
                    "label": data.get("label", "").strip(),
                    "amount": data.get("amount") or "0",
                    **({"country": data["country"]} if data.get("country") else {}),
                }
            )
        funding: dict[str, str] = {}
        if self.funding is not None:
            cleaned = getattr(self.funding, "cleaned_data", None) or {}
            funding = {
                key: cleaned.get(key) or "0"
                for key in self.funding.FIELD_OF
                if key not in self.funding.errors and key in cleaned
            }
        return {"budget": {"lines": lines, "funding": funding}}

    def apply_errors(self, errors: dict[str, list[str]]) -> None:
        if self.answers is not None:
            self.errors.extend(self.answers.apply_errors(errors))
            errors = {k: v for k, v in errors.items() if not k.startswith("answers")}
        for key, messages_ in errors.items():
            if self.project is not None and key in self.project.fields:
                for message in messages_:
                    self.project.add_error(key, message)
            elif self.funding is not None and key.startswith("budget.funding."):
                name = key.rsplit(".", 1)[1]
                for message in messages_:
                    self.funding.add_error(name if name in self.funding.fields else None, message)
            else:
                self.errors.extend(messages_)

    def all_errors(self) -> list[tuple[str, str]]:
        """(input id, message) of every error, for the summary at the top of the form."""
        found: list[tuple[str, str]] = []
        forms_: list[Any] = []
        if self.project is not None:
            forms_.append(self.project)
        if self.answers is not None:
            forms_.append(self.answers)
        if self.funding is not None:
            forms_.append(self.funding)
        for formset in (self.partners, self.lines):
            if formset is not None and formset.is_bound:
                forms_.extend(formset.forms)
        for form in forms_:
            if not form.is_bound:
                continue
            for name, errs in form.errors.items():
                target = form[name].auto_id if name in form.fields else "section-errors"
                found.extend((target, named_error(form, name, e)) for e in errs)
        found.extend(("section-errors", e) for e in self.errors)
        return found


def _section_context(app: Application, index: int, forms_: _SectionForms) -> dict[str, Any]:
    section = SECTIONS[index]
    context: dict[str, Any] = {
        "app": app,
        "badge": STATE_BADGES.get(app.state, ""),
        "sections": SECTIONS,
        "section": section,
        "index": index,
        "stepper": _stepper(index),
        "forms": forms_,
        "error_summary": forms_.all_errors(),
        "next_section": SECTIONS[index + 1] if index + 1 < len(SECTIONS) else None,
        "previous_section": SECTIONS[index - 1] if index > 0 else None,
    }
    if section.slug == "budget":
        context["panel"] = budget_panel(app)
        context["rules"] = call_rules(app.call)
    if section.slug == "partenaires":
        context["project_countries"] = [
            {"country": c, "tier": c.get_tier_display(), "rate": budget.fmt_percent(app.call.rate_for_tier(c.tier))}
            for c in app.countries.all()
        ]
    return context


def _typed_panel(request: HttpRequest, app: Application, forms_: _SectionForms) -> dict[str, Any]:
    """The budget panel of what was typed (inputs in error left out), with the errors:
    computed on a copy written inside a transaction that is rolled back."""
    context: dict[str, Any] = {"panel_error": [message for _target, message in forms_.all_errors()], "preview": True}
    try:
        with transaction.atomic():
            copy = drafts.application_update(application_id=app.pk, user=request.user, data=forms_.typed_budget())
            context["panel"] = budget_panel(copy)
            transaction.set_rollback(True)
    except TransitionError as exc:
        context["panel"] = None
        context["panel_error"] += [m for messages_ in exc.errors.values() for m in messages_] or [exc.message]
    return context


@applicant_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: Any, section: str) -> HttpResponse:
    if section not in SECTION_SLUGS:
        raise Http404
    app = _application(request, pk)
    if (response := _editable_or_redirect(request, app)) is not None:
        return response
    if section == "pieces":
        if request.method == "POST":  # uploads post to their own URL
            return redirect("applicant-edit", pk=app.pk, section="pieces")
        return _attachments_page(request, app)
    index = SECTION_SLUGS.index(section)
    bound = request.method == "POST"
    forms_ = _SectionForms(request, app, section, bound=bound)
    status = 200
    if bound and not forms_.extra_row:
        if forms_.is_valid():
            try:
                app = drafts.application_update(
                    application_id=app.pk, user=request.user, data=forms_.to_data(), per_section=True
                )
            except Invalid as exc:
                forms_.apply_errors(exc.errors)
                status = 400
            except Conflict as exc:
                messages.error(request, exc.message)
                return redirect("applicant-application", pk=app.pk)
            else:
                messages.success(request, _("Section « %(title)s » enregistrée.") % {"title": SECTIONS[index].title})
                if "continue" in request.POST:
                    following = SECTIONS[index + 1].slug if index + 1 < len(SECTIONS) else None
                    if following:
                        return redirect("applicant-edit", pk=app.pk, section=following)
                    return redirect("applicant-review", pk=app.pk)
                return redirect("applicant-edit", pk=app.pk, section=section)
        else:
            status = 400
    context = _section_context(app, index, forms_)
    if status == 400 and section == "budget":
        # After a refused save the panel shows the figures of what was typed, and why.
        context.update(_typed_panel(request, app, forms_))
    return render(request, "grants/applicant/edit.html", context, status=status)


@applicant_required
@require_POST
def budget_preview(request: HttpRequest, pk: Any) -> HttpResponse:
    """The live budget panel (htmx): the posted budget is written to the draft inside a
    transaction that is then rolled back, and grants.budget evaluates that unsaved copy,
    so the panel shows exactly what the submission check will say."""
    app = _application(request, pk)
    forms_ = _SectionForms(request, app, "budget", bound=True)
    context: dict[str, Any] = {"app": app}
    if not app.is_editable:
        context["panel_error"] = [_("Le dossier ne peut plus être modifié.")]
    elif not forms_.is_valid():
        context.update(_typed_panel(request, app, forms_))
    else:
        try:
            with transaction.atomic():
                copy = drafts.application_update(application_id=app.pk, user=request.user, data=forms_.to_data())
                context["panel"] = budget_panel(copy)
                transaction.set_rollback(True)
        except TransitionError as exc:
            context["panel_error"] = [m for messages_ in exc.errors.values() for m in messages_] or [exc.message]
    context["preview"] = True
    return render(request, "grants/applicant/_budget_panel.html", context)


# --- attachments ----------------------------------------------------------------------------------


def _with_formats(attachments: Any) -> list[Attachment]:
    """The attachments with a readable format name ("PDF") for their sniffed content type."""
    rows = list(attachments)
    for attachment in rows:
        attachment.format_label = drafts.ACCEPTED_MIME.get(attachment.content_type, attachment.content_type)  # type: ignore[attr-defined]
    return rows


def _attachment_forms(app: Application, failed: tuple[str, AttachmentForm] | None = None) -> dict[str, Any]:
    labels = dict(AttachmentKind.choices)
    attachments = _with_formats(app.attachments.all())
    required_kinds = [k for k in app.call.required_attachments if k in labels]
    optional_kinds = [k for k in AttachmentKind.values if k not in required_kinds]

    def make(prefix: str, kinds: list[str]) -> AttachmentForm:
        if failed is not None and failed[0] == prefix:
            form = failed[1]
        else:
            form = AttachmentForm(prefix=prefix, initial={"kind": kinds[0] if kinds else ""})
        set_choices(form.fields["kind"], [(k, labels[k]) for k in kinds])
        return form

    required = []
    for kind in required_kinds:
        form = make(kind, [kind])
        required.append(
            {"kind": kind, "label": labels[kind], "files": [a for a in attachments if a.kind == kind], "form": form}
        )
    optional_form = make("optional", optional_kinds) if optional_kinds else None
    return {
        "required": required,
        "optional": [a for a in attachments if a.kind not in required_kinds],
        "optional_form": optional_form,
        "missing": [r["label"] for r in required if not r["files"]],
    }


def _attachments_page(
    request: HttpRequest, app: Application, *, failed: tuple[str, AttachmentForm] | None = None, status: int = 200
) -> HttpResponse:
    index = SECTION_SLUGS.index("pieces")
    context = _section_context(app, index, _SectionForms(request, app, "pieces", bound=False))
    context["attachments"] = _attachment_forms(app, failed)
    if failed is not None:
        context["error_summary"] = form_error_summary(failed[1])
    return render(request, "grants/applicant/edit.html", context, status=status)


@applicant_required
@require_POST
def attachment_add(request: HttpRequest, pk: Any) -> HttpResponse:
    app = _application(request, pk)
    labels = dict(AttachmentKind.choices)
    prefix = request.POST.get("form_prefix", "")
    if prefix not in app.call.required_attachments and prefix != "optional":
        raise Http404
    form = AttachmentForm(request.POST, request.FILES, prefix=prefix)
    set_choices(form.fields["kind"], list(AttachmentKind.choices))
    if form.is_valid():
        upload = form.cleaned_data["file"]
        # Read at most one byte over the limit: the domain refuses it with its message,
        # and a huge file is never loaded whole into memory.
        content = upload.read(settings.UPLOAD_MAX_BYTES + 1)
        try:
            attachment = drafts.attachment_add(
                application_id=app.pk,
                user=request.user,
                kind=form.cleaned_data["kind"],
                name=upload.name or "",
                content=content,
            )
        except Invalid as exc:
            apply_domain_errors(form, exc.errors)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect("applicant-application", pk=app.pk)
        except NotFound:
            raise Http404 from None
        else:
            messages.success(
                request,
                _("Pièce « %(kind)s » enregistrée : %(name)s.")
                % {"kind": labels.get(attachment.kind, attachment.kind), "name": attachment.original_name},
            )
            return redirect(reverse("applicant-edit", args=[app.pk, "pieces"]) + f"#piece-{attachment.kind}")
    if (response := _editable_or_redirect(request, app)) is not None:
        return response
    return _attachments_page(request, app, failed=(prefix, form), status=400)


@applicant_required
@require_http_methods(["GET", "HEAD"])
def attachment_download(request: HttpRequest, pk: Any, attachment_id: int) -> FileResponse:
    app = _application(request, pk, acting=False)
    attachment = Attachment.objects.filter(pk=attachment_id, application=app).first()
    if attachment is None:
        raise Http404
    return attachment_response(attachment)


@applicant_required
@require_POST
def attachment_remove(request: HttpRequest, pk: Any, attachment_id: int) -> HttpResponse:
    app = _application(request, pk)
    if not Attachment.objects.filter(pk=attachment_id, application=app).exists():
        raise Http404
    try:
        drafts.attachment_remove(attachment_id=attachment_id, user=request.user)
    except NotFound:
        raise Http404 from None
    except TransitionError as exc:
        messages.error(request, exc.message)
        return redirect("applicant-application", pk=app.pk)
    messages.success(request, _("Pièce retirée du dossier."))
    return redirect("applicant-edit", pk=app.pk, section="pieces")


# --- review and submission --------------------------------------------------------------------------


def _submission_name(app: Application) -> str | None:
    return {S.DRAFT: "submit", S.INCOMPLETE: "resubmit"}.get(app.state)


def _review_context(app: Application, unmet: list[str] | None = None) -> dict[str, Any]:
    labels = dict(AttachmentKind.choices)
    readonly = not app.is_editable
    if unmet is None:
        unmet = (
            [] if readonly else services.submission_unmet(app, now=timezone.now(), check_closing=app.state == S.DRAFT)
        )
    return {
        "app": app,
        "badge": STATE_BADGES.get(app.state, ""),
        "sections": SECTIONS,
        "stepper": _stepper(len(SECTIONS)),
        "unmet": unmet,
        "panel": budget_panel(app),
        "partners": list(app.partners.select_related("country")),
        "countries": list(app.countries.all()),
        "lines": list(app.budget_lines.all()),
        "attachments": [(labels.get(a.kind, a.kind), a) for a in _with_formats(app.attachments.all())],
        "resubmission": app.state == S.INCOMPLETE,
        "readonly": readonly,
        # The sworn statement the submission asks (the Spec's confirmation), ticked to submit.
        "sworn_statement": "" if readonly else _sworn_statement(app),
    }


def _sworn_statement(app: Application) -> str:
    name = _submission_name(app)
    return str(services.APPLICATION_TRANSITIONS[name].confirm) if name else ""


@applicant_required
@require_http_methods(["GET"])
def review(request: HttpRequest, pk: Any) -> HttpResponse:
    """Every unmet submission condition above the submit button; once submitted, the
    same page shows the application's content read-only."""
    app = _application(request, pk)
    return render(request, "grants/applicant/review.html", _review_context(app))


@applicant_required
@require_POST
def submit(request: HttpRequest, pk: Any) -> HttpResponse:
    app = _application(request, pk)
    name = _submission_name(app)
    if name is None:
        messages.error(request, _("Ce dossier a déjà été déposé."))
        return redirect("applicant-application", pk=app.pk)
    try:
        # The page asks the sworn statement: its answer goes with the submission.
        services.application_transition(
            application_id=app.pk, name=name, user=request.user, payload={"confirm": request.POST.get("confirm", "")}
        )
    except Conflict as exc:
        app = _application(request, pk)
        context = _review_context(app, unmet=exc.unmet)
        return render(request, "grants/applicant/review.html", context, status=409)
    except Invalid as exc:
        context = _review_context(_application(request, pk))
        context["confirm_errors"] = exc.errors.get("confirm", [])
        context["error_summary"] = [
            ("confirm", _("%(label)s : %(message)s") % {"label": _("Déclaration sur l'honneur"), "message": message})
            if key == "confirm"
            else ("content", message)
            for key, messages_ in exc.errors.items()
            for message in messages_
        ] or [("content", exc.message)]
        return render(request, "grants/applicant/review.html", context, status=400)
    except NotFound:
        raise Http404 from None
    except TransitionError as exc:
        messages.error(request, exc.message)
        return redirect("applicant-application", pk=app.pk)
    return redirect("applicant-confirmation", pk=app.pk)


@applicant_required
@require_http_methods(["GET"])
def confirmation(request: HttpRequest, pk: Any) -> HttpResponse:
    app = _application(
        request,
        pk,
        Application.objects.select_related("call", "organisation").prefetch_related(_open_tasks_prefetch()),
        acting=False,
    )
    if app.state != S.SUBMITTED:
        return redirect("applicant-application", pk=app.pk)
    resubmitted = app.snapshots.count() > 1
    return render(
        request,
        "grants/applicant/confirmation.html",
        {
            "app": app,
            "badge": STATE_BADGES.get(app.state, ""),
            "next": next_step(app, app.open_tasks),  # type: ignore[attr-defined]
            "resubmitted": resubmitted,
        },
    )


# --- the application page ---------------------------------------------------------------------------


def _documents(request: HttpRequest, app: Application, decision: Decision | None) -> list[Document]:
    return policy.application_documents(request.user, app, decision)


def _available(app: Application, user: Any, name: str) -> bool:
    return engine.available(services.APPLICATION_TRANSITIONS[name], app, user)


@applicant_required
@require_http_methods(["GET"])
def application_page(request: HttpRequest, pk: Any) -> HttpResponse:
    app = _application(
        request,
        pk,
        Application.objects.select_related("call", "organisation", "session", "decision")
        .defer(*SESSION_DEFERRED)
        .prefetch_related(_open_tasks_prefetch()),
        acting=False,
    )
    decision = _decision(app)
    history = policy.history(request.user, app)
    ineligibility = next((e.comment for e in reversed(history) if e.transition == "declare_ineligible"), "")
    return render(
        request,
        "grants/applicant/application.html",
        {
            "app": app,
            "badge": STATE_BADGES.get(app.state, ""),
            "next": next_step(app, app.open_tasks),  # type: ignore[attr-defined]
            "timeline": history,
            "documents": _documents(request, app, decision),
            "decision": decision if decision is not None and decision.state in DELIVERED else None,
            "sections": SECTIONS,
            "can_withdraw": _available(app, request.user, "withdraw"),
            "can_edit": engine.offered(drafts.UPDATE_DRAFT, app, request.user),
            "requested": budget.fmt_euros(app.requested_amount),
            "decision_amount": budget.fmt_euros(decision.amount) if decision is not None else "",
            "ineligibility_reason": ineligibility,
        },
    )


@applicant_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, pk: Any) -> HttpResponse:
    app = _application(request, pk)
    if not _available(app, request.user, "withdraw"):
        messages.error(request, _("Ce dossier ne peut pas être retiré dans son état actuel."))
        return redirect("applicant-application", pk=app.pk)
    form = WithdrawForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.application_transition(
                    application_id=app.pk,
                    name="withdraw",
                    user=request.user,
                    payload={"comment": form.cleaned_data["comment"]},
                )
            except Invalid as exc:
                apply_domain_errors(form, exc.errors)
            except NotFound:
                raise Http404 from None
            except TransitionError as exc:
                messages.error(request, exc.message)
                return redirect("applicant-application", pk=app.pk)
            else:
                messages.success(request, _("Le dossier a été retiré."))
                return redirect("applicant-application", pk=app.pk)
        status = 400
    return render(
        request,
        "grants/applicant/withdraw.html",
        {"app": app, "badge": STATE_BADGES.get(app.state, ""), "form": form, "error_summary": form_error_summary(form)},
        status=status,
    )


@applicant_required
@require_http_methods(["GET", "HEAD"])
def document_download(request: HttpRequest, pk: Any, document_id: int) -> FileResponse:
    """A document issued for the application (receipt, notice, decision letter once
    delivered), streamed as PDF."""
    app = _application(request, pk, Application.objects.select_related("call", "decision"), acting=False)
    document = next((d for d in _documents(request, app, _decision(app)) if d.pk == document_id), None)
    if document is None or not document.file:
        raise Http404
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    stem = safe_stem(f"{document.reference or app.reference or 'document'}-{document.kind}", "document")
    return FileResponse(handle, as_attachment=True, filename=f"{stem}.pdf", content_type="application/pdf")
