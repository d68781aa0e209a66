"""Permission matrix: every role (and the anonymous visitor) × every URL of the URL conf
(web views and API endpoints) × an object in scope and one out of scope.

Conventions
-----------
* ``MATRIX`` is a list of ``row(key, method, variants, in_=…, out=…)``: one URL (its
  canonical key: ``namespace:name``, or the route when unnamed), one HTTP method, the URL
  kwargs of each *variant* and the expected status of each role for each variant. ``in``
  is an object in the scope of the world's "own" actors (Lyon's application, Senegal's
  opinion request, reviewer1's review, session S1, Lyon's delivered decision, one's own
  notification); ``out`` its counterpart out of that scope (Rennes's application,
  Morocco's request, reviewer2's review, session S2, Rennes's undelivered decision,
  somebody else's notification). A few rows have more variants, named for what they show
  (``co``: Lyon's application with Rennes as co-applicant; ``declined``; ``decided``…).
* ``s(default, group=…, role=…)`` writes a variant's statuses: ``default`` for every
  signed-in role, then groups (``applicants``, ``posts``, ``delegation``, ``staff``) and
  roles, in the order given; ``only(status, *roles)`` is ``status`` for those roles and
  403 for the others. The anonymous visitor gets ``LOGIN`` (302 to /accounts/login/) on
  the web and 401 on the API unless the row says otherwise (public pages: sign-in,
  password reset, /verify/, /healthz, the footer's pages).
* Statuses: 200/201/204 read or done; 302 done then redirected, or sent elsewhere;
  400/409 allowed, but the body or the state refuses it (access was granted); 403 visible
  but not allowed; 404 not visible (existence never leaked); 405 wrong method. POSTs go
  with an empty body, except where the API checks the body before the caller's role:
  there a valid body lets the access decision show.
* Browsers are signed in by session, API clients by token. Every request runs in a
  savepoint rolled back afterwards, so a POST that succeeds leaves the world as it was
  for the next one; the world is built once for the module.
* ``test_every_url_has_a_row`` walks ``django.urls.get_resolver()``: a URL without a row,
  or a row for a URL that no longer exists, fails the suite. ``admin/`` internals, the
  static files and ``i18n/`` are skipped; /admin/ itself has its own test.
* A cell where the product disagrees with docs/policy.md holds the status the policy
  requires and is listed in the row's ``xfail`` (role, variant) with the reason:
  ``test_permission`` checks every other cell, ``test_known_discrepancy`` (strict xfail)
  each listed one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from knox.models import AuthToken
from rest_framework.test import APIClient

from grants import services
from grants.documents import issuing
from grants.export_jobs import ExportJob
from grants.models import Application, Call, CommitteeSession, Country, Decision, Document, OpinionRequest, Review, Role
from grants.writes import drafts
from notifications.models import Notification
from tests.factories import PDF_BYTES, CallFactory, UserFactory, World, complete_data, grant
from workflows.models import Task, TaskKind

# The world is the module's (see ``matrix``); the marker has pytest-django create the test
# database and wrap each test in a transaction of its own.
pytestmark = pytest.mark.django_db

S = Application.State
LOGIN = "302→login"
ADMIN_LOGIN = "302→admin-login"
Status = int | str

ROLES = (
    "anonymous",
    "applicant",
    "applicant2",
    "instructor",
    "embassy_sn",
    "prefecture_ara",
    "partner_sn",
    "reviewer1",
    "secretary",
    "signatory",
    "finance",
    "admin",
)
GROUPS: dict[str, tuple[str, ...]] = {
    "applicants": ("applicant", "applicant2"),
    "posts": ("embassy_sn", "prefecture_ara"),
    "delegation": ("instructor", "secretary", "signatory", "finance", "admin"),
    "staff": (
        "instructor",
        "embassy_sn",
        "prefecture_ara",
        "partner_sn",
        "reviewer1",
        "secretary",
        "signatory",
        "finance",
        "admin",
    ),
}


# --- the world --------------------------------------------------------------------------------


@dataclass
class Matrix:
    """The world's objects the rows point at."""

    world: World
    apps: dict[tuple[str, str], Application] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)

    def app(self, who: str, state: str) -> Any:
        return self.apps[(who, state)].pk

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["objects"][name]
        except KeyError:
            raise AttributeError(name) from None


def _advance(w: World, app: Application, target: str, *, owner: Any, reviewers: list[Any], session: Any) -> Application:
    """``World.advance`` with the reviewers and the session chosen (Rennes's files are
    reviewed by reviewer2 and sit in session S2, so that reviewer1 and S1 stay out of them)."""
    app = w.fire(app, "submit", owner)
    if target == S.SUBMITTED:
        return app
    for reviewer in reviewers:
        review = services.review_assign(application_id=app.pk, reviewer_username=reviewer.username, user=w.instructor)
        services.review_declare(review_id=review.pk, user=reviewer, conflict=False)  # no conflict of interest
    app = w.fire(app, "declare_eligible", w.instructor)
    if target == S.AWAITING_OPINIONS:
        return app
    posts = {"SN": w.embassy_sn, "MA": w.embassy_ma, "84": w.prefecture_ara}
    for request in OpinionRequest.objects.filter(application=app, state=OpinionRequest.State.REQUESTED):
        user = posts.get(request.country_id or request.region_id or "")
        if user is not None:
            services.opinion_give(opinion_id=request.pk, user=user, verdict="favorable", comment="")
    app = Application.objects.get(pk=app.pk)
    if app.state == S.AWAITING_OPINIONS:  # the prefecture of Rennes's region is nobody in the world
        app = w.fire(app, "close_opinions", w.instructor, comment="Fin anticipée.")
    if target == S.UNDER_REVIEW:
        return app
    _submit_reviews(w, app, reviewers)
    if w.call.consensus_required:  # the reviews' consensus, before the committee
        services.consensus_record(application_id=app.pk, user=w.instructor, comment="Projet solide.")
    app = w.fire(app, "schedule", w.secretary, session=session.pk)
    if target == S.IN_COMMITTEE:
        return app
    session.refresh_from_db()
    if session.state == CommitteeSession.State.PLANNED:
        services.session_transition(session_id=session.pk, name="open", user=w.secretary)
    assert target == S.APPROVED, target
    return w.fire(app, "approve", w.secretary, amount="25000.00")


def _submit_reviews(w: World, app: Application, reviewers: list[Any]) -> None:
    scores = {c["code"]: 4 for c in w.call.scoring_criteria}
    for reviewer in reviewers:
        review = Review.objects.get(application=app, reviewer=reviewer)
        services.review_submit(review_id=review.pk, user=reviewer, payload={"scores": scores, "recommendation": "yes"})


