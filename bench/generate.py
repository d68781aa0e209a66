"""Data generator: a realistic database of N applications (default 100,000) in every state,
over ten calls and six years, loaded by PostgreSQL COPY.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_helper python -m bench.generate [N]

(standalone, the named database is dropped, created and migrated first; `make bench` calls
``generate()`` through bench/scale.py, which does the same per size).

What it writes, per application, is what the transition service would have written had
every step been fired through it (grants.services / workflows.engine): the history is
simulated transition by transition with the machines' own rules, and each step leaves the
rows the service's effects leave:

- the transition log, one hash chain per application (``TransitionLog.canonical`` and
  ``GENESIS_HASH`` of workflows.models, so ``manage.py verify_audit`` checks it), the
  draft's ``create`` entry first, companions' entries (reviewer assignment, opinions,
  reviews, cancellations, signature, delivery, commitment) in the same chain; committee
  sessions have their own chains; ids follow time across all chains, as in production;
- tasks opened and closed (done / cancelled) by the same transitions, with their queues
  and scopes (``check_eligibility``, ``complete_application``, ``give_opinion``,
  ``review``, ``schedule_committee``, ``sign_decision``, ``record_commitment``);
- opinion requests (one per project country, the prefecture's when the call asks for it),
  given, expired or cancelled; reviews assigned, submitted or declined; decisions in
  draft / signed / delivered / recorded; snapshots at each (re)submission; documents'
  metadata (deposit receipts, ineligibility notices, decision letters); attachments'
  metadata; budget lines, partners, project countries, co-applicants;
- reference numbers gap-free per call, in submission order.

Organisations: ~2,000 French local authorities over the 18 regions, with a skewed number
of applications each (a few cities file hundreds, most a handful); countries and regions
are the reference data already migrated. Accounts: one applicant per organisation and the
staff listed in ``ACCOUNTS`` (every password is ``PASSWORD``), all named ``bench-…``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import os
import random
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

UTC = dt.UTC
PASSWORD = "bench-password"  # noqa: S105 - throw-away accounts of a benchmark database
SERVICE_SAMPLE = 50
CHUNK = 10_000  # applications simulated between two rounds of COPY

# --- the shape of the data ------------------------------------------------------------------

# (code, year, kind, state, share of the applications). The 2026 generalist call is open
# now; the 2026 thematic one is closed and in instruction; the others are decided.
CALLS = [
    ("AAP-2021-GEN", 2021, "generalist", "archived", 5),
    ("AAP-2022-GEN", 2022, "generalist", "archived", 7),
    ("AAP-2022-THE", 2022, "thematic", "archived", 3),
    ("AAP-2023-GEN", 2023, "generalist", "archived", 9),
    ("AAP-2024-GEN", 2024, "generalist", "closed", 10),
    ("AAP-2024-THE", 2024, "thematic", "closed", 5),
    ("AAP-2025-GEN", 2025, "generalist", "closed", 12),
    ("AAP-2025-THE", 2025, "thematic", "closed", 6),
    ("AAP-2026-THE", 2026, "thematic", "closed", 13),
    ("AAP-2026-GEN", 2026, "generalist", "published", 30),
]
OPEN_CALL = "AAP-2026-GEN"
INSTRUCTION_CALL = "AAP-2026-THE"

# Target states per kind of call (weights).
DECIDED = {"draft": 7, "ineligible": 11, "withdrawn": 6, "approved": 42, "rejected": 34}
IN_INSTRUCTION = {
    "draft": 5,
    "ineligible": 9,
    "withdrawn": 5,
    "awaiting_opinions": 8,
    "under_review": 22,
    "in_committee": 14,
    "approved": 19,
    "rejected": 18,
}
OPEN = {
    "draft": 24,
    "submitted": 22,
    "incomplete": 11,
    "ineligible": 7,
    "awaiting_opinions": 16,
    "under_review": 12,
    "in_committee": 3,
    "withdrawn": 5,
}

# Project countries (ISO2, weight): where French authorities' partners are.
PROJECT_COUNTRIES = [
    ("SN", 14), ("MA", 10), ("BF", 7), ("BJ", 7), ("TN", 6), ("MG", 6), ("ML", 5), ("CM", 5),
    ("CI", 5), ("TG", 4), ("HT", 4), ("VN", 4), ("NE", 3), ("MR", 3), ("GN", 3), ("KH", 3),
    ("LB", 3), ("CA", 3), ("PS", 2), ("AM", 2), ("PE", 2), ("BR", 2), ("CD", 2), ("LA", 2),
    ("DZ", 2), ("MX", 1), ("CL", 1), ("IN", 1), ("JP", 1), ("DE", 1), ("PL", 1), ("UA", 1),
]  # fmt: skip
# Region weights (INSEE code: rough share of French local authorities' cooperation).
REGION_WEIGHTS = {
    "84": 14, "11": 13, "76": 10, "75": 10, "93": 8, "44": 8, "32": 7, "52": 6, "53": 6,
    "27": 5, "28": 5, "24": 4, "94": 1, "01": 1, "02": 1, "03": 1, "04": 1, "06": 1,
}  # fmt: skip
PLACES = [
    "Lyon",
    "Marseille",
    "Toulouse",
    "Nantes",
    "Rennes",
    "Lille",
    "Strasbourg",
    "Bordeaux",
    "Montpellier",
    "Grenoble",
    "Dijon",
    "Angers",
    "Brest",
    "Nancy",
    "Metz",
    "Rouen",
    "Caen",
    "Tours",
    "Limoges",
    "Amiens",
    "Poitiers",
    "Besançon",
    "Orléans",
    "Clermont",
    "Perpignan",
    "Pau",
    "Bayonne",
    "Nîmes",
    "Avignon",
    "Toulon",
    "Nice",
    "Annecy",
    "Chambéry",
    "Valence",
    "Quimper",
    "Lorient",
    "Vannes",
    "Laval",
    "Le-Mans",
    "Niort",
    "Angoulême",
    "La-Rochelle",
    "Agen",
    "Albi",
    "Rodez",
    "Tarbes",
    "Auch",
    "Cahors",
    "Montauban",
    "Carcassonne",
    "Béziers",
    "Sète",
    "Arles",
    "Gap",
    "Digne",
    "Briançon",
    "Bourg",
    "Mâcon",
    "Chalon",
    "Nevers",
    "Auxerre",
    "Troyes",
    "Reims",
    "Épernay",
    "Charleville",
    "Verdun",
    "Épinal",
    "Colmar",
    "Mulhouse",
    "Belfort",
    "Vesoul",
    "Lons",
    "Dole",
    "Saint-Étienne",
    "Roanne",
    "Vichy",
    "Moulins",
    "Aurillac",
    "Le-Puy",
    "Mende",
    "Privas",
    "Chartres",
    "Dreux",
    "Évreux",
    "Alençon",
    "Saint-Lô",
    "Cherbourg",
    "Dieppe",
    "Beauvais",
    "Compiègne",
    "Laon",
    "Arras",
    "Douai",
    "Calais",
    "Dunkerque",
    "Boulogne",
    "Saint-Brieuc",
    "Morlaix",
    "Redon",
    "Saint-Malo",
    "Cholet",
    "Saumur",
    "La-Roche",
    "Blois",
    "Châteauroux",
    "Bourges",
    "Vierzon",
    "Guéret",
    "Tulle",
    "Brive",
    "Périgueux",
    "Bergerac",
    "Mont-de-Marsan",
    "Dax",
    "Biarritz",
    "Foix",
    "Pamiers",
    "Ajaccio",
    "Bastia",
    "Corte",
    "Pointe-à-Pitre",
    "Fort-de-France",
    "Cayenne",
    "Saint-Denis",
    "Mamoudzou",
    "Créteil",
    "Nanterre",
    "Bobigny",
    "Montreuil",
    "Versailles",
    "Évry",
    "Cergy",
    "Melun",
    "Meaux",
    "Saint-Ouen",
    "Vitry",
    "Villeurbanne",
    "Vénissieux",
]
AUTHORITY_KINDS = [
    ("Ville de {p}", 40), ("Commune de {p}", 25), ("{p} Métropole", 6), ("Communauté d'agglomération de {p}", 10),
    ("Communauté de communes du pays de {p}", 12), ("Département ({p})", 5), ("Syndicat intercommunal de {p}", 2),
]  # fmt: skip
THEMES = [
    "gouvernance locale", "eau et assainissement", "déchets", "agriculture", "culture", "jeunesse",
    "santé", "éducation", "climat", "mobilité", "tourisme", "développement économique",
]  # fmt: skip
PROJECT_TITLES = [
    "Gestion intégrée des déchets", "Accès à l'eau potable", "Valorisation du patrimoine", "Mobilité douce",
    "Jeunesse et emploi numérique", "Appui à l'état civil", "Maraîchage et circuits courts",
    "Adaptation au changement climatique", "Formation des agents municipaux", "Budget participatif",
    "Électrification solaire des écoles", "Santé maternelle", "Lecture publique", "Assainissement autonome",
]  # fmt: skip
# A summary per project title (searchable words: "eau", "assainissement", "déchets"…); the
# generic one for the others.
GENERIC_SUMMARY = "Renforcer les services municipaux partenaires par des échanges d'expertise."
SUMMARIES = {
    "Gestion intégrée des déchets": "Organiser la collecte et le tri des déchets ménagers, créer une filière de compostage.",
    "Accès à l'eau potable": "Réhabiliter les forages et le réseau d'eau potable des quartiers périphériques.",
    "Assainissement autonome": "Équiper les écoles de latrines et former les artisans à l'assainissement et à l'eau.",
    "Électrification solaire des écoles": "Installer des panneaux solaires sur les écoles, former des techniciens.",
    "Maraîchage et circuits courts": "Soutenir les coopératives maraîchères, l'irrigation économe en eau et les marchés.",
    "Adaptation au changement climatique": "Cartographier les risques d'inondation, protéger la ressource en eau.",
    "Appui à l'état civil": "Numériser les registres d'état civil et former les officiers de l'état civil.",
}  # fmt: skip
OBJECTIVES = "Former, équiper, évaluer."
CRITERIA = ["sdg", "partnership", "monitoring", "reciprocity", "gender", "sustainability"]
REQUIRED_ATTACHMENTS = ["partnership_agreement", "council_resolution"]


def _weighted(rng: random.Random, table: dict[str, int] | list[tuple[str, int]]) -> Callable[[], str]:
    items = list(table.items()) if isinstance(table, dict) else list(table)
    keys = [k for k, _ in items]
    cumulative: list[float] = []
    total = 0.0
    for _, w in items:
        total += w
        cumulative.append(total)

    def pick() -> str:
        return keys[bisect.bisect(cumulative, rng.random() * total)]

    return pick


# --- the log entry, hashed by the model's own canonical form -------------------------------


class _Entry:
    """What ``TransitionLog.canonical`` reads, without a model instance per row."""

    __slots__ = (
        "actor_id",
        "actor_name",
        "application_id",
        "at",
        "comment",
        "hash",
        "payload",
        "prev_hash",
        "role",
        "source",
        "subject_id",
        "subject_type",
        "target",
        "transition",
    )


@dataclass
class Tables:
    """Rows per table, in COPY column order."""

    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(list))
    ids: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows[table].append(row)


COLUMNS = {
    "auth_user": "id password is_superuser username first_name last_name email is_staff is_active date_joined",
    "grants_organisation": "id name kind siren email country_id region_id address",
    "grants_rolegrant": "id role supervisor call_id country_id organisation_id region_id user_id",
    "grants_call": (
        "id code title description kind state published_on opens_at closes_at envelope rate_pma rate_apd "
        "rate_non_apd multi_country_rule rate_multi_country min_own_contribution max_in_kind_share "
        "min_duration_months max_duration_months opinion_deadline_days eligibility_deadline_days "
        "review_deadline_days required_attachments prefecture_opinion_required min_reviews scoring_criteria "
        "reminder_steps block_overdue_reports last_reference_number created_at"
    ),
    "grants_committeesession": "id date title state created_at call_id",
    "grants_application": (
        "id state reference reference_number title summary objectives themes sdg_targets gender_marker "
        "start_date duration_months own_cash own_in_kind partner_funding other_funding requested_amount "
        "completion_message completion_due created_at updated_at submitted_at state_changed_at created_by_id "
        "call_id session_id organisation_id search_text"
    ),
    "grants_application_countries": "application_id country_id",
    "grants_application_co_applicants": "application_id organisation_id",
    "grants_applicationpartner": "name position application_id country_id",
    "grants_budgetline": "year category label amount application_id country_id",
    "grants_attachment": "kind file original_name content_type size sha256 uploaded_at application_id uploaded_by_id",
    "grants_snapshot": "id number data sha256 created_at application_id",
    "grants_opinionrequest": (
        "id authority state verdict comment due_at requested_at given_at application_id country_id given_by_id region_id "
        "call_id"
    ),
    "grants_review": (
        "id state scores comment recommendation decline_reason assigned_at completed_at application_id "
        "assigned_by_id reviewer_id"
    ),
    "grants_decision": (
        "id outcome state amount rate tranches reasons decided_at signed_at delivered_at commitment_number "
        "recorded_at render_attempts render_error application_id decided_by_id session_id signed_by_id call_id"
    ),
    "grants_document": (
        "kind reference file sha256 size pages template_version verification_code issued_at application_id "
        "decision_id session_id snapshot_id"
    ),
    "workflows_task": (
        "id kind state subject_type subject_id queue_role reserved due_at created_at closed_at application_id "
        "assignee_id scope_call_id scope_country_id scope_organisation_id scope_region_id"
    ),
    "workflows_transitionlog": (
        "id subject_type subject_id transition source target actor_name role at comment payload prev_hash hash "
        "actor_id application_id"
    ),
    "notifications_notification": (
        "event message category subject_type subject_id params dedupe_key created_at read_at email_state "
        "attempts next_attempt_at last_error sent_at application_id recipient_id"
    ),
}
# COPY order (foreign keys are deferred to commit anyway; this order reads naturally).
ORDER = list(COLUMNS)
# Tables whose id is a sequence that COPY with explicit ids leaves behind.
SEQUENCED = [t for t, cols in COLUMNS.items() if cols.startswith("id ") and t != "grants_application"]


@dataclass
class Account:
    id: int
    username: str
    role: str


@dataclass
class World:
    """What the generator made that the benchmarks need to find again."""

    now: dt.datetime
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, int] = field(default_factory=dict)  # username -> id
    applicants: dict[int, int] = field(default_factory=dict)  # organisation id -> user id
    org_apps: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    submit_pool: list[str] = field(default_factory=list)  # complete drafts of the open call


class Generator:
    def __init__(self, n: int, *, seed: int = 2026, now: dt.datetime | None = None, organisations: int = 2000):
        self.n = n
        self.rng = random.Random(seed)
        self.now = (now or dt.datetime.now(UTC)).astimezone(UTC)
        self.t = Tables()
        self.world = World(now=self.now)
        self.n_orgs = organisations
        self.log_rows: list[tuple[dt.datetime, int, _Entry]] = []  # (at, sequence, entry)
        self.log_seq = 0
        self.counts: dict[str, int] = defaultdict(int)
        self.uuid_rng = random.Random(seed + 1)
        self.org_texts: dict[int, tuple[str, str]] = {}  # organisation id -> (name, SIREN): the search document
        self._extra: dict[str, list[tuple[str, Any]]] = {}  # table -> the model defaults of unwritten columns
        self._columns: dict[str, list[str]] = {}

    # --- helpers -----------------------------------------------------------------------
    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.uuid_rng.getrandbits(128), version=4)

    def hexdigest(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"

    def code(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        raw = "".join(alphabet[self.rng.getrandbits(5)] for _ in range(24))
        return "-".join(raw[i : i + 4] for i in range(0, 24, 4))

    # --- reference data, accounts, calls ----------------------------------------------
    def reference(self, countries: set[str], regions: list[str]) -> None:
        from django.contrib.auth.hashers import PBKDF2PasswordHasher

        rng = self.rng
        # The production hasher (whatever the settings of the process generating): gunicorn
        # runs config.settings in the load test, and a sign-in there costs what it costs.
        self.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
        self.countries = [(c, w) for c, w in PROJECT_COUNTRIES if c in countries]
        self.pick_country = _weighted(rng, self.countries)
        self.regions = [r for r in regions if r in REGION_WEIGHTS] or regions
        pick_region = _weighted(rng, {r: REGION_WEIGHTS.get(r, 1) for r in self.regions})
        pick_kind = _weighted(rng, AUTHORITY_KINDS)
        sirens = rng.sample(range(200_000_000, 299_999_999), self.n_orgs)
        self.orgs: list[tuple[int, str]] = []  # (id, region)
        for i in range(self.n_orgs):
            org_id = self.t.next_id("grants_organisation")
            place = PLACES[i % len(PLACES)].replace("-", " ")
            name = pick_kind().format(p=place) + (f" {i // len(PLACES) + 1}" if i >= len(PLACES) else "")
            region = pick_region()
            self.t.add(
                "grants_organisation",
                (
                    org_id,
                    name,
                    "french_authority",
                    str(sirens[i]),
                    f"international-{org_id}@example.org",
                    "FR",
                    region,
                    f"{rng.randint(1, 120)} place de la Mairie, {place}",
                ),
            )
            self.orgs.append((org_id, region))
            self.org_texts[org_id] = (name, str(sirens[i]))
        # Skewed activity: a few big cities file hundreds of applications, most a handful.
        weights = [rng.lognormvariate(0, 1.3) for _ in self.orgs]
        self.org_cumulative = []
        total = 0.0
        for w in weights:
            total += w
            self.org_cumulative.append(total)
        self.org_total = total

        joined = self.now - dt.timedelta(days=6 * 365)

        def user(username: str, first: str, last: str, *, superuser: bool = False) -> int:
            uid = self.t.next_id("auth_user")
            self.t.add(
                "auth_user",
                (
                    uid,
                    self.password,
                    superuser,
                    username,
                    first,
                    last,
                    f"{username}@example.org",
                    superuser,
                    True,
                    joined,
                ),
            )
            self.world.accounts[username] = uid
            return uid

        def grant(uid: int, role: str, **scope: Any) -> None:
            self.t.add(
                "grants_rolegrant",
                (
                    self.t.next_id("grants_rolegrant"),
                    role,
                    scope.get("supervisor", False),
                    scope.get("call"),
                    scope.get("country"),
                    scope.get("organisation"),
                    scope.get("region"),
                    uid,
                ),
            )

        for org_id, _region in self.orgs:
            uid = user(f"bench-applicant-{org_id:04d}", "Porteur", f"n° {org_id}")
            grant(uid, "applicant", organisation=org_id)
            self.world.applicants[org_id] = uid
        self.instructor = user("bench-instructor", "Inès", "Instruction")
        grant(self.instructor, "instructor", supervisor=True)
        self.instructors = [self.instructor]
        for k in range(1, 4):
            uid = user(f"bench-instructor-{k}", "Chargé", f"de mission {k}")
            grant(uid, "instructor")
            self.instructors.append(uid)
        self.secretary = user("bench-secretary", "Sophie", "Secrétariat")
        grant(self.secretary, "secretary", supervisor=True)
        self.signatory = user("bench-signatory", "Jean", "Ordonnateur")
        grant(self.signatory, "signatory")
        self.finance = user("bench-finance", "Nadia", "Finances")
        grant(self.finance, "finance")
        user("bench-admin", "Admin", "Plateforme", superuser=True)
        self.embassies: dict[str, int] = {}
        for iso2, _w in self.countries:
            uid = user(f"bench-embassy-{iso2.lower()}", "Poste", iso2)
            grant(uid, "embassy", country=iso2)
            self.embassies[iso2] = uid
        self.prefectures: dict[str, int] = {}
        for region in regions:
            uid = user(f"bench-prefecture-{region}", "Préfecture", region)
            grant(uid, "prefecture", region=region)
            self.prefectures[region] = uid
        self.reviewers: list[tuple[int, str]] = []
        for k in range(1, 61):
            name = f"bench-reviewer-{k:02d}"
            uid = user(name, "Évaluateur", f"{k:02d}")
            grant(uid, "reviewer")
            self.reviewers.append((uid, name))
        self.names = {uid: name for name, uid in self.world.accounts.items()}

    def make_calls(self) -> None:
        rng = self.rng
        total_share = sum(c[4] for c in CALLS)
        self.call_list = []
        for code, year, kind, state, share in CALLS:
            if code == OPEN_CALL:
                opens = self.now - dt.timedelta(days=75)
                closes = self.now + dt.timedelta(days=30)
            elif code == INSTRUCTION_CALL:
                opens = self.now - dt.timedelta(days=300)
                closes = self.now - dt.timedelta(days=190)
            else:
                opens = dt.datetime(year, 1, 10, 9, tzinfo=UTC)
                closes = dt.datetime(year, 4, 15, 16, tzinfo=UTC)
            call_id = self.t.next_id("grants_call")
            info = {
                "id": call_id,
                "code": code,
                "year": year,
                "state": state,
                "opens": opens,
                "closes": closes,
                "prefecture": kind == "thematic",
                "min_reviews": 2,
                "weights": OPEN if code == OPEN_CALL else IN_INSTRUCTION if code == INSTRUCTION_CALL else DECIDED,
                "n": 0,
                "submitted": [],  # (submit time, application index)
                "approved_total": Decimal("0.00"),
                "sessions": [],
            }
            info["pick_state"] = _weighted(rng, info["weights"])
            self.world.calls[code] = info
            self.call_list.append((info, share / total_share))
            # Sessions: two per call; the open call has none yet decided, one planned.
            sessions = []
            if code == OPEN_CALL:
                dates = [(closes + dt.timedelta(days=45), "planned")]
            elif code == INSTRUCTION_CALL:
                dates = [(self.now - dt.timedelta(days=40), "closed"), (self.now + dt.timedelta(days=10), "open")]
            else:
                dates = [(closes + dt.timedelta(days=100), "closed"), (closes + dt.timedelta(days=170), "closed")]
            for number, (when, s_state) in enumerate(dates, start=1):
                sid = self.t.next_id("grants_committeesession")
                created = min(when - dt.timedelta(days=60), self.now - dt.timedelta(days=1))
                self.t.add(
                    "grants_committeesession",
                    (sid, when.date(), f"Comité {number} — {code}", s_state, created, call_id),
                )
                sessions.append({"id": sid, "at": when, "state": s_state})
                self._session_chain(sid, created, when, s_state)
            info["sessions"] = sessions

    def _session_chain(self, sid: int, created: dt.datetime, when: dt.datetime, state: str) -> None:
        steps = [("create", "", "planned", created)]
        if state in ("open", "closed"):
            steps.append(("open", "planned", "open", min(when, self.now - dt.timedelta(hours=2))))
        if state == "closed":
            steps.append(
                ("close", "open", "closed", min(when + dt.timedelta(hours=6), self.now - dt.timedelta(hours=1)))
            )
        prev = None
        for name, source, target, at in steps:
            prev = self._log_entry(
                None,
                "grants.committeesession",
                str(sid),
                name,
                source,
                target,
                self.secretary,
                "secretary",
                at,
                "",
                {},
                prev,
            )

    def _finish_calls(self) -> None:
        for info in self.world.calls.values():
            envelope = max(Decimal("1000000.00"), (info["approved_total"] * Decimal("1.25")).quantize(Decimal("1.00")))
            self.t.add(
                "grants_call",
                (
                    info["id"],
                    info["code"],
                    f"Appel à projets {info['year']} — coopération décentralisée"
                    + (" (thématique climat)" if info["prefecture"] else ""),
                    "Appel de mesure (bench).",
                    "thematic" if info["prefecture"] else "generalist",
                    info["state"],
                    (info["opens"] - dt.timedelta(days=10)).date(),
                    info["opens"],
                    info["closes"],
                    envelope,
                    Decimal("0.7000"),
                    Decimal("0.5000"),
                    Decimal("0.3000"),
                    "flat",
                    Decimal("0.6000"),
                    Decimal("0.1000"),
                    Decimal("0.5000"),
                    12,
                    36,
                    21,
                    15,
                    21,
                    json.dumps(REQUIRED_ATTACHMENTS),
                    info["prefecture"],
                    info["min_reviews"],
                    json.dumps(
                        [
                            {"code": c, "label": c.capitalize(), "weight": 2 if i < 2 else 1}
                            for i, c in enumerate(CRITERIA)
                        ]
                    ),
                    json.dumps([-7, -2, 0, 3]),
                    False,
                    len(info["submitted"]),
                    info["opens"] - dt.timedelta(days=20),
                ),
            )

    # --- the log ------------------------------------------------------------------------
    def _log_entry(
        self,
        app_id: uuid.UUID | None,
        subject_type: str,
        subject_id: str,
        transition: str,
        source: str,
        target: str,
        actor: int | None,
        role: str,
        at: dt.datetime,
        comment: str,
        payload: dict[str, Any],
        prev: _Entry | None,
    ) -> _Entry:
        from workflows.models import GENESIS_HASH, TransitionLog

        e = _Entry()
        e.application_id = app_id
        e.subject_type = subject_type
        e.subject_id = subject_id
        e.transition = transition
        e.source = source
        e.target = target
        e.actor_id = actor
        e.actor_name = self.names.get(actor, "") if actor is not None else ""
        e.role = role
        e.at = at
        e.comment = comment
        e.payload = payload
        e.prev_hash = prev.hash if prev is not None else GENESIS_HASH
        e.hash = hashlib.sha256(TransitionLog.canonical(e).encode()).hexdigest()  # type: ignore[arg-type]
        self.log_seq += 1
        self.log_rows.append((at, self.log_seq, e))
        return e

    # --- applications --------------------------------------------------------------------
    def pick_org(self) -> tuple[int, str]:
        return self.orgs[bisect.bisect(self.org_cumulative, self.rng.random() * self.org_total)]

    def applications(self, progress: Callable[[str], None]) -> None:
        rng = self.rng
        # Draw every application's call, state and dates first: reference numbers are
        # gap-free per call in submission order, which is known only once all are drawn.
        specs = []
        shares = [s for _, s in self.call_list]
        infos = [i for i, _ in self.call_list]
        for index in range(self.n):
            info = rng.choices(infos, shares)[0]
            state = info["pick_state"]()
            opens, closes = info["opens"], min(info["closes"], self.now - dt.timedelta(hours=1))
            created = opens + (closes - opens) * rng.random() ** 0.8
            submit_at = None
            if state != "draft":
                submit_at = created + (closes - created) * rng.uniform(0.05, 0.95) + dt.timedelta(seconds=1)
                submit_at = min(submit_at, self.now - dt.timedelta(minutes=30))
                info["submitted"].append((submit_at, index))
            specs.append((info, state, created, submit_at))
        numbers: dict[int, int] = {}
        for info in infos:
            for number, (_at, index) in enumerate(sorted(info["submitted"]), start=1):
                numbers[index] = number
        for index, (info, state, created, submit_at) in enumerate(specs):
            self._application(info, state, created, submit_at, numbers.get(index))
            if index and index % CHUNK == 0:
                self.flush()
                if index % (5 * CHUNK) == 0:
                    progress(f"  {index:,} applications simulated and loaded")

    def _application(
        self, info: dict[str, Any], target: str, created: dt.datetime, submit_at: dt.datetime | None, number: int | None
    ) -> None:
        sim = _Simulation(self, info, target, created, submit_at, number)
        sim.run()
        self.counts[target] += 1
        info["n"] += 1

    def submit_pool(self, size: int) -> None:
        """Complete drafts of the open call for the submission benchmark (one authority)."""
        info = self.world.calls[OPEN_CALL]
        org_id, _ = self.orgs[-1]
        for _ in range(size):
            created = self.now - dt.timedelta(days=2, minutes=self.rng.randint(0, 600))
            sim = _Simulation(self, info, "draft", created, None, None, org=(org_id, self.orgs[-1][1]))
            sim.run()
            self.world.submit_pool.append(str(sim.app_id))
            info["n"] += 1
        self.world.submit_org = org_id  # type: ignore[attr-defined]

    # --- writing: COPY in rounds, so memory stays flat whatever the size ----------------------
    #
    # The rows of every CHUNK applications go to PostgreSQL as soon as they are simulated
    # (1,000,000 applications held in memory first would take ~15 GB). The log's ids follow
    # time across all chains, which is known only at the end: its rows wait in a temporary
    # table and get their ids there, in one sorted INSERT ... SELECT. Secondary indexes are
    # dropped first and built once at the end (one sort per index instead of an insertion per
    # row and index). Foreign keys are checked set-based at the end (one anti-join per
    # constraint, every one of the loaded tables), not row by row in the deferred trigger
    # queue (at 100,000 that queue took longer than the COPY itself, and it grows in the
    # server's memory with every row): the load runs with ``session_replication_role =
    # replica`` where the role may (a superuser, as on a benchmark server), with the triggers
    # otherwise. Unique constraints and primary keys are indexes: they check every row.
    def begin_load(self, progress: Callable[[str], None]) -> None:
        from django.db import DatabaseError, connection, transaction

        self._say = progress
        self._cursor = cursor = connection.cursor()
        self.written: dict[str, int] = defaultdict(int)
        self.copy_s = 0.0
        cursor.execute(
            """SELECT i.indexname, i.indexdef FROM pg_indexes i
               WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
            [ORDER],
        )
        self._secondary = cursor.fetchall()
        for name, _definition in self._secondary:
            cursor.execute(f'DROP INDEX "{name}"')
        self._replica = True
        try:  # in a savepoint (released, its SET LOCAL lasts to the transaction's end)
            with transaction.atomic():
                cursor.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:  # not a superuser: the foreign-key triggers run (deferred)
            self._replica = False
        log_columns = ", ".join(c for c in COLUMNS["workflows_transitionlog"].split() if c != "id")
        cursor.execute("DROP TABLE IF EXISTS bench_log_stage")
        cursor.execute(
            f"CREATE TEMPORARY TABLE bench_log_stage ON COMMIT DROP AS "  # noqa: S608 - the module's constants
            f"SELECT {log_columns} FROM workflows_transitionlog WITH NO DATA"
        )
        cursor.execute("ALTER TABLE bench_log_stage ADD COLUMN seq bigint NOT NULL")

    def _copy(self, table: str, columns: list[str], rows: list[tuple[Any, ...]], tail: tuple[Any, ...] = ()) -> None:
        raw = self._cursor.cursor  # psycopg 3
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row + tail if tail else row)

    def flush(self, *, final: bool = False) -> None:
        """COPY what has been simulated since the last round. The calls' rows only at the
        end (their envelopes and reference counters are known then)."""
        started = time.perf_counter()
        for table in ORDER:
            rows = self.t.rows.get(table)
            if not rows or (table == "grants_call" and not final):
                continue
            names = COLUMNS[table].split()
            extra = self._extra.get(table)
            if extra is None:
                extra = self._extra[table] = _defaults_for_other_columns(table, names)
                self._columns[table] = names + [name for name, _ in extra]
            self._copy(table, self._columns[table], rows, tuple(value for _, value in extra))
            self.written[table] += len(rows)
            self.t.rows[table] = []
        if self.log_rows:
            self._copy(
                "bench_log_stage",
                [c for c in COLUMNS["workflows_transitionlog"].split() if c != "id"] + ["seq"],
                [
                    (e.subject_type, e.subject_id, e.transition, e.source, e.target, e.actor_name, e.role, e.at,
                     e.comment, json.dumps(e.payload, sort_keys=True, ensure_ascii=False), e.prev_hash, e.hash,
                     e.actor_id, e.application_id, seq)
                    for _at, seq, e in self.log_rows
                ],
            )  # fmt: skip
            self.written["workflows_transitionlog"] += len(self.log_rows)
            self.log_rows = []
        self.copy_s += time.perf_counter() - started

    def end_load(self) -> dict[str, int]:
        cursor, say = self._cursor, self._say
        self.flush(final=True)
        started = time.perf_counter()
        cursor.execute("SET LOCAL work_mem = '512MB'")
        names = COLUMNS["workflows_transitionlog"].split()
        extra = _defaults_for_other_columns("workflows_transitionlog", names)
        staged = ", ".join(n for n in names if n != "id")
        cursor.execute(
            f"INSERT INTO workflows_transitionlog ({', '.join(names + [n for n, _ in extra])}) "  # noqa: S608
            f"SELECT row_number() OVER (ORDER BY at, seq), {staged}{', %s' * len(extra)} FROM bench_log_stage",
            [value for _, value in extra],
        )
        cursor.execute("DROP TABLE bench_log_stage")
        self.t.ids["workflows_transitionlog"] = self.written["workflows_transitionlog"]
        say(f"  transition log: {self.written['workflows_transitionlog']:,} rows numbered in time order in "
            f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        started = time.perf_counter()
        if self._replica:
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
            orphans = foreign_key_orphans(cursor, ORDER)
            if orphans:
                raise RuntimeError(f"bench.generate: rows pointing at nothing: {orphans[:5]}")
        else:
            # The deferred foreign-key checks now (at commit otherwise): an index cannot be
            # built on a table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        say(f"  foreign keys checked in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in self._secondary:
            cursor.execute(definition)
        say(f"  {len(self._secondary)} secondary indexes built in {time.perf_counter() - started:.1f} s")
        for table in SEQUENCED:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"  # noqa: S608
            )
        cursor.close()
        return dict(self.written)


