"""The call editor (issue 15): admins and instructors configure their calls here, not in
the Django admin. Every save goes through ``grants.services`` (``call_create``,
``call_update``, ``call_duplicate``, ``call_transition``): the pages only carry what the
browser sends into the API's payload (rates typed as percentages, dates as Paris time)
and put the domain's refusals back on the page."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grants import services
from grants.machines.call import CALL_TRANSITIONS, percent, publication_unmet
from grants.models import AttachmentKind, Call, Role
from grants.policy.call_editor import editable_calls, may_create_call
from grants.questions import CallQuestion
from grants.web.applicant.answers_form import AnswersForm
from grants.web.applicant.forms import DsfrFormMixin
from grants.web.staff.common import raise_for, staff_render, staff_view
from grants.writes.calls import PARIS, RATE_FIELDS
from workflows import engine
from workflows.engine import TransitionError

EDITOR_ROLES = (Role.INSTRUCTOR, Role.ADMIN)
LIST_SPLIT = re.compile(r"[,;\s]+")
BLANK_CRITERIA = 2
BLANK_QUESTIONS = 1

STATE_BADGES = {
    Call.State.DRAFT: "",
    Call.State.PUBLISHED: "fr-badge--success",
    Call.State.CLOSED: "fr-badge--info",
    Call.State.ARCHIVED: "",
}


def _call(user: Any, code: str) -> Call:
    call = editable_calls(user).filter(code=code).prefetch_related("eligible_countries", "questions").first()
    if call is None:
        raise Http404(_("Introuvable."))
    return call


# --- the settings form ---------------------------------------------------------------------------

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _text(label: Any, help_text: Any = "", **kwargs: Any) -> forms.CharField:
    return forms.CharField(label=label, help_text=help_text, required=False, **kwargs)


class CallSettingsForm(DsfrFormMixin, forms.Form):
    """Every setting of a call, grouped in sections (``SECTIONS``); types are the domain's
    to check, except the percentages, read here."""

    title = _text(gettext_lazy("Titre"), max_length=250)
    description = _text(gettext_lazy("Description"), widget=forms.Textarea(attrs={"rows": 4}))
    kind = forms.ChoiceField(label=gettext_lazy("Type d'appel"), choices=Call.Kind.choices)
    opens_at = _text(gettext_lazy("Ouverture des dépôts"), gettext_lazy("Heure de Paris."), widget=DATETIME)
    closes_at = _text(gettext_lazy("Clôture des dépôts"), gettext_lazy("Heure de Paris."), widget=DATETIME)
    envelope = _text(gettext_lazy("Enveloppe (€)"), gettext_lazy("Par ex. 2 000 000"))
    rate_pma = _text(gettext_lazy("Taux maximal, pays les moins avancés (%)"))
    rate_apd = _text(gettext_lazy("Taux maximal, autres pays éligibles à l'APD (%)"))
    rate_non_apd = _text(gettext_lazy("Taux maximal, pays hors APD (%)"))
    multi_country_rule = forms.ChoiceField(
        label=gettext_lazy("Règle des projets multi-pays"), choices=Call.MultiCountryRule.choices
    )
    rate_multi_country = _text(gettext_lazy("Taux maximal multi-pays (%)"))
    min_own_contribution = _text(gettext_lazy("Apport propre minimal des collectivités françaises (% du budget)"))
    max_in_kind_share = _text(gettext_lazy("Part maximale de valorisation (% de l'apport propre)"))
    min_duration_months = _text(gettext_lazy("Durée minimale (mois)"))
    max_duration_months = _text(gettext_lazy("Durée maximale (mois)"))
    eligibility_deadline_days = _text(gettext_lazy("Délai d'instruction (jours)"))
    opinion_deadline_days = _text(gettext_lazy("Délai des avis (jours)"))
    review_deadline_days = _text(gettext_lazy("Délai d'évaluation (jours)"))
    eligible_countries = _text(
        gettext_lazy("Pays éligibles"),
        gettext_lazy("Codes ISO à deux lettres séparés par des virgules (SN, MA…) ; vide : tous les pays."),
    )
    required_attachments = forms.MultipleChoiceField(
        label=gettext_lazy("Pièces obligatoires"),
        choices=AttachmentKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    reminder_steps = _text(
        gettext_lazy("Relances"),
        gettext_lazy("Jours par rapport à l'échéance, séparés par des virgules : -7, -2, 0, 3 (3 : escalade)."),
    )
    interim_report_days = _text(gettext_lazy("Rapport intermédiaire (jours après chaque année du projet)"))
    final_report_months = _text(gettext_lazy("Rapport final (mois après la fin du projet)"))
    max_extension_months = _text(gettext_lazy("Prolongation maximale (mois)"))
    budget_change_threshold = _text(gettext_lazy("Seuil de modification budgétaire soumise à avenant (%)"))
    block_overdue_reports = forms.BooleanField(
        label=gettext_lazy("Bloquer les porteurs en retard de rapport final"), required=False
    )
    min_reviews = _text(gettext_lazy("Évaluations minimales avant le comité"))
    consensus_required = forms.BooleanField(label=gettext_lazy("Consensus requis avant le comité"), required=False)
    prefecture_opinion_required = forms.BooleanField(
        label=gettext_lazy("Avis de la préfecture de région requis"), required=False
    )
    min_members = _text(gettext_lazy("Collectivités membres au minimum (programme clé en main)"))

    PERCENTS = RATE_FIELDS
    LISTS = ("eligible_countries", "reminder_steps")

    @classmethod
    def initial_for(cls, call: Call) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        for name in cls.base_fields:
            value = getattr(call, name)
            if name in cls.PERCENTS:
                value = percent(value)
            elif name in ("opens_at", "closes_at"):
                value = timezone.localtime(value, PARIS).strftime("%Y-%m-%dT%H:%M")
            elif name == "eligible_countries":
                value = ", ".join(sorted(c.iso2 for c in call.eligible_countries.all()))
            elif name == "reminder_steps":
                value = ", ".join(str(v) for v in value)
            elif name == "envelope":
                value = f"{value:f}".replace(".", ",")
            initial[name] = value
        return initial

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in self.PERCENTS:
            raw = str(cleaned.get(name) or "").strip().replace("%", "").replace(",", ".").strip()
            if not raw:
                continue
            try:
                value = Decimal(raw)
            except InvalidOperation:
                value = Decimal("NaN")
            if not value.is_finite() or abs(value) >= 1000:
                self.add_error(name, _("Indiquez un pourcentage, par ex. 70 ou 12,5."))
            else:
                cleaned[name] = str(value / 100)
        return cleaned

    def payload(self, only: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The API's payload of what the browser sent (empty numbers are left unchanged)."""
        data: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if only is not None and name not in only:
                continue
            if name in self.LISTS:
                items = [v for v in LIST_SPLIT.split(str(value or "").replace("−", "-")) if v]
                data[name] = items
            elif (
                isinstance(value, bool)
                or name in ("required_attachments", "kind", "multi_country_rule", "title", "description")
                or value not in (None, "")
            ):
                data[name] = value
        return data


