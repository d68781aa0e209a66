from django.apps import AppConfig


class GrantsConfig(AppConfig):
    name = "grants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The object permissions (django-rules predicates) are declared with the policy.
        from grants.policy import predicates  # noqa: F401