def foreign_key_orphans(cursor: Any, tables: list[str]) -> list[str]:
    """Every foreign key of ``tables``, one anti-join each: the constraints with rows
    pointing at no row (``table.column → parent: count``); empty when sound."""
    cursor.execute(
        "SELECT conname FROM pg_constraint c JOIN pg_class child ON child.oid = c.conrelid "
        "WHERE c.contype = 'f' AND child.relname = ANY(%s) AND cardinality(c.conkey) > 1",
        [tables],
    )
    if several := [row[0] for row in cursor.fetchall()]:
        raise RuntimeError(f"bench.generate: foreign keys of several columns are not checked yet: {several}")
    cursor.execute(
        """SELECT child.relname, a.attname, parent.relname, pa.attname
           FROM pg_constraint c
           JOIN pg_class child ON child.oid = c.conrelid
           JOIN pg_class parent ON parent.oid = c.confrelid
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
           WHERE c.contype = 'f' AND child.relname = ANY(%s) AND cardinality(c.conkey) = 1
           ORDER BY 1, 2""",
        [tables],
    )
    orphans = []
    for table, column, parent, key in cursor.fetchall():
        cursor.execute(
            f'SELECT COUNT(*) FROM "{table}" x WHERE x."{column}" IS NOT NULL '  # noqa: S608 - catalogue names
            f'AND NOT EXISTS (SELECT 1 FROM "{parent}" p WHERE p."{key}" = x."{column}")'
        )
        missing = cursor.fetchone()[0]
        if missing:
            orphans.append(f"{table}.{column} → {parent}: {missing}")
    return orphans