SECTIONS: list[tuple[str, Any, tuple[str, ...]]] = [
    ("general", gettext_lazy("L'appel"), ("title", "description", "kind")),
    ("dates", gettext_lazy("Dates"), ("opens_at", "closes_at")),
    (
        "envelope",
        gettext_lazy("Enveloppe et taux de cofinancement"),
        ("envelope", "rate_pma", "rate_apd", "rate_non_apd", "multi_country_rule", "rate_multi_country"),
    ),
    (
        "contributions",
        gettext_lazy("Apports des collectivités françaises"),
        ("min_own_contribution", "max_in_kind_share"),
    ),
    (
        "durations",
        gettext_lazy("Durées et délais"),
        (
            "min_duration_months",
            "max_duration_months",
            "eligibility_deadline_days",
            "opinion_deadline_days",
            "review_deadline_days",
        ),
    ),
    ("countries", gettext_lazy("Pays éligibles"), ("eligible_countries",)),
    ("attachments", gettext_lazy("Pièces obligatoires"), ("required_attachments",)),
    ("reminders", gettext_lazy("Relances"), ("reminder_steps",)),
    (
        "reports",
        gettext_lazy("Rapports et modifications"),
        (
            "interim_report_days",
            "final_report_months",
            "max_extension_months",
            "budget_change_threshold",
            "block_overdue_reports",
        ),
    ),
    (
        "evaluation",
        gettext_lazy("Évaluation et avis"),
        ("min_reviews", "consensus_required", "prefecture_opinion_required", "min_members"),
    ),
]


