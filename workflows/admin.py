from __future__ import annotations

from django.contrib import admin

from workflows.models import Task, TransitionLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """Workflow records are changed only by transitions: the admin only shows them."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(TransitionLog)
class TransitionLogAdmin(ReadOnlyAdmin):
    """Read-only: the log is append-only (a database trigger refuses UPDATE and DELETE)."""

    list_display = ("at", "subject_type", "subject_id", "transition", "source", "target", "actor_name", "role")
    list_filter = ("transition", "role", "subject_type")
    search_fields = ("subject_id", "actor_name")


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ("kind", "application", "queue_role", "state", "due_at", "assignee")
    list_filter = ("kind", "state", "queue_role")
