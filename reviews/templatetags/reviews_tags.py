from typing import Any

from django import template

from workflows.models import Interrupt

register = template.Library()


@register.simple_tag(takes_context=True)
def pending_review_count(context: template.Context) -> Any:
    """How many interrupts the page's user may see wait for a reviewer (the nav's badge), as a
    ``workflows.pagination.CappedCount`` (renders "1,000+" beyond the cap). A page that counted
    them already for its tab (``waiting_count`` in its context: the inbox, the archive) is not
    counted again."""
    from reviews.selectors import visible_pending
    from workflows.pagination import capped_count

    if "waiting_count" in context:
        return context["waiting_count"]
    request = context.get("request")
    return capped_count(visible_pending(getattr(request, "user", None)))


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
def previewed(interrupt: Interrupt) -> Interrupt:
    """A display copy of ``interrupt`` whose value is at most ``FLOWSITE_PREVIEW_BYTES``
    (``workflows.truncation.shrink``: its keys and short values, the beginning of long ones,
    a link to the whole), for an inbox card: never the whole payload."""
    import copy

    from workflows import truncation

    limit = truncation.preview_bytes()
    if truncation.json_size(interrupt.value) <= limit:
        return interrupt
    shown = copy.copy(interrupt)
    url = truncation.value_url(interrupt.thread_id, f"interrupt-{interrupt.interrupt_id}")
    shown.value = truncation.shrink(interrupt.value, limit, url=url)
    return shown


@register.filter
def question_summary(interrupt: Interrupt, length: int = 140) -> str:
    """One line saying what ``interrupt`` asks: the tool calls of an agent request, else a
    summary of its value."""
    from workflows.templatetags.workflow_display import agent_request_of, summary, tool_calls

    request = agent_request_of(interrupt)
    if request is None:
        return summary(interrupt.value, length)
    return summary(f"Review {tool_calls(request)}", length)