def build() -> Matrix:
    """Lyon (applicant, region 84, Senegal, reviewer1, session S1) at every stage, and
    Rennes (applicant2, region 53, Morocco, reviewer2, session S2) as their counterparts."""
    w = World(prefecture_opinion_required=True)
    # Senegal's partner government (joint funds): it sees only what a joint fund asks it.
    w.partner_sn = UserFactory(username="partner-sn")
    grant(w.partner_sn, Role.PARTNER, country=Country.objects.get(iso2="SN"))
    m = Matrix(world=w)
    o = m.objects
    s1 = w.session
    s2 = CommitteeSession.objects.create(call=w.call, date=timezone.localdate() + dt.timedelta(days=40))
    o.update(s1=s1, s2=s2, call=w.call, draft_call=CallFactory(published=False))
    lyon = {"owner": w.applicant, "reviewers": [w.reviewer1], "session": s1}
    rennes = {"owner": w.applicant2, "reviewers": [w.reviewer2], "session": s2}

    m.apps["L", S.DRAFT] = w.draft()
    m.apps["R", S.DRAFT] = w.draft(w.applicant2, country="MA")
    m.apps["L", S.SUBMITTED] = _advance(w, w.draft(), S.SUBMITTED, **lyon)
    m.apps["R", S.SUBMITTED] = _advance(w, w.draft(w.applicant2, country="MA"), S.SUBMITTED, **rennes)
    # Lyon's, with Rennes as co-applicant authority (applicant2 reads it, never acts on it).
    co = w.draft()
    co.co_applicants.add(w.rennes)
    m.apps["L", "co"] = _advance(w, co, S.SUBMITTED, **lyon)
    # Submitted, then declined by its reviewer (reviewer1 no longer sees it).
    declined = _advance(w, w.draft(), S.SUBMITTED, **lyon)
    review = services.review_assign(application_id=declined.pk, reviewer_username="reviewer1", user=w.instructor)
    services.review_decline(review_id=review.pk, user=w.reviewer1, reason="Conflit d'intérêts.")
    m.apps["L", "declined"] = declined
    # Awaiting the opinions of Senegal, Morocco and the prefecture of region 84.
    awaiting = w.draft(countries=["SN", "MA"], partners=[{"name": "Commune de Saint-Louis", "country": "SN"}])
    m.apps["L", S.AWAITING_OPINIONS] = _advance(w, awaiting, S.AWAITING_OPINIONS, **lyon)
    both = {**lyon, "reviewers": [w.reviewer1, w.reviewer2]}
    # Under review by reviewer1 and reviewer2, neither has submitted yet.
    m.apps["L", S.UNDER_REVIEW] = _advance(w, w.draft(), S.UNDER_REVIEW, **both)
    # Under review, both reviews submitted.
    m.apps["L", "reviewed"] = _advance(w, w.draft(), S.UNDER_REVIEW, **both)
    _submit_reviews(w, m.apps["L", "reviewed"], [w.reviewer1, w.reviewer2])
    m.apps["L", S.IN_COMMITTEE] = _advance(w, w.draft(), S.IN_COMMITTEE, **lyon)
    m.apps["L", S.APPROVED] = _advance(w, w.draft(), S.APPROVED, **lyon)
    m.apps["R", S.APPROVED] = _advance(w, w.draft(w.applicant2, country="MA"), S.APPROVED, **rennes)
    # Turnkey programme drafts (grants.variants): the members' page.
    turnkey = CallFactory(kind=Call.Kind.TURNKEY)
    m.apps["L", "turnkey"] = drafts.application_create(user=w.applicant, data=complete_data(turnkey))
    m.apps["R", "turnkey"] = drafts.application_create(user=w.applicant2, data=complete_data(turnkey, "MA"))

    awaiting_pk = m.app("L", S.AWAITING_OPINIONS)
    o["opinion_sn"] = OpinionRequest.objects.get(application_id=awaiting_pk, country_id="SN")
    o["opinion_ma"] = OpinionRequest.objects.get(application_id=awaiting_pk, country_id="MA")
    o["opinion_prefecture"] = OpinionRequest.objects.get(application_id=awaiting_pk, region_id="84")
    o["opinion_decided"] = OpinionRequest.objects.get(application_id=m.app("L", S.APPROVED), country_id="SN")
    reviews = Review.objects.filter
    o["review_r1"] = reviews(application_id=m.app("L", S.UNDER_REVIEW), reviewer=w.reviewer1).get()
    o["review_r2"] = reviews(application_id=m.app("L", S.UNDER_REVIEW), reviewer=w.reviewer2).get()
    o["review_r2_submitted"] = reviews(application_id=m.app("L", "reviewed"), reviewer=w.reviewer2).get()
    o["review_decided"] = reviews(application_id=m.app("L", S.APPROVED), reviewer=w.reviewer1).get()

    # Lyon's decision signed and its letter rendered (WeasyPrint): delivered. Rennes's
    # decision is still a draft (unsigned, so no letter).
    decision = Decision.objects.get(application_id=m.app("L", S.APPROVED))
    services.decision_sign(decision_id=decision.pk, user=w.signatory)
    assert issuing.issue_decision_letter(decision.pk) == issuing.ISSUED
    o["decision_l"] = Decision.objects.get(pk=decision.pk, state=Decision.State.DELIVERED)
    o["decision_r"] = Decision.objects.get(application_id=m.app("R", S.APPROVED), state=Decision.State.DRAFT)
    o["letter_l"] = Document.objects.get(decision=o["decision_l"])
    # The grant's life after the commitment (api/postaward.py): Lyon's and Rennes's
    # recorded grants, each with its first tranche payable, its reports due and an
    # amendment requested.
    for who, owner, country, rest in (("L", w.applicant, "SN", lyon), ("R", w.applicant2, "MA", rennes)):
        grant_app = _advance(w, w.draft(owner, country=country), S.APPROVED, **rest)
        m.apps[who, "recorded"] = grant_app
        grant_decision = Decision.objects.get(application_id=grant_app.pk)
        services.decision_sign(decision_id=grant_decision.pk, user=w.signatory)
        services.decision_deliver(decision_id=grant_decision.pk)
        services.decision_record(decision_id=grant_decision.pk, user=w.finance, commitment_number=f"EJ-{who}")
        o[f"grant_{who}"] = grant_decision
        o[f"payment_{who}"] = grant_decision.payments.get(number=1)
        o[f"report_{who}"] = grant_decision.reports.get(kind="interim")
        o[f"amendment_{who}"] = services.amendment_request(
            decision_id=grant_decision.pk, user=owner, payload={"kind": "other", "text": "Partenaire.", "reason": "x"}
        )
    o["summary_l"] = Document.objects.get(application_id=m.app("L", S.APPROVED), kind="evaluation_summary")
    # Deposit receipts (issued after commit in the product: rendered here directly).
    for name, key in (("receipt_l", ("L", S.APPROVED)), ("receipt_r", ("R", S.APPROVED)), ("receipt_co", ("L", "co"))):
        snapshot = m.apps[key].snapshots.order_by("pk").first()
        assert issuing.issue_receipt(snapshot.pk) == issuing.ISSUED
        o[name] = Document.objects.get(snapshot=snapshot)
    for session in (s1, s2):
        assert issuing.issue_committee_booklet(session.pk) is not None

    # Tasks: the embassy of Senegal has taken its opinion task; Morocco's is in its queue.
    o["task_sn"] = Task.objects.get(subject_type="grants.opinionrequest", subject_id=str(o["opinion_sn"].pk))
    o["task_ma"] = Task.objects.get(subject_type="grants.opinionrequest", subject_id=str(o["opinion_ma"].pk))
    o["task_sn"].assignee = w.embassy_sn
    o["task_sn"].save(update_fields=["assignee"])
    o["task_eligibility"] = Task.objects.get(
        application_id=m.app("L", S.SUBMITTED), kind=TaskKind.CHECK_ELIGIBILITY, state=Task.State.OPEN
    )

    # One notification of each actor (a copy of a real one) and one of somebody else.
    o["users"] = {role: getattr(w, role) for role in ROLES if role != "anonymous"}
    model = Notification.objects.order_by("pk").first()
    o["notifications"] = {
        role: Notification.objects.create(
            recipient=user,
            event=model.event,
            message=model.message,
            category=model.category,
            params=model.params,
            dedupe_key=f"matrix-{role}",
        )
        for role, user in [*o["users"].items(), ("embassy_ma", w.embassy_ma)]
    }
    # perf: a spreadsheet export asked by each actor (still being built), and somebody else's.
    o["export_jobs"] = {
        role: ExportJob.objects.create(requested_by=user, format="xlsx")
        for role, user in [*o["users"].items(), ("embassy_ma", w.embassy_ma)]
    }
    return m


# --- how rows are written ------------------------------------------------------------------------

Kwargs = Callable[[Matrix, str], dict[str, Any]]  # (world, role) -> URL kwargs
NO_OBJECT: dict[str, Kwargs] = {"in": lambda m, role: {}}


@dataclass(frozen=True)
class Row:
    key: str
    method: str
    variants: dict[str, Kwargs]
    expect: dict[str, dict[str, Status]]  # variant -> role -> status
    anonymous: Status | None = None  # every variant; default LOGIN on the web, 401 on the API
    body: Callable[[Matrix], Any] | None = None
    multipart: bool = False
    xfail: dict[tuple[str, str], str] = field(default_factory=dict)  # (role, variant) -> how the product errs

    @property
    def api(self) -> bool:
        return self.key.startswith("api:")

    @property
    def id(self) -> str:
        return f"{self.key}:{self.method}"

    def expected(self, role: str, variant: str) -> Status:
        cells = self.expect[variant]
        if role in cells:
            return cells[role]
        if self.anonymous is not None:
            return self.anonymous
        return 401 if self.api else LOGIN