def _defaults_for_other_columns(table: str, names: list[str]) -> list[tuple[str, Any]]:
    """The model's default for each NOT NULL column this generator does not write (a field
    added after it was written): the load keeps working, with the value the ORM would give."""
    from django.apps import apps
    from django.db import connection
    from django.db.models import NOT_PROVIDED

    model = next((m for m in apps.get_models(include_auto_created=True) if m._meta.db_table == table), None)
    if model is None:
        return []
    extra = []
    for f in model._meta.concrete_fields:
        if f.column in names or f.primary_key or f.null or getattr(f, "db_default", NOT_PROVIDED) is not NOT_PROVIDED:
            continue
        if not f.has_default():
            raise RuntimeError(f"bench.generate: {table}.{f.column} is NOT NULL without a default: add it to COLUMNS")
        extra.append((f.column, f.get_db_prep_save(f.get_default(), connection)))
    return extra


class _Simulation:
    """One application's life, step by step, with the rows each step leaves."""

    def __init__(
        self,
        g: Generator,
        info: dict[str, Any],
        target: str,
        created: dt.datetime,
        submit_at: dt.datetime | None,
        number: int | None,
        org: tuple[int, str] | None = None,
    ):
        self.g, self.info, self.target = g, info, target
        self.rng = g.rng
        self.app_id = g.uuid()
        self.s_app = str(self.app_id)
        self.org_id, self.region = org or g.pick_org()
        self.applicant = g.world.applicants[self.org_id]
        self.t = created
        self.created = created
        self.submit_at = submit_at
        self.number = number
        self.state = "draft"
        self.prev: _Entry | None = None
        self.limit = g.now - dt.timedelta(minutes=5)
        self.open_tasks: list[list[Any]] = []  # mutable task rows (kind, subject) while open
        self.requests: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []
        self.session: int | None = None
        self.submitted_at: dt.datetime | None = None
        self.completion_message = ""
        self.completion_due: dt.date | None = None
        self.snapshots = 0
        self.decision: dict[str, Any] | None = None
        self.withdraw_at_state: str | None = None
        g.world.org_apps[self.org_id] += 1

    # time -----------------------------------------------------------------------------
    def later(self, low_hours: float, high_hours: float) -> dt.datetime:
        """Advance the clock by a random delay, never past now (the end compresses)."""
        gap = dt.timedelta(hours=self.rng.uniform(low_hours, high_hours))
        room = self.limit - self.t
        if gap >= room * 0.6:
            gap = room * self.rng.uniform(0.05, 0.3)
        self.t = self.t + max(gap, dt.timedelta(seconds=1)) + dt.timedelta(microseconds=self.rng.randint(1, 999_999))
        return self.t

    # rows -----------------------------------------------------------------------------
    def log(
        self,
        transition: str,
        source: str,
        target: str,
        actor: int | None,
        role: str,
        *,
        subject: tuple[str, str] | None = None,
        comment: str = "",
        payload: dict[str, Any] | None = None,
    ) -> None:
        subject_type, subject_id = subject or ("grants.application", self.s_app)
        self.prev = self.g._log_entry(
            self.app_id, subject_type, subject_id, transition, source, target, actor, role, self.t, comment,
            payload or {}, self.prev,
        )  # fmt: skip
        if subject is None:
            self.state = target
            self.state_changed_at = self.t

    def open_task(
        self,
        kind: str,
        role: str,
        due: dt.datetime | None,
        *,
        subject: tuple[str, str] = ("", ""),
        call: bool = True,
        country: str | None = None,
        region: str | None = None,
        organisation: int | None = None,
        assignee: int | None = None,
    ) -> None:
        task_id = self.g.t.next_id("workflows_task")
        self.open_tasks.append(
            [
                task_id, kind, "open", subject[0], subject[1], role, assignee is not None, due, self.t, None,
                self.app_id, assignee, self.info["id"] if call and not (country or region or organisation) else None,
                country, organisation, region,
            ]
        )  # fmt: skip
        # An instructor sometimes claims an eligibility check from the queue.
        if kind == "check_eligibility" and self.rng.random() < 0.2:
            self.open_tasks[-1][11] = self.rng.choice(self.g.instructors)

    def close_tasks(self, *kinds: str, subject: tuple[str, str] | None = None, state: str = "done") -> None:
        keep = []
        for row in self.open_tasks:
            if (not kinds or row[1] in kinds) and (subject is None or (row[3], row[4]) == subject):
                row[2] = state
                row[9] = self.t
                self.g.t.add("workflows_task", tuple(row))
            else:
                keep.append(row)
        self.open_tasks = keep

    # the steps ------------------------------------------------------------------------
    def run(self) -> None:
        self.draft()
        target = self.target
        if target == "draft":
            return self.finish()
        withdraw_from = None
        if target == "withdrawn":
            withdraw_from = self.rng.choice(
                ["draft", "submitted", "submitted", "incomplete", "awaiting_opinions", "under_review"]
            )
            if withdraw_from == "draft":
                return self.withdraw()
        self.submit()
        if target == "submitted" or withdraw_from == "submitted":
            return self.withdraw() if withdraw_from else self.finish()
        completion = target == "incomplete" or withdraw_from == "incomplete" or self.rng.random() < 0.12
        if completion:
            self.request_completion()
            if target == "incomplete":
                return self.finish()
            if withdraw_from == "incomplete":
                return self.withdraw()
            if target == "ineligible" and self.rng.random() < 0.5:
                return self.declare_ineligible()
            self.resubmit()
        if target == "ineligible":
            self.declare_ineligible()
            return self.finish()
        reviewers = self.rng.sample(self.g.reviewers, 3 if self.rng.random() < 0.15 else 2)
        early = self.rng.random() < 0.6
        if early:
            for reviewer in reviewers:
                self.assign(reviewer)
        self.declare_eligible()
        if target == "awaiting_opinions" or withdraw_from == "awaiting_opinions":
            for request in self.requests[:-1]:
                if self.rng.random() < 0.5:
                    self.give(request)
            return self.withdraw() if withdraw_from else self.finish()
        self.resolve_opinions()
        if not early:
            for reviewer in reviewers:
                self.assign(reviewer)
        if target == "under_review" or withdraw_from == "under_review":
            for review in self.reviews[: self.rng.randint(0, len(self.reviews) - 1)]:
                self.review(review)
            return self.withdraw() if withdraw_from else self.finish()
        self.complete_reviews()
        self.schedule()
        if self.rng.random() < 0.04:
            self.later(24, 24 * 10)
            self.log("defer", "in_committee", "under_review", self.g.secretary, "secretary", comment="Examen reporté.")
            self.session = None
            self.open_schedule_task()
            self.schedule()
        if target == "in_committee":
            return self.finish()
        self.decide(target)
        self.finish()

    def draft(self) -> None:
        g, rng = self.g, self.rng
        k = Decimal(rng.choice(["0.5", "0.8", "1", "1", "1.2", "1.5", "2", "3"]))
        lines = [
            (1, "staff", "Expertise technique", Decimal("30000.00") * k),
            (1, "travel", "Missions d'échange", Decimal("20000.00") * k),
            (2, "equipment", "Équipements", Decimal("35000.00") * k),
            (2, "training", "Formations", Decimal("15000.00") * k),
        ]
        self.funding = [Decimal(x) * k for x in ("15000.00", "5000.00", "10000.00", "45000.00", "25000.00")]
        self.requested = self.funding[4].quantize(Decimal("0.01"))
        n_countries = 1 if rng.random() < 0.8 else 2
        self.countries = sorted({g.pick_country() for _ in range(n_countries)})
        title = f"{rng.choice(PROJECT_TITLES)} — {self.countries[0]} ({rng.randint(1, 999)})"
        self.title = title
        self.summary = SUMMARIES.get(title.split(" — ")[0], GENERIC_SUMMARY)
        themes = rng.sample(THEMES, 2)
        self.themes = themes
        for iso2 in self.countries:
            g.t.add("grants_application_countries", (self.app_id, iso2))
        self.partners = []
        for position, iso2 in enumerate(self.countries):
            name = f"Commune partenaire {rng.randint(1, 5000)} ({iso2})"
            self.partners.append((name, iso2))
            g.t.add("grants_applicationpartner", (name, position, self.app_id, iso2))
        self.lines = []
        for year, category, label, amount in lines:
            amount = amount.quantize(Decimal("0.01"))
            self.lines.append((year, category, label, amount))
            g.t.add("grants_budgetline", (year, category, label, amount, self.app_id, None))
        self.co_applicants: list[int] = []
        if rng.random() < 0.08:
            for other in sorted({g.pick_org()[0] for _ in range(rng.randint(1, 2))} - {self.org_id}):
                g.t.add("grants_application_co_applicants", (self.app_id, other))
                self.co_applicants.append(other)
        self.attachments = []
        for kind in REQUIRED_ATTACHMENTS:
            sha = g.hexdigest()
            self.attachments.append((kind, f"{kind}.pdf", sha))
            g.t.add(
                "grants_attachment",
                (
                    kind, f"attachments/{self.app_id}/{sha[:32]}", f"{kind}.pdf", "application/pdf",
                    rng.randint(40_000, 900_000), sha, self.t + dt.timedelta(minutes=rng.randint(5, 600)),
                    self.app_id, self.applicant,
                ),
            )  # fmt: skip
        self.log("create", "", "draft", self.applicant, "applicant")

    def snapshot(self) -> None:
        g = self.g
        self.snapshots += 1
        data = {
            "reference": self.reference,
            "call": self.info["code"],
            "organisation": f"organisation {self.org_id}",
            "co_applicants": [],
            "title": self.title,
            "summary": self.summary,
            "objectives": OBJECTIVES,
            "themes": self.themes,
            "sdg_targets": ["6.1", "11.6"],
            "gender_marker": 1,
            "countries": self.countries,
            "partners": [{"name": n, "country": c} for n, c in self.partners],
            "start_date": f"{self.info['year'] + 1}-01-01",
            "duration_months": 24,
            "budget": {
                "lines": [
                    {"year": y, "category": c, "label": label, "amount": f"{a:f}", "country": None}
                    for y, c, label, a in self.lines
                ],
                "funding": dict(
                    zip(
                        ("own_cash", "own_in_kind", "partner", "other", "requested"),
                        (f"{f:.2f}" for f in self.funding),
                        strict=True,
                    )
                ),
            },
            "attachments": [{"kind": k, "name": n, "sha256": s} for k, n, s in self.attachments],
        }
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        sid = g.t.next_id("grants_snapshot")
        g.t.add(
            "grants_snapshot",
            (sid, self.snapshots, canonical, hashlib.sha256(canonical.encode()).hexdigest(), self.t, self.app_id),
        )
        issued = self.t + dt.timedelta(seconds=self.rng.randint(2, 90))
        g.t.add("grants_document", self.document("deposit_receipt", issued, snapshot=sid))

    def document(
        self, kind: str, issued: dt.datetime, *, snapshot: int | None = None, decision: int | None = None
    ) -> tuple[Any, ...]:
        sha = self.g.hexdigest()
        return (
            kind, self.reference or self.s_app, f"documents/{issued:%Y/%m}/{sha[:32]}.pdf", sha,
            self.rng.randint(30_000, 250_000), self.rng.randint(1, 4), "2026.1", self.g.code(), issued,
            self.app_id, decision, None, snapshot,
        )  # fmt: skip

    @property
    def reference(self) -> str | None:
        return f"{self.info['code']}-{self.number:05d}" if self.number else None

    def submit(self) -> None:
        assert self.submit_at is not None
        self.t = max(self.submit_at, self.t + dt.timedelta(seconds=1))
        self.submitted_at = self.t
        self.log("submit", "draft", "submitted", self.applicant, "applicant")
        self.snapshot()
        self.open_task("check_eligibility", "instructor", self.t + dt.timedelta(days=15))

    def request_completion(self) -> None:
        self.later(2, 24 * 12)
        due = (self.t + dt.timedelta(days=self.rng.randint(8, 20))).date()
        self.completion_message = "Merci de joindre la délibération signée."
        self.completion_due = due
        self.log(
            "request_completion", "submitted", "incomplete", self.rng.choice(self.g.instructors), "instructor",
            comment=self.completion_message, payload={"due_date": due.isoformat()},
        )  # fmt: skip
        self.close_tasks("check_eligibility")
        end_of_day = dt.datetime.combine(due, dt.time(22, 59, 59), tzinfo=UTC)
        self.open_task("complete_application", "applicant", end_of_day, organisation=self.org_id, call=False)

    def resubmit(self) -> None:
        self.later(4, 24 * 8)
        self.completion_message, self.completion_due = "", None
        self.log("resubmit", "incomplete", "submitted", self.applicant, "applicant")
        self.close_tasks("complete_application")
        self.snapshot()
        self.open_task("check_eligibility", "instructor", self.t + dt.timedelta(days=15))

    def declare_ineligible(self) -> None:
        self.later(2, 24 * 15)
        source = self.state
        self.log(
            "declare_ineligible", source, "ineligible", self.rng.choice(self.g.instructors), "instructor",
            comment="La collectivité partenaire n'est pas une autorité locale.",
        )  # fmt: skip
        self.close_tasks("check_eligibility")
        self.close_tasks("complete_application", state="cancelled")
        self.g.t.add("grants_document", self.document("ineligibility_notice", self.t + dt.timedelta(seconds=30)))
        self.finish()

    def assign(self, reviewer: tuple[int, str]) -> None:
        self.later(1, 24 * 3)
        rid = self.g.t.next_id("grants_review")
        instructor = self.rng.choice(self.g.instructors)
        review = {"id": rid, "reviewer": reviewer[0], "state": "assigned", "assigned_at": self.t, "by": instructor}
        self.reviews.append(review)
        self.log(
            "assign", "", "assigned", instructor, "instructor",
            subject=("grants.review", str(rid)), payload={"reviewer": reviewer[1]},
        )  # fmt: skip
        if self.state == "under_review":
            self.open_review_task(review)

    def open_review_task(self, review: dict[str, Any]) -> None:
        self.open_task(
            "review", "reviewer", self.t + dt.timedelta(days=21),
            subject=("grants.review", str(review["id"])), assignee=review["reviewer"],
        )  # fmt: skip

    def declare_eligible(self) -> None:
        self.later(2, 24 * 15)
        self.log(
            "declare_eligible", "submitted", "awaiting_opinions", self.rng.choice(self.g.instructors), "instructor"
        )
        self.close_tasks("check_eligibility")
        due = self.t + dt.timedelta(days=21)
        scopes: list[tuple[str, str | None, str | None]] = [("embassy", c, None) for c in self.countries]
        if self.info["prefecture"]:
            scopes.append(("prefecture", None, self.region))
        for authority, country, region in scopes:
            oid = self.g.t.next_id("grants_opinionrequest")
            request = {"id": oid, "authority": authority, "country": country, "region": region, "due": due,
                       "requested": self.t, "state": "requested", "verdict": "", "comment": "", "given_at": None,
                       "given_by": None}  # fmt: skip
            self.requests.append(request)
            self.open_task(
                "give_opinion", authority, due, subject=("grants.opinionrequest", str(oid)),
                country=country, region=region, call=False,
            )  # fmt: skip

    def give(self, request: dict[str, Any]) -> None:
        self.later(2, 24 * 18)
        verdict = self.rng.choices(["favorable", "reserved", "unfavorable"], [80, 15, 5])[0]
        comment = "" if verdict == "favorable" and self.rng.random() < 0.5 else "Avis circonstancié du poste."
        authority = request["authority"]
        user = (
            self.g.embassies.get(request["country"])
            if authority == "embassy"
            else self.g.prefectures.get(request["region"])
        )
        request.update(state="given", verdict=verdict, comment=comment, given_at=self.t, given_by=user)
        self.log(
            "give", "requested", "given", user, authority, subject=("grants.opinionrequest", str(request["id"])),
            comment=comment, payload={"verdict": verdict},
        )  # fmt: skip
        self.close_tasks("give_opinion", subject=("grants.opinionrequest", str(request["id"])))

    def expire(self, request: dict[str, Any]) -> None:
        self.t = max(self.t + dt.timedelta(seconds=1), request["due"] + dt.timedelta(seconds=self.rng.randint(5, 60)))
        request["state"] = "expired"
        self.log(
            "expire", "requested", "expired", None, "system", subject=("grants.opinionrequest", str(request["id"]))
        )
        self.close_tasks("give_opinion", subject=("grants.opinionrequest", str(request["id"])), state="cancelled")

    def resolve_opinions(self) -> None:
        early = self.rng.random() < 0.07
        for request in self.requests:
            if early and request is self.requests[-1]:
                break
            if self.rng.random() < 0.85 or request["due"] > self.limit:
                self.give(request)
            else:
                self.expire(request)
        self.later(0.001, 0.002)
        if early:
            self.log(
                "close_opinions", "awaiting_opinions", "under_review", self.rng.choice(self.g.instructors), "instructor",
                comment="Le poste ne répond pas ; calendrier du comité.",
            )  # fmt: skip
            for request in self.requests:
                if request["state"] == "requested":
                    request["state"] = "cancelled"
                    self.log(
                        "cancel", "requested", "cancelled", self.prev.actor_id if self.prev else None, "instructor",
                        subject=("grants.opinionrequest", str(request["id"])),
                    )  # fmt: skip
            self.close_tasks("give_opinion", state="cancelled")
        else:
            self.log("close_opinions", "awaiting_opinions", "under_review", None, "system")
        for review in self.reviews:
            if review["state"] == "assigned":
                self.open_review_task(review)

    def review(self, review: dict[str, Any], *, decline: bool = False) -> None:
        self.later(4, 24 * 15)
        subject = ("grants.review", str(review["id"]))
        if decline:
            review.update(state="declined", completed_at=self.t, reason="Conflit d'intérêts.")
            self.log(
                "decline",
                "assigned",
                "declined",
                review["reviewer"],
                "reviewer",
                subject=subject,
                comment="Conflit d'intérêts.",
            )
            self.close_tasks("review", subject=subject, state="cancelled")
            return
        scores = {c: self.rng.randint(1, 5) for c in CRITERIA}
        recommendation = self.rng.choices(["yes", "maybe", "no"], [50, 30, 20])[0]
        review.update(state="submitted", completed_at=self.t, scores=scores, recommendation=recommendation)
        self.log(
            "submit", "assigned", "submitted", review["reviewer"], "reviewer", subject=subject,
            comment="Partenariat solide, suivi à préciser.", payload={"recommendation": recommendation, "scores": scores},
        )  # fmt: skip
        self.close_tasks("review", subject=subject)
        self.open_schedule_task()

    def open_schedule_task(self) -> None:
        submitted = sum(1 for r in self.reviews if r["state"] == "submitted")
        already = any(row[1] == "schedule_committee" for row in self.open_tasks)
        if self.state == "under_review" and submitted >= self.info["min_reviews"] and not already:
            self.open_task("schedule_committee", "secretary", None)

    def complete_reviews(self) -> None:
        if self.rng.random() < 0.06:
            self.review(self.reviews[0], decline=True)
            spare = [r for r in self.g.reviewers if r[0] not in {x["reviewer"] for x in self.reviews}]
            self.assign(self.rng.choice(spare))
        for review in list(self.reviews):
            if review["state"] == "assigned":
                self.review(review)

    def schedule(self) -> None:
        # TODO(consensus): once grants.machines.consensus is committed (a Consensus row and a
        # ``consensus`` log entry before ``schedule`` when Call.consensus_required), write them
        # here too; the walk in verify() already accepts such entries.
        self.later(24, 24 * 30)
        sessions = self.info["sessions"]
        session = sessions[-1] if self.target == "in_committee" else sessions[0]
        self.session = session["id"]
        self.log(
            "schedule",
            "under_review",
            "in_committee",
            self.g.secretary,
            "secretary",
            payload={"session": str(self.session)},
        )
        self.close_tasks("schedule_committee")
        self.close_tasks("review", state="cancelled")

    def decide(self, outcome: str) -> None:
        g, rng = self.g, self.rng
        self.later(24, 24 * 20)
        did = g.t.next_id("grants_decision")
        decided_at = self.t
        if outcome == "approved":
            amount = min(
                self.requested,
                (self.requested * Decimal(rng.choice(["0.6", "0.8", "1", "1"]))).quantize(Decimal("1.00")),
            )
            self.log(
                "approve", "in_committee", "approved", g.secretary, "secretary", payload={"amount": f"{amount:.2f}"}
            )
            self.info["approved_total"] += amount
            first = (amount * Decimal("0.5")).quantize(Decimal("0.01"))
            tranches = [
                {"number": 1, "year": 1, "amount": f"{first:.2f}", "condition": "signature"},
                {"number": 2, "year": 2, "amount": f"{(amount - first) * Decimal('0.6'):.2f}", "condition": "interim_report"},
                {"number": 3, "year": 2, "amount": f"{amount - first - ((amount - first) * Decimal('0.6')).quantize(Decimal('0.01')):.2f}", "condition": "final_report"},
            ]  # fmt: skip
            rate = (amount / sum(line[3] for line in self.lines)).quantize(Decimal("0.000001"))
            reasons = ""
        else:
            amount, rate, tranches = Decimal("0.00"), Decimal("0"), []
            reasons = "Le budget de fonctionnement est insuffisamment justifié."
            self.log("reject", "in_committee", "rejected", g.secretary, "secretary", comment=reasons)
        self.open_task(
            "sign_decision", "signatory", self.t + dt.timedelta(days=7), subject=("grants.decision", str(did))
        )
        # How far the decision went: all the way for decided calls, anywhere in instruction.
        if self.info["code"] == INSTRUCTION_CALL:
            stage = rng.choice(["draft", "signed", "delivered", "recorded", "recorded"])
        else:
            stage = "recorded"
        if outcome == "rejected" and stage == "recorded":
            stage = "delivered"
        signed_at = delivered_at = recorded_at = None
        commitment = ""
        subject = ("grants.decision", str(did))
        if stage in ("signed", "delivered", "recorded"):
            self.later(12, 24 * 10)
            signed_at = self.t
            self.log("sign", "draft", "signed", g.signatory, "signatory", subject=subject)
            self.close_tasks("sign_decision")
        if stage in ("delivered", "recorded"):
            self.later(0.01, 0.2)
            delivered_at = self.t
            self.log("deliver", "signed", "delivered", None, "system", subject=subject)
            kind = "approval_letter" if outcome == "approved" else "rejection_letter"
            g.t.add("grants_document", self.document(kind, self.t - dt.timedelta(seconds=20), decision=did))
            if outcome == "approved":
                self.open_task("record_commitment", "finance", self.t + dt.timedelta(days=14), subject=subject)
        if stage == "recorded":
            self.later(24, 24 * 20)
            recorded_at = self.t
            commitment = f"EJ-{self.info['year']}-{did:06d}"
            self.log(
                "record",
                "delivered",
                "recorded",
                g.finance,
                "finance",
                subject=subject,
                payload={"commitment_number": commitment},
            )
            self.close_tasks("record_commitment")
        g.t.add(
            "grants_decision",
            (
                did, outcome, stage, amount, rate, json.dumps(tranches), reasons, decided_at, signed_at, delivered_at,
                commitment, recorded_at, 0, "", self.app_id, g.secretary, self.session, g.signatory if signed_at else None,
                self.info["id"],
            ),
        )  # fmt: skip

    def withdraw(self) -> None:
        self.later(2, 24 * 10)
        source = self.state
        self.log(
            "withdraw", source, "withdrawn", self.applicant, "applicant", comment="Projet reporté à l'an prochain."
        )
        for request in self.requests:
            if request["state"] == "requested":
                request["state"] = "cancelled"
                self.log(
                    "cancel",
                    "requested",
                    "cancelled",
                    self.applicant,
                    "applicant",
                    subject=("grants.opinionrequest", str(request["id"])),
                )
        self.close_tasks(state="cancelled")
        self.finish()

    def finish(self) -> None:
        g = self.g
        if getattr(self, "_finished", False):
            return
        self._finished = True
        for row in self.open_tasks:
            g.t.add("workflows_task", tuple(row))
        for r in self.requests:
            g.t.add(
                "grants_opinionrequest",
                (r["id"], r["authority"], r["state"], r["verdict"], r["comment"], r["due"], r["requested"], r["given_at"],
                 self.app_id, r["country"], r["given_by"], r["region"], self.info["id"]),
            )  # fmt: skip
        for r in self.reviews:
            g.t.add(
                "grants_review",
                (r["id"], r["state"], json.dumps(r.get("scores", {})), "Partenariat solide, suivi à préciser." if r["state"] == "submitted" else "",
                 r.get("recommendation", ""), r.get("reason", ""), r["assigned_at"], r.get("completed_at"), self.app_id,
                 r["by"], r["reviewer"]),
            )  # fmt: skip
        f = self.funding
        g.t.add(
            "grants_application",
            (
                self.app_id, self.state, self.reference, self.number, self.title, self.summary, OBJECTIVES, json.dumps(self.themes), json.dumps(["6.1", "11.6"]), 1,
                dt.date(self.info["year"] + 1, 1, 1), 24, *(x.quantize(Decimal("0.01")) for x in f),
                self.completion_message, self.completion_due, self.created, self.t, self.submitted_at,
                getattr(self, "state_changed_at", self.created), self.applicant, self.info["id"],
                self.session if self.state in ("in_committee", "approved", "rejected") else None, self.org_id,
                self.search_text(),
            ),
        )  # fmt: skip

    def search_text(self) -> str:
        """``Application.search_text`` as grants.search computes it (same texts, same order
        as ``search.refresh``, the same normalisation): a search finds the generated rows."""
        from grants.search import _document

        texts = [self.title, self.summary, OBJECTIVES, *self.g.org_texts[self.org_id]]
        for other in self.co_applicants:
            texts += self.g.org_texts[other]
        texts += [name for name, _iso2 in self.partners]
        return _document(self.reference, texts)


