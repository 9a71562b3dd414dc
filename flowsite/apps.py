from django.apps import AppConfig


class FlowsiteConfig(AppConfig):
    """The site itself: its example workflows live in ``flowsite/workflows.py``."""

    name = "flowsite"
    verbose_name = "Flowsite"
