"""Values too large to push or to show whole: bounded previews with a link to the full value.

**(fact)** channels-redis refuses a message over 1 MiB (``PayloadExceededError``), and a
consumer that fails to send closes its socket (1011): one huge interrupt value, chunk or result,
pushed whole, breaks the live page of everyone watching. So every value that is pushed goes
through :func:`shrink` first, in two places: the executor's channel-layer sends
(:func:`bounded_message`) and the consumers' rendering (the thread page's chunks and state, the
inbox's cards); the full value stays in the database, on the page ``value_url`` names.

:func:`shrink` keeps a value's shape as far as its budget allows: a dict keeps its keys and its
small values, and its large values share what is left (recursively, a few levels deep); a text
or a value that cannot be split becomes a *truncated marker*, a dict
``{"__fs__": "truncated", "v": <preview text>, "bytes": <size of the whole>, "url": <link>}``
which ``{% show_value %}`` renders as the preview, its size and the link.

Sizes are UTF-8 bytes of the value as JSON. Settings: ``FLOWSITE_MAX_PUSH_BYTES`` (default 64 KiB:
one value pushed or shown on a live page), ``FLOWSITE_PREVIEW_BYTES`` (default 2 KiB: a value on
an inbox card), ``FLOWSITE_MAX_FRAME_BYTES`` (default 512 KiB: one WebSocket message, HTML
included; a page's state over it is sent again with previews).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.urls import reverse

__all__ = [
    "bounded_message",
    "fits_frame",
    "is_truncated",
    "json_size",
    "max_frame_bytes",
    "max_push_bytes",
    "preview_bytes",
    "shrink",
    "split_text",
    "text_tail",
    "value_url",
]

TAG = "__fs__"
TRUNCATED = "truncated"
DEFAULT_MAX_PUSH_BYTES = 64 * 1024
DEFAULT_PREVIEW_BYTES = 2 * 1024
DEFAULT_MAX_FRAME_BYTES = 512 * 1024
MAX_LEVELS = 5  # containers descended into before a value is cut as a whole
MARKER_OVERHEAD = 120  # bytes of a marker besides its preview and its url
MIN_SHARE = 256  # a container whose children would get less than this each is cut as a whole
TOO_LARGE = 1 << 62  # the size of a value that cannot even be measured (nested too deep)


def max_push_bytes() -> int:
    return getattr(settings, "FLOWSITE_MAX_PUSH_BYTES", DEFAULT_MAX_PUSH_BYTES)


def preview_bytes() -> int:
    return getattr(settings, "FLOWSITE_PREVIEW_BYTES", DEFAULT_PREVIEW_BYTES)


def max_frame_bytes() -> int:
    return getattr(settings, "FLOWSITE_MAX_FRAME_BYTES", DEFAULT_MAX_FRAME_BYTES)


def value_url(thread_pk: Any, key: str) -> str:
    """The page of one stored value of a thread: ``key`` is ``"input"``, ``"result"`` or a
    timeline event's id (``"interrupt-<interrupt id>"``, ``"write-<pk>"``...)."""
    return reverse("workflows:value", args=[thread_pk, key])


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def json_size(value: Any) -> int:
    """UTF-8 bytes of ``value`` as JSON (non-JSON leaves as ``str``); a value that cannot be
    encoded (nested beyond Python's recursion, keys that are not strings or numbers) counts as
    ``TOO_LARGE``."""
    try:
        return len(_dumps(value).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, RecursionError):
        return TOO_LARGE


def is_truncated(value: Any) -> bool:
    return isinstance(value, dict) and value.get(TAG) == TRUNCATED


def _prefix(text: str, limit: int) -> str:
    """The longest prefix of ``text`` of at most ``limit`` UTF-8 bytes."""
    if len(text) * 4 <= limit:
        return text
    return text.encode("utf-8", "surrogatepass")[: max(0, limit)].decode("utf-8", "ignore")


def _marker(value: Any, size: int, limit: int, url: str | None) -> dict[str, Any]:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = _dumps(value)
        except (TypeError, ValueError, RecursionError):
            text = "(nested too deeply to show)"
    room = max(0, limit - MARKER_OVERHEAD - len(url or ""))
    known = size if size < TOO_LARGE else None
    marker = {TAG: TRUNCATED, "v": "", "bytes": known, "url": url or ""}
    while True:  # quotes and control characters take more room escaped: cut again until it fits
        marker["v"] = _prefix(text, room)
        over = json_size(marker) - limit
        if over <= 0 or not marker["v"]:
            return marker
        room -= over


