from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from workflows import signals as workflow_signals
        from workflows.models import Interrupt

        from . import services, signals  # noqa: F401  (signals connects its receivers)
        from .notifications import email_assignees

        # review deadlines are carried out by the periodic sweep that recovers runs
        workflow_signals.sweep.connect(services.on_sweep, dispatch_uid="reviews.apply_deadlines")
        signals.review_assigned.connect(
            email_assignees, sender=Interrupt, dispatch_uid="reviews.email_assignees"
        )
