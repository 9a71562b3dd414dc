"""``@entrypoint`` and ``@task``: LangGraph's functional API decorators.

A LangGraph functional program ports by changing its import line to ``from workflows import ...``.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from .annotations import (
    allow_declared,
    context_jsonschema,
    entrypoint_types,
    root_jsonschema,
    task_name,
    type_hints,
)
from .checkpoint import BaseCheckpointSaver
from .checkpoints import checkpoint_metadata, new_checkpoint
from .loop import PregelLoop, iterate, pending_state
from .scope import Runtime, current
from .stream import STREAM_MODES, shaped
from .types import GraphOutput, RetryPolicy, StateSnapshot, final

__all__ = ["Pregel", "entrypoint", "task"]

R = TypeVar("R")


def _reject_generators(func: Callable) -> None:
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise NotImplementedError("Generators are not supported in the Functional API.")


class _TaskFunction:
    """A function decorated with ``@task``. Calling it inside a run returns a future."""

    def __init__(
        self, func: Callable, *, name: str | None, retry_policy: Any, timeout: float | None = None
    ) -> None:
        _reject_generators(func)
        functools.update_wrapper(self, func)
        self.func = func
        self.name = name or task_name(func)
        allow_declared(type_hints(func).get("return"))  # its results load back as their types
        self.retry_policy = retry_policy
        self.timeout = timeout
        self.is_async = inspect.iscoroutinefunction(func)
        if timeout is not None and not self.is_async:
            raise ValueError(
                "Node timeouts are only supported for async nodes because sync Python execution "
                f"cannot be safely cancelled in-process. Task {self.name!r} is sync."
            )
        self._params = inspect.signature(func).parameters

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        parent = current()
        return parent.loop.call_task(self, parent, args, kwargs)

    def call(self, scope: Any, args: tuple, kwargs: dict) -> Any:
        """Run the body with injected ``config``/``writer``/``store``/``previous``/``runtime``."""
        loop = scope.loop
        injected = loop.graph.injectables(loop, loop.previous, self._params, kwargs, scope=scope)
        return self.func(*args, **kwargs, **injected)

    def clear_cache(self, cache: Any = None) -> None:
        """Task caching is not implemented; kept for signature compatibility."""

    def __repr__(self) -> str:
        return f"<task {self.name}>"


def task(
    __func_or_none__: Callable | None = None,
    *,
    name: str | None = None,
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
    cache_policy: Any = None,
    timeout: Any = None,
    **kwargs: Any,
) -> Any:
    """Define a task, as LangGraph's ``@task``: usable bare or with arguments.

    Inside an entrypoint run, calling the task returns a future at once (a
    ``concurrent.futures.Future`` that is also awaitable; an asyncio task for ``async def``
    tasks). Its result is stored as a pending write of the run's checkpoint, so on resume the task
    is replayed (by call order and name) instead of re-executed. ``retry_policy`` retries failures
    with backoff. Calling a task outside a run raises ``RuntimeError``.

    ``timeout`` (seconds, a ``timedelta``, or an object with ``run_timeout``, e.g. LangGraph's
    ``TimeoutPolicy``) caps each attempt of an async task: ``NodeTimeoutError`` is raised and the
    retry policy decides whether to retry. A sync task with a timeout raises ``ValueError`` at
    decoration time. ``retry=`` is LangGraph's deprecated name of ``retry_policy``.
    """
    if "retry" in kwargs and retry_policy is None:
        import warnings

        warnings.warn(
            "`retry` is deprecated and will be removed. Please use `retry_policy` instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        retry_policy = kwargs.pop("retry")
    seconds = _timeout_seconds(timeout)

    def decorate(func: Callable) -> _TaskFunction:
        return _TaskFunction(func, name=name, retry_policy=retry_policy, timeout=seconds)

    return decorate(__func_or_none__) if __func_or_none__ is not None else decorate


def _timeout_seconds(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    if hasattr(timeout, "run_timeout"):  # LangGraph's TimeoutPolicy (idle timeouts unsupported)
        return _timeout_seconds(timeout.run_timeout)
    return float(timeout)


class Pregel:
    """What ``@entrypoint`` returns: a runnable workflow with LangGraph's execution methods.

    ``invoke``/``ainvoke`` return the result; ``stream``/``astream`` yield chunks while the run
    executes; ``get_state``/``get_state_history``/``update_state`` read and write the thread's
    checkpoints. ``config={"configurable": {"thread_id": ...}}`` selects the thread.
    """

    def __init__(
        self,
        func: Callable,
        *,
        checkpointer: BaseCheckpointSaver | None,
        store: Any,
        retry_policy: Any,
        context_schema: Any,
    ) -> None:
        self.func = func
        self.name = func.__name__
        self.checkpointer = checkpointer
        self.store = store
        self.retry_policy = retry_policy
        self.context_schema = context_schema
        self.is_async = inspect.iscoroutinefunction(func)
        self.stream_mode = "updates"
        params = list(inspect.signature(func).parameters.values())
        self._params = {p.name: p for p in params[1:]}
        self.__doc__ = func.__doc__
        self.__wrapped__ = func

    def __repr__(self) -> str:
        return f"<entrypoint {self.name}>"

    def copy(self, **changes: Any) -> Pregel:
        """A copy with other attributes (e.g. ``checkpointer=DjangoSaver()``)."""
        clone = Pregel(
            self.func,
            checkpointer=changes.get("checkpointer", self.checkpointer),
            store=changes.get("store", self.store),
            retry_policy=changes.get("retry_policy", self.retry_policy),
            context_schema=changes.get("context_schema", self.context_schema),
        )
        clone.name = changes.get("name", self.name)
        return clone

    # -- injection --------------------------------------------------------------------------
    def injectables(
        self, loop: PregelLoop, previous: Any, params: dict, explicit: dict, scope: Any = None
    ) -> dict:
        """Values for the injectable parameters ``params`` declares (as in LangGraph §1.10).
        ``scope`` is the body or task being called: its ``config`` (with its ``checkpoint_ns``
        and ``langgraph_*`` metadata) and its ``custom`` stream writer."""
        writer = scope.writer if scope is not None else loop.custom_writer
        values = {
            "config": lambda: scope.config if scope is not None else loop.config,
            "previous": lambda: previous,
            "writer": lambda: writer,
            "store": lambda: self.store,
            "runtime": lambda: (
                scope.runtime if scope is not None else Runtime(loop, previous, writer)
            ),
        }
        return {
            name: make()
            for name, make in values.items()
            if name in params and name not in explicit
        }

    def injected_kwargs(self, loop: PregelLoop, previous: Any, scope: Any = None) -> dict:
        return self.injectables(loop, previous, self._params, {}, scope=scope)

    # -- running ----------------------------------------------------------------------------
    def _modes(self, stream_mode: Any) -> tuple[tuple[str, ...], bool]:
        if stream_mode is None:
            stream_mode = self.stream_mode
        single = isinstance(stream_mode, str)
        modes = (stream_mode,) if single else tuple(stream_mode)
        for mode in modes:
            if mode not in STREAM_MODES:
                raise ValueError(f"Unknown stream mode {mode!r}; expected one of {STREAM_MODES}")
        return modes, single

    def _loop(self, config, modes, durability, emit, context=None) -> PregelLoop:
        return PregelLoop(
            self, config, modes=modes, durability=durability, emit=emit, context=context
        )

    def stream(
        self,
        input: Any,
        config: dict | None = None,
        *,
        context: Any = None,
        stream_mode: str | Sequence[str] | None = None,
        durability: str | None = None,
        subgraphs: bool = False,
        version: str = "v1",
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Run the workflow and yield its chunks while it executes.

        ``stream_mode``: ``"updates"`` (default: ``{task_or_entrypoint_name: result}`` and
        ``{"__interrupt__": (Interrupt, ...)}``), ``"values"``, ``"custom"``, ``"tasks"``,
        ``"checkpoints"``, ``"debug"``, or a list of modes (chunks become ``(mode, chunk)``).
        ``input`` is the entrypoint's input, ``Command(resume=...)`` or ``None`` (continue after
        an error). Raises ``TypeError`` for an async entrypoint (use ``astream``).
        """
        if self.is_async:
            raise TypeError(
                f'No synchronous function provided to "{self.name}".\nEither initialize with a '
                "synchronous function or invoke via the async API (ainvoke, astream, etc.)"
            )
        yield from self._stream(input, config, context, stream_mode, durability, subgraphs, version)

    def _stream(self, input, config, context, stream_mode, durability, subgraphs, version):
        modes, single = self._modes(stream_mode)
        for mode, chunk, ns in iterate(
            lambda emit: self._loop(config, modes, durability, emit, context), input
        ):
            yield shaped(mode, chunk, ns, single=single, subgraphs=subgraphs, version=version)

    def invoke(
        self,
        input: Any,
        config: dict | None = None,
        *,
        context: Any = None,
        stream_mode: str = "values",
        durability: str | None = None,
        version: str = "v1",
        **kwargs: Any,
    ) -> Any:
        """Run the workflow to its end or its next interrupt and return the result.

        As in LangGraph (v1): the return value (``entrypoint.final``'s ``value``); when
        interrupted, ``{"__interrupt__": [Interrupt, ...]}`` merged into the thread's last
        returned dict; with ``stream_mode="updates"`` the list of update chunks; with
        ``version="v2"`` a ``GraphOutput(value, interrupts)``.
        """
        if self.is_async:
            raise TypeError(
                f'No synchronous function provided to "{self.name}".\nEither initialize with a '
                "synchronous function or invoke via the async API (ainvoke, astream, etc.)"
            )
        chunks: list = []
        modes = (stream_mode,) if stream_mode != "values" else ()
        loop = self._loop(config, modes, durability, lambda _m, c, _ns=(): chunks.append(c), context)
        loop.run(input)
        return _invoke_result(loop, stream_mode, chunks, version)

    async def astream(self, input: Any, config: dict | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        """``stream`` for async code: the run executes in a worker thread (its async body on a
        private event loop there) and chunks are handed to the caller's loop as they come."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue = asyncio.Queue()
        end = object()

        def produce() -> None:
            try:
                for chunk in self._stream(
                    input, config, kwargs.get("context"), kwargs.get("stream_mode"),
                    kwargs.get("durability"), kwargs.get("subgraphs", False), kwargs.get("version", "v1"),
                ):
                    loop.call_soon_threadsafe(chunks.put_nowait, (chunk, None))
            except BaseException as exc:
                loop.call_soon_threadsafe(chunks.put_nowait, (end, exc))
            else:
                loop.call_soon_threadsafe(chunks.put_nowait, (end, None))

        # the caller's context (e.g. LangChain's var_child_runnable_config) reaches the run
        threading.Thread(target=contextvars.copy_context().run, args=(produce,),
                         name=f"astream-{self.name}", daemon=True).start()
        while True:
            chunk, exc = await chunks.get()
            if chunk is end:
                if exc is not None:
                    raise exc
                return
            yield chunk

    async def ainvoke(self, input: Any, config: dict | None = None, **kwargs: Any) -> Any:
        """``invoke`` for async code (sync and async entrypoints alike)."""
        stream_mode = kwargs.pop("stream_mode", "values")
        version = kwargs.pop("version", "v1")
        chunks: list = []
        modes = (stream_mode,) if stream_mode != "values" else ()

        def work() -> PregelLoop:
            loop = self._loop(config, modes, kwargs.get("durability"),
                              lambda _m, c, _ns=(): chunks.append(c), kwargs.get("context"))
            loop.run(input)
            return loop

        loop = await asyncio.to_thread(work)
        return _invoke_result(loop, stream_mode, chunks, version)

    def astream_events(
        self, input: Any, config: dict | None = None, *, version: str = "v2", **kwargs: Any
    ) -> AsyncIterator[dict]:
        """LangChain's event stream of a run (``on_chain_start``/``_stream``/``_end`` of the root
        ``"LangGraph"`` run, the entrypoint and each task, ``on_chat_model_*`` and
        ``on_tool_*`` of the models and tools inside), as LangGraph's ``astream_events``:
        langchain-core's ``version="v2"`` implementation over :meth:`astream`. ``kwargs`` are
        its filters (``include_names``, ``include_types``, ``include_tags`` and ``exclude_*``)
        and :meth:`astream`'s parameters. Needs ``langchain-core``; other versions raise
        ``NotImplementedError``."""
        from .integrations.langchain import astream_events

        return astream_events(self, input, config, version, **kwargs)

    # -- schemas ----------------------------------------------------------------------------
    def get_input_jsonschema(self, config: dict | None = None) -> dict[str, Any]:
        """JSON Schema of the input (the function's first parameter's annotation), as
        LangGraph's: a pydantic model's own schema, else one titled ``"LangGraphInput"``."""
        return root_jsonschema(entrypoint_types(self.func)[0], "Input")

    def get_output_jsonschema(self, config: dict | None = None) -> dict[str, Any]:
        """JSON Schema of the return value (the return annotation; ``R`` of
        ``entrypoint.final[R, S]``), titled ``"LangGraphOutput"`` unless a pydantic model."""
        return root_jsonschema(entrypoint_types(self.func)[1], "Output")

    def get_context_jsonschema(self) -> dict[str, Any] | None:
        """JSON Schema of ``context_schema`` (``None`` without one); ``ValueError`` unless it is
        a pydantic model, TypedDict or dataclass (LangGraph's error)."""
        return context_jsonschema(self.context_schema)

    # -- state ------------------------------------------------------------------------------
    def _require_checkpointer(self) -> BaseCheckpointSaver:
        if self.checkpointer is None:
            raise ValueError("No checkpointer set")
        return self.checkpointer

    def _snapshot(self, tup: Any) -> StateSnapshot:
        values = tup.checkpoint["channel_values"]
        pending = "__start__" in values
        tasks, interrupts = pending_state(self, tup)
        return StateSnapshot(
            values=values.get("__end__"),
            next=(self.name,) if pending else (),
            config=tup.config,
            metadata=tup.metadata,
            created_at=tup.checkpoint.get("ts"),
            parent_config=tup.parent_config,
            tasks=tasks,
            interrupts=interrupts,
        )

    def get_state(self, config: dict, *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's latest (or ``checkpoint_id``'s) state. Raises ``ValueError`` without a
        checkpointer, ``KeyError('thread_id')`` without a thread id."""
        saver = self._require_checkpointer()
        config["configurable"]["thread_id"]  # KeyError('thread_id'), as LangGraph
        tup = saver.get_tuple(config)
        if tup is None:
            return StateSnapshot({}, (), config, None, None, None, (), ())
        return self._snapshot(tup)

    def get_state_history(
        self, config: dict, *, filter: dict | None = None, before: dict | None = None, limit: int | None = None
    ) -> Iterator[StateSnapshot]:
        """The thread's snapshots, newest first."""
        saver = self._require_checkpointer()
        config["configurable"]["thread_id"]
        for tup in saver.list(config, filter=filter, before=before, limit=limit):
            yield self._snapshot(tup)

    async def aget_state(self, config: dict, **kwargs: Any) -> StateSnapshot:
        return await asyncio.to_thread(self.get_state, config, **kwargs)

    async def aget_state_history(self, config: dict, **kwargs: Any):
        for snap in await asyncio.to_thread(lambda: list(self.get_state_history(config, **kwargs))):
            yield snap

    def update_state(self, config: dict, values: Any, as_node: str | None = None) -> dict:
        """Write ``values`` as the thread's ``__end__`` and ``__previous__`` (source ``update``),
        as LangGraph's ``update_state`` does for an entrypoint. Returns the new checkpoint's config."""
        saver = self._require_checkpointer()
        config["configurable"]["thread_id"]
        config = {**config, "configurable": dict(config["configurable"])}
        config.setdefault("metadata", {})
        saved = saver.get_tuple(config)
        step = saved.metadata.get("step", -1) + 1 if saved else -1
        checkpoint = new_checkpoint(
            {"__end__": values, "__previous__": values}, step,
            saved.checkpoint if saved else None, saver,
        )
        parent = saved.config if saved else {
            "configurable": {
                **config["configurable"],
                "checkpoint_ns": config["configurable"].get("checkpoint_ns", ""),
            }
        }
        metadata = checkpoint_metadata(config, "update", step)
        return saver.put(parent, checkpoint, metadata, checkpoint["channel_versions"])

    async def aupdate_state(self, config: dict, values: Any, as_node: str | None = None) -> dict:
        return await asyncio.to_thread(self.update_state, config, values, as_node)


def _invoke_result(loop: PregelLoop, stream_mode: str, chunks: list, version: str) -> Any:
    if stream_mode != "values":
        return chunks
    if version == "v2":
        value = loop.output if loop.status == "done" else {}
        return GraphOutput(value=value, interrupts=loop.interrupts)
    if loop.status == "interrupted":
        result = dict(loop.end_value) if isinstance(loop.end_value, dict) else {}
        result["__interrupt__"] = list(loop.interrupts)
        return result
    return loop.output


class entrypoint(Generic[R]):
    """Decorator that turns a function into a durable workflow (LangGraph's ``@entrypoint``).

    ``@entrypoint(checkpointer=InMemorySaver())`` gives a :class:`Pregel` with ``invoke``,
    ``stream``, ``ainvoke``, ``astream``. The function's first parameter is the input; the others
    may be the injectables ``previous`` (the thread's last saved value, ``None`` without a
    checkpointer), ``config``, ``writer``, ``store`` and ``runtime``.

    Raises at decoration time, with LangGraph's errors: ``ValueError`` for a function without
    parameters, ``NotImplementedError`` for a generator.
    """

    def __init__(
        self,
        checkpointer: BaseCheckpointSaver | None = None,
        store: Any = None,
        cache: Any = None,
        context_schema: Any = None,
        cache_policy: Any = None,
        retry_policy: Any = None,
        **kwargs: Any,
    ) -> None:
        self.checkpointer = checkpointer
        self.store = store
        self.context_schema = context_schema
        self.retry_policy = retry_policy

    def __call__(self, func: Callable) -> Pregel:
        _reject_generators(func)
        if not inspect.signature(func).parameters:
            raise ValueError("Entrypoint function must have at least one parameter")
        # the program declared these types: stored inputs, results and previous load back as them
        allow_declared(*entrypoint_types(func), self.context_schema)
        return Pregel(
            func,
            checkpointer=self.checkpointer,
            store=self.store,
            retry_policy=self.retry_policy,
            context_schema=self.context_schema,
        )

    final = final
