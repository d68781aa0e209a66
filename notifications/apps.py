from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The domain publishes its events through the workflow engine; the outbox
        # writes its rows in the same transaction.
        from notifications.services import emit
        from workflows import registry

        registry.subscribe(emit)