def row(
    key: str,
    method: str,
    variants: dict[str, Kwargs] = NO_OBJECT,
    *,
    anonymous: Status | None = None,
    body: Callable[[Matrix], Any] | None = None,
    multipart: bool = False,
    xfail: dict[tuple[str, str], str] | None = None,
    **expect: dict[str, Status],
) -> Row:
    """``row(key, method, variants, in_=s(…), out=s(…), <another variant>=s(…))``."""
    table = {name.rstrip("_"): statuses for name, statuses in expect.items()}
    assert set(table) == set(variants), (key, method, sorted(table), sorted(variants))
    return Row(key, method, variants, table, anonymous, body, multipart, xfail or {})


def objects(kw: str, **getters: Callable[[Matrix], Any]) -> dict[str, Kwargs]:
    """One kwarg per variant: ``objects("review_id", in_=…, out=…)``."""
    return {name.rstrip("_"): (lambda m, role, get=get: {kw: get(m)}) for name, get in getters.items()}


def apps(
    state: str, kw: str = "pk", more: Callable[[Matrix, str], dict[str, Any]] | None = None, **others: str
) -> dict[str, Kwargs]:
    """Lyon's application in ``state`` (in), Rennes's (out), and ``others``: {variant:
    a key of Lyon's other applications ("co", "declined")}; ``more``: the other kwargs."""

    def variant(who: str, which: str) -> Kwargs:
        return lambda m, role: {kw: m.app(who, which), **(more(m, which) if more else {})}

    return {"in": variant("L", state), "out": variant("R", state)} | {
        name: variant("L", which) for name, which in others.items()
    }


def with_attachment(variants: dict[str, Kwargs], kw: str = "pk") -> dict[str, Kwargs]:
    """The same applications, with the first of their attachments."""

    def add(make: Kwargs) -> Kwargs:
        def kwargs(m: Matrix, role: str) -> dict[str, Any]:
            base = make(m, role)
            first = Application.objects.get(pk=base[kw]).attachments.order_by("pk").first()
            return {**base, "attachment_id": first.pk}

        return kwargs

    return {name: add(make) for name, make in variants.items()}


def s(default: Status, **cells: Status) -> dict[str, Status]:
    """Statuses of the signed-in roles: ``default``, then groups and roles in the order
    given (the anonymous visitor only when named)."""
    table = {role: default for role in ROLES if role != "anonymous"}
    for name, status in cells.items():
        for role in GROUPS.get(name, (name,)):
            table[role] = status
    return table


def only(status: Status, *roles: str, default: Status = 403) -> dict[str, Status]:
    """``status`` for ``roles``, ``default`` (a screen refused: 403) for the others."""
    return s(default, **dict.fromkeys(roles, status))


def xfail(reason: str, *cells: tuple[str, str]) -> dict[tuple[str, str], str]:
    return dict.fromkeys(cells, reason)


# --- variants -----------------------------------------------------------------------------------------

OWN_NOTIFICATION: dict[str, Kwargs] = {
    "in": lambda m, role: {"pk": m.notifications["applicant" if role == "anonymous" else role].pk},
    "out": lambda m, role: {"pk": m.notifications["embassy_ma"].pk},  # somebody else's
}
TASKS = objects(
    "task_id",
    in_=lambda m: m.task_sn.pk,  # Senegal's opinion task, taken by embassy_sn
    out=lambda m: m.task_ma.pk,  # Morocco's, in its queue
    eligibility=lambda m: m.task_eligibility.pk,  # in the instructors' queue
)
OPINIONS = objects(
    "opinion_id",
    in_=lambda m: m.opinion_sn.pk,
    out=lambda m: m.opinion_ma.pk,
    prefecture=lambda m: m.opinion_prefecture.pk,  # region 84's, on the same application
)
REVIEWS = objects("review_id", in_=lambda m: m.review_r1.pk, out=lambda m: m.review_r2.pk)
SESSIONS = objects("session_id", in_=lambda m: m.s1.pk, out=lambda m: m.s2.pk)
DECISIONS = objects("decision_id", in_=lambda m: m.decision_l.pk, out=lambda m: m.decision_r.pk)
CONSENSUS = objects(
    "application_id",
    in_=lambda m: m.app("L", "reviewed"),  # under review, both reviews in
    out=lambda m: m.app("R", S.SUBMITTED),
)
GRANTS = objects("decision_id", in_=lambda m: m.grant_L.pk, out=lambda m: m.grant_R.pk)
PAYMENTS = objects("payment_id", in_=lambda m: m.payment_L.pk, out=lambda m: m.payment_R.pk)
REPORTS = objects("report_id", in_=lambda m: m.report_L.pk, out=lambda m: m.report_R.pk)
AMENDMENTS = objects("amendment_id", in_=lambda m: m.amendment_L.pk, out=lambda m: m.amendment_R.pk)
CALLS = objects("code", in_=lambda m: m.call.code, out=lambda m: m.draft_call.code)


def _grant_kwargs(kw: str, obj: str, extra: str) -> dict[str, Kwargs]:
    """Lyon's (in) and Rennes's (out) recorded grant: the application as ``kw``, and its
    report or amendment ``obj`` as ``extra``."""
    return {
        "in": lambda m, role: {kw: m.app("L", "recorded"), extra: m.objects[f"{obj}_L"].pk},
        "out": lambda m, role: {kw: m.app("R", "recorded"), extra: m.objects[f"{obj}_R"].pk},
    }


def with_name(variants: dict[str, Kwargs], name: str) -> dict[str, Kwargs]:
    return {key: (lambda m, role, make=make: {**make(m, role), "name": name}) for key, make in variants.items()}


GRANT_REPORTS = _grant_kwargs("pk", "report", "report_id")
STAFF_REPORTS = _grant_kwargs("application_id", "report", "report_id")
STAFF_AMENDMENTS = _grant_kwargs("application_id", "amendment", "amendment_id")
CODES = objects("code", in_=lambda m: m.letter_l.verification_code, out=lambda m: "ZZZZ-ZZZZ-ZZZZ")
FORMATS = objects("fmt", in_=lambda m: "csv", out=lambda m: "pdf")  # out: no such format
JOB_FORMATS = objects("fmt", in_=lambda m: "xlsx", out=lambda m: "pdf")  # out: no such format
OWN_EXPORT: dict[str, Kwargs] = {
    "in": lambda m, role: {"job_id": m.export_jobs["instructor" if role == "anonymous" else role].pk},
    "out": lambda m, role: {"job_id": m.export_jobs["embassy_ma"].pk},  # somebody else's
}


def _documents(kw: str, field_: str) -> dict[str, Kwargs]:
    """Lyon's decision letter (in), Rennes's deposit receipt (out), Lyon's receipt, the
    co-applied application's receipt."""

    def variant(key: tuple[str, str], document: str) -> Kwargs:
        return lambda m, role: {"pk": m.app(*key), kw: getattr(m.objects[document], field_)}

    return {
        "in": variant(("L", S.APPROVED), "letter_l"),
        "out": variant(("R", S.APPROVED), "receipt_r"),
        "receipt": variant(("L", S.APPROVED), "receipt_l"),
        "co": variant(("L", "co"), "receipt_co"),
    }


DOCUMENTS = _documents("code", "verification_code")
PORTAL_DOCUMENTS = _documents("document_id", "pk")

# Who sees Lyon's approved application (delivered decision, Senegal's opinion given,
# region 84, reviewed by reviewer1) and Rennes's (undelivered decision, Morocco, region 53,
# reviewer2): the read policy's answer for every application-level read.
# Senegal's partner government sees only the joint funds' projects of Senegal (none here).
SEES_L_APPROVED = s(200, applicant2=404, partner_sn=404)
SEES_R_APPROVED = s(404, applicant2=200, instructor=200, secretary=200, signatory=200, admin=200)
STAFF_PAGE_L = s(200, applicants=403, partner_sn=404)  # a staff screen: 403 to applicants, whatever the id
STAFF_PAGE_R = s(404, applicants=403, instructor=200, secretary=200, signatory=200, admin=200)
PORTAL = 404  # the applicant portal answers 404 to anyone who is not an applicant of the application


