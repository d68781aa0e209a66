"""Finding applications: the filters, the full-text search, the orderings and the
keyset windows of the staff list (``/dossiers/``) and of ``GET /api/v1/applications/``.
One implementation, so a filter means the same on the page, in its exports and in the API.

Every list starts from the read policy (``grants.policy.visible_applications``); the
decision columns (granted amount, decision date) come from ``policy.visible_decisions``,
so a reader who may not know a decision can neither see, filter nor sort by it.

The search document
    ``Application.search_text`` holds the application's reference, title, summary,
    objectives, its lead and co-applicant authorities (names and SIRENs) and its foreign
    partners' names, lower-cased and without accents (``normalise``); the query is
    normalised by the same function, so both back-ends ignore case and accents alike. It
    is recomputed on every save of the application (draft edits and transitions all save
    it) and by ``refresh`` (migration backfill, bulk loads).

PostgreSQL
    Every word matches as a stemmed prefix through the French full-text configuration
    ``grants_french`` (``french`` behind ``unaccent``): "valoriser" finds
    "valorisation", "compost" finds "compostage", the start of a reference finds it. A
    word with digits (a reference, a SIREN, a number) may also match inside a word, as a
    substring served by the trigram index. Both GIN indexes and the configuration come
    from migration ``0006_search``. No ``SearchRank``: it recomputes the vector of every
    matching row (measured: 45 s for a word found in 20,000 applications); a search lists
    the newest first after the reference and SIREN matches.

SQLite (the embedded default)
    Every word must be a substring of the document (``LIKE``): no stemming, but a word
    is found inside another.

On both, a reference or a SIREN typed whole puts its application(s) first.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants import policy
from grants.machines.payload import parse_amount
from grants.models import Application, ApplicationPartner, Decision, Organisation
from workflows.engine import Invalid
from workflows.models import Task

S = Application.State

#: The full-text configuration created by migration 0006_search (french + unaccent).
FTS_CONFIG = "grants_french"
MAX_QUERY_LENGTH = 200

# --- normalisation ---------------------------------------------------------------------------

# Letters NFKD does not decompose, spelt as unaccent spells them.
_LETTERS = str.maketrans(
    {
        "œ": "oe",
        "æ": "ae",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        "ŧ": "t",
        "’": "'",
        "‘": "'",
        "ʼ": "'",
    }
)


def normalise(text: str) -> str:
    """Lower case, no accents, single spaces: "Île-de-France  Cœur" → "ile-de-france coeur"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.translate(_LETTERS).split())


def _document(reference: str | None, texts: Iterable[str]) -> str:
    return normalise(" ".join(t for t in (reference or "", *texts) if t))


def document(application: Application) -> str:
    """The search document of one application (what ``search_text`` stores). Reads the
    lead authority, and for a saved row its co-applicants and partners (3 queries)."""
    texts = [application.title, application.summary, application.objectives]
    if application.organisation_id:
        texts += [application.organisation.name, application.organisation.siren]
    if application.pk and not application._state.adding:
        # What a transition already fetched (grants.machines.application.prefetch_dossier)
        # is read from memory, in the same order as the queries below.
        fetched = getattr(application, "_prefetched_objects_cache", {})
        if "co_applicants" in fetched:
            co_applicants = [(o.name, o.siren) for o in application.co_applicants.all()]
        else:
            co_applicants = list(application.co_applicants.values_list("name", "siren"))
        for name, siren in co_applicants:
            texts += [name, siren]
        if "partners" in fetched:
            texts += [p.name for p in application.partners.all()]
        else:
            texts += ApplicationPartner.objects.filter(application_id=application.pk).values_list("name", flat=True)
    return _document(application.reference, texts)


