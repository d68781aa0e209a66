"""Finding applications (staff): ``/dossiers/``, every application the user may see, with
filters, full-text search, sort by each column and keyset pagination both ways; the
export of the filtered list (CSV, XLSX, ODS) and bulk actions on selected rows.

The filters, the search and the orderings are ``grants.search`` (shared with
``GET /api/v1/applications/``); every row comes from the read policy; every bulk action
is one ``workflows.engine.fire`` per application, in its own transaction: the engine
decides who may do what, this module never checks a role.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import re
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.forms import BoundField
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from grants import policy, search, services
from grants.models import Application, Country, Organisation, Region, Role
from grants.templatetags.french_format import euros
from grants.web.staff import common
from grants.web.staff.common import STATE_BADGES, staff_render, staff_view
from grants.web.staff.forms import StaffForm
from grants.web.staff.spreadsheets import FORMATS, PARIS, XLSX_DATETIME, XLSX_MONEY, Column, neutralise
from workflows import engine
from workflows.engine import Spec, TransitionError

S = Application.State
CHUNK = 500
SELECTED = " selected"
MAX_BULK = 200

# --- the filter form (what the page shows; grants.search reads and checks the values) --------


def _escape_all(texts: list[str]) -> list[str]:
    """``html.escape`` of each text (quotes included), in one call on their join: 2,000
    calls for the authorities cost a millisecond. NUL separates them (PostgreSQL text
    never holds one); a text holding one is escaped alone."""
    joined = "\x00".join(texts)
    if joined.count("\x00") != max(len(texts) - 1, 0):
        return [html.escape(text) for text in texts]
    return html.escape(joined).split("\x00") if texts else []


class SelectFilter(forms.Field):
    """A select filter whose options are given per request, as a ``ChoiceField`` validates
    them (same message, same code) but against a set of its values: a ``ChoiceField``
    normalised its 2,000 authorities on each request (~8 ms at 100,000 applications), and
    the page renders the options itself (``DossierFilterForm.selects``)."""

    default_error_messages = {"invalid_choice": forms.ChoiceField.default_error_messages["invalid_choice"]}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options: list[tuple[str, str]] = []
        self.allowed: frozenset[str] = frozenset()

    def set_options(self, options: list[tuple[str, str]]) -> None:
        self.options = options
        self.allowed = frozenset(value for value, _label in options if value)

    def to_python(self, value: Any) -> str:
        return "" if value in self.empty_values else str(value)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and value not in self.allowed:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value})


class DossierFilterForm(StaffForm):
    q = forms.CharField(
        label=gettext_lazy("Rechercher"),
        help_text=gettext_lazy("Référence, titre, résumé, objectifs, collectivité, SIREN ou partenaire."),
        required=False,
    )
    call = SelectFilter(label=gettext_lazy("Appel à projets"), required=False)
    state = SelectFilter(label=gettext_lazy("État"), required=False)
    country = SelectFilter(label=gettext_lazy("Pays"), required=False)
    region = SelectFilter(label=gettext_lazy("Région"), required=False)
    organisation = SelectFilter(label=gettext_lazy("Collectivité"), required=False)
    requested_min = forms.CharField(label=gettext_lazy("Montant demandé, de (€)"), required=False)
    requested_max = forms.CharField(label=gettext_lazy("Montant demandé, à (€)"), required=False)
    granted_min = forms.CharField(label=gettext_lazy("Montant attribué, de (€)"), required=False)
    granted_max = forms.CharField(label=gettext_lazy("Montant attribué, à (€)"), required=False)
    submitted_from = forms.DateField(label=gettext_lazy("Déposé du"), required=False)
    submitted_to = forms.DateField(label=gettext_lazy("Déposé au"), required=False)
    decided_from = forms.DateField(label=gettext_lazy("Décidé du"), required=False)
    decided_to = forms.DateField(label=gettext_lazy("Décidé au"), required=False)
    overdue = forms.BooleanField(label=gettext_lazy("Avec une tâche en retard"), required=False)

    SELECTS = ("call", "state", "country", "region", "organisation")
    AMOUNTS = ("requested_min", "requested_max", "granted_min", "granted_max")
    DATES = ("submitted_from", "submitted_to", "decided_from", "decided_to")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # values_list: a Call instance would load its (deferred) FSM state, a query each.
        calls = policy.visible_calls(user).order_by("-opens_at", "code").values_list("code", flat=True)
        self._options("call", [("", _("Tous les appels")), *((code, code) for code in calls)])
        states = ((code, str(label)) for code, label in S.choices if code != S.DRAFT)
        self._options("state", [("", _("Tous les états")), *states])
        countries = Country.objects.exclude(iso2="FR").order_by("name_fr").values_list("iso2", Country.name_field())
        self._options("country", [("", _("Tous les pays")), *countries])
        regions = Region.objects.order_by("name").values_list("code", "name")
        self._options("region", [("", _("Toutes les régions")), *regions])
        # values_list: 2,000 authorities at 100,000 applications, no model instance each.
        authorities = (
            Organisation.objects.filter(kind=Organisation.Kind.FRENCH).order_by("name", "pk").values_list("pk", "name")
        )
        self._options("organisation", [("", _("Toutes les collectivités")), *((str(pk), n) for pk, n in authorities)])

    def _options(self, name: str, options: list[tuple[str, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, SelectFilter)
        field.set_options(options)

    def selects(self) -> list[tuple[BoundField, SafeString]]:
        """The select filters, each with its options rendered once here: looping over the
        2,000 authorities' options in the template cost ~100 ms a page at 100,000
        applications (a filter and a comparison per option)."""
        rendered = []
        for name in self.SELECTS:
            bound = self[name]
            current = str(bound.value() or "")
            field = self.fields[name]
            assert isinstance(field, SelectFilter)
            values = [str(value) for value, _label in field.options]
            labels = _escape_all([str(label) for _value, label in field.options])
            options = "".join(
                f'<option value="{escaped}"{SELECTED if value == current else ""}>{label}</option>'
                for value, escaped, label in zip(values, _escape_all(values), labels, strict=True)
            )
            # Every value and label went through html.escape (quotes included) just above.
            rendered.append((bound, mark_safe(options)))  # noqa: S308
        return rendered

    def report(self, error: search.FilterError) -> None:
        for name, messages in error.errors.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)


# --- the list ----------------------------------------------------------------------------------

#: The table's columns: (ordering name, header), in display order.
COLUMNS = (
    ("reference", gettext_lazy("Dossier")),
    ("organisation", gettext_lazy("Collectivité")),
    ("call", gettext_lazy("Appel")),
    ("country", gettext_lazy("Pays")),
    ("state", gettext_lazy("État")),
    ("requested_amount", gettext_lazy("Demandé")),
    ("granted_amount", gettext_lazy("Attribué")),
    ("submitted_at", gettext_lazy("Déposé le")),
    ("decided_at", gettext_lazy("Décidé le")),
)

BULK_ACTIONS: dict[str, Spec] = {
    "declare_eligible": services.APPLICATION_TRANSITIONS["declare_eligible"],
    "request_completion": services.APPLICATION_TRANSITIONS["request_completion"],
    "assign_reviewer": services.ASSIGN_REVIEWER,
}


def _rows(user: Any, filters: search.Filters) -> QuerySet[Application]:
    return (
        search.applications(user, filters, include_drafts=False)
        .defer("summary", "objectives")  # long texts the list and its exports never show
        .select_related("call", "organisation", "organisation__region")
        .prefetch_related(Prefetch("countries", queryset=Country.objects.order_by("iso2")))
    )


#: What a row of the list reads: plain values, no model instance (building 50
#: applications with their call, authority, region and countries, then reading them
#: through the template's lookups, was most of the page's time at 100,000 applications).
LIST_VALUES = (
    "id",
    "reference",
    "title",
    "state",
    "call_id",
    "organisation_id",
    "call__code",
    "organisation__name",
    "organisation__siren",
    "organisation__region_id",
    "organisation__region__name",
    "requested_amount",
    "granted_amount",
    "submitted_at",
    "decided_at",
    "has_overdue",
    "match_tier",
)


def _list_rows(user: Any, filters: search.Filters) -> QuerySet[Application, dict[str, Any]]:
    return search.applications(user, filters, include_drafts=False).values(*LIST_VALUES)


def _countries_shown(ids: list[Any]) -> dict[Any, list[tuple[str, str]]]:
    """(ISO code, name in the active language) of each application's project countries,
    by code, in one query."""
    countries: dict[Any, list[tuple[str, str]]] = {}
    pairs = Application.countries.through.objects.filter(application_id__in=ids).order_by("country_id")
    for application_id, iso2, name in pairs.values_list(
        "application_id", "country_id", f"country__{Country.name_field()}"
    ):
        countries.setdefault(application_id, []).append((iso2, name))
    return countries


def _bulk_offered(rows: list[dict[str, Any]], user: Any) -> bool:
    """Whether the engine offers one of the bulk actions on one of the rows. It decides
    on an application: an unsaved one per state (the FSM field is protected), given each
    row's id, call and lead authority; asked once per distinct triple, until one row is
    offered an action."""
    asked: set[tuple[Any, ...]] = set()
    by_state: dict[str, Application] = {}
    for row in rows:
        key = (row["state"], row["call_id"], row["organisation_id"])
        if key in asked:
            continue
        asked.add(key)
        app = by_state.get(row["state"])
        if app is None:
            app = by_state[row["state"]] = Application(state=row["state"])
        app.pk, app.call_id, app.organisation_id = row["id"], row["call_id"], row["organisation_id"]
        if any(engine.offered(spec, app, user) for spec in BULK_ACTIONS.values()):
            return True
    return False


class _RowLabels:
    """What every row repeats, computed once a request: the translated words, the
    application link's pattern, the state labels and badges."""

    def __init__(self) -> None:
        sample = uuid.UUID(int=0)
        self.link = reverse("staff-application", args=[sample]).replace(str(sample), "{}")
        self.states = {code: str(label) for code, label in S.choices}
        self.overdue = _("En retard")
        self.select = _("Sélectionner %(reference)s")


