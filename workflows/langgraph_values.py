"""Readable JSON for the values LangGraph graphs keep: LangChain messages, ``Send``,
``langgraph.types.Interrupt`` and ``Command``, pydantic models and dataclasses.

The dashboard shows a LangGraph graph's state, task writes and interrupts from ``JSONField``
columns and stored JSON text; :func:`to_display` is what goes there. It is one way (for people,
not for loading back): the exact value is kept by LangGraph's own serializer (see
``workflows.langgraph_saver``). Imports nothing from LangChain or LangGraph: objects are
recognised by their attributes, so this module loads without the ``agents`` extra.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

# LangChain message fields shown, in this order, when they hold something
_MESSAGE_FIELDS = ("name", "tool_call_id", "status")


def _is_message(obj: Any) -> bool:
    """A LangChain ``BaseMessage`` (``type`` and ``content``, a pydantic model)."""
    return (
        hasattr(obj, "content")
        and isinstance(getattr(obj, "type", None), str)
        and hasattr(type(obj), "model_fields")
    )


def _argument(value: Any) -> str:
    value = to_display(value)
    return repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def tool_calls_display(calls: list[dict]) -> str:
    """Tool calls as text, one line each: ``send_email(to='a@x.com', subject='Hi')``."""
    lines = []
    for call in calls:
        args = call.get("args") or {}
        shown = (", ".join(f"{k}={_argument(v)}" for k, v in args.items())
                 if isinstance(args, dict) else _argument(args))
        lines.append(f"{call.get('name')}({shown})")
    return "\n".join(lines)


def message_display(message: Any) -> dict[str, Any]:
    """A LangChain message as ``{"type": "ai" | "human" | "tool" | "system" | ...,
    "content": str | list, "tool_calls"?: "name(arg='value', ...)" (a line each),
    "name"? (a tool's), "tool_call_id"?, "status"? (unless "success")}``; empty fields are left
    out."""
    shown: dict[str, Any] = {"type": message.type, "content": to_display(message.content)}
    calls = getattr(message, "tool_calls", None)
    if calls:
        shown["tool_calls"] = tool_calls_display(calls)
    for name in _MESSAGE_FIELDS:
        value = getattr(message, name, None)
        if name == "name" and message.type == "ai":
            continue  # the agent's own name, on each of its messages
        if value and not (name == "status" and value == "success"):
            shown[name] = to_display(value)
    return shown


def to_display(value: Any) -> Any:
    """``value`` as plain JSON data (dicts with string keys, lists, strings, finite numbers,
    booleans, ``None``). Unknown objects show as their ``repr``; never raises."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): to_display(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_display(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal | dt.timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, enum.Enum):
        return to_display(value.value)
    if _is_message(value):
        return message_display(value)
    kind = type(value).__name__
    if kind == "Interrupt" and hasattr(value, "id") and hasattr(value, "value"):
        return {"id": value.id, "value": to_display(value.value)}
    if kind == "Send" and hasattr(value, "node") and hasattr(value, "arg"):
        return {"node": value.node, "arg": to_display(value.arg)}
    if kind == "Command" and hasattr(value, "resume"):
        fields = ("graph", "update", "resume", "goto")
        return {f: to_display(getattr(value, f)) for f in fields if getattr(value, f, None)}
    if hasattr(type(value), "model_fields") and hasattr(value, "model_dump"):
        return to_display(value.model_dump(mode="python"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_display(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return repr(value)
