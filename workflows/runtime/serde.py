"""Typed JSON serializer for checkpoints, task results, inputs and interrupt values.

Round-trips JSON types plus ``datetime``/``date``/``time``/``timedelta``, ``UUID``, ``Decimal``,
``bytes``/``bytearray``, ``set``/``frozenset``/``deque``, ``pathlib`` paths, enums, dataclasses and
pydantic models; tuples come back as lists, as with LangGraph's msgpack serializer. Anything else
raises ``TypeError`` naming the type, before anything is written.

Loading never imports or instantiates arbitrary classes (no pickle): dataclasses, pydantic
models and enums are rebuilt only when their class is on the allowlist (``register_type`` or the
serializer's ``allowed_types``); an unknown class loads as a plain ``dict`` of its fields (an enum
member as its value) and logs a warning. This is the behaviour LangGraph is moving to with
``LANGGRAPH_STRICT_MSGPACK``.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import enum
import importlib
import json
import logging
import pathlib
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

logger = logging.getLogger("workflows.serde")

TAG = "__fs__"
_PATH_CLASSES = {"PurePath", "PurePosixPath", "PureWindowsPath", "Path", "PosixPath", "WindowsPath"}
_REGISTERED: dict[str, type] = {}


def type_path(cls: type) -> str:
    """``"module:QualName"``: how a class is named in stored values and allowlists."""
    return f"{cls.__module__}:{cls.__qualname__}"


def register_type(cls: type) -> type:
    """Allow instances of ``cls`` (a dataclass, pydantic model or enum) to be rebuilt on load.

    Usable as a class decorator. Types used as ``interrupt(response_schema=...)`` are registered
    automatically, and so are those a task's return annotation or the entrypoint's input, return
    and ``context_schema`` annotations name (see :mod:`.annotations`).
    """
    _REGISTERED[type_path(cls)] = cls
    return cls


def _is_pydantic(obj: Any) -> bool:
    return hasattr(type(obj), "model_fields") and hasattr(obj, "model_dump")


class JsonPlusSerializer:
    """Serializer with LangGraph's ``dumps_typed``/``loads_typed`` interface.

    ``dumps_typed(obj) -> ("json", bytes)``; ``loads_typed((type, bytes)) -> obj``.
    ``allowed_types`` adds classes (or ``"module:QualName"`` strings) to the global allowlist.
    """

    def __init__(self, allowed_types: Iterable[type | str] = ()) -> None:
        self._allowed: dict[str, type | None] = {}
        for item in allowed_types:
            if isinstance(item, str):
                self._allowed[item] = None
            else:
                self._allowed[type_path(item)] = item

    # -- encoding -------------------------------------------------------------------------
    def encode(self, obj: Any) -> Any:
        """Turn ``obj`` into plain JSON data with tagged objects. Raises ``TypeError``."""
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            if obj != obj or obj in (float("inf"), float("-inf")):
                return {TAG: "float", "v": repr(obj)}
            return obj
        if isinstance(obj, dict):
            if all(isinstance(k, str) for k in obj) and TAG not in obj:
                return {k: self.encode(v) for k, v in obj.items()}
            return {TAG: "dict", "v": [[self.encode(k), self.encode(v)] for k, v in obj.items()]}
        if isinstance(obj, (list, tuple)):
            return [self.encode(v) for v in obj]
        if isinstance(obj, dt.datetime):
            return {TAG: "datetime", "v": obj.isoformat()}
        if isinstance(obj, dt.date):
            return {TAG: "date", "v": obj.isoformat()}
        if isinstance(obj, dt.time):
            return {TAG: "time", "v": obj.isoformat()}
        if isinstance(obj, dt.timedelta):
            return {TAG: "timedelta", "v": [obj.days, obj.seconds, obj.microseconds]}
        if isinstance(obj, uuid.UUID):
            return {TAG: "uuid", "v": str(obj)}
        if isinstance(obj, Decimal):
            return {TAG: "decimal", "v": str(obj)}
        if isinstance(obj, (bytes, bytearray)):
            kind = "bytearray" if isinstance(obj, bytearray) else "bytes"
            return {TAG: kind, "v": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, (set, frozenset)):
            return {TAG: type(obj).__name__, "v": [self.encode(v) for v in obj]}
        if isinstance(obj, collections.deque):
            return {TAG: "deque", "v": [self.encode(v) for v in obj]}
        if isinstance(obj, enum.Enum):
            return {TAG: "enum", "t": type_path(type(obj)), "v": self.encode(obj.value)}
        if isinstance(obj, pathlib.PurePath) and type(obj).__name__ in _PATH_CLASSES:
            return {TAG: "path", "t": type(obj).__name__, "v": str(obj)}
        from .types import Interrupt  # local: types imports nothing from here

        if isinstance(obj, Interrupt):
            return {
                TAG: "interrupt",
                "v": self.encode(obj.value),
                "id": obj.id,
                "schema": obj.response_schema,
            }
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            fields = {f.name: self.encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
            return {TAG: "dataclass", "t": type_path(type(obj)), "v": fields}
        if _is_pydantic(obj):
            data = self.encode(obj.model_dump(mode="python"))
            return {TAG: "pydantic", "t": type_path(type(obj)), "v": data}
        raise TypeError(f"Type is not serializable: {type(obj).__module__}.{type(obj).__qualname__}")

    def dumps(self, obj: Any) -> bytes:
        """Serialize ``obj`` to UTF-8 JSON bytes. Raises ``TypeError`` naming an unsupported type."""
        return json.dumps(self.encode(obj), separators=(",", ":"), ensure_ascii=False).encode()

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return ("json", self.dumps(obj))

    # -- decoding -------------------------------------------------------------------------
    def _class(self, path: str) -> type | None:
        if path in _REGISTERED:
            return _REGISTERED[path]
        if path not in self._allowed:
            return None
        cls = self._allowed[path]
        if cls is None:
            module, _, qualname = path.partition(":")
            obj: Any = importlib.import_module(module)
            for part in qualname.split("."):
                obj = getattr(obj, part)
            cls = self._allowed[path] = obj
        return cls

    def _allowed_class(self, path: str, loaded_as: str) -> type | None:
        """The allowlisted class named ``path``, or ``None`` (logging that the value is loaded
        as ``loaded_as`` instead)."""
        cls = self._class(path)
        if cls is None:
            logger.warning(
                "Loading %s as %s: the type is not on the serializer's allowlist "
                "(workflows.register_type or WORKFLOWS_SERDE_ALLOWED_TYPES)",
                path,
                loaded_as,
            )
        return cls

    def decode(self, data: Any) -> Any:
        """Inverse of :meth:`encode`."""
        if isinstance(data, list):
            return [self.decode(v) for v in data]
        if not isinstance(data, dict):
            return data
        tag = data.get(TAG)
        if tag is None:
            return {k: self.decode(v) for k, v in data.items()}
        v = data.get("v")
        match tag:
            case "dict":
                return {self._hashable(self.decode(k)): self.decode(val) for k, val in v}
            case "float":
                return float(v)
            case "datetime":
                return dt.datetime.fromisoformat(v)
            case "date":
                return dt.date.fromisoformat(v)
            case "time":
                return dt.time.fromisoformat(v)
            case "timedelta":
                return dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2])
            case "uuid":
                return uuid.UUID(v)
            case "decimal":
                return Decimal(v)
            case "bytes":
                return base64.b64decode(v)
            case "bytearray":
                return bytearray(base64.b64decode(v))
            case "deque":
                return collections.deque(self.decode(x) for x in v)
            case "path":
                if data["t"] not in _PATH_CLASSES:
                    raise ValueError(f"Unknown path class {data['t']!r}")
                return getattr(pathlib, data["t"])(v)
            case "enum":
                value = self.decode(v)
                cls = self._allowed_class(data["t"], "its value")
                return value if cls is None else cls(value)
            case "set":
                return {self._hashable(self.decode(x)) for x in v}
            case "frozenset":
                return frozenset(self._hashable(self.decode(x)) for x in v)
            case "interrupt":
                from .types import Interrupt

                return Interrupt(self.decode(v), data["id"], response_schema=data.get("schema"))
            case "dataclass" | "pydantic":
                fields = self.decode(v)
                cls = self._allowed_class(data["t"], "a dict")
                if cls is None:
                    return fields
                if tag == "pydantic":
                    return cls.model_validate(fields)
                return cls(**fields)
        raise ValueError(f"Unknown serialized tag {tag!r}")

    @staticmethod
    def _hashable(value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    def loads(self, data: bytes | str) -> Any:
        return self.decode(json.loads(data))

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        kind, payload = data
        if kind == "null":
            return None
        if kind != "json":
            raise ValueError(f"Unknown serialized type {kind!r}")
        return self.loads(payload)

    def to_display(self, obj: Any) -> Any:
        """JSON-compatible form for dashboards and ``JSONField`` columns (tags kept readable)."""
        return self.encode(obj)
