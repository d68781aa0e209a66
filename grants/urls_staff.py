"""The staff workspaces (mounted at "")."""

from django.urls import URLPattern, URLResolver, path

from grants import (
    views_staff,
    views_staff_committee,
    views_staff_dashboard,
    views_staff_decisions,
    views_staff_opinions,
)

urlpatterns: list[URLPattern | URLResolver] = [
    # Inbox ("Mes tâches")
    path("tasks/", views_staff.inbox, name="tasks"),
    path("tasks/<int:task_id>/claim/", views_staff.task_claim, name="task-claim"),
    path("tasks/<int:task_id>/unclaim/", views_staff.task_unclaim, name="task-unclaim"),
    # The application page for staff
    path("dossiers/<uuid:application_id>/instruction/", views_staff.application_page, name="staff-application"),
    path(
        "dossiers/<uuid:application_id>/instruction/actions/<slug:name>/",
        views_staff.application_action,
        name="staff-application-action",
    ),
    path(
        "dossiers/<uuid:application_id>/instruction/evaluateurs/",
        views_staff.assign_reviewer,
        name="staff-assign-reviewer",
    ),
    path(
        "dossiers/<uuid:application_id>/instruction/pieces/<int:attachment_id>/",
        views_staff.attachment_download,
        name="staff-attachment",
    ),
    # Embassies and prefectures
    path("avis/", views_staff_opinions.opinion_list, name="opinions"),
    path("avis/<int:opinion_id>/", views_staff_opinions.opinion_page, name="opinion"),
    # Reviewers
    path("evaluations/", views_staff_opinions.review_list, name="reviews"),
    path("evaluations/<int:review_id>/", views_staff_opinions.review_page, name="review"),
    path("evaluations/<int:review_id>/decliner/", views_staff_opinions.review_decline, name="review-decline"),
    # Committee secretariat
    path("comites/", views_staff_committee.session_list, name="sessions"),
    path("comites/<int:session_id>/", views_staff_committee.session_page, name="session"),
    path("comites/<int:session_id>/inscrire/", views_staff_committee.session_schedule, name="session-schedule"),
    path("comites/<int:session_id>/decisions/", views_staff_committee.session_outcomes, name="session-outcomes"),
    path("comites/<int:session_id>/enveloppe/", views_staff_committee.session_envelope, name="session-envelope"),
    path("comites/<int:session_id>/dossier-de-seance/", views_staff_committee.session_booklet, name="session-booklet"),
    path(
        "comites/<int:session_id>/dossier-de-seance/generer/",
        views_staff_committee.session_booklet_build,
        name="session-booklet-build",
    ),
    path(
        "comites/<int:session_id>/seance/<str:name>/",
        views_staff_committee.session_transition,
        name="session-transition",
    ),
    # Signatory
    path("signature/", views_staff_decisions.signatory, name="signatory"),
    path("signature/signer/", views_staff_decisions.signatory_sign, name="signatory-sign"),
    path("signature/suivi/", views_staff_decisions.signatory_progress, name="signatory-progress"),
    # Finance
    path("finances/", views_staff_decisions.finance, name="finance"),
    path("finances/<int:decision_id>/engagement/", views_staff_decisions.finance_record, name="finance-record"),
    path("finances/export/<str:fmt>/", views_staff_decisions.finance_export, name="finance-export"),
    path("decisions/<int:decision_id>/lettre.pdf", views_staff_decisions.decision_pdf, name="staff-decision-pdf"),
    # Dashboards
    path("tableaux-de-bord/", views_staff_dashboard.dashboards, name="dashboards"),
    path("appels/<str:code>/tableau-de-bord/", views_staff_dashboard.call_dashboard, name="call-dashboard"),
]
