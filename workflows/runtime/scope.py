"""The per-call scope: what a running entrypoint body or task sees of its run.

Each body and task call runs with its :class:`Scope` in the ``current_scope`` ``ContextVar``;
the accessors of :mod:`.context` (``interrupt``, ``get_config``, ``get_runtime``, ...) read it.
A scope knows its loop (the :class:`~.loop.PregelLoop` executing the run), its task id, name,
namespace and call path, and the interrupt answers recorded for it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from . import ids
from .types import GraphInterrupt, Interrupt

if TYPE_CHECKING:  # for annotations only: the loop imports this module, not the reverse
    from .loop import PregelLoop

__all__ = [
    "NO_RESUME", "OUTSIDE_RUN", "RunControl", "Runtime", "Scope", "current", "current_scope",
]

OUTSIDE_RUN = "Called get_config outside of a runnable context"

# keys of the caller's config that belong to the run itself, not to its bodies and tasks
# (langchain-core's patch_config drops them when it hands callbacks down)
RUN_ONLY_KEYS = ("callbacks", "run_name", "run_id")

# ``PregelLoop.global_resume`` when there is no resume value left for a new interrupt
NO_RESUME = object()

current_scope: ContextVar[Scope | None] = ContextVar("workflows_scope", default=None)


def current() -> Scope:
    """The running body's or task's scope; ``RuntimeError`` (LangGraph's message) outside a run."""
    s = current_scope.get()
    if s is None:
        raise RuntimeError(OUTSIDE_RUN)
    return s


class RunControl:
    """Cooperative draining of one run (LangGraph's ``langgraph.runtime.RunControl``): pass it
    as ``invoke(..., control=)`` / ``stream(..., control=)`` and call ``request_drain()`` from any
    thread (e.g. a shutdown signal handler).

    As in LangGraph's functional API, the drain is honoured at the run's step boundary: a run
    that has not started its entrypoint body yet stores its input (or resume) and raises
    ``GraphDrained(reason)`` instead of executing, so ``invoke(None, config)`` continues it
    later; a body already executing finishes (its in-flight tasks too). Create one per run: a
    drained control stays drained.
    """

    __slots__ = ("_drain_reason",)

    def __init__(self) -> None:
        self._drain_reason: str | None = None

    def request_drain(self, reason: str = "shutdown") -> None:
        """Ask the run to stop at its next step boundary, with ``reason`` for ``GraphDrained``."""
        self._drain_reason = reason

    @property
    def drain_requested(self) -> bool:
        return self._drain_reason is not None

    @property
    def drain_reason(self) -> str | None:
        return self._drain_reason


class Runtime:
    """The ``runtime`` injectable and ``get_runtime()``'s value (LangGraph's ``Runtime``):
    ``context`` (the run's ``context=``, coerced into ``context_schema``), ``store`` (the
    entrypoint's ``store=``), ``stream_writer`` (the ``custom`` writer of the body or task),
    ``previous`` (the entrypoint's ``previous``), ``control`` (the run's :class:`RunControl`)
    and ``heartbeat()`` (progress for an ``idle_timeout``). One object per body or task call, as
    in LangGraph (``get_runtime() is runtime`` there)."""

    def __init__(
        self, loop: PregelLoop, previous: Any, writer: Any, scope: Scope | None = None
    ) -> None:
        self.context = loop.context
        self.store = loop.graph.store
        self.stream_writer = writer
        self.previous = previous
        self.control = loop.control
        self._scope = scope

    def heartbeat(self) -> None:
        """Record progress of the current attempt for its ``idle_timeout`` (the only progress
        counted under ``TimeoutPolicy(refresh_on="heartbeat")``); a no-op outside an attempt
        with an idle timeout, as in LangGraph."""
        attempt = self._scope.attempt if self._scope is not None else None
        if attempt is not None and attempt.idle:
            attempt.touch()

    def __repr__(self) -> str:
        return (
            f"Runtime(context={self.context!r}, store={self.store!r}, "
            f"previous={self.previous!r})"
        )


class Scope:
    """What a running entrypoint body or task sees of its run (kept in a ``ContextVar``)."""

    __slots__ = (
        "loop", "task_id", "name", "ns", "path", "calls", "interrupts_seen", "resume", "call",
        "attempt", "_runtime", "_callbacks", "subgraph_calls", "cache_key",
    )

    def __init__(self, loop: PregelLoop, task_id: str, name: str, ns: str, path: tuple) -> None:
        self.loop = loop
        self.task_id = task_id
        self.name = name
        self.ns = ns
        self.path = path
        self.calls = itertools.count()
        self.interrupts_seen = 0
        self.resume: list = list(loop.task_writes(task_id).get("__resume__", ()))
        # what this task call was, stored as its ``__call__`` write (``None``: the entrypoint)
        self.call: dict | None = None
        # the running attempt's timeouts (a ``retry.TimedAttempt``), while one is timed
        self.attempt: Any = None
        self._runtime: Runtime | None = None
        self._callbacks: Any = None
        self.subgraph_calls = itertools.count()  # entrypoints it called (their namespaces)
        self.cache_key: Any = None  # where its result is cached (a task with a cache policy)

    @property
    def callbacks(self) -> Any:
        """LangChain's callback manager of this body's or task's run (``None`` without
        LangChain). Set by the LangChain integration for each attempt; when the attempt runs
        under ``TimeoutPolicy(idle_timeout=..., refresh_on="auto")``, the manager also gets
        LangGraph's idle-progress handler, so any callback event inside the attempt (a chat
        model's token, a tool's start or end) counts as progress, as in LangGraph."""
        return self._callbacks

    @callbacks.setter
    def callbacks(self, manager: Any) -> None:
        attempt = self.attempt
        if manager is not None and attempt is not None and attempt.auto:
            from .retry import progress_handler

            manager.add_handler(progress_handler(attempt), inherit=True)
        self._callbacks = manager

    @property
    def task_path(self) -> str:
        """Stored with each pending write: the call path (LangGraph's form) and the task's name,
        e.g. ``"~__pregel_push, ~__pregel_pull, essay, 0000000000, write_essay"``."""
        entry = self.loop.graph.node_name
        if not self.path:
            return f"~__pregel_pull, {entry}"
        calls = ", ".join(f"{p:010d}" for p in self.path)
        return f"~__pregel_push, ~__pregel_pull, {entry}, {calls}, {self.name}"

    @property
    def runtime(self) -> Runtime:
        """This body's or task's ``runtime`` (the injectable, and ``get_runtime()``)."""
        if self._runtime is None:
            self._runtime = Runtime(self.loop, self.loop.previous, self.writer, self)
        return self._runtime

    @property
    def config(self) -> dict:
        """The config this body or task sees (``get_config()``, the ``config`` parameter), as in
        LangGraph: the caller's config whose ``configurable`` also holds ``checkpoint_ns`` (this
        scope's namespace, e.g. ``"wf:<id>|task:<id>"``), ``checkpoint_id`` (``None``) and
        ``checkpoint_map`` (each enclosing namespace -> the run's input checkpoint id), and whose
        ``metadata`` holds ``thread_id`` and ``langgraph_step/node/triggers/path/checkpoint_ns``.
        With LangChain in use, ``callbacks`` is the callback manager of this body's or task's
        run (the caller's ``callbacks``, ``run_name`` and ``run_id`` are the root run's).
        """
        loop = self.loop
        base = loop.config
        checkpoint_id = loop.checkpoint["id"] if loop.checkpoint else None
        parts = self.ns.split("|")
        own_ns = base["configurable"].get("checkpoint_ns", "")
        # a child's run: the enclosing checkpoints first (its config's map), then its own
        checkpoint_map = {**(base["configurable"].get("checkpoint_map") or {}),
                          own_ns: checkpoint_id}
        checkpoint_map.update({
            prefix: checkpoint_id
            for prefix in ("|".join(parts[:i]) for i in range(1, len(parts)))
            if len(prefix) >= len(own_ns)
        })
        path: tuple = ("__pregel_pull", loop.graph.node_name)
        for index in self.path:
            path = ("__pregel_push", path, index, True)
        metadata = {**base.get("metadata", {})}
        if "thread_id" in base["configurable"]:
            metadata["thread_id"] = base["configurable"]["thread_id"]
        metadata.update(
            langgraph_step=loop.metadata.get("step", loop.step) + 1,
            langgraph_node=self.name,
            langgraph_triggers=("__pregel_push",) if self.path else ("__start__",),
            langgraph_path=path,
            langgraph_checkpoint_ns=self.ns,
        )
        config = {
            **{k: v for k, v in base.items() if k not in RUN_ONLY_KEYS},
            "configurable": {
                **base["configurable"],
                "checkpoint_map": checkpoint_map,
                "checkpoint_id": None,
                "checkpoint_ns": self.ns,
            },
            "metadata": metadata,
        }
        if self.callbacks is not None:
            config["callbacks"] = self.callbacks
        return config

    @property
    def writer(self) -> Callable[[Any], None]:
        """The ``custom`` stream writer of this body or task (a no-op when ``custom`` is not
        streamed). As in LangGraph, a chunk carries the namespace of the caller, e.g. ``()`` from
        the entrypoint body, ``('wf:<task_id>',)`` from a task it called; ``subgraphs=True`` and
        ``version="v2"`` show it."""
        loop = self.loop
        streamed = "custom" in loop.modes
        if self.attempt is None:  # no timeout: nothing to refresh or guard
            if not streamed:
                return no_writer
            ns = tuple(self.ns.split("|")[:-1])
            return lambda chunk: loop.emit("custom", chunk, ns)
        ns = tuple(self.ns.split("|")[:-1])

        def write(chunk: Any) -> None:
            # progress for ``refresh_on="auto"``; dropped once the attempt has timed out
            attempt = self.attempt
            if attempt is not None:
                if not attempt.active:
                    return
                attempt.progress()
            if streamed:
                loop.emit("custom", chunk, ns)

        return write

    def interrupt(self, value: Any, response_schema: Any) -> Any:
        """``interrupt(value)`` in this body or task: the recorded answer of the call at this
        position, else the run's resume value, else raise ``GraphInterrupt``."""
        schema_type, schema_dict = _schema(response_schema)
        index = self.interrupts_seen
        self.interrupts_seen += 1
        if index < len(self.resume):
            return _validated(self.resume[index], schema_type, schema_dict)
        loop = self.loop
        if loop.global_resume is not NO_RESUME:
            answer = _validated(loop.global_resume, schema_type, schema_dict)
            loop.global_resume = NO_RESUME
            self.resume.append(answer)
            loop.write(self.task_id, [("__resume__", list(self.resume))], self.task_path)
            return answer
        intr = Interrupt(value, ids.interrupt_id(self.ns, index), response_schema=schema_dict)
        loop.graph.checkpointer and loop.serde.dumps(intr)  # TypeError before pausing
        raise GraphInterrupt((intr,), task_id=self.task_id)


def no_writer(chunk: Any) -> None:
    """The stream writer when ``custom`` is not streamed."""


def _schema(response_schema: Any) -> tuple[Any, dict | None]:
    """``(type or None, JSON Schema dict or None)`` of an ``interrupt(response_schema=...)``."""
    if response_schema is None:
        return None, None
    if isinstance(response_schema, dict):
        return None, response_schema
    from pydantic import TypeAdapter

    from .serde import register_type

    if isinstance(response_schema, type):
        register_type(response_schema)
    return response_schema, TypeAdapter(response_schema).json_schema()


def _validated(answer: Any, schema_type: Any, schema_dict: dict | None) -> Any:
    if schema_type is not None:
        from pydantic import TypeAdapter

        return TypeAdapter(schema_type).validate_python(answer)
    if schema_dict is not None:
        import jsonschema

        jsonschema.validate(answer, schema_dict)
    return answer
