"""Which applications, opinion requests, reviews and decisions a user may see, and
under which role it acts on one of them. Lists are querysets (scoped in SQL); a single
object the user may not see is a 404 for the caller."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy

from grants.models import Application, Decision, OpinionRequest, Review, Role
from grants.policy import rows
from grants.policy.scopes import SYSTEM, scopes

#: A decision is known outside the delegation once its letter is delivered.
DELIVERED = (
    Decision.State.DELIVERED,
    Decision.State.RECORDED,
    Decision.State.CLOSED,
    Decision.State.RENOUNCED,
)

POST_ELIGIBILITY = [
    Application.State.AWAITING_OPINIONS,
    Application.State.UNDER_REVIEW,
    Application.State.IN_COMMITTEE,
    Application.State.APPROVED,
    Application.State.REJECTED,
    Application.State.WITHDRAWN,
]


#: What a restricted reader (a reviewer that has not declared the absence of conflict
#: of interest) is told when it asks for more than the application's summary.
UNDECLARED_REASON = gettext_lazy("Déclarez d'abord l'absence de conflit d'intérêts")


def _row_clauses(s: Any) -> tuple[Q | None, list[Q]]:
    """The branches of ``visibility_filter`` on the application's own row and its lead
    authority (decidable from a loaded application, ``rows.matches``): the applicant's
    lead-authority clause, and the others."""
    lead = Q(organisation_id__in=sorted(s.organisations)) if Role.APPLICANT in s.roles else None
    others: list[Q] = []
    not_draft = ~Q(state=Application.State.DRAFT)
    for role in (Role.INSTRUCTOR, Role.SECRETARY):
        if role in s.roles:
            others.append(not_draft & s.call_filter(role))
    if Role.PREFECTURE in s.roles:
        others.append(Q(state__in=POST_ELIGIBILITY, organisation__region_id__in=sorted(s.regions[Role.PREFECTURE])))
    return lead, others


def visibility_filter(user: Any, *, as_reviewer: bool = True) -> Q | None:
    """The Q that selects the applications this user may see; None means nothing
    (``as_reviewer=False``: through its other roles only)."""
    s = scopes(user)
    if not s.roles:
        return None
    if Role.ADMIN in s.roles:
        return Q()
    q = Q(pk__in=[])
    lead_clause, row_clauses = _row_clauses(s)
    if lead_clause is not None:
        # Lead or co-applicant: a UNION of two index lookups (application_org_created and
        # the co-applicants' organisation index). An OR across the co-applicants' join would
        # scan every application and duplicate rows.
        orgs = sorted(s.organisations)
        lead = Application.objects.filter(lead_clause).order_by().values("pk")
        co = Application.co_applicants.through.objects.filter(organisation_id__in=orgs).values("application_id")
        q |= Q(pk__in=lead.union(co))
    for clause in row_clauses:  # instructors and secretaries, prefectures
        q |= clause
    if Role.EMBASSY in s.roles:
        # Only applications whose opinion was asked from one of its countries (eligible and later).
        q |= Q(
            pk__in=OpinionRequest.objects.filter(
                authority=OpinionRequest.Authority.EMBASSY, country_id__in=sorted(s.countries[Role.EMBASSY])
            ).values("application_id")
        )
    if Role.PARTNER in s.roles:
        # A joint fund's partner government, like an embassy: the applications whose
        # validation was asked from one of its countries.
        q |= Q(pk__in=_partner_requests(s).values("application_id"))
    if Role.REVIEWER in s.roles and as_reviewer:
        q |= Q(pk__in=_reviewing(user))
    if Role.SIGNATORY in s.roles:
        q |= Q(pk__in=Decision.objects.values("application_id")) & s.call_filter(Role.SIGNATORY)
    if Role.FINANCE in s.roles:
        q |= Q(pk__in=Decision.objects.filter(state__in=DELIVERED).values("application_id")) & s.call_filter(
            Role.FINANCE
        )
    return q


def visible_applications(user: Any, queryset: QuerySet[Application] | None = None) -> QuerySet[Application]:
    qs = queryset if queryset is not None else Application.objects.all()
    q = visibility_filter(user)
    if q is None:
        return qs.none()
    if q == Q():
        return qs
    # Applied directly (no ``pk IN (SELECT …)`` wrapper, through which PostgreSQL cannot use
    # the list indexes): no branch of ``visibility_filter`` joins a many-valued relation,
    # so no row is repeated.
    return qs.filter(q)


def own_applications(
    user: Any, queryset: QuerySet[Application] | None = None
) -> tuple[QuerySet[Application], QuerySet[Application]]:
    """An applicant's applications as two querysets, the ones its organisations lead and
    the ones they co-apply to (the second without the first's): their union is what
    ``visible_applications`` gives an applicant. Each reads from its own index with the
    caller's LIMIT (the applicant's home), where the union would read every row of the
    authority's history. Both are empty for a user that is not an applicant."""
    qs = queryset if queryset is not None else Application.objects.all()
    s = scopes(user)
    if Role.APPLICANT not in s.roles or not s.organisations:
        return qs.none(), qs.none()
    orgs = sorted(s.organisations)
    co = Application.co_applicants.through.objects.filter(organisation_id__in=orgs).values("application_id")
    return qs.filter(organisation_id__in=orgs), qs.filter(pk__in=co).exclude(organisation_id__in=orgs)