# --- the criteria and questions rows --------------------------------------------------------------


def _criteria_rows(call: Call, post: Any = None, *, blanks: bool = True) -> list[dict[str, Any]]:
    if post is not None:
        return [
            {k: post.get(f"c-{i}-{k}", "").strip() for k in ("code", "label", "label_en", "weight")}
            for i in range(int(post.get("criteria-count") or 0))
        ]
    rows = [
        {
            "code": c.get("code", ""),
            "label": c.get("label", ""),
            "label_en": c.get("label_en", ""),
            "weight": c.get("weight", 1),
        }
        for c in call.scoring_criteria or []
    ]
    return rows + [
        {"code": "", "label": "", "label_en": "", "weight": ""} for _i in range(BLANK_CRITERIA if blanks else 0)
    ]


def _criteria_payload(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**row, "weight": row["weight"] if row["weight"] != "" else 1}
        for row in rows
        if any(str(row[k]).strip() for k in ("code", "label", "label_en"))
    ]


def _choices_text(choices: list[dict[str, Any]]) -> str:
    return "\n".join(f"{c.get('label', '')} | {c.get('label_en', '')}".rstrip(" |") for c in choices or [])


def _question_rows(call: Call, post: Any = None, *, blanks: bool = True) -> list[dict[str, Any]]:
    keys = ("code", "label", "label_en", "help", "help_en", "type", "choices", "min", "max", "position")
    if post is not None:
        rows = []
        for i in range(int(post.get("questions-count") or 0)):
            row = {k: post.get(f"q-{i}-{k}", "").strip() for k in keys}
            row["required"] = post.get(f"q-{i}-required") == "on"
            row["delete"] = post.get(f"q-{i}-delete") == "on"
            rows.append(row)
        return rows
    rows = [
        {
            **{k: v if v is not None else "" for k, v in q.as_dict().items()},
            "choices": _choices_text(q.choices),
            "position": q.position + 1,
            "delete": False,
        }
        for q in call.questions.all()
    ]
    blank = {k: "" for k in keys} | {"type": "text", "required": False, "delete": False}
    return rows + [dict(blank, position=len(rows) + i + 1) for i in range(BLANK_QUESTIONS if blanks else 0)]


def _parse_choices(text: str, previous: dict[str, str]) -> list[dict[str, str]]:
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        label, _sep, label_en = line.partition("|")
        label = label.strip()
        out.append({"value": previous.get(label, ""), "label": label, "label_en": label_en.strip()})
    return out