def portal(status: Status) -> dict[str, dict[str, Status]]:
    """A portal page of a Lyon / Rennes application: its authority gets ``status``."""
    return {"in_": s(PORTAL, applicant=status), "out": s(PORTAL, applicant2=status)}


# --- the matrix -----------------------------------------------------------------------------------------

MATRIX: list[Row] = [
    # --- public pages, accounts, second factor ---------------------------------------------------------
    row("healthz", "GET", anonymous=200, in_=s(200)),
    row("login", "GET", anonymous=200, in_=s(302)),  # signed in: sent home
    row("login", "POST", anonymous=200, in_=s(302)),  # empty form: shown again with its errors
    row("logout", "GET", anonymous=405, in_=s(405)),
    row("logout", "POST", in_=s(LOGIN)),  # signed out, back to the sign-in page
    row("password_reset", "GET", anonymous=200, in_=s(200)),
    row("password_reset", "POST", anonymous=200, in_=s(200)),
    row("password_reset_done", "GET", anonymous=200, in_=s(200)),
    row(
        "password_reset_confirm",
        "GET",
        {
            "in": lambda m, role: {"uidb64": _uid(m.users["applicant"]), "token": _reset_token(m.users["applicant"])},
            "out": lambda m, role: {"uidb64": _uid(m.users["applicant"]), "token": "no-such-token"},
        },
        in_=s(302, anonymous=302),  # a valid link: on to the new-password form
        out=s(200, anonymous=200),  # an invalid one: the page says so
    ),
    row("password_reset_complete", "GET", anonymous=200, in_=s(200)),
    row("otp-enrol", "GET", in_=s(200, applicants=404)),  # the second factor is for staff accounts
    row("otp-enrol", "POST", in_=s(200, applicants=404)),  # no code: the form again
    row("otp-verify", "GET", in_=s(302)),  # no device: nothing to verify
    row("otp-verify", "POST", in_=s(302)),
    row("home", "GET", in_=s(200)),  # applicants: their dashboard; staff: the inbox
    row("accessibility", "GET", anonymous=200, in_=s(200)),  # the footer's public pages
    row("legal", "GET", anonymous=200, in_=s(200)),
    row("privacy", "GET", anonymous=200, in_=s(200)),
    # Public verification of an issued document: anyone with its code, an unknown code is a 404.
    row("verify", "GET", CODES, in_=s(200, anonymous=200), out=s(404, anonymous=404)),
    row("verify", "POST", CODES, in_=s(400, anonymous=400), out=s(404, anonymous=404)),  # no file to check
    # --- notifications: a user's own only ----------------------------------------------------------------
    row("notifications:centre", "GET", in_=s(200)),
    row("notifications:preferences", "GET", in_=s(200)),
    row("notifications:preferences", "POST", in_=s(400)),
    row("notifications:mark-all-read", "POST", in_=s(302)),
    row("notifications:mark-all-read", "GET", in_=s(405)),
    row("notifications:open", "GET", OWN_NOTIFICATION, in_=s(302), out=s(404)),
    row("notifications:mark-read", "POST", OWN_NOTIFICATION, in_=s(302), out=s(404)),
    row("notifications:mark-read", "GET", OWN_NOTIFICATION, in_=s(405), out=s(405)),
    # --- staff: inbox and tasks -------------------------------------------------------------------------------
    row("tasks", "GET", in_=s(403, staff=200)),
    row(
        "task-claim",
        "POST",
        TASKS,
        in_=s(404, applicants=403, embassy_sn=302),  # taking again one's own task is fine
        out=s(404, applicants=403),
        eligibility=s(404, applicants=403, instructor=302),  # the admin is in no queue
    ),
    row("task-claim", "GET", TASKS, anonymous=405, in_=s(405), out=s(405), eligibility=s(405)),
    row(
        "task-unclaim",
        "POST",
        TASKS,
        in_=s(404, applicants=403, embassy_sn=302),
        out=s(404, applicants=403),
        eligibility=s(404, applicants=403, instructor=409),  # not taken by the caller
    ),
    # --- staff: finding applications ------------------------------------------------------------------------
    row("dossiers", "GET", in_=s(403, staff=200)),
    row("dossiers-export", "GET", FORMATS, in_=s(403, staff=200), out=s(403, staff=404)),
    # perf: the spreadsheets built in the background, each job its requester's only.
    row("dossiers-export-start", "POST", JOB_FORMATS, in_=s(403, staff=302), out=s(403, staff=404)),
    row("dossiers-export-start", "GET", JOB_FORMATS, in_=s(405), out=s(405), anonymous=405),
    row("dossiers-export-job", "GET", OWN_EXPORT, in_=s(403, staff=200), out=s(403, staff=404)),
    # Not built yet (no worker in the matrix): not found, even for its requester.
    row("dossiers-export-file", "GET", OWN_EXPORT, in_=s(403, staff=404), out=s(403, staff=404)),
    row(
        "dossiers-bulk",
        "POST",
        apps(S.SUBMITTED, "ids"),
        body=lambda m: {"action": "declare_eligible"},  # ids: the variant's application
        # The report says row by row what was done or refused ("not found" when not visible).
        in_=s(403, staff=200),
        out=s(403, staff=200),
    ),
    # --- staff: the application page and its actions --------------------------------------------------------
    row(
        "staff-application",
        "GET",
        apps(S.APPROVED, "application_id", declined="declined"),
        in_=STAFF_PAGE_L,
        out=STAFF_PAGE_R,
        # A reviewer that declined no longer sees the application.
        declined=s(404, applicants=403, instructor=200, secretary=200, admin=200),
    ),
    row("staff-application", "POST", apps(S.APPROVED, "application_id"), anonymous=405, in_=s(405), out=s(405)),
    row(
        "staff-application-action",
        "POST",
        apps(S.SUBMITTED, "application_id", lambda m, which: {"name": "declare_eligible"}),
        body=lambda m: {"confirm": "1"},  # the page's confirmation, ticked
        # Acting is narrower than seeing: only an instructor declares an application eligible.
        in_=s(404, applicants=403, instructor=302, secretary=403, admin=403),
        out=s(404, applicants=403, instructor=302, secretary=403, admin=403),
    ),
    row(
        "staff-assign-reviewer",
        "POST",
        apps(S.SUBMITTED, "application_id"),
        in_=only(400, "instructor"),  # no reviewer chosen
        out=only(400, "instructor"),
    ),
    row(
        "staff-attachment",
        "GET",
        with_attachment(apps(S.APPROVED, "application_id"), "application_id"),
        in_=STAFF_PAGE_L,
        out=STAFF_PAGE_R,
    ),
    # --- evaluation: issued documents for staff, the reviewer candidates (API) ----------------------------
    row(
        "staff-document",
        "GET",
        {
            "in": lambda m, role: {"application_id": m.app("L", S.APPROVED), "document_id": m.objects["summary_l"].pk},
            "out": lambda m, role: {"application_id": m.app("R", S.APPROVED), "document_id": m.objects["receipt_r"].pk},
        },
        # Lyon's evaluation summary: the delegation; a post or a reviewer reads only receipts and notices.
        in_=s(200, applicants=403, posts=404, partner_sn=404, reviewer1=404),
        out=STAFF_PAGE_R,  # Rennes's deposit receipt: whoever reads Rennes's application
    ),
    row(
        "api:application-reviewers",
        "GET",
        apps(S.SUBMITTED),
        # The reviewers to assign: the call's instructor (and an admin); others seeing the application: 403.
        in_=s(404, applicant=403, instructor=200, secretary=403, admin=200),
        out=s(404, applicant2=403, instructor=200, secretary=403, admin=200),
    ),
    row(
        "staff-consensus",
        "GET",
        CONSENSUS,
        in_=only(200, "instructor", "secretary", "admin"),
        out=only(200, "instructor", "secretary", "admin"),
    ),
    row(
        "staff-consensus",
        "POST",
        CONSENSUS,
        body=lambda m: {f"consensus-score_{c['code']}": "3" for c in m.call.scoring_criteria},
        # The admin opens the sheet but does not record (the engine refuses it: 403).
        in_=only(302, "instructor", "secretary"),
        out=only(409, "instructor", "secretary"),  # not under review yet
    ),
    # --- staff: embassies and prefectures ----------------------------------------------------------------------
    row("opinions", "GET", in_=only(200, "embassy_sn", "prefecture_ara", "partner_sn")),
    row(
        "opinion",
        "GET",
        OPINIONS,
        in_=s(403, embassy_sn=200, prefecture_ara=404, partner_sn=404),  # a partner: its own requests only
        out=s(403, posts=404, partner_sn=404),
        prefecture=s(403, embassy_sn=404, prefecture_ara=200, partner_sn=404),
    ),
    row(
        "opinion",
        "POST",
        OPINIONS,
        in_=s(403, embassy_sn=400, prefecture_ara=404, partner_sn=404),  # no verdict
        out=s(403, posts=404, partner_sn=404),
        prefecture=s(403, embassy_sn=404, prefecture_ara=400, partner_sn=404),
    ),
    # --- staff: reviewers ---------------------------------------------------------------------------------------
    row("reviews", "GET", in_=only(200, "reviewer1")),
    row("review", "GET", REVIEWS, in_=only(200, "reviewer1"), out=only(404, "reviewer1")),
    row("review", "POST", REVIEWS, in_=only(400, "reviewer1"), out=only(404, "reviewer1")),  # no scores
    row("review-decline", "POST", REVIEWS, in_=only(400, "reviewer1"), out=only(404, "reviewer1")),  # no reason
    row("review-decline", "GET", REVIEWS, anonymous=405, in_=s(405), out=s(405)),
    # --- staff: committee secretariat ---------------------------------------------------------------------------
    row("sessions", "GET", in_=only(200, "secretary", "admin")),
    row("sessions", "POST", in_=only(400, "secretary", "admin")),  # no date
    row("session", "GET", SESSIONS, in_=only(200, "secretary", "admin"), out=only(200, "secretary", "admin")),
    row("session-schedule", "POST", SESSIONS, in_=only(400, "secretary"), out=only(400, "secretary")),  # none ticked
    row("session-outcomes", "POST", SESSIONS, in_=only(400, "secretary"), out=only(400, "secretary")),  # none given
    row("session-envelope", "POST", SESSIONS, in_=only(200, "secretary"), out=only(200, "secretary")),
    row(
        "session-booklet",
        "GET",
        SESSIONS,
        # S1: reviewer1 has submitted its review of every application on the agenda; S2
        # holds Rennes's, reviewed by reviewer2 only.
        in_=only(200, "instructor", "secretary", "reviewer1", "admin"),
        out=s(403, instructor=200, secretary=200, admin=200, reviewer1=404),
    ),
    row("session-booklet-build", "POST", SESSIONS, in_=only(302, "secretary"), out=only(302, "secretary")),
    row(
        "session-transition",
        "POST",
        {
            "in": lambda m, role: {"session_id": m.s1.pk, "name": "close"},
            "out": lambda m, role: {"session_id": m.s2.pk, "name": "close"},
        },
        body=lambda m: {"confirm": "1"},  # newcomer: the closing's confirmation, ticked
        in_=only(409, "secretary"),  # S1 still has an application in committee
        out=only(302, "secretary"),
    ),
    # --- staff: signatory and finance ---------------------------------------------------------------------------
    row("signatory", "GET", in_=only(200, "signatory", "admin")),
    row("signatory-sign", "POST", in_=only(400, "signatory")),  # none ticked
    row("signatory-sign", "GET", anonymous=405, in_=s(405)),
    row("signatory-progress", "GET", in_=only(200, "signatory", "admin")),
    # newcomer: the letter's preview before signing, only of a decision still to sign (in: delivered).
    row(
        "signatory-preview", "GET", DECISIONS, in_=only(404, "signatory", "admin"), out=only(200, "signatory", "admin")
    ),
    row("signatory-preview", "POST", DECISIONS, anonymous=405, in_=s(405), out=s(405)),
    row("finance", "GET", in_=only(200, "finance", "admin")),
    row(
        "finance-record",
        "POST",
        DECISIONS,
        in_=only(400, "finance"),  # no commitment number
        out=only(404, "finance"),  # not delivered: finance does not see it
    ),
    row("finance-export", "GET", FORMATS, in_=only(200, "finance", "admin"), out=only(404, "finance", "admin")),
    row(
        "staff-decision-pdf",
        "GET",
        DECISIONS,
        # Documents: the decision letter is the delegation's.
        in_=s(403, delegation=200),
        out=s(403, delegation=404),  # Rennes's decision has no letter yet
    ),
    # --- staff: dashboards ----------------------------------------------------------------------------------------
    row("dashboards", "GET", in_=only(200, "instructor", "secretary", "admin")),
    row(
        "call-dashboard",
        "GET",
        CALLS,
        in_=only(200, "instructor", "secretary", "admin"),
        out=only(404, "instructor", "secretary", "admin"),  # a draft call has no dashboard
    ),
    # --- web: the grant's life after the commitment (grants/web/*/postaward.py) -------------------------------
    # The portal's pages are the lead authority's (404 to anyone else); the staff's are the
    # delegation's (403 to the posts and reviewers), who read both recorded grants.
    row("applicant-report", "GET", GRANT_REPORTS, **portal(200)),
    row("applicant-report", "POST", GRANT_REPORTS, **portal(400)),  # no narrative, no expense
    row("applicant-amendment-new", "GET", apps("recorded"), **portal(200)),
    row("applicant-amendment-new", "POST", apps("recorded"), **portal(400)),  # no kind
    row("applicant-renounce", "GET", apps("recorded"), **portal(200)),
    row("applicant-renounce", "POST", apps("recorded"), **portal(400)),  # not confirmed
    row("staff-report", "GET", STAFF_REPORTS, in_=s(403, delegation=200), out=s(403, delegation=200)),
    # No narrative filed yet on the reports of the world: the delegation gets 404, the others 403.
    row("staff-report-narrative", "GET", STAFF_REPORTS, in_=s(403, delegation=404), out=s(403, delegation=404)),
    row(
        "staff-report-action",
        "POST",
        with_name(STAFF_REPORTS, "accept"),
        in_=only(409, "instructor"),  # not filed yet
        out=only(409, "instructor"),
    ),
    row("staff-amendment", "GET", STAFF_AMENDMENTS, in_=s(403, delegation=200), out=s(403, delegation=200)),
    row(
        "staff-amendment-action",
        "POST",
        with_name(STAFF_AMENDMENTS, "accept"),
        in_=only(302, "instructor"),
        out=only(302, "instructor"),
    ),
    # The world's amendments are requested, not accepted: no avenant issued (404 to the delegation).
    row("staff-amendment-pdf", "GET", STAFF_AMENDMENTS, in_=s(403, delegation=404), out=s(403, delegation=404)),
    row("payments", "GET", in_=only(200, "finance", "admin")),
    row("payments-pay", "POST", in_=only(400, "finance")),  # none ticked
    row("payments-export", "GET", FORMATS, in_=only(200, "finance", "admin"), out=only(404, "finance", "admin")),
    # --- the applicant portal ---------------------------------------------------------------------------------
    row("applicant-start", "GET", CALLS, in_=s(PORTAL, applicants=200), out=s(PORTAL)),  # out: a draft call
    row("applicant-start", "POST", CALLS, in_=s(PORTAL, applicants=400), out=s(PORTAL)),
    row(
        "applicant-application",
        "GET",
        apps(S.APPROVED, co="co"),
        **portal(200),
        co=s(PORTAL, applicant=200, applicant2=200),
    ),
    row("applicant-edit", "GET", apps(S.DRAFT, more=lambda m, which: {"section": "projet"}), **portal(200)),
    row("applicant-edit", "POST", apps(S.DRAFT, more=lambda m, which: {"section": "projet"}), **portal(400)),
    row("applicant-budget-preview", "POST", apps(S.DRAFT), **portal(200)),
    row(
        "applicant-attachment-add",
        "POST",
        apps(S.DRAFT),
        body=lambda m: {"form_prefix": "optional"},  # no file
        **portal(400),
    ),
    row("applicant-attachment", "GET", with_attachment(apps(S.DRAFT)), **portal(200)),
    row("applicant-attachment-remove", "POST", with_attachment(apps(S.DRAFT)), **portal(302)),
    row("applicant-review", "GET", apps(S.DRAFT), **portal(200)),
    # --- variants: a turnkey programme's members (a generalist call's draft: 404) -------------------------
    row("applicant-members", "GET", apps("turnkey", generalist=S.DRAFT), **portal(200), generalist=s(PORTAL)),
    row(
        "applicant-members",
        "POST",
        apps("turnkey", generalist=S.DRAFT),
        body=lambda m: {"action": "add"},  # an empty member: its fields are required
        **portal(400),
        generalist=s(PORTAL),
    ),
    row("applicant-submit", "POST", apps(S.DRAFT), body=lambda m: {"confirm": "1"}, **portal(302)),  # sworn
    # The method is checked before the application: 405 whatever the id (nothing leaks).
    row("applicant-submit", "GET", apps(S.DRAFT), in_=s(PORTAL, applicants=405), out=s(PORTAL, applicants=405)),
    row("applicant-confirmation", "GET", apps(S.SUBMITTED), **portal(200)),
    row("applicant-withdraw", "GET", apps(S.SUBMITTED), **portal(200)),
    row(
        "applicant-withdraw",
        "POST",
        apps(S.SUBMITTED, co="co"),
        **portal(400),  # an empty form is not a confirmed withdrawal
        co=s(PORTAL, applicant=400, applicant2=403),
    ),
    row(
        "applicant-document",
        "GET",
        PORTAL_DOCUMENTS,
        in_=s(PORTAL, applicant=200),  # Lyon's decision letter, delivered
        out=s(PORTAL, applicant2=200),  # Rennes's deposit receipt
        receipt=s(PORTAL, applicant=200),
        co=s(PORTAL, applicant=200, applicant2=200),
    ),
    # --- API: authentication ------------------------------------------------------------------------------------
    row("api:token", "POST", anonymous=400, in_=s(400)),  # no credentials in the body
    row("api:token", "GET", anonymous=405, in_=s(405)),
    row("api:token-list", "GET", in_=s(200)),
    row("api:logout", "POST", in_=s(204)),
    row("api:logout-all", "POST", in_=s(204)),
    # --- API: calls ------------------------------------------------------------------------------------------------
    row("api:call-list", "GET", in_=s(200)),
    # A draft call: the delegation staff of the call (instructor, secretary) and the admin.
    row("api:call-detail", "GET", CALLS, in_=s(200), out=s(404, instructor=200, secretary=200, admin=200)),
    # --- calleditor: the call editor's API (issue 15) ------------------------------------------------------------
    # Creating: the admin and an instructor for every call (the world's instructor is unscoped).
    row(
        "api:call-list",
        "POST",
        body=lambda m: {
            "code": "AAP-MATRIX",
            "title": "Appel de la matrice",
            "opens_at": "2030-01-01T09:00",
            "closes_at": "2030-03-01T12:00",
        },
        in_=s(403, instructor=201, admin=201),
    ),
    # Editing: a published call's rules are frozen (409); the draft is the delegation's.
    row(
        "api:call-detail",
        "PATCH",
        CALLS,
        body=lambda m: {"title": "Titre modifié"},
        in_=s(403, instructor=409, admin=409),
        out=s(404, instructor=200, secretary=403, admin=200),
    ),
    row(
        "api:call-transition",
        "POST",
        {
            "in": lambda m, role: {"code": m.call.code, "name": "close"},
            "out": lambda m, role: {"code": m.draft_call.code, "name": "publish"},
        },
        in_=s(403, instructor=200, admin=200),
        out=s(404, instructor=200, secretary=403, admin=200),
    ),
    # The call editor's pages: the admin and the instructors (403 to anyone else, whatever the call).
    row("call-editor-list", "GET", in_=only(200, "instructor", "admin")),
    row("call-editor-create", "GET", in_=only(200, "instructor", "admin")),
    row("call-editor-create", "POST", in_=only(400, "instructor", "admin")),  # no code
    row("call-editor", "GET", CALLS, in_=only(200, "instructor", "admin"), out=only(200, "instructor", "admin")),
    row("call-editor", "POST", CALLS, in_=only(400, "instructor", "admin"), out=only(400, "instructor", "admin")),
    row(
        "call-editor-preview", "GET", CALLS, in_=only(200, "instructor", "admin"), out=only(200, "instructor", "admin")
    ),
    row(
        "call-editor-transition",
        "POST",
        {
            "in": lambda m, role: {"code": m.call.code, "name": "close"},
            "out": lambda m, role: {"code": m.draft_call.code, "name": "publish"},
        },
        in_=only(302, "instructor", "admin"),
        out=only(302, "instructor", "admin"),
    ),
    # --- API: applications ------------------------------------------------------------------------------------
    row("api:application-list", "GET", in_=s(200)),
    row(
        "api:application-list",
        "POST",
        body=lambda m: complete_data(m.call),
        in_=s(403, applicants=201),  # only an applicant creates a draft
    ),
    row(
        "api:application-detail",
        "GET",
        apps(S.APPROVED, co="co", declined="declined"),
        in_=SEES_L_APPROVED,
        out=SEES_R_APPROVED,
        co=s(404, applicants=200, instructor=200, secretary=200, admin=200),
        declined=s(404, applicant=200, instructor=200, secretary=200, admin=200),
    ),
    row(
        "api:application-detail",
        "PATCH",
        apps(S.DRAFT),
        body=lambda m: {"title": "Titre modifié"},
        in_=s(404, applicant=200, admin=403),  # drafts: their authority (the admin reads them)
        out=s(404, applicant2=200, admin=403),
    ),
    row(
        "api:attachment-list",
        "POST",
        apps(S.DRAFT),
        body=lambda m: {"kind": "other", "file": _pdf()},
        multipart=True,
        in_=s(404, applicant=201, admin=403),
        out=s(404, applicant2=201, admin=403),
    ),
    row("api:attachment-list", "GET", apps(S.DRAFT), in_=s(405), out=s(405)),
    row(
        "api:attachment-detail",
        "DELETE",
        with_attachment(apps(S.DRAFT)),
        in_=s(404, applicant=204, admin=403),
        out=s(404, applicant2=204, admin=403),
    ),
    row(
        "api:attachment-file",
        "GET",
        with_attachment(apps(S.APPROVED)),
        in_=SEES_L_APPROVED,
        out=SEES_R_APPROVED,
    ),
    row(
        "api:application-document",
        "GET",
        DOCUMENTS,
        # A decision letter: the delegation, and the applicant once delivered; never a post or a reviewer.
        in_=s(200, applicant2=404, posts=404, partner_sn=404, reviewer1=404),
        out=SEES_R_APPROVED,  # a deposit receipt: whoever sees the application
        receipt=SEES_L_APPROVED,
        co=s(404, applicants=200, instructor=200, secretary=200, admin=200),
    ),
    row(
        "api:application-transition",
        "POST",
        {
            **apps(S.SUBMITTED, more=lambda m, which: {"name": "declare_eligible"}),
            "co": lambda m, role: {"pk": m.app("L", "co"), "name": "withdraw"},
        },
        in_=s(404, applicant=403, instructor=200, secretary=403, admin=403),
        out=s(404, applicant2=403, instructor=200, secretary=403, admin=403),
        # The lead withdraws; the co-applicant authority reads but never acts.
        co=s(404, applicant=200, applicant2=403, instructor=403, secretary=403, admin=403),
    ),
    row(
        "api:application-reviewers",
        "POST",
        apps(S.SUBMITTED),
        body=lambda m: {"reviewer": "reviewer2"},
        in_=s(404, applicant=403, instructor=201, secretary=403, admin=403),
        out=s(404, applicant2=403, instructor=201, secretary=403, admin=403),
    ),
    row(
        "api:application-consensus",
        "POST",
        {name: (lambda m, role, get=get: {"pk": get(m, role)["application_id"]}) for name, get in CONSENSUS.items()},
        body=lambda m: {},
        in_=s(404, applicant=403, posts=403, reviewer1=403, instructor=200, secretary=200, admin=403),
        out=s(404, applicant2=403, instructor=409, secretary=409, admin=403),  # not under review yet
    ),
    # --- API: tasks -------------------------------------------------------------------------------------------
    row("api:task-list", "GET", in_=s(200)),
    row("api:task-claim", "POST", TASKS, in_=s(404, embassy_sn=200), out=s(404), eligibility=s(404, instructor=200)),
    row("api:task-unclaim", "POST", TASKS, in_=s(404, embassy_sn=200), out=s(404), eligibility=s(404, instructor=409)),
    # --- API: opinions ----------------------------------------------------------------------------------------
    row("api:opinion-list", "GET", in_=s(200)),
    row(
        "api:opinion-detail",
        "GET",
        OPINIONS | objects("opinion_id", decided=lambda m: m.opinion_decided.pk),
        # Awaiting opinions (no decision yet: the signatory and finance do not see the
        # application): the instructors, secretaries, admin, the post asked and the
        # application's reviewer (the committee weighs them).
        in_=s(404, instructor=200, secretary=200, admin=200, embassy_sn=200, reviewer1=200),
        out=s(404, instructor=200, secretary=200, admin=200, reviewer1=200),
        prefecture=s(404, instructor=200, secretary=200, admin=200, prefecture_ara=200, reviewer1=200),
        # Senegal's opinion on Lyon's approved application: the whole delegation reads it.
        decided=s(404, delegation=200, embassy_sn=200, reviewer1=200),
    ),
    row(
        "api:opinion-give",
        "POST",
        OPINIONS,
        body=lambda m: {"verdict": "favorable"},
        in_=s(404, instructor=403, secretary=403, admin=403, embassy_sn=200, reviewer1=403),
        out=s(404, instructor=403, secretary=403, admin=403, reviewer1=403),
        prefecture=s(404, instructor=403, secretary=403, admin=403, prefecture_ara=200, reviewer1=403),
    ),
    # --- API: reviews -----------------------------------------------------------------------------------------
    row("api:review-list", "GET", in_=s(200)),
    row(
        "api:review-detail",
        "GET",
        REVIEWS
        | objects("review_id", submitted=lambda m: m.review_r2_submitted.pk, decided=lambda m: m.review_decided.pk),
        in_=s(404, instructor=200, secretary=200, admin=200, reviewer1=200),
        # Independent evaluation: reviewer2's review is hidden from reviewer1 until its own is in…
        out=s(404, instructor=200, secretary=200, admin=200),
        # … and shown once it is (both submitted).
        submitted=s(404, instructor=200, secretary=200, admin=200, reviewer1=200),
        # reviewer1's review of Lyon's approved application: the whole delegation reads it.
        decided=s(404, delegation=200, reviewer1=200),
    ),
    row(
        "api:review-submit",
        "POST",
        REVIEWS,
        body=lambda m: {"scores": {c["code"]: 3 for c in m.call.scoring_criteria}, "recommendation": "yes"},
        in_=s(404, instructor=403, secretary=403, admin=403, reviewer1=200),
        out=s(404, instructor=403, secretary=403, admin=403),
    ),
    row(
        "api:review-decline",
        "POST",
        REVIEWS,
        body=lambda m: {"reason": "Conflit d'intérêts."},
        in_=s(404, instructor=403, secretary=403, admin=403, reviewer1=200),
        out=s(404, instructor=403, secretary=403, admin=403),
    ),
    row(
        "api:review-declare",
        "POST",
        REVIEWS,
        body=lambda m: {"conflict": False},
        in_=s(404, instructor=403, secretary=403, admin=403, reviewer1=409),  # already declared
        out=s(404, instructor=403, secretary=403, admin=403),
    ),
    # --- API: sessions ----------------------------------------------------------------------------------------
    row("api:session-list", "GET", in_=s(200)),
    row(
        "api:session-list",
        "POST",
        body=lambda m: {"call": m.call.code, "date": (timezone.localdate() + dt.timedelta(days=60)).isoformat()},
        in_=only(201, "secretary", "admin"),
    ),
    row(
        "api:session-detail",
        "GET",
        SESSIONS,
        in_=s(404, instructor=200, secretary=200, admin=200),
        out=s(404, instructor=200, secretary=200, admin=200),
    ),
    row(
        "api:session-open",
        "POST",
        SESSIONS,
        in_=s(404, instructor=403, secretary=409, admin=403),  # both are open already
        out=s(404, instructor=403, secretary=409, admin=403),
    ),
    row(
        "api:session-close",
        "POST",
        SESSIONS,
        in_=s(404, instructor=403, secretary=409, admin=403),  # S1: an application still in committee
        out=s(404, instructor=403, secretary=200, admin=403),
    ),
    # --- API: decisions ----------------------------------------------------------------------------------------
    row("api:decision-list", "GET", in_=s(200)),
    row(
        "api:decision-detail",
        "GET",
        DECISIONS,
        # Lyon's delivered decision: the delegation and Lyon; Rennes's draft: the delegation
        # but finance (delivered decisions only), never an applicant before its letter.
        in_=s(200, applicant2=404, posts=404, partner_sn=404, reviewer1=404),
        out=s(404, instructor=200, secretary=200, signatory=200, admin=200),
    ),
    row(
        "api:decision-sign",
        "POST",
        DECISIONS,
        in_=s(403, applicant2=404, posts=404, partner_sn=404, reviewer1=404, signatory=409),  # signed already
        out=s(404, instructor=403, secretary=403, admin=403, signatory=200),
    ),
    row(
        "api:decision-pdf",
        "GET",
        DECISIONS,
        in_=s(200, applicant2=404, posts=404, partner_sn=404, reviewer1=404),
        out=s(404),  # no letter yet
    ),
    row(
        "api:decision-record",
        "POST",
        DECISIONS,
        body=lambda m: {"commitment_number": "EJ-2025-0001"},
        in_=s(403, applicant2=404, posts=404, partner_sn=404, reviewer1=404, finance=200),
        out=s(404, instructor=403, secretary=403, signatory=403, admin=403),
    ),
    # --- API: the grant's life after the commitment (api/postaward.py) ---------------------------------------
    # Read by whoever reads the decision; finance pays, the instructor checks and decides,
    # the lead applicant files, asks and renounces (Rennes's grant is applicant2's).
    row("api:payment-list", "GET", in_=s(200)),
    row(
        "api:payment-pay",
        "POST",
        PAYMENTS,
        body=lambda m: {"paid_on": timezone.localdate().isoformat(), "payment_reference": "DP-1"},
        in_=s(403, applicant2=404, posts=404, partner_sn=404, reviewer1=404, finance=200),
        out=s(403, applicant=404, posts=404, partner_sn=404, reviewer1=404, finance=200),
    ),
    row("api:report-list", "GET", in_=s(200)),
    row(
        "api:report-detail",
        "GET",
        REPORTS,
        in_=s(200, applicant2=404, posts=404, partner_sn=404, reviewer1=404),
        out=s(200, applicant=404, posts=404, partner_sn=404, reviewer1=404),
    ),
    row(
        "api:report-submit",
        "POST",
        REPORTS,
        multipart=True,
        body=lambda m: {"expenses": "[]"},
        in_=s(
            403, applicant=400, applicant2=404, posts=404, partner_sn=404, reviewer1=404
        ),  # no narrative, no expenses
        out=s(403, applicant=404, applicant2=400, posts=404, partner_sn=404, reviewer1=404),
    ),
    row(
        "api:report-resubmit",
        "POST",
        REPORTS,
        multipart=True,
        body=lambda m: {"expenses": "[]"},
        in_=s(403, applicant=409, applicant2=404, posts=404, partner_sn=404, reviewer1=404),  # due, not returned
        out=s(403, applicant=404, applicant2=409, posts=404, partner_sn=404, reviewer1=404),
    ),
    row(
        "api:report-accept",
        "POST",
        REPORTS,
        in_=s(403, applicant2=404, posts=404, partner_sn=404, reviewer1=404, instructor=409),  # not filed yet
        out=s(403, applicant=404, posts=404, partner_sn=404, reviewer1=404, instructor=409),
    ),
    row(
        "api:report-return",
        "POST",
        REPORTS,
        body=lambda m: {"message": "Compléter.", "due_date": "2099-01-01"},
        in_=s(403, applicant2=404, posts=404, partner_sn=404, reviewer1=404, instructor=409),
        out=s(403, applicant=404, posts=404, partner_sn=404, reviewer1=404, instructor=409),
    ),
    row(
        "api:decision-amendments",
        "POST",
        GRANTS,
        body=lambda m: {"kind": "other", "text": "Nouveau partenaire.", "reason": "Élections."},
        in_=s(403, applicant=201, applicant2=404, posts=404, partner_sn=404, reviewer1=404),
        out=s(403, applicant=404, applicant2=201, posts=404, partner_sn=404, reviewer1=404),
    ),
    row(
        "api:amendment-accept",
        "POST",
        AMENDMENTS,
        body=lambda m: {},
        in_=s(403, applicant2=404, posts=404, partner_sn=404, reviewer1=404, instructor=200),
        out=s(403, applicant=404, posts=404, partner_sn=404, reviewer1=404, instructor=200),
    ),
    row(
        "api:amendment-refuse",
        "POST",
        AMENDMENTS,
        body=lambda m: {"reason": "Non justifié."},
        in_=s(403, applicant2=404, posts=404, partner_sn=404, reviewer1=404, instructor=200),
        out=s(403, applicant=404, posts=404, partner_sn=404, reviewer1=404, instructor=200),
    ),
    row(
        "api:decision-renounce",
        "POST",
        GRANTS,
        body=lambda m: {"reason": "Le partenaire s'est retiré."},
        in_=s(403, applicant=200, applicant2=404, posts=404, partner_sn=404, reviewer1=404),
        out=s(403, applicant=404, applicant2=200, posts=404, partner_sn=404, reviewer1=404),
    ),
    # --- API: schema, docs, anything else -------------------------------------------------------------------
    row("api:schema", "GET", anonymous=200, in_=s(200)),
    row("api:docs", "GET", anonymous=200, in_=s(200)),
    row("api:docs-reference", "GET", anonymous=200, in_=s(200)),
    row("api:not-found", "GET", objects("path", in_=lambda m: "v1/nowhere/"), anonymous=404, in_=s(404)),
]