# --- running it -------------------------------------------------------------------------------


def generate(
    n: int = 100_000,
    *,
    seed: int = 2026,
    organisations: int | None = None,
    submit_pool: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fill the current (migrated, empty) database. Returns figures and ``world``."""
    from django.db import connection, transaction

    say = progress or (lambda message: None)
    started = time.perf_counter()
    g = Generator(n, seed=seed, organisations=organisations or (2000 if n >= 20_000 else max(50, n // 10)))
    with connection.cursor() as cursor:
        cursor.execute("SELECT iso2 FROM grants_country")
        countries = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT code FROM grants_region ORDER BY code")
        regions = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT COUNT(*) FROM grants_application")
        if cursor.fetchone()[0]:
            raise RuntimeError("generate() needs a database without applications (bench/scale.py makes a fresh one)")
    g.reference(countries, regions)
    g.make_calls()
    with transaction.atomic():
        g.begin_load(say)
        g.applications(say)
        if submit_pool:
            g.submit_pool(submit_pool)
        g._finish_calls()
        simulated = time.perf_counter() - started - g.copy_s
        say(f"  simulated in {simulated:.1f} s (and loaded by rounds in {g.copy_s:.1f} s); finishing the load")
        written = g.end_load()
    copied = time.perf_counter() - started - simulated
    # VACUUM as well as ANALYZE: what autovacuum does to a production database after a load.
    # Without it the visibility map is empty and every index-only scan (the pages' counts per
    # state, per kind, per session) reads the heap too, which no running database does.
    # Outside a transaction (VACUUM refuses one): the test database's connection may be in one.
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
    total = time.perf_counter() - started
    return {
        "applications": n,
        "rows": written,
        "rows_total": sum(written.values()),
        "log_per_application": round(written.get("workflows_transitionlog", 0) / max(n, 1), 2),
        "tasks_per_application": round(written.get("workflows_task", 0) / max(n, 1), 2),
        "states": dict(sorted(g.counts.items())),
        "simulate_s": round(simulated, 1),
        "copy_s": round(copied, 1),
        "generate_s": round(total, 1),
        "world": g.world,
    }


def world_from_db() -> World:
    """The ``World`` of a database generated earlier (kept with --keep): calls, accounts,
    applicants and their application counts, read back from the rows."""
    from django.db import connection

    world = World(now=dt.datetime.now(UTC))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, code, state FROM grants_call")
        for call_id, code, state in cursor.fetchall():
            world.calls[code] = {"id": call_id, "code": code, "state": state}
        cursor.execute("SELECT id, username FROM auth_user WHERE username LIKE 'bench-%%'")
        world.accounts = {username: uid for uid, username in cursor.fetchall()}
        cursor.execute("SELECT organisation_id, user_id FROM grants_rolegrant WHERE role = 'applicant'")
        world.applicants = dict(cursor.fetchall())
        cursor.execute("SELECT organisation_id, COUNT(*) FROM grants_application GROUP BY organisation_id")
        world.org_apps.update(dict(cursor.fetchall()))
    return world


# --- a sample through the real transition service -------------------------------------------

SAMPLE_TARGETS = [
    "draft", "submitted", "incomplete", "ineligible", "awaiting_opinions", "under_review", "in_committee",
    "approved", "rejected", "withdrawn",
]  # fmt: skip
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def service_sample(world: World, n: int = SERVICE_SAMPLE, *, seed: int = 7) -> dict[str, Any]:
    """``n`` applications of the open call created and moved to every state through the
    product's own write API (grants.writes.drafts, grants.services: the one transition
    service), after the bulk: their log entries, tasks, notifications and snapshots are the
    product's, and the same verification covers them."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from grants import services
    from grants.models import Application, CommitteeSession, OpinionRequest, Review
    from grants.writes import drafts

    rng = random.Random(seed)
    users = get_user_model().objects.in_bulk(list(world.accounts.values()))
    by_name = {u.username: u for u in users.values()}
    instructor, secretary = by_name["bench-instructor"], by_name["bench-secretary"]
    call = world.calls[OPEN_CALL]
    session = CommitteeSession.objects.filter(call_id=call["id"]).order_by("-date").first()
    if session is not None and session.state == CommitteeSession.State.PLANNED:
        services.session_transition(session_id=session.pk, name="open", user=secretary)
    organisations = sorted(world.applicants)
    started = time.perf_counter()
    made: dict[str, int] = defaultdict(int)
    ids: list[str] = []
    for index in range(n):
        target = SAMPLE_TARGETS[index % len(SAMPLE_TARGETS)]
        org_id = rng.choice(organisations)
        owner = users[world.applicants[org_id]]
        country = rng.choice([c for c, _ in PROJECT_COUNTRIES[:10]])

        def go(name: str, user: Any, application_id: Any, **payload: Any) -> None:
            services.application_transition(application_id=application_id, name=name, user=user, payload=payload)

        with transaction.atomic():
            app = drafts.application_create(
                user=owner,
                data={
                    "call": OPEN_CALL,
                    "title": f"Échantillon par le service {index + 1}",
                    "summary": "Renforcer les services municipaux partenaires.",
                    "objectives": "Former, équiper, évaluer.",
                    "themes": ["gouvernance locale"],
                    "sdg_targets": ["6.1"],
                    "gender_marker": 1,
                    "countries": [country],
                    "partners": [{"name": f"Commune partenaire {index + 1}", "country": country}],
                    "start_date": f"{world.now.year + 1}-01-01",
                    "duration_months": 24,
                    "budget": {
                        "lines": [
                            {"year": 1, "category": "staff", "label": "Expertise", "amount": "30000.00"},
                            {"year": 1, "category": "travel", "label": "Missions", "amount": "20000.00"},
                            {"year": 2, "category": "equipment", "label": "Équipements", "amount": "35000.00"},
                            {"year": 2, "category": "training", "label": "Formations", "amount": "15000.00"},
                        ],
                        "funding": {
                            "own_cash": "15000.00",
                            "own_in_kind": "5000.00",
                            "partner": "10000.00",
                            "other": "45000.00",
                            "requested": "25000.00",
                        },
                    },
                },
            )
            for kind in REQUIRED_ATTACHMENTS:
                drafts.attachment_add(
                    application_id=app.pk, user=owner, kind=kind, name=f"{kind}.pdf", content=DEMO_PDF
                )
            pk = app.pk
            ids.append(str(pk))
            made[target] += 1
            if target == "draft":
                continue
            go("submit", owner, pk)
            if target == "submitted":
                continue
            if target == "withdrawn":
                go("withdraw", owner, pk, comment="Projet reporté.")
                continue
            if target == "incomplete":
                go("request_completion", instructor, pk, message="Merci de joindre la délibération signée.")
                continue
            if target == "ineligible":
                go("declare_ineligible", instructor, pk, reason="Partenaire non éligible.")
                continue
            reviewers = rng.sample([name for name in by_name if name.startswith("bench-reviewer-")], 2)
            for reviewer in reviewers:
                services.review_assign(application_id=pk, reviewer_username=reviewer, user=instructor)
            go("declare_eligible", instructor, pk)
            if target == "awaiting_opinions":
                continue
            for request in OpinionRequest.objects.filter(application_id=pk, state=OpinionRequest.State.REQUESTED):
                embassy = by_name.get(f"bench-embassy-{(request.country_id or '').lower()}")
                if embassy is not None:
                    services.opinion_give(opinion_id=request.pk, user=embassy, verdict="favorable", comment="")
            if Application.objects.filter(pk=pk, state="awaiting_opinions").exists():
                go("close_opinions", instructor, pk, comment="Phase d'avis close.")
            if target == "under_review":
                continue
            for review in Review.objects.filter(application_id=pk).select_related("reviewer"):
                services.review_declare(review_id=review.pk, user=review.reviewer, conflict=False)
                services.review_submit(
                    review_id=review.pk,
                    user=review.reviewer,
                    payload={"scores": dict.fromkeys(CRITERIA, 4), "recommendation": "yes", "comment": "Solide."},
                )
            services.consensus_record(application_id=pk, user=instructor)
            go("schedule", secretary, pk, session=session.pk if session else None)
            if target == "in_committee":
                continue
            if target == "approved":
                go("approve", secretary, pk, amount="20000.00")
            else:
                go("reject", secretary, pk, reasons="Budget insuffisamment justifié.")
    return {
        "service_sample": n,
        "service_sample_states": dict(made),
        "service_sample_s": round(time.perf_counter() - started, 1),
        "service_sample_ids": ids,
    }


