"""Mounted at ``/api/`` by config/urls.py: ``v1/…`` (the contract), ``schema/`` and ``docs/``."""

from django.urls import URLPattern, URLResolver, include, path, re_path

from . import docs, postaward, views
from .schema import SchemaView

app_name = "api"

v1: list[URLPattern | URLResolver] = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("auth/tokens/", views.TokenListView.as_view(), name="token-list"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("auth/logoutall/", views.LogoutAllView.as_view(), name="logout-all"),
    path("calls/", views.CallListView.as_view(), name="call-list"),
    path("calls/<str:code>/", views.CallDetailView.as_view(), name="call-detail"),
    path("calls/<str:code>/transitions/<str:name>/", views.CallTransitionView.as_view(), name="call-transition"),
    path("applications/", views.ApplicationListView.as_view(), name="application-list"),
    path("applications/<uuid:pk>/", views.ApplicationDetailView.as_view(), name="application-detail"),
    path("applications/<uuid:pk>/attachments/", views.AttachmentListView.as_view(), name="attachment-list"),
    path(
        "applications/<uuid:pk>/attachments/<int:attachment_id>/",
        views.AttachmentDetailView.as_view(),
        name="attachment-detail",
    ),
    path(
        "applications/<uuid:pk>/attachments/<int:attachment_id>/file/",
        views.AttachmentFileView.as_view(),
        name="attachment-file",
    ),
    path(
        "applications/<uuid:pk>/documents/<str:code>/",
        views.ApplicationDocumentView.as_view(),
        name="application-document",
    ),
    path(
        "applications/<uuid:pk>/transitions/<str:name>/",
        views.TransitionView.as_view(),
        name="application-transition",
    ),
    path("applications/<uuid:pk>/reviewers/", views.ReviewerAssignView.as_view(), name="application-reviewers"),
    path("tasks/", views.TaskListView.as_view(), name="task-list"),
    path("tasks/<int:task_id>/claim/", views.TaskClaimView.as_view(), name="task-claim"),
    path("tasks/<int:task_id>/unclaim/", views.TaskUnclaimView.as_view(), name="task-unclaim"),
    path("opinions/", views.OpinionListView.as_view(), name="opinion-list"),
    path("opinions/<int:opinion_id>/", views.OpinionDetailView.as_view(), name="opinion-detail"),
    path("opinions/<int:opinion_id>/give/", views.OpinionGiveView.as_view(), name="opinion-give"),
    path("reviews/", views.ReviewListView.as_view(), name="review-list"),
    path("reviews/<int:review_id>/", views.ReviewDetailView.as_view(), name="review-detail"),
    path("reviews/<int:review_id>/submit/", views.ReviewSubmitView.as_view(), name="review-submit"),
    path("applications/<uuid:pk>/consensus/", views.ConsensusView.as_view(), name="application-consensus"),
    path("reviews/<int:review_id>/decline/", views.ReviewDeclineView.as_view(), name="review-decline"),
    path("reviews/<int:review_id>/declare/", views.ReviewDeclareView.as_view(), name="review-declare"),
    path("sessions/", views.SessionListView.as_view(), name="session-list"),
    path("sessions/<int:session_id>/", views.SessionDetailView.as_view(), name="session-detail"),
    path("sessions/<int:session_id>/open/", views.SessionOpenView.as_view(), name="session-open"),
    path("sessions/<int:session_id>/close/", views.SessionCloseView.as_view(), name="session-close"),
    path("decisions/", views.DecisionListView.as_view(), name="decision-list"),
    path("decisions/<int:decision_id>/", postaward.GrantDecisionDetailView.as_view(), name="decision-detail"),
    path("decisions/<int:decision_id>/sign/", views.DecisionSignView.as_view(), name="decision-sign"),
    path("decisions/<int:decision_id>/pdf/", views.DecisionPdfView.as_view(), name="decision-pdf"),
    path("decisions/<int:decision_id>/record/", views.DecisionRecordView.as_view(), name="decision-record"),
    # The grant's life after the commitment (api/postaward.py).
    path("payments/", postaward.PaymentListView.as_view(), name="payment-list"),
    path("payments/<int:payment_id>/pay/", postaward.PaymentPayView.as_view(), name="payment-pay"),
    path("reports/", postaward.ReportListView.as_view(), name="report-list"),
    path("reports/<int:report_id>/", postaward.ReportDetailView.as_view(), name="report-detail"),
    path("reports/<int:report_id>/submit/", postaward.ReportSubmitView.as_view(), name="report-submit"),
    path("reports/<int:report_id>/resubmit/", postaward.ReportResubmitView.as_view(), name="report-resubmit"),
    path("reports/<int:report_id>/accept/", postaward.ReportAcceptView.as_view(), name="report-accept"),
    path("reports/<int:report_id>/return/", postaward.ReportReturnView.as_view(), name="report-return"),
    path(
        "decisions/<int:decision_id>/amendments/", postaward.AmendmentCreateView.as_view(), name="decision-amendments"
    ),
    path("amendments/<int:amendment_id>/accept/", postaward.AmendmentAcceptView.as_view(), name="amendment-accept"),
    path("amendments/<int:amendment_id>/refuse/", postaward.AmendmentRefuseView.as_view(), name="amendment-refuse"),
    path("decisions/<int:decision_id>/renounce/", postaward.DecisionRenounceView.as_view(), name="decision-renounce"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("v1/", include(v1)),
    # The OpenAPI document covers /api/v1/ only (not the web's own views).
    path("schema/", SchemaView.as_view(patterns=[path("api/v1/", include(v1))]), name="schema"),
    path("docs/", docs.docs_view, name="docs"),
    path("docs/reference/", docs.ReferenceView.as_view(), name="docs-reference"),
    # Anything else under /api/ is a JSON 404, never an HTML page.
    re_path(r"^.*$", views.not_found_view, name="not-found"),
]
