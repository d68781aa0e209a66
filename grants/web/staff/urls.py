"""The staff workspaces (mounted at "")."""

from django.urls import URLPattern, URLResolver, path

from grants.web.staff import (
    call_editor,
    committee,
    dashboard,
    decisions,
    dossiers,
    evaluation,
    export_jobs,
    opinions,
    postaward,
    views,
)

urlpatterns: list[URLPattern | URLResolver] = [
    # Inbox ("Mes tâches")
    path("tasks/", views.inbox, name="tasks"),
    path("tasks/<int:task_id>/claim/", views.task_claim, name="task-claim"),
    path("tasks/<int:task_id>/unclaim/", views.task_unclaim, name="task-unclaim"),
    # Finding applications: the list, its exports, its bulk actions (grants.web.staff.dossiers)
    path("dossiers/", dossiers.dossier_list, name="dossiers"),
    path("dossiers/export/<str:fmt>/", dossiers.dossier_export, name="dossiers-export"),
    path("dossiers/actions/", dossiers.dossier_bulk, name="dossiers-bulk"),
    # perf: the spreadsheets built in the background (grants.web.staff.export_jobs)
    path("dossiers/exports/<str:fmt>/", export_jobs.export_start, name="dossiers-export-start"),
    path("dossiers/exports/job/<uuid:job_id>/", export_jobs.export_job, name="dossiers-export-job"),
    path("dossiers/exports/job/<uuid:job_id>/fichier/", export_jobs.export_file, name="dossiers-export-file"),
    # The application page for staff
    path("dossiers/<uuid:application_id>/instruction/", views.application_page, name="staff-application"),
    path(
        "dossiers/<uuid:application_id>/instruction/actions/<slug:name>/",
        views.application_action,
        name="staff-application-action",
    ),
    path(
        "dossiers/<uuid:application_id>/instruction/evaluateurs/",
        views.assign_reviewer,
        name="staff-assign-reviewer",
    ),
    path(
        "dossiers/<uuid:application_id>/instruction/consensus/",
        evaluation.consensus_page,
        name="staff-consensus",
    ),
    path(
        "dossiers/<uuid:application_id>/instruction/documents/<int:document_id>/",
        evaluation.application_document,
        name="staff-document",
    ),
    path(
        "dossiers/<uuid:application_id>/instruction/pieces/<int:attachment_id>/",
        views.attachment_download,
        name="staff-attachment",
    ),
    # Embassies and prefectures
    path("avis/", opinions.opinion_list, name="opinions"),
    path("avis/<int:opinion_id>/", opinions.opinion_page, name="opinion"),
    # Reviewers
    path("evaluations/", opinions.review_list, name="reviews"),
    path("evaluations/<int:review_id>/", opinions.review_page, name="review"),
    path("evaluations/<int:review_id>/decliner/", opinions.review_decline, name="review-decline"),
    # Committee secretariat
    path("comites/", committee.session_list, name="sessions"),
    path("comites/<int:session_id>/", committee.session_page, name="session"),
    path("comites/<int:session_id>/inscrire/", committee.session_schedule, name="session-schedule"),
    path("comites/<int:session_id>/decisions/", committee.session_outcomes, name="session-outcomes"),
    path("comites/<int:session_id>/enveloppe/", committee.session_envelope, name="session-envelope"),
    path("comites/<int:session_id>/dossier-de-seance/", committee.session_booklet, name="session-booklet"),
    path(
        "comites/<int:session_id>/dossier-de-seance/generer/",
        committee.session_booklet_build,
        name="session-booklet-build",
    ),
    path(
        "comites/<int:session_id>/seance/<str:name>/",
        committee.session_transition,
        name="session-transition",
    ),
    # Signatory
    path("signature/", decisions.signatory, name="signatory"),
    path("signature/signer/", decisions.signatory_sign, name="signatory-sign"),
    path("signature/suivi/", decisions.signatory_progress, name="signatory-progress"),
    path("signature/<int:decision_id>/apercu.pdf", decisions.signatory_preview, name="signatory-preview"),
    # Finance
    path("finances/", decisions.finance, name="finance"),
    path("finances/<int:decision_id>/engagement/", decisions.finance_record, name="finance-record"),
    path("finances/export/<str:fmt>/", decisions.finance_export, name="finance-export"),
    path("decisions/<int:decision_id>/lettre.pdf", decisions.decision_pdf, name="staff-decision-pdf"),
    # The grant's life after the commitment (grants.web.staff.postaward)
    path(
        "dossiers/<uuid:application_id>/instruction/rapports/<int:report_id>/",
        postaward.report_page,
        name="staff-report",
    ),
    path(
        "dossiers/<uuid:application_id>/instruction/rapports/<int:report_id>/compte-rendu/",
        postaward.report_narrative,
        name="staff-report-narrative",
    ),
    path(
        "dossiers/<uuid:application_id>/instruction/rapports/<int:report_id>/<slug:name>/",
        postaward.report_action,
        name="staff-report-action",
    ),
    path(
        "dossiers/<uuid:application_id>/instruction/avenants/<int:amendment_id>/",
        postaward.amendment_page,
        name="staff-amendment",
    ),
    path(
        "dossiers/<uuid:application_id>/instruction/avenants/<int:amendment_id>/<slug:name>/",
        postaward.amendment_action,
        name="staff-amendment-action",
    ),
    path(
        "dossiers/<uuid:application_id>/instruction/avenants/<int:amendment_id>/avenant.pdf",
        postaward.amendment_pdf,
        name="staff-amendment-pdf",
    ),
    path("finances/versements/", postaward.payments, name="payments"),
    path("finances/versements/payer/", postaward.payments_pay, name="payments-pay"),
    path("finances/versements/export/<str:fmt>/", postaward.payments_export, name="payments-export"),
    # Dashboards
    path("tableaux-de-bord/", dashboard.dashboards, name="dashboards"),
    path("appels/<str:code>/tableau-de-bord/", dashboard.call_dashboard, name="call-dashboard"),
    # The call editor (issue 15)
    path("appels/", call_editor.call_list, name="call-editor-list"),
    path("appels/nouveau/", call_editor.call_create, name="call-editor-create"),
    path("appels/<str:code>/reglages/", call_editor.call_edit, name="call-editor"),
    path("appels/<str:code>/apercu/", call_editor.call_preview, name="call-editor-preview"),
    path("appels/<str:code>/actions/<slug:name>/", call_editor.call_transition, name="call-editor-transition"),
]
