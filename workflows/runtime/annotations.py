"""What a program's annotations declare: the classes its checkpoints may hold, and the JSON
Schemas of an entrypoint's input, output and context.

* :func:`allow_declared` puts the pydantic models, dataclasses and enums named in an annotation
  (inside ``list[...]``, ``X | None``, ``dict[str, X]``, ``Annotated``, TypedDict fields, model
  and dataclass fields...) on the serializer's allowlist, so a task's result or an entrypoint's
  input loads back as its type after a resume. The walk is LangGraph's
  (``langgraph._internal._serde.collect_allowlist_from_schemas``, used for its strict msgpack
  allowlist); other classes stay behind the allowlist.
* :func:`root_jsonschema` and :func:`context_jsonschema` are LangGraph's
  ``get_input_jsonschema`` / ``get_output_jsonschema`` / ``get_context_jsonschema`` of an
  entrypoint, with pydantic (imported when called).
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import functools
import inspect
import logging
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

from .serde import register_type

try:  # typing's is_typeddict misses typing_extensions' TypedDict (pydantic's choice) on 3.11
    from typing_extensions import is_typeddict
except ImportError:  # pragma: no cover - typing_extensions comes with pydantic
    is_typeddict = typing.is_typeddict

logger = logging.getLogger("workflows.runtime")

JSONSCHEMA_NAME = "LangGraph"  # LangGraph's Pregel.get_name() of an entrypoint: "LangGraphInput"


def unwrap(func: Callable) -> Callable:
    """The function under ``functools.partial`` layers (whose annotations count)."""
    while isinstance(func, functools.partial):
        func = func.func
    return func


def task_name(func: Callable) -> str:
    """A task's default name, as LangGraph's: the function's ``__name__``, for a
    ``functools.partial`` its function's, else the callable's class name."""
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return task_name(func.func)
    return type(func).__name__


def type_hints(func: Callable) -> dict[str, Any]:
    """``func``'s resolved annotations (``{}`` when a forward reference does not resolve: such an
    annotation names no class the program could have imported)."""
    try:
        return typing.get_type_hints(unwrap(func), include_extras=True)
    except Exception:  # noqa: BLE001 - NameError, TypeError from odd annotations
        logger.debug("unresolvable annotations on %r", func, exc_info=True)
        return {}


def entrypoint_types(func: Callable) -> tuple[Any, Any, Any]:
    """``(input, output, save)`` types of an entrypoint function, as LangGraph reads them: the
    first parameter's annotation, the return annotation (``entrypoint.final[R, S]`` gives
    ``R`` and ``S``); ``Any`` where not annotated. Raises ``TypeError`` for an
    ``entrypoint.final[...]`` without two arguments (LangGraph's error)."""
    from .types import final

    hints = type_hints(func)
    params = list(inspect.signature(func).parameters)
    input_type = hints.get(params[0], Any) if params else Any
    output = hints.get("return", Any)
    if output is final:
        return input_type, Any, Any
    if typing.get_origin(output) is final:
        args = typing.get_args(output)
        if len(args) != 2:
            raise TypeError(
                "Please an annotation for both the return_ and the save values."
                "For example, `-> entrypoint.final[int, str]` would assign a return_ a type of "
                "`int` and save the type `str`."
            )
        return input_type, args[0], args[1]
    return input_type, output, output


def allow_declared(*annotations: Any) -> None:
    """Register every pydantic model, dataclass and enum that ``annotations`` name (see the
    module docstring) with ``register_type``."""
    seen: set[int] = set()
    for annotation in annotations:
        _collect(annotation, seen)


def _collect(typ: Any, seen: set[int]) -> None:
    if id(typ) in seen or typ is Any or typ is None:
        return
    seen.add(id(typ))
    origin = typing.get_origin(typ)
    if isinstance(typ, types.UnionType) or origin is typing.Union:
        for arg in typing.get_args(typ):
            _collect(arg, seen)
        return
    if origin is typing.Annotated or origin in (typing.Required, typing.NotRequired):
        args = typing.get_args(typ)
        if args:
            _collect(args[0], seen)
        return
    if origin in (list, set, tuple, dict, frozenset, collections.deque) or (
        origin is not None and origin is not typing.Literal and isinstance(origin, type)
        and issubclass(origin, (list, set, tuple, dict, frozenset, collections.deque))
    ):
        for arg in typing.get_args(typ):
            if arg is not Ellipsis:
                _collect(arg, seen)
        return
    if hasattr(typ, "__supertype__"):  # typing.NewType
        _collect(typ.__supertype__, seen)
        return
    if not isinstance(typ, type):
        return
    if is_typeddict(typ):
        for field_type in _class_hints(typ).values():
            _collect(field_type, seen)
        return
    if issubclass(typ, enum.Enum):
        register_type(typ)
        return
    if dataclasses.is_dataclass(typ) or _is_pydantic_class(typ):
        register_type(typ)
        for field_type in _class_hints(typ).values():
            _collect(field_type, seen)


def _is_pydantic_class(typ: type) -> bool:
    return hasattr(typ, "model_fields") and hasattr(typ, "model_validate")


def _class_hints(typ: type) -> dict[str, Any]:
    try:
        module = sys.modules.get(getattr(typ, "__module__", ""))
        return typing.get_type_hints(
            typ, globalns=module.__dict__ if module else None, localns=dict(vars(typ)),
            include_extras=True,
        )
    except Exception:  # noqa: BLE001
        return {}


# -- JSON Schemas -----------------------------------------------------------------------------
def root_jsonschema(annotation: Any, suffix: str) -> dict[str, Any]:
    """JSON Schema of an entrypoint's input (``suffix="Input"``) or output (``"Output"``) type,
    as LangGraph's ``get_input_jsonschema`` / ``get_output_jsonschema`` (langchain-core's
    ``Runnable.get_input_schema``): a pydantic model's own schema, else the schema of a root
    model titled ``"LangGraphInput"`` / ``"LangGraphOutput"`` (``{"title": ...}`` for ``Any``)."""
    import pydantic

    if isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias) and (
        issubclass(annotation, pydantic.BaseModel)
    ):
        return annotation.model_json_schema()
    model = pydantic.create_model(  # noqa - pydantic's root model factory
        JSONSCHEMA_NAME + suffix, __base__=pydantic.RootModel[annotation]
    )
    return model.model_json_schema()


def context_jsonschema(context_schema: Any) -> dict[str, Any] | None:
    """JSON Schema of an entrypoint's ``context_schema`` (``None`` without one), as LangGraph's
    ``get_context_jsonschema``. Raises ``ValueError`` unless it is a pydantic model, a
    TypedDict or a dataclass."""
    if context_schema is None:
        return None
    import pydantic

    if inspect.isclass(context_schema) and issubclass(context_schema, pydantic.BaseModel):
        return context_schema.model_json_schema()
    if is_typeddict(context_schema) or dataclasses.is_dataclass(context_schema):
        return pydantic.TypeAdapter(context_schema).json_schema()
    raise ValueError(
        f"Invalid context schema type: {context_schema}. Must be a BaseModel, TypedDict or "
        "dataclass."
    )


__all__ = [
    "allow_declared",
    "task_name",
    "context_jsonschema",
    "entrypoint_types",
    "root_jsonschema",
    "type_hints",
    "unwrap",
]
