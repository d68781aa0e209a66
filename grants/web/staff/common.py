"""Shared pieces of the staff workspaces: who may open a screen, the navigation, keyset
pagination, labels and the mapping of the engine's errors to HTTP answers.

Views stay thin: every read is scoped through ``grants.policy`` and every write goes
through ``grants.services`` / ``workflows.tasks_service``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import F, Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from grants import policy
from grants.models import Application, Decision, OpinionRequest, Role
from grants.policy.history import ROLE_LABELS as ROLE_LABELS_ALL
from grants.web.rows import csrf_input, url_maker  # noqa: F401 - the staff pages' helpers
from workflows.engine import TransitionError

M = TypeVar("M", bound=Model)
ViewFunc = Callable[..., HttpResponseBase]

PAGE_SIZE = 50

# --- labels (lazy: the page is rendered in the reader's language) -------------------------

STATE_BADGES: dict[str, str] = {
    Application.State.DRAFT: "",
    Application.State.SUBMITTED: "fr-badge--new",
    Application.State.INCOMPLETE: "fr-badge--warning",
    Application.State.INELIGIBLE: "fr-badge--error",
    Application.State.AWAITING_OPINIONS: "fr-badge--info",
    Application.State.UNDER_REVIEW: "fr-badge--info",
    Application.State.IN_COMMITTEE: "fr-badge--new",
    Application.State.APPROVED: "fr-badge--success",
    Application.State.REJECTED: "fr-badge--error",
    Application.State.WITHDRAWN: "",
}

VERDICT_BADGES: dict[str, str] = {
    OpinionRequest.Verdict.FAVORABLE: "fr-badge--success",
    OpinionRequest.Verdict.RESERVED: "fr-badge--warning",
    OpinionRequest.Verdict.UNFAVORABLE: "fr-badge--error",
}

DECISION_BADGES: dict[str, str] = {
    Decision.State.DRAFT: "fr-badge--new",
    Decision.State.SIGNED: "fr-badge--info",
    Decision.State.DELIVERED: "fr-badge--success",
    Decision.State.RECORDED: "fr-badge--success",
}

ROLE_LABELS = ROLE_LABELS_ALL


def state_label(model: type[Model], value: str) -> str:
    choices = dict(model._meta.get_field("state").choices or [])  # type: ignore[union-attr]
    return str(choices.get(value, value)) if value else ""


# --- who may open a screen -------------------------------------------------------------


class NotSignedIn(Exception):
    """Raised by ``require_staff`` for an anonymous visitor (the caller sends to sign-in)."""


def require_staff(request: HttpRequest, roles: Iterable[str] | None = None) -> Any:
    """The signed-in staff user, or an answer: sign-in for the anonymous, 403 for anyone
    without one of ``roles`` (any staff role when ``roles`` is None)."""
    user = request.user
    if not user.is_authenticated:
        raise NotSignedIn
    s = policy.scopes(user)
    wanted = set(roles) if roles is not None else set(policy.STAFF_ROLES)
    if not (s.roles & wanted):
        raise PermissionDenied(_("Cet espace est réservé aux agents concernés."))
    return user


def staff_view(*roles: str) -> Callable[[ViewFunc], ViewFunc]:
    """Decorator: sign-in required, then one of ``roles`` (any staff role if none given)."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                require_staff(request, roles or None)
            except NotSignedIn:
                return redirect_to_login(request.get_full_path())
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def decorate(obj: Any, **attributes: Any) -> Any:
    """Attach display-only attributes to a row (a badge class, an overdue flag…)."""
    for name, value in attributes.items():
        setattr(obj, name, value)
    return obj


def person_name(user: Any) -> str:
    """How staff pages name a person: the full name, else the login."""
    return str(user.get_full_name() or user.get_username())


def has_role(user: Any, *roles: str) -> bool:
    return bool(policy.scopes(user).roles & set(roles))


# --- navigation --------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    url: str


def staff_nav(user: Any) -> list[NavItem]:
    s = policy.scopes(user)
    items = [NavItem("tasks", _("Mes tâches"), reverse("tasks"))]
    # Every application the user may see, for every staff role (grants.web.staff.dossiers).
    items.append(NavItem("dossiers", _("Dossiers"), reverse("dossiers")))
    if s.roles & {Role.EMBASSY, Role.PREFECTURE}:
        items.append(NavItem("opinions", _("Avis"), reverse("opinions")))
    elif Role.PARTNER in s.roles:
        # A joint fund's partner government: the same pages, in its own words.
        items.append(NavItem("opinions", _("Validations"), reverse("opinions")))
    if Role.REVIEWER in s.roles:
        items.append(NavItem("reviews", _("Évaluations"), reverse("reviews")))
    if s.roles & {Role.SECRETARY, Role.ADMIN}:
        items.append(NavItem("sessions", _("Comités"), reverse("sessions")))
    if s.roles & {Role.SIGNATORY, Role.ADMIN}:
        items.append(NavItem("signatory", _("Signature"), reverse("signatory")))
    if s.roles & {Role.FINANCE, Role.ADMIN}:
        items.append(NavItem("finance", _("Finances"), reverse("finance")))
        items.append(NavItem("payments", _("Versements"), reverse("payments")))
    if s.roles & {Role.INSTRUCTOR, Role.SECRETARY, Role.ADMIN}:
        items.append(NavItem("dashboards", _("Tableaux de bord"), reverse("dashboards")))
    if s.roles & {Role.INSTRUCTOR, Role.ADMIN}:  # the call editor (grants.web.staff.call_editor)
        items.append(NavItem("calls", _("Appels à projets"), reverse("call-editor-list")))
    return items