def can_view(user: Any, application: Application, *, current_row: bool = False) -> bool:
    """Whether ``user`` sees ``application``. ``current_row``: ``application`` was just
    read (under its row lock in a transition, in this request on a page), so the branches of ``visibility_filter`` on
    its own row are evaluated on it (``rows.matches``); when none of them shows it, the
    database is asked, as always otherwise."""
    if current_row and visible_from_row(user, application):
        return True
    return visible_applications(user, Application.objects.filter(pk=application.pk)).exists()


def visible_from_row(user: Any, application: Application) -> bool:
    """True when ``visibility_filter``'s own-row branches show ``application`` as loaded
    (False: not decided from the row: its other branches are subqueries)."""
    s = scopes(user)
    if not s.roles:
        return False
    if Role.ADMIN in s.roles:
        return True
    lead, others = _row_clauses(s)
    clauses = [lead, *others] if lead is not None else others
    return any(rows.matches(clause, application) is True for clause in clauses)


def restricted_reader(user: Any, application: Application) -> bool:
    """A reviewer that sees ``application`` only through its reviews and has declared
    on none of them the absence of conflict of interest: it reads the summary
    (reference, title, lead authority, partners) on its review page, nothing else
    (content, attachments, documents, history, opinions, other reviews)."""
    s = scopes(user)
    if Role.REVIEWER not in s.roles or Role.ADMIN in s.roles:
        return False
    reviews = Review.objects.filter(
        reviewer=user, application_id=application.pk, state__in=[Review.State.ASSIGNED, Review.State.SUBMITTED]
    )
    if not reviews.exists() or reviews.filter(_DECLARED).exists():
        return False
    other = visibility_filter(user, as_reviewer=False)
    return other is None or not Application.objects.filter(other, pk=application.pk).exists()


def read_refusal(user: Any, application: Application) -> str | None:
    """Why ``user`` may not read ``application``'s content although it sees it (the
    caller answers 403 with it), or None."""
    return str(UNDECLARED_REASON) if restricted_reader(user, application) else None


def role_for(user: Any, roles: tuple[str, ...], application: Any, subject: Any = None) -> str | None:
    """The first of ``roles`` the user holds *in scope* for this application / subject
    (``application`` is None for a committee session or a call: their call is the scope).

    Acting is narrower than seeing: an applicant acts only for the lead authority (a
    co-applicant authority reads the application, it does not act on it); an embassy or
    a prefecture only on its own opinion request; a reviewer only on its own review."""
    if user is None:
        return SYSTEM if SYSTEM in roles else None
    s = scopes(user)
    call_id = application.call_id if application is not None else _call_of(subject)
    for role in roles:
        if role not in s.roles:
            continue
        if role == Role.ADMIN:
            return role
        if role == Role.APPLICANT:
            if application is not None and application.organisation_id in s.organisations:
                return role
        elif role in (Role.INSTRUCTOR, Role.SECRETARY, Role.SIGNATORY, Role.FINANCE):
            if call_id is not None and s.covers_call(role, call_id):
                return role
        elif role == Role.EMBASSY:
            if (
                isinstance(subject, OpinionRequest)
                and subject.authority == OpinionRequest.Authority.EMBASSY
                and subject.country_id in s.countries[role]
            ):
                return role
        elif role == Role.PREFECTURE:
            if (
                isinstance(subject, OpinionRequest)
                and subject.authority == OpinionRequest.Authority.PREFECTURE
                and subject.region_id in s.regions[role]
            ):
                return role
        elif role == Role.PARTNER:
            if (
                isinstance(subject, OpinionRequest)
                and subject.authority == OpinionRequest.Authority.PARTNER
                and subject.country_id in s.countries[role]
            ):
                return role
        elif role == Role.REVIEWER:
            if isinstance(subject, Review) and subject.reviewer_id == user.pk:
                return role
    return None


