"""Run-scoped accessors: ``interrupt``, ``get_config``, ``get_stream_writer``, ``get_store``.

Each running entrypoint body and task has a scope in a ``ContextVar``; outside a run every accessor
raises ``RuntimeError("Called get_config outside of a runnable context")``, LangGraph's error.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pregel import Scope

current_scope: ContextVar[Scope | None] = ContextVar("workflows_scope", default=None)

OUTSIDE_RUN = "Called get_config outside of a runnable context"


def scope() -> Scope:
    s = current_scope.get()
    if s is None:
        raise RuntimeError(OUTSIDE_RUN)
    return s


def get_config() -> dict:
    """The config of the running body or task: the caller's, plus ``checkpoint_ns``,
    ``checkpoint_id`` and ``checkpoint_map`` in ``configurable`` and ``langgraph_*`` keys in
    ``metadata`` (as LangGraph's ``get_config``)."""
    return scope().config


def get_store() -> Any:
    """The entrypoint's ``store=`` (or ``None``)."""
    return scope().run.graph.store


def get_stream_writer():
    """A callable ``writer(chunk)`` that emits ``custom`` stream chunks (a no-op when the caller
    did not ask for ``custom``), as LangGraph's ``get_stream_writer``. Chunks written from a task
    carry the task's caller namespace (seen with ``subgraphs=True`` or ``version="v2"``)."""
    return scope().writer


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
    return scope().interrupt(value, response_schema)
