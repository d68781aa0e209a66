"""Shared pieces of the staff workspaces: who may open a screen, the navigation, keyset
pagination, labels and the mapping of the engine's errors to HTTP answers.

Views stay thin: every read is scoped through ``grants.policy`` and every write goes
through ``grants.services`` / ``workflows.tasks_service``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from grants import policy, search
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
#
# The staff lists page with grants.search's keyset (one ``_after``, one cursor codec):
# both ways, ONE query of ``size + 1`` rows a page, never OFFSET, never COUNT.

#: One ordering column of a staff list: its lookup, value type (``datetime``, ``date``,
#: ``int``, ``str``, ``uuid``, ``decimal``), direction, and whether it may be NULL (NULL
#: the largest value: last ascending, first descending).
Key = search.SortKey


@dataclass
class KeysetPage(search.Window):
    """One page of a staff list: ``rows``, the cursors of the pages after and before it
    (None: none), the ``cursor`` it was asked for (None: the first page), ``size``."""

    next_cursor: str | None = None
    previous_cursor: str | None = None
    cursor: str | None = None
    size: int = PAGE_SIZE


def _keyset_name(keys: Sequence[Key]) -> str:
    """The name a staff list's cursors carry: its keys, so another list's cursor is refused."""
    return ",".join(("-" if key.descending else "") + key.name for key in keys)


def _legacy_position(keys: Sequence[Key], cursor: str) -> list[Any] | None:
    """The position of a forward cursor of the earlier format (``VALUE~VALUE``, still in
    bookmarks), None when it is not one."""
    parts = cursor.split("~")
    if len(parts) != len(keys):
        return None
    try:
        return [search.parse_value(key, part if part != "" else None) for key, part in zip(keys, parts, strict=True)]
    except search.InvalidCursor:
        return None


def keyset_page(queryset: QuerySet[M], keys: Sequence[Key], cursor: str | None, size: int | None = None) -> KeysetPage:
    """One page of ``queryset`` in the order of ``keys`` after (or, for a backward cursor,
    before) ``cursor``: one query of one row more than shown, to know whether the next (or
    previous) page exists. A cursor this list did not make: the first page."""
    size = size or PAGE_SIZE
    ordering = search.Ordering(_keyset_name(keys), "", tuple(keys))
    backwards, values = False, None
    if cursor:
        try:
            backwards, values = search.decode_cursor(cursor, ordering)
        except search.InvalidCursor:
            values = _legacy_position(keys, cursor)
    window = search.window_at(queryset, ordering, values, size, backwards=backwards, cursor=cursor)
    return KeysetPage(
        rows=window.rows,
        next_cursor=window.next_cursor,
        previous_cursor=window.previous_cursor,
        cursor=window.cursor,
        size=size,
        ordering=window.ordering,
    )


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
