from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db import close_old_connections

        from . import registry
        from .runtime.pool import after_each_call

        registry.autodiscover()
        # the runtime's threads give their database connections back after each call (to
        # the connection pool on PostgreSQL; per CONN_MAX_AGE elsewhere)
        after_each_call(close_old_connections)
