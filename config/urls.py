from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.health import healthz

handler500 = "config.errors.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("security.urls")),  # the second factor's pages (accounts/second-factor/)
    path("notifications/", include("notifications.urls")),
    path("", include("grants.documents.verify")),
    path("", include("grants.web.pages.urls")),  # the footer's public pages
    path("", include("grants.web.staff.urls")),
    path("", include("grants.web.applicant.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