def staff_render(
    request: HttpRequest, template: str, context: dict[str, Any], *, active: str = "", status: int = 200
) -> HttpResponse:
    context.setdefault("staff_nav", staff_nav(request.user))
    context.setdefault("nav_active", active)
    return render(request, template, context, status=status)


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# --- keyset pagination -------------------------------------------------------------------


def _parse_datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("naive cursor")
    return value


PARSERS: dict[str, Callable[[str], Any]] = {
    "datetime": _parse_datetime,
    "date": dt.date.fromisoformat,
    "int": int,
    "str": str,
}


@dataclass(frozen=True)
class Key:
    """One ordering column of a keyset: its lookup, direction and value type. Only the
    first column may be ``nullable`` (ascending, NULLs last: tasks without a due date)."""

    name: str
    type: str
    descending: bool = False
    nullable: bool = False


@dataclass
class KeysetPage:
    rows: list[Any]
    next_cursor: str | None
    cursor: str | None
    size: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None


def _encode(values: Sequence[Any]) -> str:
    parts = []
    for value in values:
        if value is None:
            parts.append("")
        elif isinstance(value, dt.datetime | dt.date):
            parts.append(value.isoformat())
        else:
            parts.append(str(value))
    return "~".join(parts)


def _decode(keys: Sequence[Key], cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    parts = cursor.split("~")
    if len(parts) != len(keys):
        return None
    values: list[Any] = []
    try:
        for key, part in zip(keys, parts, strict=True):
            if part == "":
                if not key.nullable:
                    return None
                values.append(None)
            else:
                values.append(PARSERS[key.type](part))
    except (ValueError, KeyError, OverflowError):
        return None
    return values


def _after(keys: Sequence[Key], values: Sequence[Any]) -> Q:
    """Rows strictly after ``values`` in the keyset order: the row-value comparison
    (k1, k2) > (v1, v2) spelt out as k1 > v1 OR (k1 = v1 AND k2 > v2), so the ordering
    index serves it; a nullable first key sorts its NULLs last."""
    branches: list[Q] = []
    equal = Q()
    for index, (key, value) in enumerate(zip(keys, values, strict=True)):
        if key.nullable and index == 0:
            if value is None:
                equal &= Q(**{f"{key.name}__isnull": True})
                continue
            branches.append(Q(**{f"{key.name}__isnull": True}))
        op = "lt" if key.descending else "gt"
        branches.append(equal & Q(**{f"{key.name}__{op}": value}))
        equal &= Q(**{key.name: value})
    condition = branches[0]
    for branch in branches[1:]:
        condition |= branch
    return condition


def keyset_page(queryset: QuerySet[M], keys: Sequence[Key], cursor: str | None, size: int | None = None) -> KeysetPage:
    """One page of ``queryset`` in the order of ``keys`` after ``cursor`` (never OFFSET,
    never COUNT): fetch one row more than shown to know whether a next page exists."""
    size = size or PAGE_SIZE
    ordering = []
    for key in keys:
        expression = F(key.name)
        if key.descending:
            ordering.append(expression.desc(nulls_first=True) if key.nullable else expression.desc())
        else:
            ordering.append(expression.asc(nulls_last=True) if key.nullable else expression.asc())
    values = _decode(keys, cursor)
    qs = queryset.order_by(*ordering)
    if values is not None:
        qs = qs.filter(_after(keys, values))
    rows = list(qs[: size + 1])
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = _encode([_attr(last, key.name) for key in keys])
    return KeysetPage(rows=rows, next_cursor=next_cursor, cursor=cursor if values is not None else None, size=size)


def _attr(obj: Any, lookup: str) -> Any:
    if isinstance(obj, dict):  # a row read with .values()
        return obj[lookup]
    for part in lookup.split("__"):
        obj = getattr(obj, part)
    return obj


# --- errors ---------------------------------------------------------------------------------


def apply_errors(form: forms.Form, error: TransitionError) -> None:
    """Put an ``Invalid``'s per-field messages on the form (unknown fields: form-wide)."""
    for name, messages in error.errors.items():
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message)
    if not error.errors and error.message:
        form.add_error(None, error.message)


def report_error(form: forms.Form, error: TransitionError) -> None:
    """A 400's messages on their fields; a 409's unmet reasons on the whole form."""
    if error.status == 400:
        apply_errors(form, error)
    else:
        for reason in error.unmet or [error.message]:
            form.add_error(None, reason)


def raise_for(error: TransitionError) -> None:
    """404 and 403 become Django's own answers; the caller handles 400 and 409."""
    if error.status == 404:
        raise Http404(error.message or _("Introuvable."))
    if error.status == 403:
        raise PermissionDenied(error.message)