def _partner_requests(s: Any) -> QuerySet[OpinionRequest]:
    """The partner requests addressed to a partner government's countries."""
    return OpinionRequest.objects.filter(
        authority=OpinionRequest.Authority.PARTNER, country_id__in=sorted(s.countries[Role.PARTNER])
    )


def _call_of(subject: Any) -> Any:
    from grants.models import Call

    if isinstance(subject, Call):
        return subject.pk
    return getattr(subject, "call_id", None)


#: A review whose reviewer declared the absence of conflict of interest (a submitted one
#: was declared: submitting requires it).
_DECLARED = Q(state=Review.State.SUBMITTED) | Q(declared_at__isnull=False)


def _decided_for(s: Any) -> Q:
    """The delegation's signatories and finance read the file of what they sign or pay:
    the opinions and reviews of the applications whose decision they see."""
    q = Q(pk__in=[])
    if Role.SIGNATORY in s.roles:
        signed = Decision.objects.filter(s.call_filter(Role.SIGNATORY, "application__call_id"))
        q |= Q(application_id__in=signed.values("application_id"))
    if Role.FINANCE in s.roles:
        paid = Decision.objects.filter(s.call_filter(Role.FINANCE, "application__call_id"), state__in=DELIVERED)
        q |= Q(application_id__in=paid.values("application_id"))
    return q


def _reviewing(user: Any, *, submitted: bool = False, declared: bool = False) -> QuerySet[Review]:
    """The applications ``user`` reviews (assigned or submitted; declined ones are gone;
    ``declared``: only those it declared no conflict of interest on)."""
    states = [Review.State.SUBMITTED] if submitted else [Review.State.ASSIGNED, Review.State.SUBMITTED]
    qs = Review.objects.filter(reviewer=user, state__in=states)
    if declared:
        qs = qs.filter(_DECLARED)
    return qs.values("application_id")


def visible_opinion_requests(user: Any) -> QuerySet[OpinionRequest]:
    s = scopes(user)
    q = Q(pk__in=[])
    if Role.EMBASSY in s.roles:
        q |= Q(authority=OpinionRequest.Authority.EMBASSY, country_id__in=sorted(s.countries[Role.EMBASSY]))
    if Role.PREFECTURE in s.roles:
        q |= Q(authority=OpinionRequest.Authority.PREFECTURE, region_id__in=sorted(s.regions[Role.PREFECTURE]))
    if Role.PARTNER in s.roles:
        q |= Q(authority=OpinionRequest.Authority.PARTNER, country_id__in=sorted(s.countries[Role.PARTNER]))
    if Role.REVIEWER in s.roles:
        # The committee weighs the opinions: a reviewer reads those of what it reviews
        # (once it has declared the absence of conflict of interest).
        q |= Q(application_id__in=_reviewing(user, declared=True))
    q |= _decided_for(s)
    for role in (Role.INSTRUCTOR, Role.SECRETARY):
        if role in s.roles:
            q |= s.call_filter(role, "application__call_id")
    if Role.ADMIN in s.roles:
        q = Q()
    return OpinionRequest.objects.filter(q)


def visible_reviews(user: Any) -> QuerySet[Review]:
    s = scopes(user)
    q = Q(pk__in=[])
    if Role.REVIEWER in s.roles:
        # Independent evaluation: its own review; the others' only once its own is in.
        q |= Q(reviewer=user) | Q(application_id__in=_reviewing(user, submitted=True), state=Review.State.SUBMITTED)
    q |= _decided_for(s)
    for role in (Role.INSTRUCTOR, Role.SECRETARY):
        if role in s.roles:
            q |= s.call_filter(role, "application__call_id")
    if Role.ADMIN in s.roles:
        q = Q()
    return Review.objects.filter(q)


