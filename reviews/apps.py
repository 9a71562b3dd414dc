from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from workflows import signals as workflow_signals

        from . import services, signals  # noqa: F401  (signals connects its receivers)

        # review deadlines are carried out by the periodic sweep that recovers runs
        workflow_signals.sweep.connect(services.on_sweep, dispatch_uid="reviews.apply_deadlines")