def _date_cell(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    local = timezone.localtime(value)  # what the template's |date did
    return f'<time datetime="{local.isoformat()}">{local.day:02d}/{local.month:02d}/{local.year:04d}</time>'


def render_rows(
    rows: list[dict[str, Any]], countries: dict[Any, list[tuple[str, str]]], *, bulk: bool, labels: _RowLabels
) -> SafeString:
    """The table's rows, rendered here rather than by the template (its tags and lookups,
    fifty rows of ten cells, cost more than the rest of the page), as the template wrote
    them. Every text read from the database goes through ``html.escape`` (quotes
    included: what ``django.utils.html.escape`` calls; ``format_html`` cost 5 ms a page);
    the numbers, dates and ids are formatted here."""
    e = html.escape
    link = labels.link
    overdue_badge = f'<br><span class="fr-badge fr-badge--sm fr-badge--error">{e(labels.overdue)}</span>'
    out = []
    for row in rows:
        pk = str(row["id"])
        overdue = row["has_overdue"]
        reference = e(str(row["reference"]))  # None reads "None", as the template wrote it
        select = ""
        if bulk:
            # The translation is the page's own text, as {% blocktranslate %} trusts it; the
            # reference it names is escaped.
            label = labels.select % {"reference": reference}
            select = (
                '<td class="fr-cell--fixed"><div class="fr-checkbox-group fr-checkbox-group--sm">'
                f'<input type="checkbox" id="select-{pk}" name="ids" value="{pk}" form="bulk-form">'
                f'<label class="fr-label" for="select-{pk}"><span class="fr-sr-only">{label}</span></label></div></td>'
            )
        shown = countries.get(row["id"])
        country_cell = ", ".join(f'<abbr title="{e(name)}">{e(iso2)}</abbr>' for iso2, name in shown) if shown else "—"
        siren = row["organisation__siren"]
        region = row["organisation__region__name"] if row["organisation__region_id"] is not None else None
        granted = row["granted_amount"]
        state = row["state"]
        row_class = ' class="staff-overdue"' if overdue else ""
        out.append(
            f'\n          <tr id="dossier-{pk}"{row_class}>\n'
            f"            {select}\n"
            f'            <td class="dossiers-wide"><a class="fr-link" href="{e(link.format(pk))}">'
            f'<strong>{reference}</strong></a><br><span class="dossiers-break">{e(str(row["title"]))}</span>\n'
            f"              {overdue_badge if overdue else ''}</td>\n"
            f'            <td><span class="dossiers-break">{e(str(row["organisation__name"]))}</span>'
            f"{_MUTED.format(e(str(siren))) if siren else ''}"
            f"{_MUTED.format(e(str(region))) if region is not None else ''}</td>\n"
            f'            <td class="staff-nowrap">{e(str(row["call__code"]))}</td>\n'
            f"            <td>{country_cell}</td>\n"
            f'            <td><span class="fr-badge fr-badge--sm fr-badge--no-icon {STATE_BADGES.get(state, "")}">'
            f"{e(labels.states.get(state, state))}</span></td>\n"
            f'            <td class="staff-amount">{euros(row["requested_amount"])}</td>\n'
            f'            <td class="staff-amount">{euros(granted) if granted is not None else "—"}</td>\n'
            f'            <td class="staff-nowrap">{_date_cell(row["submitted_at"])}</td>\n'
            f'            <td class="staff-nowrap">{_date_cell(row["decided_at"])}</td>\n'
            "          </tr>\n        "
        )
    # Every interpolated text was escaped just above (the rest is this function's markup).
    return mark_safe("".join(out))  # noqa: S308


_MUTED = '<br><span class="staff-muted fr-text--sm">{}</span>'


def _query(params: QueryDict, *drop: str) -> str:
    """The filters of ``params`` as a query string, without ``drop`` (nor empty values)."""
    query = QueryDict(mutable=True)
    for name in search.PARAMETERS:
        if name in drop:
            continue
        value = params.get(name, "")
        if value:
            query[name] = value
    return query.urlencode()


def _headers(params: QueryDict, ordering: search.Ordering) -> list[dict[str, Any]]:
    base = _query(params, "ordering")
    headers = []
    for name, label in COLUMNS:
        sort = ""
        if ordering.name == name:
            sort, target = "ascending", f"-{name}"
        elif ordering.name == f"-{name}":
            sort, target = "descending", name
        else:
            target = name
        headers.append(
            {
                "name": name,
                "label": label,
                "sort": sort,
                "url": "?" + (f"{base}&" if base else "") + f"ordering={target}",
                "hint": (
                    _("Trier par « %(column)s », ordre décroissant")
                    if target.startswith("-")
                    else _("Trier par « %(column)s », ordre croissant")
                )
                % {"column": label},
            }
        )
    return headers


def _reviewers() -> list[tuple[str, str]]:
    users = (
        get_user_model().objects.filter(role_grants__role=Role.REVIEWER, is_active=True).distinct().order_by("username")
    )
    return [(u.get_username(), f"{u.get_full_name() or u.get_username()} ({u.get_username()})") for u in users]


def _list_context(request: HttpRequest) -> tuple[dict[str, Any], int]:
    user = request.user
    form = DossierFilterForm(request.GET, user=user)
    form.is_valid()  # renders the typed values back; grants.search decides what they mean
    status = 200
    try:
        filters = search.parse_filters(request.GET)
    except search.FilterError as error:
        form.report(error)
        filters, status = None, 400
    page = None
    ordering = search.ORDERINGS["-submitted_at"]
    if filters is not None:
        ordering = search.ordering_for(filters)
        qs = _list_rows(user, filters)
        try:
            page = search.window(qs, ordering, request.GET.get("cursor"), common.PAGE_SIZE)
        except search.InvalidCursor:
            page = search.window(qs, ordering, None, common.PAGE_SIZE)  # a tampered link: the first page
    rows: list[dict[str, Any]] = page.rows if page else []
    bulk = _bulk_offered(rows, user)
    query = _query(request.GET, "cursor")
    context = {
        "form": form,
        "page": page,
        "rows": render_rows(
            rows, _countries_shown([r["id"] for r in rows]) if rows else {}, bulk=bulk, labels=_RowLabels()
        ),
        "ordering": ordering.name,
        "headers": _headers(request.GET, ordering),
        "query": query,
        "export_query": query,
        "bulk": bulk,
        "bulk_actions": [
            {"name": name, "label": spec.label, "confirm": spec.confirm} for name, spec in BULK_ACTIONS.items()
        ],
        "reviewers": _reviewers() if bulk else [],
        "searching": bool(filters and search.terms(filters.q)),
        "filtered": bool(filters and filters.active()),
    }
    return context, status


@require_GET
@staff_view()
def dossier_list(request: HttpRequest) -> HttpResponse:
    """Every application the user may see (never a draft), filtered, searched, sorted,
    one keyset page at a time. Queries: a constant number whatever the page shows."""
    context, status = _list_context(request)
    return staff_render(request, "grants/staff/dossiers.html", context, active="dossiers", status=status)


# --- bulk actions ------------------------------------------------------------------------------


def _reasons(error: TransitionError) -> list[str]:
    """What a refusal says, in the reader's language (the engine translated it)."""
    if error.errors:
        return [str(m) for messages in error.errors.values() for m in messages]
    return [str(r) for r in (error.unmet or [error.message])]


@require_POST
@staff_view()
def dossier_bulk(request: HttpRequest) -> HttpResponse:
    """Fire one action on every selected application, each through the engine in its own
    transaction; the page then says, row by row, what was done and what was refused."""
    user = request.user
    back = reverse("dossiers")
    back_query = QueryDict(request.POST.get("back", ""))
    if _query(back_query):
        back += "?" + _query(back_query)
    name = request.POST.get("action", "")
    spec = BULK_ACTIONS.get(name)
    errors: list[str] = []
    if spec is None:
        errors.append(_("Choisissez une action."))
    raw_ids = list(dict.fromkeys(request.POST.getlist("ids")))
    if not raw_ids:
        errors.append(_("Sélectionnez au moins un dossier."))
    if len(raw_ids) > MAX_BULK:
        errors.append(_("Au plus %(max)s dossiers à la fois.") % {"max": MAX_BULK})
    payload: dict[str, Any] = {}
    if name == "request_completion":
        payload["message"] = request.POST.get("message", "")
        if request.POST.get("due_date"):
            payload["due_date"] = request.POST["due_date"]
    elif name == "assign_reviewer":
        payload["reviewer"] = request.POST.get("reviewer", "")
    if errors or spec is None:
        return staff_render(
            request,
            "grants/staff/dossiers_bulk.html",
            {"errors": errors, "results": [], "back": back},
            active="dossiers",
            status=400,
        )
    ids: list[uuid.UUID | None] = []
    for raw in raw_ids:
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            ids.append(None)
    known: dict[Any, dict[str, Any]] = {
        row["pk"]: dict(row)
        for row in policy.visible_applications(user)
        .filter(pk__in=[i for i in ids if i is not None])
        .values("pk", "reference", "title")
    }
    results = []
    for raw, pk in zip(raw_ids, ids, strict=True):
        row: dict[str, Any] = known.get(pk, {}) if pk is not None else {}
        result: dict[str, Any] = {
            "id": raw,
            "reference": row.get("reference") or "",
            "title": row.get("title") or "",
            "link": reverse("staff-application", args=[pk]) if row else "",
        }
        try:
            if pk is None:
                raise engine.NotFound(_("Introuvable."))
            engine.fire(spec, pk, user=user, payload=payload)
        except TransitionError as error:
            result.update(done=False, reasons=_reasons(error))
        else:
            result.update(done=True, reasons=[])
        results.append(result)
    done = sum(1 for r in results if r["done"])
    return staff_render(
        request,
        "grants/staff/dossiers_bulk.html",
        {
            "action": spec.label,
            "results": results,
            "done": done,
            "refused": len(results) - done,
            "back": back,
            "errors": [],
        },
        active="dossiers",
    )


# --- exports -----------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    Column("reference", gettext_lazy("Référence")),
    Column("title", gettext_lazy("Titre du projet")),
    Column("call", gettext_lazy("Appel à projets")),
    Column("organisation", gettext_lazy("Collectivité chef de file")),
    Column("siren", gettext_lazy("SIREN")),
    Column("region", gettext_lazy("Région")),
    Column("countries", gettext_lazy("Pays")),
    Column("state", gettext_lazy("État")),
    Column("requested", gettext_lazy("Montant demandé (EUR)"), "money"),
    Column("granted", gettext_lazy("Montant attribué (EUR)"), "money"),
    Column("submitted_at", gettext_lazy("Déposé le"), "datetime"),
    Column("decided_at", gettext_lazy("Décidé le"), "datetime"),
    Column("overdue", gettext_lazy("Tâche en retard")),
    Column("answers", gettext_lazy("Réponses aux questions de l'appel")),  # issue 15: "code = answer; …"
)

