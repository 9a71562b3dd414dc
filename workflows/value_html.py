"""A workflow value (an input, an interrupt's payload, a result) as the HTML people read:
what ``{% show_value %}`` (``workflows.templatetags.workflow_display``) writes.

A dict becomes a definition list (``<dl class="value value-dict">``, keys as labels: "Draft
essay"), a list an ordered list, text with a newline or over 120 characters paragraphs
(``linebreaks``), a short string a ``<span>``, booleans Yes/No, ``None`` a dash, empty
containers "(empty)", ``workflows.truncation``'s marker its preview with the size and a link
to the whole, a tagged serde value (``{"__fs__": "datetime", "v": ...}``) its ``v``; anything
else, and containers deeper than ``MAX_DEPTH``, indented JSON in a ``<pre>``. No whitespace
between tags (as ``{% spaceless %}``). Every piece of the value is escaped (``conditional_escape``
after Django's localisation, as ``{{ value }}`` in a template).

Built in Python rather than by a recursive inclusion tag: an inbox card's payload was three to
ten template renders, a third of the inbox's server time.
"""

from __future__ import annotations

import json
from typing import Any

from django.template.defaultfilters import filesizeformat, linebreaks_filter
from django.utils.formats import localize
from django.utils.html import conditional_escape, strip_spaces_between_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime

__all__ = ["MAX_DEPTH", "TAG", "key_label", "pretty_json", "value_html", "value_kind"]

MAX_DEPTH = 3
from workflows.runtime.serde import TAG


def value_kind(value: Any) -> str:
    """How ``value`` is shown: ``"none"``, ``"bool"``, ``"number"``, ``"text"`` (a string with
    a newline or over 120 characters), ``"str"``, ``"truncated"``, ``"tagged"``, ``"dict"``,
    ``"list"``, ``"empty"`` (an empty dict or list) or ``"other"``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text" if "\n" in value or len(value) > 120 else "str"
    if isinstance(value, dict):
        if value.get(TAG) == "truncated":  # workflows.truncation's marker
            return "truncated"
        if TAG in value and "v" in value:
            return "tagged"
        return "dict" if value else "empty"
    if isinstance(value, (list, tuple)):
        return "list" if value else "empty"
    return "other"


def key_label(key: Any) -> str:
    """``"draft_essay"`` -> ``"Draft essay"``."""
    text = str(key).replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def pretty_json(value: Any) -> str:
    """``value`` as JSON indented by 2 (non-JSON values through ``str``)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _text(value: Any) -> str:
    """``{{ value }}``: localised (dates in the current time zone, numbers in the locale's
    format), then escaped."""
    return conditional_escape(localize(template_localtime(value)))


def _parts(value: Any, depth: int, out: list[str]) -> None:
    kind = value_kind(value)
    if kind in ("dict", "list") and depth >= MAX_DEPTH:
        kind = "json"
    if kind == "dict":
        out.append('<dl class="value value-dict">')
        for key, item in value.items():
            out.append(f"<dt>{_text(key_label(key))}</dt><dd>")
            _parts(item, depth + 1, out)
            out.append("</dd>")
        out.append("</dl>")
    elif kind == "list":
        out.append('<ol class="value value-list">')
        for item in value:
            out.append("<li>")
            _parts(item, depth + 1, out)
            out.append("</li>")
        out.append("</ol>")
    elif kind == "text":
        out.append(f'<div class="value value-text">{linebreaks_filter(value, autoescape=True)}</div>')
    elif kind == "str":
        out.append(f'<span class="value value-str">{_text(value)}</span>')
    elif kind == "bool":
        word = "yes" if value else "no"
        out.append(f'<span class="value value-bool {word}">{word.capitalize()}</span>')
    elif kind == "number":
        out.append(f'<span class="value value-number">{_text(value)}</span>')
    elif kind == "none":
        out.append('<span class="value value-none muted">—</span>')
    elif kind == "empty":
        out.append('<span class="value value-none muted">(empty)</span>')
    elif kind == "truncated":
        size, url = value.get("bytes"), value.get("url")
        note = f" from {_text(filesizeformat(size))}" if size else ""
        link = f' <a href="{_text(url)}">The full value →</a>' if url else ""
        preview = _text(value.get("v") or "")
        out.append(
            f'<div class="value value-truncated"><p class="truncated-note">Shortened{note}.{link}'
            f'</p><div class="value-preview">{preview}…</div></div>'
        )
    elif kind == "tagged":
        out.append(f'<span class="value value-tagged" title="{_text(value[TAG])}">{_text(value["v"])}</span>')
    else:
        out.append(f'<pre class="value value-json">{_text(pretty_json(value))}</pre>')


def value_html(value: Any, depth: int = 0) -> SafeString:
    """``value`` as HTML (see the module's docstring), ``depth`` levels down already (past
    ``MAX_DEPTH`` a dict or list is JSON)."""
    out: list[str] = []
    _parts(value, depth, out)
    return mark_safe(strip_spaces_between_tags("".join(out)))  # noqa: S308 - every piece escaped