def refresh(queryset: QuerySet[Application] | None = None, *, chunk: int = 500) -> int:
    """Recompute ``search_text`` of ``queryset`` (every application by default), by chunks
    of ``chunk`` rows in primary-key order, four queries a chunk. Returns the rows updated."""
    qs = (Application.objects.all() if queryset is None else queryset).order_by("pk")
    done = 0
    last: Any = None
    while True:
        page = qs if last is None else qs.filter(pk__gt=last)
        batch = list(
            page.select_related("organisation")
            .prefetch_related("co_applicants", "partners")
            # "state" too: django-fsm reads it on every instance (deferred, one query a row).
            .only(
                "pk",
                "state",
                "reference",
                "title",
                "summary",
                "objectives",
                "organisation__name",
                "organisation__siren",
            )[:chunk]
        )
        if not batch:
            return done
        for app in batch:
            texts = [app.title, app.summary, app.objectives, app.organisation.name, app.organisation.siren]
            for co in app.co_applicants.all():
                texts += [co.name, co.siren]
            texts += [p.name for p in app.partners.all()]
            app.search_text = _document(app.reference, texts)
        Application.objects.bulk_update(batch, ["search_text"])
        done += len(batch)
        last = batch[-1].pk


def uses_postgres_search() -> bool:
    """Whether the full-text path runs (the tests patch this to run the fallback on PostgreSQL)."""
    return connection.vendor == "postgresql"


# --- filters ---------------------------------------------------------------------------------


class FilterError(Exception):
    """Bad filter values, by parameter name (the API's 400 body, the page's form errors)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class Filters:
    q: str = ""
    call: str = ""
    state: str = ""
    country: str = ""
    region: str = ""
    organisation: str = ""  # an organisation id, or a SIREN (9 digits)
    requested_min: Decimal | None = None
    requested_max: Decimal | None = None
    granted_min: Decimal | None = None
    granted_max: Decimal | None = None
    submitted_from: dt.date | None = None
    submitted_to: dt.date | None = None
    decided_from: dt.date | None = None
    decided_to: dt.date | None = None
    overdue: bool = False
    ordering: str = ""

    def active(self) -> dict[str, Any]:
        """The filters set (the ordering aside), by parameter name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "ordering" and getattr(self, f.name)}


#: The query parameters that are filters (pagination and format aside), in form order.
PARAMETERS = tuple(f.name for f in fields(Filters))

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_ISO2 = re.compile(r"^[A-Za-z]{2}$")
_REGION = re.compile(r"^[0-9A-Za-z]{1,3}$")
_SIREN = re.compile(r"^[0-9]{9}$")
_TRUE = {"1", "true", "on", "yes", "oui"}
_FALSE = {"", "0", "false", "off", "no", "non"}


def _text(raw: Any) -> str:
    return raw.strip() if isinstance(raw, str) else ""