# Characters XML 1.0 (so XLSX and ODS) cannot hold: dropped from text cells.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text_cell(value: Any) -> str:
    return neutralise(_NOT_XML.sub("", str(value)))


class _Labels:
    """The words of an export, translated once in the request (the rows are written later,
    while the response streams)."""

    def __init__(self) -> None:
        self.headers = [str(c.label) for c in EXPORT_COLUMNS]
        self.states = {code: str(label) for code, label in S.choices}
        self.yes = _("oui")
        self.no = _("non")
        self.sheet = _("Dossiers")


#: What an export reads of each row: plain values, no model instance (building the
#: application, its call, authority and region cost ~0.9 ms a row: 80 s for 88,000 rows).
EXPORT_VALUES = (
    "pk",
    "reference",
    "title",
    "call__code",
    "organisation__name",
    "organisation__siren",
    "organisation__region__name",
    "state",
    "requested_amount",
    "granted_amount",
    "submitted_at",
    "decided_at",
    "has_overdue",
    "answers",
)


def _countries_of(ids: list[Any]) -> dict[Any, list[str]]:
    """The project countries of a chunk of applications, in one query."""
    countries: dict[Any, list[str]] = {}
    pairs = Application.countries.through.objects.filter(application_id__in=ids).order_by("country_id")
    for application_id, iso2 in pairs.values_list("application_id", "country_id"):
        countries.setdefault(application_id, []).append(iso2)
    return countries


