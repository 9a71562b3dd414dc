"""LangChain callbacks in entrypoint runs, as LangGraph wires them (the ``agents`` extra).

Imported only when a program uses LangChain (see ``workflows.runtime.integrations``). What it
does, with no code in the tasks, as in LangGraph's Pregel:

* ``config["callbacks"]`` (and LangSmith's tracer when ``LANGSMITH_TRACING`` is set) see the run
  as a tree of chain runs: the root ``"LangGraph"`` run, the entrypoint's run (tagged
  ``graph:step:<n>``) and one run per task attempt under its caller, each with the
  ``langgraph_*`` metadata of ``get_config()``; chat models and tools called inside are children
  of the body or task that called them;
* each body and task runs with langchain-core's ``var_child_runnable_config`` set to its config
  (callbacks included), so a chat model, tool or runnable called inside picks it up without a
  ``config`` argument;
* ``stream_mode="messages"`` yields ``(message_chunk, metadata)`` per chat model token (and the
  messages a task returns that were not streamed), ``stream_mode="tools"`` the ``tool-started``
  / ``tool-finished`` / ``tool-error`` events of LangChain tools, from LangGraph's handlers
  (``langgraph/pregel/_messages.py`` and ``_tools.py``) rewritten in :mod:`.langchain_streams`;
* ``astream_events(version="v2")`` is langchain-core's implementation over ``astream``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from langchain_core.callbacks import AsyncCallbackManager, BaseCallbackHandler, CallbackManager
from langchain_core.runnables.config import (
    ensure_config,
    get_async_callback_manager_for_config,
    get_callback_manager_for_config,
    var_child_runnable_config,
)
from langchain_core.tracers._streaming import _StreamingCallbackHandler
from langchain_core.tracers.context import _tracing_v2_is_enabled

from .langchain_streams import StreamMessagesHandler, StreamToolsHandler, own_graph_only

T = TypeVar("T")

ROOT_RUN_NAME = "LangGraph"  # LangGraph's name of an entrypoint's root run (Pregel.get_name())
# configurable keys naming a thread's checkpoint: a config that has one does not inherit the
# enclosing run's configurable (langgraph's ensure_config)
COORDINATES = ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")
# configurable keys LangGraph copies into the root run's metadata (langgraph's ensure_config)
PROPAGATE_TO_METADATA = (
    "thread_id", "checkpoint_id", "checkpoint_ns", "task_id", "run_id", "assistant_id", "graph_id",
)


class RunTracing:
    """The LangChain side of one entrypoint run (the engine's hooks: ``start``/``end``/``error``
    around the run, ``call``/``acall`` around each attempt of the body and of each task).

    *Active* when a callback handler can observe the run (``config["callbacks"]``, a
    ``messages``/``tools`` stream mode, an enclosing LangChain run's callbacks, LangSmith
    tracing): chain runs are reported as in LangGraph. Otherwise *passive*: only
    ``var_child_runnable_config`` is set (its ``callbacks`` an empty callback manager), so the
    run costs no callback configuration.
    """

    def __init__(self, config: dict, modes: Sequence[str], stream: Any) -> None:
        self.handlers: list[BaseCallbackHandler] = []
        emit = own_graph_only(stream)
        if "messages" in modes:
            self.handlers.append(StreamMessagesHandler(emit))
        if "tools" in modes:
            self.handlers.append(StreamToolsHandler(emit))
        enclosing = var_child_runnable_config.get()
        self.active = bool(
            self.handlers or config.get("callbacks")
            or (enclosing and enclosing.get("callbacks")) or _tracing_v2_is_enabled()
        )
        self.root: Any = None
        self.held: _HeldRootEnds | None = None
        if not self.active:
            return
        self.config = _over_enclosing(config, enclosing or {})
        held = _held_root_ends.get()
        if held is not None and held.claim():
            self.held = held

    # -- the root run -----------------------------------------------------------------------
    def start(self, input: Any) -> None:
        """Report the root chain run (LangGraph: ``on_chain_start`` named ``"LangGraph"``, or
        ``config["run_name"]``, with ``config["run_id"]``; metadata ``ls_integration``)."""
        if not self.active:
            return
        manager = get_callback_manager_for_config(self.config)
        if "ls_integration" not in manager.metadata:
            manager.add_metadata({"ls_integration": "langgraph"})
        self.root = manager.on_chain_start(
            None, input, name=self.config.get("run_name") or ROOT_RUN_NAME,
            run_id=self.config.get("run_id"),
        )
        self.root.inheritable_handlers.extend(self.handlers)

    def end(self, output: Any) -> None:
        if self.root is not None:
            self._finish(lambda: self.root.on_chain_end(output))

    def error(self, exc: BaseException) -> None:
        if self.root is not None:
            self._finish(lambda: self.root.on_chain_error(exc))

    def _finish(self, report: Callable[[], None]) -> None:
        if self.held is not None:
            self.held.add(report)
        else:
            report()

    def _parent(self, caller: Any, config: dict) -> Any:
        """The callbacks a body or task run starts from: its calling scope's, or for the
        entrypoint's body (``caller=None``) the root run's ``graph:step:<n>`` child."""
        if caller is not None:
            return caller.callbacks
        return self.root.get_child(f"graph:step:{config['metadata']['langgraph_step']}")

    # -- bodies and tasks -------------------------------------------------------------------
    def call(self, scope: Any, caller: Any, inputs: Callable[[], Any], fn: Callable[[], T]) -> T:
        """Run ``fn()`` (one attempt of ``scope``'s body or task, called from the scope
        ``caller``; ``None`` for the body) as a chain run recording ``inputs()``, with
        ``var_child_runnable_config`` set to the scope's config."""
        config = scope.config
        if not self.active:  # LangGraph's config has callbacks, with no handler here
            scope.callbacks = config["callbacks"] = CallbackManager([])
            token = var_child_runnable_config.set(config)
            try:
                return fn()
            finally:
                var_child_runnable_config.reset(token)
        manager = get_callback_manager_for_config(_run_config(config, self._parent(caller, config)))
        run = manager.on_chain_start(None, inputs(), name=scope.name)
        scope.callbacks = config["callbacks"] = run.get_child("seq:step:1")
        token = var_child_runnable_config.set(config)
        try:
            result = fn()
        except BaseException as exc:
            run.on_chain_error(exc)
            raise
        finally:
            var_child_runnable_config.reset(token)
        for handler in _stream_handlers(run):
            for _ in handler.tap_output_iter(run.run_id, iter([result])):
                pass
        run.on_chain_end(result)
        return result

    async def acall(
        self, scope: Any, caller: Any, inputs: Callable[[], Any], fn: Callable[[], Awaitable[T]]
    ) -> T:
        """``call`` for an async body or task (LangChain's async callback manager)."""
        config = scope.config
        if not self.active:
            scope.callbacks = config["callbacks"] = AsyncCallbackManager([])
            token = var_child_runnable_config.set(config)
            try:
                return await fn()
            finally:
                var_child_runnable_config.reset(token)
        manager = get_async_callback_manager_for_config(
            _run_config(config, self._parent(caller, config))
        )
        run = await manager.on_chain_start(None, inputs(), name=scope.name)
        scope.callbacks = config["callbacks"] = run.get_child("seq:step:1")
        token = var_child_runnable_config.set(config)
        try:
            result = await fn()
        except BaseException as exc:
            await run.on_chain_error(exc)
            raise
        finally:
            var_child_runnable_config.reset(token)
        for handler in _stream_handlers(run):
            async for _ in handler.tap_output_aiter(run.run_id, _one(result)):
                pass
        await run.on_chain_end(result)
        return result


