"""The in-app notification centre (mounted at "notifications/")."""

from django.urls import URLPattern, URLResolver, path

from notifications import views

app_name = "notifications"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.centre, name="centre"),
    path("preferences/", views.preferences, name="preferences"),
    path("tout-lire/", views.mark_all_read, name="mark-all-read"),
    path("<int:pk>/", views.open_notification, name="open"),
    path("<int:pk>/lu/", views.mark_read, name="mark-read"),
]