def export_rows(queryset: QuerySet[Application], labels: _Labels) -> Iterator[dict[str, Any]]:
    """One dict per application, typed (Decimal, aware datetime), read by chunks of
    ``CHUNK`` rows (their countries in one query a chunk): the memory holds one chunk,
    whatever the number of rows."""
    values = queryset.values(*EXPORT_VALUES).iterator(chunk_size=CHUNK)
    while True:
        chunk = [row for _, row in zip(range(CHUNK), values, strict=False)]
        if not chunk:
            return
        countries = _countries_of([row["pk"] for row in chunk])
        for row in chunk:
            yield {
                "reference": row["reference"] or "",
                "title": row["title"],
                "call": row["call__code"],
                "organisation": row["organisation__name"],
                "siren": row["organisation__siren"],
                "region": row["organisation__region__name"] or "",
                "countries": ", ".join(countries.get(row["pk"], [])),
                "state": labels.states.get(row["state"], row["state"]),
                "requested": row["requested_amount"],
                "granted": row["granted_amount"],
                "submitted_at": row["submitted_at"],
                "decided_at": row["decided_at"],
                "overdue": labels.yes if row["has_overdue"] else "",
                "answers": answers_text(row["answers"], labels),
            }


def answers_text(given: dict[str, Any] | None, labels: _Labels) -> str:
    """The answers to the call's own questions in one cell: ``code = answer; …`` by code."""
    parts = []
    for code, value in sorted((given or {}).items()):
        if isinstance(value, bool):
            value = labels.yes if value else labels.no
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{code} = {value}")
    return "; ".join(parts)