def _over_enclosing(config: dict, enclosing: dict) -> dict:
    """The root run's config as LangGraph's ``ensure_config`` makes it: the caller's ``config``
    over the enclosing LangChain run's (``var_child_runnable_config``, e.g. the task that
    invoked this entrypoint): metadata merged, ``configurable`` merged unless the caller's names
    its own thread or checkpoint, tags appended, callbacks combined; then the thread and
    checkpoint coordinates copied into the metadata."""
    merged = ensure_config(None)  # the enclosing config (copied), with langchain's defaults
    own_configurable = config.get("configurable") or {}
    if any(own_configurable.get(key) for key in COORDINATES):
        merged["configurable"] = {}
    merged["configurable"] = {**merged["configurable"], **own_configurable}
    merged["metadata"] = {**merged["metadata"], **(config.get("metadata") or {})}
    inherited = set(merged["tags"])
    merged["tags"] = [*merged["tags"], *(t for t in config.get("tags") or () if t not in inherited)]
    merged["callbacks"] = _merge_callbacks(merged.get("callbacks"), config.get("callbacks"))
    for key in ("run_name", "run_id", "recursion_limit", "max_concurrency"):
        if config.get(key) is not None:
            merged[key] = config[key]
    metadata, configurable = merged["metadata"], merged["configurable"]
    for key in PROPAGATE_TO_METADATA:
        if key not in metadata and configurable.get(key):
            metadata[key] = configurable[key]
    return merged


