from django import template

from workflows.models import Interrupt

register = template.Library()


@register.simple_tag
def pending_review_count() -> int:
    """How many interrupts wait for a reviewer (the nav's badge)."""
    return Interrupt.objects.pending().count()


@register.filter
def markdown(text: str) -> str:
    """Markdown as sanitised HTML (``markdown``, then ``nh3``'s allow-list): an agent's
    description is untrusted text. Single newlines are line breaks (agents write plain text)."""
    import markdown as md
    import nh3
    from django.utils.safestring import mark_safe

    html = md.markdown(str(text or ""), extensions=["nl2br", "sane_lists", "fenced_code"])
    return mark_safe(nh3.clean(html))  # noqa: S308 - sanitised by nh3 just above


@register.filter
def as_text(value: object) -> str:
    """A value as one line of text: strings as they are, anything else as compact JSON."""
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
