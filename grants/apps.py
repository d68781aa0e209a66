from django.apps import AppConfig


class GrantsConfig(AppConfig):
    name = "grants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The composition root: the domain tells the engine how to lock, who may see
        # and act (the read policy), its machines, its Specs and its background jobs.
        # stays: forgets a call's cached time-in-state figures when its applications move.
        from grants import catalogue, stays, tasks  # noqa: F401  (tasks registers its jobs)
        from grants.machines import MACHINES
        from grants.machines.domain import GrantsDomain
        from grants.policy import predicates  # noqa: F401  (django-rules object permissions)
        from grants.web.staff import export_jobs  # noqa: F401  (the spreadsheet exports' job)
        from workflows import registry

        registry.register_domain(GrantsDomain())
        registry.register_machines(MACHINES)
        registry.register_specs(catalogue.specs())
        from grants.variants import diagram_variants

        for variant in diagram_variants():
            registry.register_diagram_variant(variant)