def _merge_callbacks(base: Any, new: Any) -> Any:
    """Two ``callbacks`` values (``None``, a list of handlers or a callback manager) as one
    (LangGraph's ``_merge_callbacks``)."""
    if new is None:
        return base
    if base is None:
        return new.copy()
    if isinstance(new, list) and isinstance(base, list):
        return base + new
    if isinstance(new, list):
        manager = base.copy()
        for handler in new:
            manager.add_handler(handler, inherit=True)
        return manager
    if isinstance(base, list):
        manager = new.copy()
        for handler in base:
            manager.add_handler(handler, inherit=True)
        return manager
    return base.merge(new)


def _run_config(config: dict, parent: Any) -> dict:
    return {"callbacks": parent, "tags": config.get("tags"), "metadata": config.get("metadata")}


def _stream_handlers(run: Any) -> list:
    """Handlers that take a run's output as a stream (``astream_events``' handler): LangGraph
    runs nodes and tasks with ``astream`` there, so each output is one ``on_chain_stream``."""
    return [h for h in run.handlers if isinstance(h, _StreamingCallbackHandler)]


async def _one(value: T) -> AsyncIterator[T]:
    yield value


class _HeldRootEnds:
    """The end of a root run, held back until ``astream_events`` has taken every chunk of the
    run's ``astream``: its handler streams the root run's chunks only while the root run is
    open, and the run executes in a worker thread, ahead of the caller's loop (LangGraph's
    ``astream`` is driven by the caller, so its root run ends after the last chunk)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reports: list[Callable[[], None]] = []
        self.open = True
        self.claimed = False

    def claim(self) -> bool:
        """``True`` for the first run (the root one; runs nested in it see the same holder)."""
        with self.lock:
            claimed, self.claimed = self.claimed, True
        return not claimed

    def add(self, report: Callable[[], None]) -> None:
        with self.lock:
            if self.open:
                self.reports.append(report)
                return
        report()

    def release(self) -> None:
        with self.lock:
            self.open, reports, self.reports = False, self.reports, []
        for report in reports:
            report()


_held_root_ends: ContextVar[_HeldRootEnds | None] = ContextVar(
    "workflows_held_root_ends", default=None
)


class _EventSource:
    """What langchain-core's event stream runs: ``graph.astream`` with the root run's end held
    until the last chunk is taken."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph

    async def astream(self, input: Any, config: dict, **kwargs: Any) -> AsyncIterator[Any]:
        held = _HeldRootEnds()
        token = _held_root_ends.set(held)
        try:
            async for chunk in self.graph.astream(input, config, **kwargs):
                yield chunk
        finally:
            _held_root_ends.reset(token)
            held.release()


def astream_events(graph: Any, input: Any, config: dict | None, version: str, **kwargs: Any):
    """``graph.astream_events(...)``: langchain-core's event stream over ``graph.astream``
    (what LangGraph's ``Pregel.astream_events`` delegates to). Only ``version="v2"``."""
    if version != "v2":
        raise NotImplementedError(
            f'astream_events(version={version!r}) is not supported; use version="v2"'
        )
    from langchain_core.tracers.event_stream import _astream_events_implementation_v2

    return _astream_events_implementation_v2(_EventSource(graph), input, config, **kwargs)


__all__ = ["RunTracing", "astream_events"]