def _questions_payload(call: Call, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    previous = {q.code: {c.get("label", ""): c.get("value", "") for c in q.choices or []} for q in call.questions.all()}
    kept = [r for r in rows if not r["delete"] and any(r[k] for k in ("code", "label"))]

    def order(row: dict[str, Any]) -> float:
        try:
            return float(str(row["position"]).replace(",", "."))
        except ValueError:
            return 1e9

    return [
        {
            "code": r["code"],
            "label": r["label"],
            "label_en": r["label_en"],
            "help": r["help"],
            "help_en": r["help_en"],
            "type": r["type"],
            "choices": _parse_choices(r["choices"], previous.get(r["code"], {})),
            "required": r["required"],
            "min": r["min"] or None,
            "max": r["max"] or None,
        }
        for r in sorted(kept, key=order)
    ]


def _row_errors(errors: dict[str, list[str]], prefix: str, count: int) -> list[list[str]]:
    return [
        [
            str(m)
            for key, messages in errors.items()
            if key == f"{prefix}.{i}" or key.startswith(f"{prefix}.{i}.")
            for m in messages
        ]
        for i in range(count)
    ]


# --- pages -----------------------------------------------------------------------------------------


@require_GET
@staff_view(*EDITOR_ROLES)
def call_list(request: HttpRequest) -> HttpResponse:
    calls = list(editable_calls(request.user).order_by("-opens_at", "-pk"))
    for call in calls:
        call.badge = STATE_BADGES.get(call.state, "")  # type: ignore[attr-defined]
    context = {"calls": calls, "may_create": may_create_call(request.user)}
    return staff_render(request, "grants/staff/call_editor_list.html", context, active="calls")


class CreateForm(DsfrFormMixin, forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), help_text=gettext_lazy("Par ex. AAP-2027-GEN"), max_length=32)
    title = forms.CharField(label=gettext_lazy("Titre"), max_length=250, required=False)
    duplicate_of = forms.ChoiceField(
        label=gettext_lazy("Partir d'un appel existant"),
        help_text=gettext_lazy("Ses réglages, sa grille, ses pièces et ses questions sont copiés."),
        required=False,
    )
    opens_at = forms.CharField(
        label=gettext_lazy("Ouverture des dépôts"),
        help_text=gettext_lazy("Heure de Paris."),
        required=False,
        widget=DATETIME,
    )
    closes_at = forms.CharField(
        label=gettext_lazy("Clôture des dépôts"),
        help_text=gettext_lazy("Heure de Paris."),
        required=False,
        widget=DATETIME,
    )

    def __init__(self, *args: Any, sources: list[Call], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["duplicate_of"].choices = [("", _("— Un nouvel appel, vierge —"))] + [  # type: ignore[attr-defined]
            (c.code, f"{c.code} — {c.title}") for c in sources
        ]


@require_http_methods(["GET", "POST"])
@staff_view(*EDITOR_ROLES)
def call_create(request: HttpRequest) -> HttpResponse:
    if not may_create_call(request.user):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(
            _("Seuls un administrateur ou un chargé de mission sans restriction d'appel créent un appel.")
        )
    sources = list(editable_calls(request.user).order_by("-opens_at"))
    form = CreateForm(request.POST or None, sources=sources, initial={"duplicate_of": request.GET.get("depuis", "")})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["duplicate_of"]:
                    call = services.call_duplicate(
                        source_code=data["duplicate_of"], user=request.user, code=data["code"], title=data["title"]
                    )
                else:
                    call = services.call_create(
                        user=request.user, data={k: data[k] for k in ("code", "title", "opens_at", "closes_at")}
                    )
            except TransitionError as error:
                raise_for(error)
                for name, messages_ in error.errors.items():
                    for message in messages_:
                        form.add_error(name if name in form.fields else None, message)
                if not error.errors:
                    form.add_error(None, error.message)
            else:
                messages.success(request, _("L'appel %(code)s est créé, en brouillon.") % {"code": call.code})
                return redirect("call-editor", code=call.code)
    return staff_render(request, "grants/staff/call_editor_create.html", {"form": form}, active="calls", status=status)


def _actions(call: Call, user: Any) -> list[dict[str, Any]]:
    out = []
    for name, spec in CALL_TRANSITIONS.items():
        if engine.offered(spec, call, user):
            _role, unmet = engine.check(spec, call, user)
            out.append({"name": name, "label": spec.label, "unmet": unmet, "confirm": spec.confirm})
    return out


@require_http_methods(["GET", "POST"])
@staff_view(*EDITOR_ROLES)
def call_edit(request: HttpRequest, code: str) -> HttpResponse:
    call = _call(request.user, code)
    published = call.state == Call.State.PUBLISHED
    frozen = call.state != Call.State.DRAFT
    status = 200
    errors: dict[str, list[str]] = {}
    conflict: list[str] = []
    if request.method == "POST" and call.state in (Call.State.DRAFT, Call.State.PUBLISHED):
        form = CallSettingsForm(request.POST, initial=CallSettingsForm.initial_for(call))
        criteria, questions = _criteria_rows(call, request.POST), _question_rows(call, request.POST)
        if published:  # only the closing date: the rest is shown, read-only
            criteria, questions = _criteria_rows(call, blanks=False), _question_rows(call, blanks=False)
        status = 400
        if form.is_valid():
            if published:
                payload = form.payload(only=("closes_at",))
            else:
                payload = form.payload()
                payload["scoring_criteria"] = _criteria_payload(criteria)
                payload["questions"] = _questions_payload(call, questions)
            payload["version"] = request.POST.get("version", "")
            try:
                services.call_update(code=call.code, user=request.user, data=payload)
            except TransitionError as error:
                raise_for(error)
                status = error.status
                if error.status == 400:
                    errors = {k: [str(m) for m in v] for k, v in error.errors.items()}
                    for name, messages_ in errors.items():
                        if name in form.fields:
                            for message in messages_:
                                form.add_error(name, message)
                else:
                    conflict = [str(r) for r in error.unmet or [error.message]]
            else:
                messages.success(request, _("Les réglages de l'appel sont enregistrés."))
                return redirect("call-editor", code=call.code)
    else:
        form = CallSettingsForm(initial=CallSettingsForm.initial_for(call))
        criteria, questions = _criteria_rows(call, blanks=not frozen), _question_rows(call, blanks=not frozen)
    if frozen:
        for name, field in form.fields.items():
            if not (published and name == "closes_at"):
                field.disabled = True
    summary = [
        (key, message)
        for key, messages_ in {**errors, **{k: [str(e) for e in v] for k, v in form.errors.items()}}.items()
        for message in messages_
    ]
    context = {
        "call": call,
        "form": form,
        "sections": [(key, title, [form[name] for name in names]) for key, title, names in SECTIONS],
        "criteria": list(zip(criteria, _row_errors(errors, "scoring_criteria", len(criteria)), strict=True)),
        "questions": list(zip(questions, _row_errors(errors, "questions", len(questions)), strict=True)),
        "question_types": CallQuestion.Type.choices,
        "frozen": frozen,
        "published": published,
        "conflict": conflict,
        "error_summary": [(_anchor(k), m) for k, m in summary],
        "actions": _actions(call, request.user),
        "version": request.POST.get("version") if conflict else call.version,
        "badge": STATE_BADGES.get(call.state, ""),
    }
    return staff_render(request, "grants/staff/call_editor.html", context, active="calls", status=status)


def _anchor(key: str) -> str:
    if key.startswith("questions."):
        return "section-questions"
    if key.startswith("scoring_criteria"):
        return "section-criteria"
    return f"id_{key}" if key != "__all__" else "section-general"


@require_POST
@staff_view(*EDITOR_ROLES)
def call_transition(request: HttpRequest, code: str, name: str) -> HttpResponse:
    call = _call(request.user, code)
    spec = CALL_TRANSITIONS.get(name)
    if spec is None:
        raise Http404(_("Action inconnue."))
    try:
        services.call_transition(code=call.code, name=name, user=request.user)
    except TransitionError as error:
        raise_for(error)
        for reason in error.unmet or [error.message]:
            messages.error(request, reason)
        return redirect("call-editor", code=call.code)
    messages.success(request, _("« %(action)s » : fait.") % {"action": spec.label})
    return redirect("call-editor", code=call.code)


@require_GET
@staff_view(*EDITOR_ROLES)
def call_preview(request: HttpRequest, code: str) -> HttpResponse:
    """The call as an applicant sees it: the rules summary, then the application form."""
    call = _call(request.user, code)
    questions = list(call.questions.all())
    context = {
        "call": call,
        "rates": [
            (_("Pays les moins avancés (PMA)"), percent(call.rate_pma)),
            (_("Autres pays éligibles à l'APD"), percent(call.rate_apd)),
            (_("Pays hors APD"), percent(call.rate_non_apd)),
            (_("Projet multi-pays"), percent(call.rate_multi_country)),
        ],
        "min_own": percent(call.min_own_contribution),
        "max_in_kind": percent(call.max_in_kind_share),
        "attachments": [str(dict(AttachmentKind.choices).get(k, k)) for k in call.required_attachments],
        "countries": sorted(c.name for c in call.eligible_countries.all()),
        "answers_form": AnswersForm(questions=questions, answers={}, auto_id="preview_%s") if questions else None,
        "unmet": publication_unmet(call) if call.state == Call.State.DRAFT else [],
        "criteria": call.scoring_criteria,
    }
    return staff_render(request, "grants/staff/call_editor_preview.html", context, active="calls")
