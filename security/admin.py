"""API tokens in the admin: who holds one, since when, until when; never the secret (knox
keeps only its hash) and no way to make one here (a token comes from signing in)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from knox.models import AuthToken

if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):
    list_display = ("key_prefix", "user", "created", "expiry")
    list_select_related = ("user",)
    search_fields = ("user__username", "token_key")
    readonly_fields = ("key_prefix", "user", "created", "expiry")
    fields = readonly_fields
    ordering = ("-created",)

    @admin.display(description="début de la clé")
    def key_prefix(self, obj: AuthToken) -> str:
        return f"{obj.token_key[:8]}…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