def _uid(user: Any) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def _reset_token(user: Any) -> str:
    return default_token_generator.make_token(user)


def _pdf() -> SimpleUploadedFile:
    return SimpleUploadedFile("annexe.pdf", PDF_BYTES, content_type="application/pdf")


# --- the harness ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def matrix(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """The world, built once for the module in a transaction rolled back at its end."""
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")),
        transaction.atomic(),
    ):
        m = build()
        m.objects["clients"] = _clients(m)
        yield m
        transaction.set_rollback(True)


def _clients(m: Matrix) -> dict[str, tuple[Client, APIClient]]:
    """Per role: a signed-in browser (session) and an API client (token). They share one
    request handler: each handler loads the middleware once (WhiteNoise indexes every
    static file then)."""
    clients: dict[str, tuple[Client, APIClient]] = {}
    web_handler = api_handler = None
    for role in ROLES:
        web, api = Client(raise_request_exception=False), APIClient(raise_request_exception=False)
        web_handler, api_handler = web_handler or web.handler, api_handler or api.handler
        web.handler, api.handler = web_handler, api_handler
        if role != "anonymous":
            web.force_login(m.users[role])
            _instance, token = AuthToken.objects.create(user=m.users[role])
            api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        clients[role] = (web, api)
    return clients


@pytest.fixture(autouse=True)
def _no_worker_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    """/healthz pings the broker and a Celery worker (1.5 s when none answers): only who
    may call it matters here, so both answer."""
    from config import health

    monkeypatch.setattr(health, "check_broker", lambda: "ok")
    monkeypatch.setattr(health, "check_worker", lambda: "ok")