def _with_url(value: Any, url: str) -> Any:
    """``value`` with ``url`` on the truncated markers inside it that have none."""
    if is_truncated(value):
        return value if value.get("url") else {**value, "url": url}
    if isinstance(value, dict):
        return {k: _with_url(v, url) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_with_url(v, url) for v in value]
    return value


def shrink(value: Any, limit: int | None = None, *, url: str | None = None) -> Any:
    """``value`` if its JSON is at most ``limit`` bytes (default ``FLOWSITE_MAX_PUSH_BYTES``),
    else a copy of about that size where what does not fit is replaced by truncated markers
    linking to ``url`` (the page of the full value; ``None``: no link, e.g. a ``custom`` chunk,
    which is not stored). Markers already inside a small enough ``value`` get ``url`` if they
    have none. Never raises; the result is JSON-able primitives if ``value`` was."""
    limit = max_push_bytes() if limit is None else limit
    result = _shrink(value, limit, url, 0)
    return _with_url(result, url) if url and result is value and _has_marker(value) else result


def _has_marker(value: Any) -> bool:
    return "__fs__" in _dumps(value) if json_size(value) < TOO_LARGE else False


def _shrink(value: Any, limit: int, url: str | None, level: int) -> Any:
    size = json_size(value)
    if size <= limit:
        return value
    if isinstance(value, dict) and not is_truncated(value):
        items = list(value.items())
    elif isinstance(value, list | tuple):
        items = list(enumerate(value))
    else:
        return _marker(value, size, limit, url)
    overhead = sum(json_size(str(k)) + 2 for k, _ in items) + 2
    room = limit - overhead - MARKER_OVERHEAD
    if level >= MAX_LEVELS or not items or room < MIN_SHARE * len(items):
        return _marker(value, size, limit, url)
    # water-filling: small children are kept whole, the large ones share what is left
    sizes = {k: json_size(v) for k, v in items}
    kept: dict[Any, Any] = {}
    left = len(items)
    for key, child in sorted(items, key=lambda kv: sizes[kv[0]]):
        share = room // left
        kept[key] = child if sizes[key] <= share else _shrink(child, share, url, level + 1)
        room -= min(sizes[key], share)
        left -= 1
    if isinstance(value, dict):
        result: Any = {k: kept[k] for k, _ in items}
    else:
        result = [kept[i] for i, _ in items]
    return result if json_size(result) <= limit else _marker(value, size, limit, url)


def bounded_message(message: dict[str, Any], limit: int | None = None) -> dict[str, Any]:
    """A channel-layer message whose every field but ``type`` is at most ``limit`` bytes
    (default ``FLOWSITE_MAX_PUSH_BYTES``), shrunk with :func:`shrink` (no link: the message
    does not know where its value is stored; consumers add it). The message itself when it fits."""
    limit = max_push_bytes() if limit is None else limit
    if json_size(message) <= limit:
        return message
    return {k: v if k == "type" else shrink(v, limit) for k, v in message.items()}


def split_text(text: str, limit: int | None = None) -> list[str]:
    """``text`` in consecutive pieces of at most ``limit`` bytes as JSON (``limit // 6``
    characters: ``"\\u0001"`` is six), for live text sent as several messages."""
    limit = max_push_bytes() if limit is None else limit
    step = max(1, limit // 6)
    return [text[i: i + step] for i in range(0, len(text), step)] or [""]


def text_tail(text: str, limit: int | None = None) -> tuple[int, str]:
    """``(skipped, tail)``: the end of ``text`` that fits in ``limit`` bytes as JSON (``limit //
    6`` characters) and how many characters come before it, for a live text block shown whole."""
    limit = max_push_bytes() if limit is None else limit
    keep = max(1, limit // 6)
    if len(text) <= keep:
        return 0, text
    return len(text) - keep, text[-keep:]


def fits_frame(text: str) -> bool:
    """Whether ``text`` (a WebSocket message) is at most ``FLOWSITE_MAX_FRAME_BYTES`` in UTF-8."""
    limit = max_frame_bytes()
    return len(text) * 4 <= limit or len(text.encode("utf-8", "surrogatepass")) <= limit