# --- verification -----------------------------------------------------------------------------


def application_transitions() -> dict[str, set[tuple[str, str]]]:
    """Every (source, target) each application transition allows, from the django-fsm
    declarations on the model (so the check follows the machine, not this file)."""
    from grants.models import Application

    allowed: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for t in Application._meta.get_field("state").get_all_transitions(Application):  # type: ignore[attr-defined]
        allowed[t.name].add((t.source, t.target))
    allowed["create"].add(("", "draft"))  # the draft's first entry (grants writes.drafts)
    return allowed


def verify(*, audit: bool = True) -> dict[str, Any]:
    """``verify_audit`` over the whole log, then: every application's application-level
    history is a walk of the machine from ``create`` that ends in its current state, and
    the companions agree with the state (tasks, requests, decisions)."""
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection, transaction

    figures: dict[str, Any] = {}
    if audit:
        started = time.perf_counter()
        out = StringIO()
        call_command("verify_audit", stdout=out)  # raises CommandError on a broken chain
        figures["verify_audit"] = out.getvalue().strip().splitlines()[-2:]
        figures["verify_audit_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    allowed = application_transitions()
    states: dict[str, str] = {}
    problems: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, state FROM grants_application")
        states = {str(pk): state for pk, state in cursor.fetchall()}
    checked = 0
    connection.ensure_connection()
    with transaction.atomic(), connection.connection.cursor(name="bench_walk") as cursor:  # server-side
        cursor.itersize = 20_000
        # The order of the index log_application_at; within a chain, time order is id order.
        cursor.execute(
            "SELECT application_id, transition, source, target FROM workflows_transitionlog "
            "WHERE subject_type = 'grants.application' ORDER BY application_id, at, id"
        )
        current_app, current_state = None, None
        last: dict[str, str] = {}
        notes = 0
        for app_id, transition, source, target in cursor:
            key = str(app_id)
            if key != current_app:
                current_app, current_state = key, ""
            if source == target == current_state and transition not in allowed:
                # An entry that records a step without moving the machine (e.g. a consensus,
                # a Spec with fsm=False): part of the history, not a transition.
                notes += 1
            elif source != current_state or (source, target) not in allowed.get(transition, set()):
                if len(problems) < 20:
                    problems.append(f"{key}: {transition} {source}→{target} after {current_state or 'nothing'}")
            current_state = target
            last[key] = target
            checked += 1
    unreachable = [k for k, s in states.items() if last.get(k) != s]
    problems.extend(f"{k}: state {states[k]} but history ends in {last.get(k)}" for k in unreachable[:20])
    checks = {
        # One open eligibility check per submitted application, none elsewhere.
        "open_check_eligibility_matches_submitted": """
            SELECT (SELECT COUNT(*) FROM workflows_task WHERE kind='check_eligibility' AND state='open')
                 = (SELECT COUNT(*) FROM grants_application WHERE state='submitted')""",
        "open_completion_matches_incomplete": """
            SELECT (SELECT COUNT(*) FROM workflows_task WHERE kind='complete_application' AND state='open')
                 = (SELECT COUNT(*) FROM grants_application WHERE state='incomplete')""",
        "open_requests_only_awaiting_opinions": """
            SELECT NOT EXISTS (SELECT 1 FROM grants_opinionrequest r JOIN grants_application a ON a.id = r.application_id
                               WHERE r.state = 'requested' AND a.state <> 'awaiting_opinions')""",
        "no_open_task_on_final_states": """
            SELECT NOT EXISTS (SELECT 1 FROM workflows_task t JOIN grants_application a ON a.id = t.application_id
                               WHERE t.state = 'open' AND a.state IN ('ineligible', 'withdrawn', 'draft')
                                  OR t.state = 'open' AND a.state IN ('approved', 'rejected')
                                     AND t.kind NOT IN ('sign_decision', 'record_commitment'))""",
        "decision_per_decided_application": """
            SELECT (SELECT COUNT(*) FROM grants_decision)
                 = (SELECT COUNT(*) FROM grants_application WHERE state IN ('approved', 'rejected'))""",
        "references_gap_free": """
            SELECT NOT EXISTS (SELECT 1 FROM grants_call c WHERE c.last_reference_number <>
                               (SELECT COUNT(reference_number) FROM grants_application a WHERE a.call_id = c.id))""",
    }
    with connection.cursor() as cursor:
        for name, sql in checks.items():
            cursor.execute(sql)
            ok = bool(cursor.fetchone()[0])
            figures[name] = ok
            if not ok:
                problems.append(f"check failed: {name}")
    figures.update(
        {
            "applications_checked": len(states),
            "application_entries_walked": checked,
            "entries_without_state_change": notes,
            "unreachable_states": len(unreachable),
            "walk_s": round(time.perf_counter() - started, 1),
            "problems": problems,
            "ok": not problems,
        }
    )
    return figures


def _standalone(n: int) -> None:
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_helper")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    import django

    django.setup()
    from bench import scale

    scale.fresh_database()
    result = generate(n, progress=print)
    world = result.pop("world")
    print(json.dumps(result, indent=2, default=str))
    sample = service_sample(world)
    sample.pop("service_sample_ids")
    print(json.dumps(sample, indent=2, default=str))
    print(json.dumps(verify(), indent=2, default=str))


if __name__ == "__main__":
    _standalone(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
