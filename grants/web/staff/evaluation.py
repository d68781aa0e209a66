"""The consensus of the reviews (instructor, secretary): one score sheet per application,
offered at the reviewers' means, criteria whose reviews diverge flagged."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from grants import policy, services
from grants.documents.downloads import safe_stem
from grants.models import Application, Consensus, Review, Role
from grants.scoring import SPREAD_LIMIT, criterion_label, criterion_means, score_summary, spreads, weighted_score
from grants.web.staff.common import raise_for, report_error, staff_render, staff_view
from grants.web.staff.forms import TEXTAREA, StaffForm
from grants.web.staff.views import readable_application
from workflows import engine
from workflows.engine import TransitionError


class ConsensusForm(StaffForm):
    comment = forms.CharField(
        label=gettext_lazy("Commentaire pour le porteur"),
        help_text=gettext_lazy("Repris dans la synthèse de l'évaluation adressée au porteur."),
        widget=TEXTAREA,
        required=False,
    )
    internal_comment = forms.CharField(
        label=gettext_lazy("Commentaire interne"),
        help_text=gettext_lazy("Reste à la délégation."),
        widget=TEXTAREA,
        required=False,
    )

    def __init__(self, *args: Any, criteria: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        for criterion in criteria:
            self.fields[f"score_{criterion['code']}"] = forms.TypedChoiceField(
                label=criterion_label(criterion),
                choices=[(str(n), str(n)) for n in range(6)],
                coerce=int,
                required=True,
            )
        # The scores first, then the comments.
        self.order_fields([f"score_{c['code']}" for c in criteria])

    def payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "scores": {c["code"]: data[f"score_{c['code']}"] for c in self.criteria},
            "comment": data.get("comment") or "",
            "internal_comment": data.get("internal_comment") or "",
        }


@require_http_methods(["GET", "POST"])
@staff_view(Role.INSTRUCTOR, Role.SECRETARY, Role.ADMIN)
def consensus_page(request: HttpRequest, application_id: Any) -> HttpResponse:
    user = request.user
    app: Application = readable_application(user, application_id)
    criteria = app.call.scoring_criteria
    reviews = list(policy.visible_reviews(user).filter(application=app, state=Review.State.SUBMITTED))
    existing = Consensus.objects.filter(application=app).first()
    initial_scores = existing.scores if existing else criterion_means(criteria, reviews)
    initial: dict[str, Any] = {f"score_{code}": str(value) for code, value in initial_scores.items()}
    if existing:
        initial.update(comment=existing.comment_for_applicant, internal_comment=existing.internal_comment)
    form = ConsensusForm(request.POST or None, initial=initial, criteria=criteria, prefix="consensus")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.consensus_record(application_id=app.pk, user=user, **form.payload())
            except TransitionError as error:
                raise_for(error)
                status = error.status
                report_error(form, error)
            else:
                messages.success(request, _("Le consensus est enregistré."))
                return redirect("staff-application", application_id=app.pk)
    summary = score_summary(criteria, reviews)
    spread = spreads(criteria, reviews)
    rows = [
        {
            "criterion": item,
            "field": form[f"score_{item.code}"],
            "spread": spread.get(item.code),
            "flagged": spread.get(item.code, 0) > SPREAD_LIMIT,
        }
        for item in summary.criteria
    ]
    _role, unmet = engine.check(services.RECORD_CONSENSUS, app, user)
    context = {
        "app": app,
        "form": form,
        "rows": rows,
        "reviews": reviews,
        "spread_limit": SPREAD_LIMIT,
        "consensus": existing,
        "weighted": weighted_score(existing.scores, criteria) if existing else None,
        "can_record": engine.offered(services.RECORD_CONSENSUS, app, user) and not unmet,
        "unmet": unmet,
    }
    return staff_render(request, "grants/staff/consensus.html", context, status=status)


@require_http_methods(["GET", "HEAD"])
@staff_view()
def application_document(request: HttpRequest, application_id: Any, document_id: int) -> FileResponse:
    """A document issued for the application (receipt, notice, letters, evaluation
    summary) that the policy lets this staff member read, streamed as PDF; the file name
    is built from the reference and the kind, never from user text."""
    app = readable_application(request.user, application_id)
    document = next((d for d in policy.application_documents(request.user, app) if d.pk == document_id), None)
    if document is None or not document.file:
        raise Http404(_("Introuvable."))
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise Http404(_("Introuvable.")) from None
    stem = safe_stem(f"{document.reference or app.reference or 'document'}-{document.kind}", "document")
    return FileResponse(handle, as_attachment=True, filename=f"{stem}.pdf", content_type="application/pdf")
