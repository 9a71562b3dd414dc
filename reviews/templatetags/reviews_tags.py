from django import template

from workflows.models import Interrupt

register = template.Library()


@register.simple_tag
def pending_review_count() -> int:
    """How many interrupts wait for a reviewer (the nav's badge)."""
    return Interrupt.objects.pending().count()