def own_reviews(user: Any) -> QuerySet[Review]:
    """The reviews assigned to ``user`` that it sees: ``visible_reviews(user)`` filtered on
    ``reviewer=user``. For a reviewer (or an admin) that is every review assigned to it
    (``visible_reviews``' own-review branch), written as that one condition: the branches
    ORed beside it made PostgreSQL read the heap of every review (a bitmap OR) where the
    reviewer's index answers alone (the dashboard's counts, index-only)."""
    s = scopes(user)
    if Role.REVIEWER in s.roles or Role.ADMIN in s.roles:
        return Review.objects.filter(reviewer_id=user.pk)
    return visible_reviews(user).filter(reviewer_id=user.pk)


def visible_decisions(user: Any) -> QuerySet[Decision]:
    s = scopes(user)
    q = Q(pk__in=[])
    if Role.SIGNATORY in s.roles:
        q |= s.call_filter(Role.SIGNATORY, "application__call_id")
    if Role.FINANCE in s.roles:
        q |= Q(state__in=DELIVERED) & s.call_filter(Role.FINANCE, "application__call_id")
    for role in (Role.SECRETARY, Role.INSTRUCTOR):
        if role in s.roles:
            q |= s.call_filter(role, "application__call_id")
    if Role.APPLICANT in s.roles:
        # Lead and co-applicant authorities learn the decision once its letter is delivered.
        q |= Q(state__in=DELIVERED) & (
            Q(application__organisation_id__in=sorted(s.organisations))
            | Q(application__in=Application.objects.filter(co_applicants__in=sorted(s.organisations)).values("pk"))
        )
    if Role.ADMIN in s.roles:
        q = Q()
    return Decision.objects.filter(q)


def reads_every_decision(user: Any) -> bool:
    """Whether ``visible_decisions(user)`` is every decision (an admin, an unscoped
    instructor, secretary or signatory): a list then reads an application's decision
    without testing it against the policy's subquery."""
    s = scopes(user)
    return Role.ADMIN in s.roles or bool(s.unscoped & {Role.INSTRUCTOR, Role.SECRETARY, Role.SIGNATORY})


def decision_row_clause(user: Any) -> Q | None:
    """On the rows of ``visible_applications(user)`` only: whether the row's decision is one
    of ``visible_decisions(user)``, as a clause on the row itself where the roles allow one
    (None: test the decision against ``visible_decisions``). Any decision for a reader of
    every decision; a delivered one for a user who is only an applicant (the applications it
    sees are exactly the ones its decisions' rule names: led or co-applied). The subquery
    otherwise hashes every visible decision of the database for a page of 20 rows (an
    applicant's API list: 276 ms at 100,000 applications, 30 s under load at 1,000,000)."""
    s = scopes(user)
    if reads_every_decision(user):
        return Q(decision__isnull=False)
    if s.roles == {Role.APPLICANT}:
        return Q(decision__state__in=DELIVERED)
    return None


# --- the work lists of one role (a narrower view than what the role may read) --------------


def own_opinion_requests(user: Any) -> QuerySet[OpinionRequest]:
    """The requests addressed to the user's own posts (embassy countries, prefecture
    regions, a partner government's countries): an instructor's wider view of the same
    requests is not its work list."""
    s = scopes(user)
    q = Q(pk__in=[])
    if Role.EMBASSY in s.roles:
        q |= Q(authority=OpinionRequest.Authority.EMBASSY, country_id__in=sorted(s.countries[Role.EMBASSY]))
    if Role.PREFECTURE in s.roles:
        q |= Q(authority=OpinionRequest.Authority.PREFECTURE, region_id__in=sorted(s.regions[Role.PREFECTURE]))
    if Role.PARTNER in s.roles:
        q |= Q(authority=OpinionRequest.Authority.PARTNER, country_id__in=sorted(s.countries[Role.PARTNER]))
    return OpinionRequest.objects.filter(q)


def decisions_to_sign(user: Any) -> QuerySet[Decision]:
    """Draft decisions of the calls the user signs for (admin: all)."""
    s = scopes(user)
    q = Q(pk__isnull=False) if Role.ADMIN in s.roles else s.call_filter(Role.SIGNATORY, "application__call_id")
    return Decision.objects.filter(q, state=Decision.State.DRAFT)


def finance_decisions(user: Any) -> QuerySet[Decision]:
    """Delivered and recorded decisions of the calls the user's finance grant covers."""
    s = scopes(user)
    q = Q(pk__isnull=False) if Role.ADMIN in s.roles else s.call_filter(Role.FINANCE, "application__call_id")
    return Decision.objects.filter(q, state__in=DELIVERED)