def _local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(PARIS)


def csv_chunks(queryset: QuerySet[Application], labels: _Labels) -> Iterator[str]:
    """RFC 4180 CSV, UTF-8 with a BOM; amounts as exact decimal strings ("25000.00"),
    dates in ISO 8601 with the Paris offset; one string per chunk of rows."""
    lines: list[str] = []
    writer = csv.writer(_Lines(lines))
    writer.writerow(labels.headers)
    yield "\ufeff" + "".join(lines)
    lines.clear()
    for index, row in enumerate(export_rows(queryset, labels), start=1):
        cells = []
        for column in EXPORT_COLUMNS:
            value = row[column.key]
            if value is None or value == "":
                cells.append("")
            elif column.kind == "money":
                cells.append(f"{value:f}")
            elif column.kind == "datetime":
                cells.append(_local(value).isoformat(timespec="seconds"))
            else:
                cells.append(neutralise(str(value)))
        writer.writerow(cells)
        if index % CHUNK == 0:
            yield "".join(lines)
            lines.clear()
    if lines:
        yield "".join(lines)


class _Lines:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def write(self, value: str) -> None:
        self.lines.append(value)


def xlsx_file(queryset: QuerySet[Application], labels: _Labels) -> IO[bytes]:
    """The workbook in a temporary file (openpyxl's write-only mode streams each row to
    disk; strings are inline, so no shared-string table grows in memory)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=labels.sheet[:31])
    widths = {"reference": 22, "title": 40, "organisation": 32}
    for index, column in enumerate(EXPORT_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = widths.get(column.key, 16)
    header = []
    for text in labels.headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in export_rows(queryset, labels):
        cells = []
        for column in EXPORT_COLUMNS:
            value = row[column.key]
            if value is None or value == "":
                cells.append(WriteOnlyCell(sheet, value=None))
            elif column.kind == "money":
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = XLSX_MONEY
                cell._value = f"{value:f}"  # the exact text, never through a float (see exports.py)
                cells.append(cell)
            elif column.kind == "datetime":
                cell = WriteOnlyCell(sheet, value=_local(value).replace(tzinfo=None))
                cell.number_format = XLSX_DATETIME
                cells.append(cell)
            else:
                cell = WriteOnlyCell(sheet, value=_text_cell(value))
                cell.data_type = "s"
                cells.append(cell)
        sheet.append(cells)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the FileResponse that streams it)
    workbook.save(handle)
    handle.seek(0)
    return handle


_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'office:version="1.2"'
)
_ODS_MIME = "application/vnd.oasis.opendocument.spreadsheet"
_ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{_ODS_MIME}"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)
_ODS_STYLES = f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-styles {_ODS_NS}/>'
_ODS_AUTOMATIC = (
    "<office:automatic-styles>"
    '<number:currency-style style:name="money" style:volatile="true">'
    '<number:number number:decimal-places="2" number:min-integer-digits="1" number:grouping="true"/>'
    "<number:text>\u00a0</number:text>"
    '<number:currency-symbol number:language="fr" number:country="FR">€</number:currency-symbol>'
    "</number:currency-style>"
    '<number:date-style style:name="when">'
    '<number:day number:style="long"/><number:text>/</number:text><number:month number:style="long"/>'
    '<number:text>/</number:text><number:year number:style="long"/><number:text> </number:text>'
    '<number:hours number:style="long"/><number:text>:</number:text><number:minutes number:style="long"/>'
    "</number:date-style>"
    '<style:style style:name="cmoney" style:family="table-cell" style:data-style-name="money"/>'
    '<style:style style:name="cwhen" style:family="table-cell" style:data-style-name="when"/>'
    '<style:style style:name="chead" style:family="table-cell"><style:text-properties fo:font-weight="bold"/>'
    "</style:style>"
    '<style:style style:name="cwide" style:family="table-column">'
    '<style:table-column-properties style:column-width="4cm"/></style:style>'
    "</office:automatic-styles>"
)


def _ods_string(text: str, style: str = "") -> str:
    # A string cell: never evaluated; the text is neutralised all the same, like the CSV
    # and XLSX ones, so a copy to another format stays harmless.
    attribute = f' table:style-name="{style}"' if style else ""
    return (
        f'<table:table-cell office:value-type="string"{attribute}>'
        f"<text:p>{escape(_NOT_XML.sub('', text))}</text:p></table:table-cell>"
    )


def _ods_cell(column: Column, value: Any) -> str:
    if value is None or value == "":
        return "<table:table-cell/>"
    if column.kind == "money":
        from grants.budget import fmt_euros

        return (
            f'<table:table-cell office:value-type="currency" office:currency="EUR" office:value="{value:f}" '
            f'table:style-name="cmoney"><text:p>{escape(fmt_euros(value))}</text:p></table:table-cell>'
        )
    if column.kind == "datetime":
        local = _local(value)
        return (
            f'<table:table-cell office:value-type="date" '
            f'office:date-value="{local.replace(tzinfo=None).isoformat(timespec="seconds")}" '
            f'table:style-name="cwhen"><text:p>{local:%d/%m/%Y %H:%M}</text:p></table:table-cell>'
        )
    return _ods_string(neutralise(str(value)))


def ods_file(queryset: QuerySet[Application], labels: _Labels) -> IO[bytes]:
    """The spreadsheet in a temporary file: ``content.xml`` is written into the archive
    chunk by chunk (odfpy would build the whole document in memory first)."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the FileResponse that streams it)
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # The mimetype comes first, stored uncompressed (ODF 1.2, section 3.3).
        archive.writestr(zipfile.ZipInfo("mimetype"), _ODS_MIME, compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", _ODS_MANIFEST)
        archive.writestr("styles.xml", _ODS_STYLES)
        with archive.open("content.xml", "w", force_zip64=True) as out:
            out.write(
                (
                    f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {_ODS_NS}>'
                    f"{_ODS_AUTOMATIC}<office:body><office:spreadsheet>"
                    f"<table:table table:name={quoteattr(labels.sheet)}>"
                    f'<table:table-column table:number-columns-repeated="{len(EXPORT_COLUMNS)}" '
                    'table:style-name="cwide"/>'
                    "<table:table-row>"
                    + "".join(_ods_string(h, "chead") for h in labels.headers)
                    + "</table:table-row>"
                ).encode()
            )
            buffer: list[str] = []
            for index, row in enumerate(export_rows(queryset, labels), start=1):
                cells = "".join(_ods_cell(column, row[column.key]) for column in EXPORT_COLUMNS)
                buffer.append(f"<table:table-row>{cells}</table:table-row>")
                if index % CHUNK == 0:
                    out.write("".join(buffer).encode())
                    buffer.clear()
            out.write(
                (
                    "".join(buffer) + "</table:table></office:spreadsheet></office:body></office:document-content>"
                ).encode()
            )
    handle.seek(0)
    return handle


def export_filename(extension: str, at: dt.datetime) -> str:
    # A fixed prefix and the date: no user text reaches the file name.
    return f"dossiers-{at.astimezone(PARIS):%Y%m%d-%H%M}.{extension}"


@require_GET
@staff_view()
def dossier_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The filtered list, every row of it, in the list's order: CSV streamed as it is
    read; XLSX and ODS written to a temporary file by chunks, then streamed from disk."""
    if fmt not in FORMATS:
        raise Http404(_("Format inconnu."))
    try:
        filters = search.parse_filters(request.GET)
    except search.FilterError:
        context, status = _list_context(request)
        return staff_render(request, "grants/staff/dossiers.html", context, active="dossiers", status=status)
    qs = search.ordered(_rows(request.user, filters), search.ordering_for(filters))
    labels = _Labels()
    content_type, extension = FORMATS[fmt]
    filename = export_filename(extension, timezone.now())
    response: HttpResponseBase
    if fmt == "csv":
        response = StreamingHttpResponse(csv_chunks(qs, labels), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    handle = xlsx_file(qs, labels) if fmt == "xlsx" else ods_file(qs, labels)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)


__all__ = ["dossier_bulk", "dossier_export", "dossier_list"]
