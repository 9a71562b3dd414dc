from django import template

from workflows.models import Interrupt

register = template.Library()


@register.simple_tag(takes_context=True)
def pending_review_count(context: template.Context) -> int:
    """How many interrupts the page's user may see wait for a reviewer (the nav's badge)."""
    from reviews.selectors import visible_pending

    request = context.get("request")
    return visible_pending(getattr(request, "user", None)).count()


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


@register.simple_tag
def agent_request_of(interrupt: Interrupt) -> object:
    """The agent request in ``interrupt`` (``reviews.agent_requests.classify``), or None."""
    from reviews.agent_requests import classify

    return classify(interrupt.value, interrupt.response_schema)


@register.filter
def question_summary(interrupt: Interrupt, length: int = 140) -> str:
    """One line saying what ``interrupt`` asks: the tool calls of an agent request, else a
    summary of its value."""
    from workflows.templatetags.workflow_display import summary

    request = agent_request_of(interrupt)
    if request is None:
        return summary(interrupt.value, length)
    names = ", ".join(action.name for action in request.actions)
    calls = "tool call" if len(request.actions) == 1 else f"{len(request.actions)} tool calls"
    return summary(f"Review {calls}: {names}", length)


@register.filter
def entries(mapping: dict) -> list:
    """``mapping``'s ``(key, value)`` pairs: ``mapping.items`` in a template would look up a
    key named "items" first (an argument may well be called that)."""
    return list(mapping.items()) if isinstance(mapping, dict) else []
