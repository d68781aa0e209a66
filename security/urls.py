from django.urls import URLPattern, path

from . import views

urlpatterns: list[URLPattern] = [
    path("accounts/second-factor/", views.enrol, name="otp-enrol"),
    path("accounts/second-factor/verify/", views.verify, name="otp-verify"),
]