def _url(row_: Row, kwargs: dict[str, Any]) -> str:
    if row_.key == "api:not-found":  # the catch-all: any other path under /api/
        return "/api/" + kwargs["path"]
    if row_.key == "dossiers-bulk":  # the application goes in the body
        return reverse(row_.key)
    return reverse(row_.key, kwargs=kwargs)


def _status(response: Any) -> Status:
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/accounts/login/"):
            return LOGIN
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
    return int(response.status_code)


def answer(m: Matrix, row_: Row, role: str, variant: str) -> Status:
    """The status ``role`` gets for ``row_`` on ``variant``, in a savepoint rolled back."""
    web, api = m.clients[role]
    client = api if row_.api else web
    kwargs = row_.variants[variant](m, role)
    data = row_.body(m) if row_.body else None
    if row_.key == "dossiers-bulk":
        data = {**(data or {}), "ids": [str(kwargs["ids"])]}
    options: dict[str, Any] = {"format": "json"} if row_.api and data is not None and not row_.multipart else {}
    cookies = SimpleCookie(client.cookies)  # a sign-out must not sign the client out for the next rows
    with transaction.atomic():
        response = getattr(client, row_.method.lower())(_url(row_, kwargs), data, **options)
        transaction.set_rollback(True)
    client.cookies = cookies
    return _status(response)