def parse_filters(params: Mapping[str, Any]) -> Filters:
    """Read the filters from query parameters (a QueryDict or a dict of strings). Every
    bad value is reported on its parameter; unknown parameters are ignored."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    raw = {name: _text(params.get(name)) for name in PARAMETERS}
    for name, value in raw.items():
        if "\x00" in value or any(unicodedata.category(c) == "Cc" for c in value):
            fail(name, _("Caractère de contrôle interdit."))
            raw[name] = ""

    q = raw["q"]
    if len(q) > MAX_QUERY_LENGTH:
        fail("q", _("La recherche dépasse %(max)s caractères.") % {"max": MAX_QUERY_LENGTH})
    values["q"] = q
    if raw["call"]:
        if _CODE.match(raw["call"]):
            values["call"] = raw["call"]
        else:
            fail("call", _("Code d'appel à projets invalide."))
    if raw["state"]:
        if raw["state"] in S.values:
            values["state"] = raw["state"]
        else:
            fail("state", _("Valeur inconnue ; valeurs possibles : %(list)s.") % {"list": ", ".join(S.values)})
    if raw["country"]:
        if _ISO2.match(raw["country"]):
            values["country"] = raw["country"].upper()
        else:
            fail("country", _("Code pays invalide : deux lettres ISO 3166 (par ex. SN)."))
    if raw["region"]:
        if _REGION.match(raw["region"]):
            values["region"] = raw["region"]
        else:
            fail("region", _("Code de région invalide : le code INSEE (par ex. 84)."))
    if raw["organisation"]:
        if _SIREN.match(raw["organisation"]) or (raw["organisation"].isdigit() and int(raw["organisation"]) > 0):
            values["organisation"] = raw["organisation"]
        else:
            fail("organisation", _("Collectivité invalide : son identifiant ou son SIREN (9 chiffres)."))
    for name in ("requested_min", "requested_max", "granted_min", "granted_max"):
        if raw[name]:
            try:
                values[name] = parse_amount(raw[name], name)
            except Invalid as error:
                for message in error.errors.get(name, [error.message]):
                    fail(name, str(message))
    for name in ("submitted_from", "submitted_to", "decided_from", "decided_to"):
        if raw[name]:
            try:
                values[name] = dt.date.fromisoformat(raw[name])
            except ValueError:
                fail(name, _("Date invalide : format attendu AAAA-MM-JJ."))
    for low, high in (
        ("requested_min", "requested_max"),
        ("granted_min", "granted_max"),
        ("submitted_from", "submitted_to"),
        ("decided_from", "decided_to"),
    ):
        if values.get(low) is not None and values.get(high) is not None and values[low] > values[high]:
            fail(high, _("La borne supérieure est avant la borne inférieure."))
    overdue = raw["overdue"].lower()
    if overdue in _TRUE:
        values["overdue"] = True
    elif overdue not in _FALSE:
        fail("overdue", _("Valeur attendue : 1 ou 0."))
    ordering = raw["ordering"]
    if ordering and ordering not in ORDERINGS:
        fail("ordering", _("Tri inconnu ; valeurs possibles : %(list)s.") % {"list": ", ".join(ORDERINGS)})
    else:
        values["ordering"] = ordering
    if errors:
        raise FilterError(errors)
    return Filters(**values)


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# --- the list --------------------------------------------------------------------------------

STATE_ORDER = list(S.values)  # the machine's order: draft, submitted, … withdrawn


def applications(
    user: Any, filters: Filters, *, include_drafts: bool = True, now: dt.datetime | None = None
) -> QuerySet[Application]:
    """The applications ``user`` may see that pass ``filters``, annotated with what the
    lists show and sort by (``granted_amount``, ``decided_at``, ``has_overdue``,
    ``match_tier``); ``ordering_for`` says in which order to list them.
    ``include_drafts=False``: the staff pages (a user who is also an applicant sees its
    drafts in its own portal)."""
    now = now or timezone.now()
    qs = policy.visible_applications(user)
    if not include_drafts:
        qs = qs.exclude(state=S.DRAFT)
    decisions = policy.visible_decisions(user)
    # The decision by a LEFT JOIN, shown only when the policy lets the user read it: a
    # hashed subplan probed per row (a correlated subquery per row, repeated in every
    # keyset comparison, was 20 times slower sorted by amount).
    # A reader of every decision needs no test (the subquery hashed every decision: 20 to
    # 35 ms at 100,000 applications, twice).
    # A pure applicant's the same way (its rows decide: policy.decision_row_clause).
    readable = policy.decision_row_clause(user)
    if readable is None:
        readable = Q(decision__pk__in=decisions.values("pk"))
    qs = (
        qs.defer("search_text")
        .annotate(
            granted_amount=Case(
                When(readable & Q(decision__outcome=Decision.Outcome.APPROVED), then=F("decision__amount")),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
            decided_at=Case(When(readable, then=F("decision__decided_at")), output_field=DateTimeField()),
        )
        # "Has an overdue task": a scalar subquery probed per row (task_application_state),
        # not EXISTS: PostgreSQL hashes an EXISTS of the select list over every overdue task
        # of the database (13,000 at 100,000 applications) even for a page of 20 rows.
        .alias(
            first_overdue=Subquery(
                Task.objects.filter(application_id=OuterRef("pk"), state=Task.State.OPEN, due_at__lt=now)
                .order_by()
                .values("pk")[:1]
            )
        )
        .annotate(
            has_overdue=Case(
                When(first_overdue__isnull=False, then=Value(True)), default=Value(False), output_field=BooleanField()
            )
        )
    )
    qs = _filter(qs, filters, decisions, now)
    return _search(qs, filters.q)


def _filter(
    qs: QuerySet[Application], f: Filters, decisions: QuerySet[Decision], now: dt.datetime
) -> QuerySet[Application]:
    if f.call:
        qs = qs.filter(call__code=f.call)
    if f.state:
        qs = qs.filter(state=f.state)
    if f.country:
        through = Application.countries.through
        qs = qs.filter(pk__in=through.objects.filter(country_id=f.country).values("application_id"))
    if f.region:
        qs = qs.filter(organisation__region_id=f.region)
    if f.organisation:
        orgs = (
            Organisation.objects.filter(siren=f.organisation)
            if _SIREN.match(f.organisation)
            else Organisation.objects.filter(pk=int(f.organisation))
        ).values("pk")
        co = Application.co_applicants.through.objects.filter(organisation_id__in=orgs).values("application_id")
        qs = qs.filter(Q(organisation_id__in=orgs) | Q(pk__in=co))
    if f.requested_min is not None:
        qs = qs.filter(requested_amount__gte=f.requested_min)
    if f.requested_max is not None:
        qs = qs.filter(requested_amount__lte=f.requested_max)
    if f.granted_min is not None or f.granted_max is not None:
        granted = decisions.filter(outcome=Decision.Outcome.APPROVED)
        if f.granted_min is not None:
            granted = granted.filter(amount__gte=f.granted_min)
        if f.granted_max is not None:
            granted = granted.filter(amount__lte=f.granted_max)
        qs = qs.filter(pk__in=granted.values("application_id"))
    if f.submitted_from:
        qs = qs.filter(submitted_at__gte=_day_start(f.submitted_from))
    if f.submitted_to:
        qs = qs.filter(submitted_at__lt=_day_start(f.submitted_to + dt.timedelta(days=1)))
    if f.decided_from or f.decided_to:
        decided = decisions
        if f.decided_from:
            decided = decided.filter(decided_at__gte=_day_start(f.decided_from))
        if f.decided_to:
            decided = decided.filter(decided_at__lt=_day_start(f.decided_to + dt.timedelta(days=1)))
        qs = qs.filter(pk__in=decided.values("application_id"))
    if f.overdue:
        qs = qs.filter(**{"has_overdue": True})  # the annotation of ``applications``
    return qs


def terms(q: str) -> list[str]:
    return normalise(q).split()


_NOT_WORD = re.compile(r"[^a-z0-9-]+")


def fts_words(words: Sequence[str]) -> list[str]:
    """The words as the full-text query reads them: letters, digits and inner hyphens
    ("d'eau" → "d", "eau"); anything else is never handed to ``to_tsquery``."""
    out: list[str] = []
    for word in words:
        out += [w.strip("-") for w in _NOT_WORD.split(word) if w.strip("-")]
    return out


def _prefix_query(words: Sequence[str]) -> Any:
    from django.contrib.postgres.search import SearchQuery

    # Every word, stemmed, as a prefix: "valoriser" finds "valorisation", "compost"
    # "compostage", "AAP-2026-000" the references it begins.
    return SearchQuery(" & ".join(f"{w}:*" for w in words), config=FTS_CONFIG, search_type="raw")


def _search(qs: QuerySet[Application], q: str) -> QuerySet[Application]:
    """Narrow to the applications matching ``q`` and annotate ``match_tier``: 0 for the
    reference typed whole, 1 for a SIREN typed whole (lead or co-applicant), 2 for the
    others (the relevance ordering then lists the newest first)."""
    words = terms(q)
    if not words:
        return qs.annotate(match_tier=Value(2))
    # The reference is in the document: its exact form only decides the tier. Every
    # reference ends with its number ("AAP-2026-GEN-00042") and a SIREN is digits: a query
    # without a digit is neither, and its tier is the constant 2, which PostgreSQL drops
    # from the ORDER BY, walking the list's index (a CASE forced it to sort every match:
    # 0.7 s for a common word at 100,000 applications, 40 ms walking; bench/pages.py).
    if not any(c.isdigit() for c in q):
        return _match(qs, words).annotate(match_tier=Value(2))
    tiers = [When(reference__iexact=q.strip(), then=Value(0))]
    digits = re.sub(r"[\s\u00a0\u202f.]", "", q)
    if _SIREN.match(digits):
        co = Application.co_applicants.through.objects.filter(organisation__siren=digits).values("application_id")
        tiers.append(When(Q(organisation__siren=digits) | Q(pk__in=co), then=Value(1)))
    tier = Case(*tiers, default=Value(2), output_field=IntegerField())
    return _match(qs, words).annotate(match_tier=tier)


def _substrings(words: Sequence[str]) -> Q:
    condition = Q()
    for word in words:
        condition &= Q(search_text__contains=word)
    return condition


def _match(qs: QuerySet[Application], words: list[str]) -> QuerySet[Application]:
    if not uses_postgres_search():
        return qs.filter(_substrings(words))
    from django.contrib.postgres.search import SearchVector

    tokens = fts_words(words)
    if not tokens:  # only punctuation: as typed, a substring
        return qs.filter(_substrings(words))
    vector = SearchVector("search_text", config=FTS_CONFIG)
    numbers = [t for t in tokens if any(c.isdigit() for c in t)]
    # Each condition on the vector is its own subquery, read through its GIN index once:
    # inline, PostgreSQL may rather walk the list's order and recompute the vector of
    # every row it meets (seconds for a common word), or recheck an OR row by row.
    whole = Application.objects.order_by().alias(search_vector=vector).filter(search_vector=_prefix_query(tokens))
    if not numbers:
        return qs.filter(pk__in=whole.values("pk"))
    # A word with digits (a reference, a SIREN, a number) may also match inside a word,
    # through the trigram index; each branch is its own index scan.
    words_only = [t for t in tokens if t not in numbers]
    inside = Application.objects.order_by().filter(_substrings(numbers))
    if words_only:
        inside = inside.alias(search_vector=vector).filter(search_vector=_prefix_query(words_only))
    # One UNION of both branches, not an OR of two IN: PostgreSQL tests an OR of hashed
    # subplans on every row of the list (a parallel sequential scan, 80 ms at 100,000
    # applications), while the UNION's few ids are looked up by primary key.
    return qs.filter(pk__in=whole.values("pk").union(inside.values("pk")))


# --- orderings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """One column of a keyset ordering: a field lookup or an annotation, its value type
    (``str``, ``int``, ``decimal``, ``datetime``, ``date``, ``uuid``) and direction. NULL
    sorts as the largest value, on every back-end (last ascending, first descending).
    Every keyset of the project is made of these (the staff lists' ``Key`` is this class)."""

    name: str
    type: str
    descending: bool = False
    nullable: bool = False

    def reversed(self) -> SortKey:
        return SortKey(self.name, self.type, not self.descending, self.nullable)


@dataclass(frozen=True)
class Ordering:
    name: str
    label: Any
    keys: tuple[SortKey, ...]
    extra: tuple[str, ...] = ()  # annotations this ordering needs (see ``_ANNOTATIONS``)

    def annotations(self) -> dict[str, Any]:
        return {name: _ANNOTATIONS[name]() for name in self.extra}


def _first_country() -> Subquery:
    through = Application.countries.through
    return Subquery(
        through.objects.filter(application_id=OuterRef("pk")).order_by("country_id").values("country_id")[:1]
    )


def _state_rank() -> Case:
    return Case(
        *(When(state=code, then=Value(index)) for index, code in enumerate(STATE_ORDER)),
        default=Value(len(STATE_ORDER)),
        output_field=IntegerField(),
    )


_ANNOTATIONS: dict[str, Callable[[], Any]] = {"first_country": _first_country, "state_rank": _state_rank}

ID = "id"


def _column(name: str, label: Any, key: SortKey, extra: tuple[str, ...] = ()) -> list[Ordering]:
    """An ascending and a descending ordering on one column, the id breaking ties."""
    return [
        Ordering(name, label, (key, SortKey(ID, "uuid")), extra),
        Ordering(
            f"-{name}",
            label,
            (SortKey(key.name, key.type, True, key.nullable), SortKey(ID, "uuid", True)),
            extra,
        ),
    ]


ORDERINGS: dict[str, Ordering] = {
    o.name: o
    for o in [
        Ordering(
            "relevance",
            gettext_lazy("Pertinence"),
            (
                SortKey("match_tier", "int"),
                SortKey("submitted_at", "datetime", True, True),
                SortKey(ID, "uuid", True),
            ),
        ),
        *_column("reference", gettext_lazy("Référence"), SortKey("reference", "str", nullable=True)),
        *_column("title", gettext_lazy("Titre"), SortKey("title", "str")),
        *_column("call", gettext_lazy("Appel"), SortKey("call__code", "str")),
        *_column("organisation", gettext_lazy("Collectivité"), SortKey("organisation__name", "str")),
        *_column("country", gettext_lazy("Pays"), SortKey("first_country", "str", nullable=True), ("first_country",)),
        *_column("state", gettext_lazy("État"), SortKey("state_rank", "int"), ("state_rank",)),
        *_column("requested_amount", gettext_lazy("Montant demandé"), SortKey("requested_amount", "decimal")),
        *_column(
            "granted_amount", gettext_lazy("Montant attribué"), SortKey("granted_amount", "decimal", nullable=True)
        ),
        *_column("submitted_at", gettext_lazy("Déposé le"), SortKey("submitted_at", "datetime", nullable=True)),
        *_column("decided_at", gettext_lazy("Décidé le"), SortKey("decided_at", "datetime", nullable=True)),
        *_column("created_at", gettext_lazy("Créé le"), SortKey("created_at", "datetime")),
    ]
}


def ordering_for(filters: Filters, *, fallback: str = "-submitted_at") -> Ordering:
    """The ordering asked for; else relevance when searching; else ``fallback``
    (relevance without a search is ``fallback`` too)."""
    searching = bool(terms(filters.q))
    name = filters.ordering
    if not name or (name == "relevance" and not searching):
        name = "relevance" if searching else fallback
    return ORDERINGS[name]


# --- keyset windows (both directions, no OFFSET, no COUNT) ------------------------------------


class InvalidCursor(Exception):
    """A cursor this ordering cannot have produced (forged, truncated, another ordering)."""


def parse_value(key: SortKey, raw: Any) -> Any:
    """One value of a cursor, as ``key`` types it (None: NULL), or InvalidCursor."""
    if raw is None:
        if not key.nullable:
            raise InvalidCursor(key.name)
        return None
    if not isinstance(raw, str):
        raise InvalidCursor(key.name)
    try:
        if key.type == "str":
            return raw
        if key.type == "int":
            return int(raw)
        if key.type == "decimal":
            value = Decimal(raw)
            if not value.is_finite():
                raise InvalidCursor(key.name)
            return value
        if key.type == "datetime":
            moment = dt.datetime.fromisoformat(raw)
            if moment.tzinfo is None:
                raise InvalidCursor(key.name)
            return moment
        if key.type == "date":
            return dt.date.fromisoformat(raw)
        if key.type == "uuid":
            return uuid.UUID(raw)
    except (ValueError, InvalidOperation, OverflowError):
        raise InvalidCursor(key.name) from None
    raise InvalidCursor(key.name)


def _format(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def encode_cursor(ordering: str, backwards: bool, values: Sequence[Any]) -> str:
    payload = json.dumps({"o": ordering, "b": backwards, "v": [_format(v) for v in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(token: str, ordering: Ordering) -> tuple[bool, list[Any]]:
    """(backwards, the position's values), or InvalidCursor."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor(token) from None
    if not isinstance(data, dict) or data.get("o") != ordering.name or not isinstance(data.get("b"), bool):
        raise InvalidCursor(token)
    values = data.get("v")
    if not isinstance(values, list) or len(values) != len(ordering.keys):
        raise InvalidCursor(token)
    return data["b"], [parse_value(key, value) for key, value in zip(ordering.keys, values, strict=True)]


def _order_by(keys: Iterable[SortKey]) -> list[Any]:
    out = []
    for key in keys:
        expression = F(key.name)
        if key.descending:
            out.append(expression.desc(nulls_first=True) if key.nullable else expression.desc())
        else:
            out.append(expression.asc(nulls_last=True) if key.nullable else expression.asc())
    return out


def _after(keys: Sequence[SortKey], values: Sequence[Any]) -> Q:
    """Rows strictly after ``values`` in the order of ``keys`` (NULL the largest value):
    (k1, k2, …) > (v1, v2, …) spelt out as k1 > v1 OR (k1 = v1 AND k2 > v2) OR …"""
    branches: list[Q] = []
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        step: Q | None
        if key.descending:
            step = Q(**{f"{key.name}__isnull": False}) if value is None else Q(**{f"{key.name}__lt": value})
        elif value is None:
            step = None  # nothing is larger than NULL
        else:
            step = Q(**{f"{key.name}__gt": value})
            if key.nullable:
                step |= Q(**{f"{key.name}__isnull": True})
        if step is not None:
            branches.append(equal & step)
        equal &= Q(**{f"{key.name}__isnull": True}) if value is None else Q(**{key.name: value})
    if not branches:
        return Q(pk__in=[])
    condition = branches[0]
    for branch in branches[1:]:
        condition |= branch
    return condition


def _bound(walked: Sequence[SortKey], values: Sequence[Any]) -> Q:
    """What ``_after`` implies on the first key, to AND with it when walking a keyset in
    reverse (a backward page): the ordering index then starts its scan at the position (an
    index condition) instead of at the list's far end, filtering every row on the way
    (measured at 100,000: the instructor inbox's previous page 16.7 → 0.6 ms). Only
    backwards: forward pages keep the SQL they had (with the bound, PostgreSQL chose a
    bitmap scan and a sort for the signatory's next page: 9 → 28 ms)."""
    first, value = walked[0], values[0]
    if value is None or (first.nullable and not first.descending):
        return Q()  # after NULL, or after a value of a key whose NULLs come last: no bound
    return Q(**{f"{first.name}__{'lte' if first.descending else 'gte'}": value})


def _position(row: Any, keys: Sequence[SortKey]) -> list[Any]:
    if isinstance(row, dict):  # a ``values()`` row: each key under its own name
        return [row[key.name] for key in keys]
    values = []
    for key in keys:
        value: Any = row
        for part in key.name.split("__"):
            value = getattr(value, part)
        values.append(value)
    return values


@dataclass
class Window:
    """One page of a keyset ordering and the cursors of its neighbours (None: none)."""

    rows: list[Any]
    next_cursor: str | None
    previous_cursor: str | None
    cursor: str | None
    size: int
    ordering: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None


@dataclass
class Slice:
    """The rows of one page in the keyset's order and whether a page exists before and
    after them (the codec-free core: ``window`` and the committee agenda build on it)."""

    rows: list[Any]
    has_previous: bool
    has_next: bool


def _slice(fetched: list[Any], size: int, *, backwards: bool, values: Any) -> Slice:
    """The page of ``size`` rows out of ``fetched`` (``size + 1`` rows read in the keyset's
    direction: one more says there is a next, or for a backward cursor a previous, page).
    A position was a row: after it, there is a page before; before it, a page after."""
    more = len(fetched) > size
    rows = fetched[:size]
    if backwards:
        rows.reverse()
        has_previous, has_next = more, True
    else:
        has_previous, has_next = values is not None, more
    # No row, no neighbour to point at (a position past the end: only the first page).
    return Slice(rows, bool(rows) and has_previous, bool(rows) and has_next)


def keyset_slice(
    queryset: QuerySet[Any],
    keys: Sequence[SortKey],
    values: Sequence[Any] | None,
    size: int,
    *,
    backwards: bool = False,
) -> Slice:
    """The ``size`` rows of ``queryset`` in the order of ``keys`` strictly after ``values``
    (or, ``backwards``, strictly before them): ONE query of ``size + 1`` rows in the keyset
    order (or its reverse), never OFFSET, never COUNT. ``values`` None: the first page."""
    walked = tuple(k.reversed() for k in keys) if backwards else tuple(keys)
    qs = queryset.order_by(*_order_by(walked))
    if values is not None:
        qs = qs.filter((_bound(walked, values) if backwards else Q()) & _after(walked, values))
    return _slice(list(qs[: size + 1]), size, backwards=backwards, values=values)


def _window(
    fetched: list[Any], size: int, ordering: Ordering, cursor: str | None, *, backwards: bool, values: Any
) -> Window:
    """The Window of ``fetched`` (``size + 1`` rows read in the keyset's direction)."""
    return _window_of(_slice(fetched, size, backwards=backwards, values=values), size, ordering, cursor, values)


def _window_of(part: Slice, size: int, ordering: Ordering, cursor: str | None, values: Any) -> Window:
    next_cursor = previous_cursor = None
    if part.has_next:
        next_cursor = encode_cursor(ordering.name, False, _position(part.rows[-1], ordering.keys))
    if part.has_previous:
        previous_cursor = encode_cursor(ordering.name, True, _position(part.rows[0], ordering.keys))
    return Window(part.rows, next_cursor, previous_cursor, cursor if values is not None else None, size, ordering.name)


def window(queryset: QuerySet[Any], ordering: Ordering, cursor: str | None, size: int) -> Window:
    """The page of ``queryset`` after (or, for a backward cursor, before) ``cursor``:
    one query of ``size + 1`` rows in the ordering's keyset (or its reverse), never
    OFFSET, never COUNT. Raises InvalidCursor for a cursor this ordering did not make."""
    backwards, values = (False, None) if not cursor else decode_cursor(cursor, ordering)
    return window_at(queryset, ordering, values, size, backwards=backwards, cursor=cursor)


def window_at(
    queryset: QuerySet[Any],
    ordering: Ordering,
    values: Sequence[Any] | None,
    size: int,
    *,
    backwards: bool = False,
    cursor: str | None = None,
) -> Window:
    """``window`` from a position already decoded (``values`` None: the first page);
    ``cursor`` is what the page reports it was asked for."""
    if ordering.extra:
        queryset = queryset.annotate(**ordering.annotations())
    part = keyset_slice(queryset, ordering.keys, values, size, backwards=backwards)
    return _window_of(part, size, ordering, cursor, values)


def merged_window(querysets: Sequence[QuerySet[Any]], ordering: Ordering, cursor: str | None, size: int) -> Window:
    """``window`` over the union of disjoint ``querysets``, one keyset query of
    ``size + 1`` rows each (each on its own index), merged here: the union in SQL would
    read and sort every row of every branch. Same cursors as ``window``; the ordering's
    keys must be plain columns (no annotation)."""
    backwards, values = (False, None) if not cursor else decode_cursor(cursor, ordering)
    keys = tuple(k.reversed() for k in ordering.keys) if backwards else ordering.keys
    found: dict[Any, Any] = {}
    for queryset in querysets:
        qs = queryset.order_by(*_order_by(keys))
        if values is not None:
            qs = qs.filter(_after(keys, values))
        # The page's ids first (no join), then their rows with the caller's joins: the
        # joins then touch size + 1 rows, not every row of the branch before its sort.
        ids = qs.values("pk")[: size + 1]
        for row in queryset.filter(pk__in=ids).order_by(*_order_by(keys)):
            found.setdefault(row.pk, row)
    # Sort each key in its direction, the last first (Python's sort is stable).
    merged = [(_position(row, keys), row) for row in found.values()]
    for index in reversed(range(len(keys))):

        def value(item: tuple[list[Any], Any], i: int = index) -> tuple[bool, Any]:
            return _sortable(item[0][i])

        merged.sort(key=value, reverse=keys[index].descending)
    ordered_rows = [row for _values, row in merged]
    return _window(ordered_rows, size, ordering, cursor, backwards=backwards, values=values)


def _sortable(value: Any) -> tuple[bool, Any]:
    # NULL is the largest value, as in SQL here (``SortKey``).
    return (value is None, value if value is not None else 0)


def ordered(queryset: QuerySet[Any], ordering: Ordering) -> QuerySet[Any]:
    """The whole of ``queryset`` in ``ordering`` (the exports)."""
    return queryset.annotate(**ordering.annotations()).order_by(*_order_by(ordering.keys))
