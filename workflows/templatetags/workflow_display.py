"""Template helpers that show workflow values (inputs, interrupt payloads, results) readably.

``{% show_value value %}`` renders JSON data as people read it: a dict as a definition list, a
list as a list, long text as a block of paragraphs, booleans as Yes/No; deep or odd values fall
back to indented JSON in a ``<pre>`` (``workflows.value_html``, which escapes every piece).
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils.safestring import SafeString

from workflows.agent_requests import AgentRequest, arg_diff, classify, decisions_of
from workflows.value_html import key_label, pretty_json, value_html

register = template.Library()


@register.simple_tag
def show_value(value: Any, depth: int = 0) -> SafeString:
    """``value`` as HTML (``workflows.value_html.value_html``), ``depth`` levels down."""
    return value_html(value, depth)


register.filter("key_label", key_label)
register.filter("pretty_json", pretty_json)


@register.filter
def summary(value: Any, length: int = 140) -> str:
    """A one-line text summary of a value, for lists and titles: a string; a dict's first string
    value; else the longest string inside (e.g. a message's content in ``{"messages": [...]}``);
    else JSON."""
    if isinstance(value, str):
        text = value
    else:
        texts = [v for v in value.values() if isinstance(v, str)] if isinstance(value, dict) else []
        text = texts[0] if texts else max(_strings(value), key=len, default=None)
        if text is None:
            text = json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _strings(value: Any, depth: int = 0) -> list[str]:
    """The strings inside nested dicts and lists (a few levels deep)."""
    if isinstance(value, str):
        return [value]
    if depth > 4:
        return []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [text for item in items for text in _strings(item, depth + 1)]


EVENT_LABELS = {
    "input": "Input",
    "task": "Task",
    "interrupt": "Review",
    "resume": "Answer",
    "result": "Result",
    "error": "Error",
}


@register.filter
def event_label(kind: str) -> str:
    return EVENT_LABELS.get(kind, str(kind).capitalize())


@register.filter
def thread_label(thread: Any) -> str:
    """A thread's name for people: its title, else a summary of its input, else ``Thread #pk``."""
    if thread.title:
        return thread.title
    if thread.input not in (None, "", {}, []):
        return summary(thread.input, 60)
    return f"Thread #{thread.pk}"


# -- agent requests (workflows.agent_requests) -----------------------------------------------------
DECISION_LABELS = {
    "approve": "Approved",
    "edit": "Edited",
    "reject": "Rejected",
    "respond": "Responded",
    "ignore": "Ignored",
}


@register.simple_tag
def agent_request_of(interrupt: Any) -> AgentRequest | None:
    """The agent request in ``interrupt`` (an ``Interrupt`` row), as
    :func:`workflows.agent_requests.classify` recognises it, or ``None`` (also for no row)."""
    if interrupt is None or interrupt == "":
        return None
    return classify(interrupt.value, interrupt.response_schema)


def tool_calls(request: AgentRequest) -> str:
    """``"2 tool calls: send_email, delete_file"`` or ``"a tool call: send_email"``."""
    names = ", ".join(action.name for action in request.actions)
    count = len(request.actions)
    return f"{count} tool calls: {names}" if count > 1 else f"a tool call: {names}"


@register.filter
def agent_summary(request: AgentRequest) -> str:
    """The pending card's line: ``"The agent wants to run 2 tool calls: send_email, ..."``."""
    return f"The agent wants to run {tool_calls(request)}"


@register.simple_tag
def agent_answer_of(interrupt: Any) -> list[dict[str, Any]] | None:
    """The decisions an answered agent request's ``resume_value`` holds, one per proposed call:
    ``[{"action": Action, "kind": "approve" | ..., "label": "Approved", "message": str,
    "diff": {arg: {"old", "new"}} | None}]``; ``None`` when ``interrupt`` is no agent request
    or its answer is not of the request's shape (the page then shows the raw value)."""
    request = agent_request_of(interrupt)
    decisions = decisions_of(request, interrupt.resume_value) if request else None
    if decisions is None:
        return None
    return [
        {
            "action": action,
            "kind": decision.kind,
            "label": DECISION_LABELS[decision.kind],
            "message": decision.message,
            "diff": arg_diff(action.args, decision.args or {}) if decision.kind == "edit" else None,
        }
        for action, decision in zip(request.actions, decisions, strict=True)
    ]


@register.filter
def as_text(value: object) -> str:
    """A value as one line of text: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


@register.filter
def entries(mapping: dict) -> list:
    """``mapping``'s ``(key, value)`` pairs: ``mapping.items`` in a template would look up a
    key named "items" first (an argument may well be called that)."""
    return list(mapping.items()) if isinstance(mapping, dict) else []
