"""Run-scoped accessors: ``interrupt``, ``get_config``, ``get_stream_writer``, ``get_store``,
``get_runtime``.

Each running entrypoint body and task has a scope in a ``ContextVar``; outside a run every accessor
raises ``RuntimeError("Called get_config outside of a runnable context")``, LangGraph's error.
"""

from __future__ import annotations

from typing import Any

from .scope import OUTSIDE_RUN, Runtime, current

__all__ = [
    "OUTSIDE_RUN", "Runtime", "get_config", "get_runtime", "get_store", "get_stream_writer",
    "interrupt",
]


def get_config() -> dict:
    """The config of the running body or task: the caller's, plus ``checkpoint_ns``,
    ``checkpoint_id`` and ``checkpoint_map`` in ``configurable`` and ``langgraph_*`` keys in
    ``metadata`` (as LangGraph's ``get_config``)."""
    return current().config


def get_store() -> Any:
    """The entrypoint's ``store=`` (or ``None``)."""
    return current().loop.graph.store


def get_stream_writer():
    """A callable ``writer(chunk)`` that emits ``custom`` stream chunks (a no-op when the caller
    did not ask for ``custom``), as LangGraph's ``get_stream_writer``. Chunks written from a task
    carry the task's caller namespace (seen with ``subgraphs=True`` or ``version="v2"``)."""
    return current().writer


def get_runtime(context_schema: Any = None) -> Runtime:
    """The running body's or task's ``Runtime`` (the object its ``runtime`` parameter gets), as
    LangGraph's ``get_runtime``: ``get_runtime().context`` is the run's context.
    ``context_schema`` is accepted for type hints only. Raises ``RuntimeError`` outside a run."""
    return current().runtime


def interrupt(value: Any, *, response_schema: Any = None) -> Any:
    """Pause the run and surface ``value`` to the caller; return the resume value when resumed.

    As in LangGraph's ``interrupt``: the first call in a run raises ``GraphInterrupt`` (the run
    stops, ``{'__interrupt__': (Interrupt(value, id),)}`` is streamed); on resume with
    ``Command(resume=v)`` the body re-runs from the top and this call returns ``v``. Several calls
    in one body or task are matched to resume values by position.

    ``response_schema``: a pydantic model, dataclass or TypedDict (the resume value is validated
    and returned as an instance) or a JSON Schema dict (validated with ``jsonschema``, which
    LangGraph does not do). An invalid resume value raises and leaves the interrupt pending.

    Raises ``RuntimeError`` outside a run; ``TypeError`` when ``value`` is not serializable.
    """
    return current().interrupt(value, response_schema)
