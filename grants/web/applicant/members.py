"""A turnkey programme's member French authorities (grants.variants TURNKEY), on the
applicant's side: the list, adding and removing a member, each member's council
resolution. The writes go through the draft's own (grants.writes.drafts: the engine's
``update_draft`` and ``add_attachment``), so the rules and the refusals are the API's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from dsfr.forms import DsfrBaseForm

from grants.models import AttachmentKind, Region
from grants.variants import variant_for
from grants.web.applicant.views import SECTIONS, _application, applicant_required
from grants.writes import drafts
from grants.writes.members import as_payload
from workflows.engine import TransitionError


class MemberForm(DsfrBaseForm):
    name = forms.CharField(label=gettext_lazy("Nom de la collectivité"), max_length=200)
    siren = forms.CharField(
        label=gettext_lazy("SIREN"), max_length=20, help_text=gettext_lazy("9 chiffres, par ex. 213801855.")
    )
    region = forms.ChoiceField(label=gettext_lazy("Région"), required=False)
    contribution = forms.CharField(
        label=gettext_lazy("Contribution (€)"),
        required=False,
        help_text=gettext_lazy("Comptée dans l'apport des collectivités françaises, par ex. 4 000,00."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", "—")] + [(r.code, r.name) for r in Region.objects.order_by("name")]


def _context(app: Any, form: MemberForm) -> dict[str, Any]:
    members = list(app.members.prefetch_related("resolutions").select_related("region"))
    for member in members:
        member.resolution = next(iter(member.resolutions.all()), None)
    return {
        "app": app,
        "sections": SECTIONS,
        "members": members,
        "form": form,
        "minimum": app.call.min_members,
        "editable": app.is_editable,
        "max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
    }


@applicant_required
@require_http_methods(["GET", "POST"])
def members_page(request: HttpRequest, pk: Any) -> HttpResponse:
    app = _application(request, pk)
    if not variant_for(app.call).members:
        raise Http404
    form = MemberForm(request.POST if request.POST.get("action") == "add" else None, prefix="member")
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        status = 400
        try:
            if action == "add" and form.is_valid():
                row = {
                    "name": form.cleaned_data["name"],
                    "siren": form.cleaned_data["siren"],
                    "region": form.cleaned_data.get("region") or "",
                    "contribution": form.cleaned_data.get("contribution") or "",
                }
                drafts.application_update(
                    application_id=app.pk, user=request.user, data={"members": [*as_payload(app), row]}
                )
                messages.success(request, _("Collectivité membre ajoutée : %(name)s.") % {"name": row["name"]})
                return redirect("applicant-members", pk=app.pk)
            if action == "remove":
                siren = request.POST.get("siren", "")
                kept = [m for m in as_payload(app) if m["siren"] != siren]
                drafts.application_update(application_id=app.pk, user=request.user, data={"members": kept})
                messages.success(request, _("Collectivité membre retirée du programme."))
                return redirect("applicant-members", pk=app.pk)
            if action == "resolution":
                upload = request.FILES.get("file")
                if upload is None:
                    messages.error(request, _("Choisissez un fichier à joindre."))
                else:
                    drafts.attachment_add(
                        application_id=app.pk,
                        user=request.user,
                        kind=AttachmentKind.COUNCIL_RESOLUTION,
                        name=upload.name or "",
                        content=upload.read(settings.UPLOAD_MAX_BYTES + 1),
                        member=request.POST.get("member"),
                    )
                    messages.success(request, _("Délibération enregistrée."))
                    return redirect("applicant-members", pk=app.pk)
        except TransitionError as error:
            if error.status == 404:
                raise Http404 from None
            status = error.status
            reasons = [m for field in error.errors.values() for m in field] or error.unmet or [error.message]
            for reason in reasons:
                messages.error(request, reason)
    return render(request, "grants/applicant/members.html", _context(app, form), status=status)
