"""The applicant portal and the shared account pages (mounted at "")."""

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path, reverse_lazy

from grants.web.applicant import members, postaward, views
from grants.web.applicant.forms import LoginForm, NewPasswordForm, ResetRequestForm

accounts: list[URLPattern | URLResolver] = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path(
        "accounts/logout/",
        auth_views.LogoutView.as_view(template_name="registration/logged_out.html"),
        name="logout",
    ),
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(
            template_name="registration/password_reset_form.html",
            email_template_name="registration/password_reset_email.txt",
            subject_template_name="registration/password_reset_subject.txt",
            form_class=ResetRequestForm,
            success_url=reverse_lazy("password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "accounts/password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/password_reset_confirm.html",
            form_class=NewPasswordForm,
            success_url=reverse_lazy("password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="registration/password_reset_complete.html"),
        name="password_reset_complete",
    ),
]

# French paths under /mes-dossiers/: the applicant's own space, apart from the staff pages.
portal: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("mes-dossiers/nouveau/<str:code>/", views.start, name="applicant-start"),
    path("mes-dossiers/<uuid:pk>/", views.application_page, name="applicant-application"),
    path("mes-dossiers/<uuid:pk>/saisie/<slug:section>/", views.edit, name="applicant-edit"),
    path("mes-dossiers/<uuid:pk>/budget/apercu/", views.budget_preview, name="applicant-budget-preview"),
    path("mes-dossiers/<uuid:pk>/pieces/ajouter/", views.attachment_add, name="applicant-attachment-add"),
    path(
        "mes-dossiers/<uuid:pk>/pieces/<int:attachment_id>/",
        views.attachment_download,
        name="applicant-attachment",
    ),
    path(
        "mes-dossiers/<uuid:pk>/pieces/<int:attachment_id>/retirer/",
        views.attachment_remove,
        name="applicant-attachment-remove",
    ),
    path("mes-dossiers/<uuid:pk>/verification/", views.review, name="applicant-review"),
    # Turnkey programmes (grants.variants): the member authorities and their resolutions.
    path("mes-dossiers/<uuid:pk>/membres/", members.members_page, name="applicant-members"),
    path("mes-dossiers/<uuid:pk>/deposer/", views.submit, name="applicant-submit"),
    path("mes-dossiers/<uuid:pk>/confirmation/", views.confirmation, name="applicant-confirmation"),
    path("mes-dossiers/<uuid:pk>/retrait/", views.withdraw, name="applicant-withdraw"),
    path(
        "mes-dossiers/<uuid:pk>/documents/<int:document_id>/",
        views.document_download,
        name="applicant-document",
    ),
    # The grant's life after the commitment (grants.web.applicant.postaward)
    path("mes-dossiers/<uuid:pk>/rapports/<int:report_id>/", postaward.report_page, name="applicant-report"),
    path("mes-dossiers/<uuid:pk>/avenants/nouveau/", postaward.amendment_new, name="applicant-amendment-new"),
    path("mes-dossiers/<uuid:pk>/renoncer/", postaward.renounce, name="applicant-renounce"),
]

urlpatterns: list[URLPattern | URLResolver] = accounts + portal
