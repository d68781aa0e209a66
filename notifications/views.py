"""The in-app notification centre: list, open (marks read), mark read, mark all read,
preferences. Thin: reads through ``services.notifications_of`` (a user's own rows only),
writes through the service functions."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from grants import policy
from grants.models import Role
from notifications import outbox, rendering, services
from notifications.forms import PreferencesForm, field_name
from notifications.models import LOCKED_CATEGORIES, Category, Notification
from workflows.engine import Invalid, NotFound

PAGE_SIZE = 20

# The categories a role can receive (the form offers only these).
ROLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    Role.APPLICANT: (Category.STATUS,),
    Role.INSTRUCTOR: (Category.INSTRUCTION, Category.OPINIONS, Category.COMMITTEE, Category.REMINDERS),
    Role.EMBASSY: (Category.OPINIONS, Category.REMINDERS),
    Role.PREFECTURE: (Category.OPINIONS, Category.REMINDERS),
    Role.PARTNER: (Category.OPINIONS, Category.REMINDERS),
    Role.REVIEWER: (Category.REVIEWS, Category.REMINDERS),
    Role.SECRETARY: (Category.COMMITTEE, Category.REMINDERS),
    Role.SIGNATORY: (Category.COMMITTEE, Category.REMINDERS),
    Role.FINANCE: (Category.COMMITTEE, Category.REMINDERS),
    Role.ADMIN: tuple(c for c in Category.values if c not in LOCKED_CATEGORIES),
}


def _categories(user: object) -> list[str]:
    roles = policy.scopes(user).roles
    wanted = {c for role in roles for c in ROLE_CATEGORIES.get(role, ())}
    if not wanted:
        wanted = {c for c in Category.values if c not in LOCKED_CATEGORIES}
    return [c for c in Category.values if c in wanted]


def _item(notification: Notification, language: str) -> dict[str, object]:
    rendered = rendering.render(notification.message, notification.params or {}, language=language)
    return {
        "n": notification,
        "subject": rendered.subject,
        "summary": rendered.paragraphs[0].text if rendered.paragraphs else "",
        "url": reverse("notifications:open", args=[notification.pk]),
    }


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("notifications:centre")
    return HttpResponseRedirect(target)


@login_required
def centre(request: HttpRequest) -> HttpResponse:
    qs = services.notifications_of(request.user)
    unread_only = request.GET.get("non-lues") == "1"
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    language = request.LANGUAGE_CODE if hasattr(request, "LANGUAGE_CODE") else "fr"
    return render(
        request,
        "notifications/centre.html",
        {
            "page": page,
            "items": [_item(n, language) for n in page.object_list],
            "unread": services.unread_count(request.user),
            "unread_only": unread_only,
        },
    )


@login_required
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow a notification (from the list or an e-mail): mark it read, go to its page."""
    try:
        notification = services.notification_mark_read(notification_id=pk, user=request.user)
    except NotFound:
        raise Http404(_("Introuvable.")) from None
    return HttpResponseRedirect(outbox.target_path(notification, policy.scopes(request.user).roles))


@login_required
@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.notification_mark_read(notification_id=pk, user=request.user)
    except NotFound:
        raise Http404(_("Introuvable.")) from None
    return _back(request)


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    services.notification_mark_all_read(user=request.user)
    return _back(request)


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    categories = _categories(request.user)
    stored = services.settings_of(request.user)
    modes = services.modes_of(request.user)
    initial: dict[str, object] = {"language": stored.language, "digest_hour": stored.digest_hour}
    initial.update({field_name(c): modes[c] for c in categories})
    status = 200
    saved = False
    if request.method == "POST":
        form = PreferencesForm(request.POST, categories=categories, initial=initial)
        if form.is_valid():
            try:
                services.preferences_update(
                    user=request.user,
                    language=form.cleaned_data["language"],
                    digest_hour=form.cleaned_data["digest_hour"],
                    modes=form.modes(),
                )
                return HttpResponseRedirect(reverse("notifications:preferences") + "?enregistre=1")
            except Invalid as exc:
                for name, messages in exc.errors.items():
                    target = field_name(name) if name in Category.values else name
                    for message in messages:
                        form.add_error(target if target in form.fields else None, message)
        status = 400
    else:
        form = PreferencesForm(categories=categories, initial=initial)
        saved = request.GET.get("enregistre") == "1"
    return render(
        request,
        "notifications/preferences.html",
        {
            "form": form,
            "saved": saved,
            "locked": [dict(Category.choices)[c] for c in Category.values if c in LOCKED_CATEGORIES],
            "mode_fields": [form[field_name(c)] for c in categories],
        },
        status=status,
    )
