"""Bounds every value a person sends is checked against before anything is written: workflow
inputs (start forms) and resume values (answers).

A value must be storable on both databases and in the serde: no lone surrogate (``"\\ud800"``:
not encodable as UTF-8), no NUL character (PostgreSQL's ``text`` and ``jsonb`` refuse it), nested
at most ``max_depth`` deep (deeper values overflow Python's recursion while being encoded,
validated or displayed), at most ``max_bytes`` as UTF-8 JSON. The checks walk the value with a
stack, never recursion, so a value nested 10,000 deep is refused, not a ``RecursionError``.

Limits come from settings: ``FLOWSITE_MAX_JSON_DEPTH`` (default 64), ``FLOWSITE_MAX_INPUT_BYTES``
and ``FLOWSITE_MAX_ANSWER_BYTES`` (default 256 KiB each); a start form's fields are each checked
against the input limit (:func:`fields_within`, the error on the field), then the input they make.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

__all__ = [
    "JSONValueField",
    "check_json_value",
    "fields_within",
    "loads",
    "max_answer_bytes",
    "max_depth",
    "max_input_bytes",
]

DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_BYTES = 256 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")


def max_depth() -> int:
    return getattr(settings, "FLOWSITE_MAX_JSON_DEPTH", DEFAULT_MAX_DEPTH)


def max_input_bytes() -> int:
    return getattr(settings, "FLOWSITE_MAX_INPUT_BYTES", DEFAULT_MAX_BYTES)


def max_answer_bytes() -> int:
    return getattr(settings, "FLOWSITE_MAX_ANSWER_BYTES", DEFAULT_MAX_BYTES)


def _where(path: list[str]) -> str:
    return f" (at {''.join(path)})" if path else ""


def _check_text(text: str, path: list[str]) -> None:
    if "\x00" in text:
        raise ValidationError(
            "Text may not contain NUL characters (\\u0000)%(where)s.",
            code="null_characters",
            params={"where": _where(path)},
        )
    if _SURROGATE.search(text):
        raise ValidationError(
            "Text may not contain a lone surrogate such as \\ud800 (not a Unicode character)"
            "%(where)s.",
            code="surrogates",
            params={"where": _where(path)},
        )


def check_json_value(
    value: Any, *, max_depth: int | None = None, max_bytes: int | None = None
) -> None:
    """Raise ``django.core.exceptions.ValidationError`` (codes ``too_deep``, ``null_characters``,
    ``surrogates``, ``too_large``) unless ``value`` is safe to store.

    ``value``: a JSON-like value (dicts, lists, tuples, strings, numbers...; other leaves are
    not inspected). ``max_depth``: containers nested at most this deep (``[[1]]`` is 2; default
    ``FLOWSITE_MAX_JSON_DEPTH``). ``max_bytes``: its JSON text, UTF-8 encoded, at most this
    many bytes (``None``: no size limit). Strings and dict keys are checked for NUL characters
    and lone surrogates; the error names where (``["items"][3]``).
    """
    limit = max_depth if max_depth is not None else globals()["max_depth"]()
    stack: list[tuple[Any, int, list[str]]] = [(value, 0, [])]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
            continue
        if isinstance(item, dict):
            children = [(k, v) for k, v in item.items()]
        elif isinstance(item, list | tuple):
            children = list(enumerate(item))
        else:
            continue
        if depth + 1 > limit:
            raise ValidationError(
                "This value is nested too deeply: at most %(limit)s levels of lists and objects.",
                code="too_deep",
                params={"limit": limit},
            )
        for key, child in children:
            if isinstance(item, dict):
                if isinstance(key, str):
                    _check_text(key, path)
                step = f"[{json.dumps(key) if isinstance(key, str) else key}]"
            else:
                step = f"[{key}]"
            stack.append((child, depth + 1, [*path, step]))
    if max_bytes is not None:
        size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
        if size > max_bytes:
            raise ValidationError(
                "This value is too large: %(size)s bytes, at most %(limit)s bytes (%(human)s).",
                code="too_large",
                params={"size": f"{size:,}", "limit": f"{max_bytes:,}",
                        "human": filesizeformat(max_bytes)},
            )


def fields_within(form: forms.Form, max_bytes: int) -> bool:
    """Check each cleaned field of a valid ``form`` with :func:`check_json_value` (``max_bytes``:
    its JSON at most that many bytes, e.g. ``FLOWSITE_MAX_INPUT_BYTES`` for a start form); an
    error goes on the field it is about (``form.add_error``). Returns whether none was found."""
    for name, value in list(form.cleaned_data.items()):
        try:
            check_json_value(value, max_bytes=max_bytes)
        except ValidationError as exc:
            form.add_error(name, exc)
    return not form.errors


def loads(text: str, *, max_bytes: int | None = None) -> Any:
    """``json.loads(text)`` for text a person typed, checked with :func:`check_json_value`.

    Raises ``ValidationError``: ``invalid_json`` (with the line and column), ``too_large`` (the
    text over ``max_bytes``), ``too_deep`` (also when Python's own parser would overflow its
    recursion), ``null_characters``, ``surrogates``.
    """
    if max_bytes is not None and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ValidationError(
            "This value is too large: at most %(limit)s bytes (%(human)s).",
            code="too_large",
            params={"limit": f"{max_bytes:,}", "human": filesizeformat(max_bytes)},
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            "This is not valid JSON: %(msg)s (line %(line)s, column %(col)s). "
            'Text must be quoted, e.g. "yes".',
            code="invalid_json",
            params={"msg": exc.msg, "line": exc.lineno, "col": exc.colno},
        ) from None
    except RecursionError:
        raise ValidationError(
            "This value is nested too deeply: at most %(limit)s levels of lists and objects.",
            code="too_deep",
            params={"limit": max_depth()},
        ) from None
    check_json_value(value)
    return value


class JSONValueField(forms.JSONField):
    """Django's ``forms.JSONField`` parsing with :func:`loads`: a value too deep, too large
    (``max_bytes``, default ``FLOWSITE_MAX_ANSWER_BYTES``), with NUL characters or lone
    surrogates is a field error, never an exception."""

    def __init__(self, *, max_bytes: int | None = None, **kwargs: Any) -> None:
        self.max_bytes = max_bytes
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        converted = loads(value, max_bytes=self.max_bytes or max_answer_bytes())
        return forms.fields.JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:  # a value refused is shown again as it was typed
            return loads(data, max_bytes=self.max_bytes or max_answer_bytes())
        except ValidationError:
            return forms.fields.InvalidJSONInput(data)