def _diff(m: Matrix, row_: Row, cells: list[tuple[str, str]]) -> list[str]:
    wrong = []
    for role, variant in cells:
        expected, actual = row_.expected(role, variant), answer(m, row_, role, variant)
        if actual != expected:
            wrong.append(f"{role:>14} on {variant!r}: {actual}, the matrix says {expected}")
    return wrong


@pytest.mark.parametrize("row_", [pytest.param(r, id=r.id) for r in MATRIX])
def test_permission(matrix: Matrix, row_: Row) -> None:
    """Every role × every variant of one URL and method, but the known discrepancies."""
    cells = [(role, variant) for role in ROLES for variant in row_.variants if (role, variant) not in row_.xfail]
    wrong = _diff(matrix, row_, cells)
    assert not wrong, f"{row_.method} {row_.key}:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("row_", "cell"),
    [
        pytest.param(r, cell, id=f"{r.id}-{cell[0]}-{cell[1]}", marks=pytest.mark.xfail(strict=True, reason=why))
        for r in MATRIX
        for cell, why in r.xfail.items()
    ],
)
def test_known_discrepancy(matrix: Matrix, row_: Row, cell: tuple[str, str]) -> None:
    """A cell where the product breaks docs/policy.md: the matrix holds what the policy
    requires; this fails until the product is fixed (then drop the cell's ``xfail``)."""
    wrong = _diff(matrix, row_, [cell])
    assert not wrong, f"{row_.method} {row_.key}: " + "; ".join(wrong)


# --- every URL has a row -----------------------------------------------------------------------------------

SKIPPED_PREFIXES = ("admin/", "i18n/", "static/", "media/")


def url_keys(patterns: list[Any] | None = None, prefix: str = "", namespace: str = "") -> dict[str, str]:
    """{canonical key: route} of every URL pattern (``admin/``, static files, ``i18n/`` aside):
    the pattern's ``namespace:name``, or its route when it has no name."""
    found: dict[str, str] = {}
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern).lstrip("^")
        if route.startswith(SKIPPED_PREFIXES):
            continue
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            found.update(url_keys(pattern.url_patterns, route, inner))
        elif isinstance(pattern, URLPattern):
            found[f"{namespace}{pattern.name}" if pattern.name else route] = route
    return found


def test_every_url_has_a_row() -> None:
    urls = url_keys()
    rows = {r.key for r in MATRIX}
    missing = sorted(f"{key} ({urls[key]})" for key in set(urls) - rows)
    gone = sorted(rows - set(urls))
    assert not missing, f"URLs without a row in the permission matrix (tests/test_permission_matrix.py): {missing}"
    assert not gone, f"rows for URLs that no longer exist: {gone}"


def test_the_admin_site_is_the_superusers(matrix: Matrix) -> None:
    """/admin/ itself (its internals are Django's): the sign-in page of the admin for
    anyone but a superuser."""
    answers = {}
    for role in ROLES:
        web, _api = matrix.clients[role]
        with transaction.atomic():
            answers[role] = _status(web.get("/admin/"))
            transaction.set_rollback(True)
    assert answers == {role: 200 if role == "admin" else ADMIN_LOGIN for role in ROLES}
