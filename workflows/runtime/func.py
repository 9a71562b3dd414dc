"""``@entrypoint`` and ``@task``: LangGraph's functional API decorators.

A LangGraph functional program ports by changing its import line to ``from workflows import ...``.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .checkpoint import BaseCheckpointSaver
from .context import Runtime
from .pregel import STREAM_MODES, Run, iterate, task_from_state
from .types import GraphOutput, RetryPolicy, StateSnapshot

__all__ = ["Pregel", "entrypoint", "task"]

R = TypeVar("R")
S = TypeVar("S")


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
        self.name = name or func.__name__
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
        from .context import scope

        parent = scope()
        return parent.run.call_task(self, parent, args, kwargs)

    def call(self, scope: Any, args: tuple, kwargs: dict) -> Any:
        """Run the body with injected ``config``/``writer``/``store``/``previous``/``runtime``."""
        injected = scope.run.graph.injectables(
            scope.run, scope.run.previous, self._params, kwargs, scope=scope
        )
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
        self, run: Run, previous: Any, params: dict, explicit: dict, scope: Any = None
    ) -> dict:
        """Values for the injectable parameters ``params`` declares (as in LangGraph §1.10).
        ``scope`` is the body or task being called: its ``config`` (with its ``checkpoint_ns``
        and ``langgraph_*`` metadata) and its ``custom`` stream writer."""
        writer = scope.writer if scope is not None else run.custom_writer
        values = {
            "config": lambda: scope.config if scope is not None else run.config,
            "previous": lambda: previous,
            "writer": lambda: writer,
            "store": lambda: self.store,
            "runtime": lambda: (
                scope.runtime if scope is not None else Runtime(run, previous, writer)
            ),
        }
        return {
            name: make()
            for name, make in values.items()
            if name in params and name not in explicit
        }

    def injected_kwargs(self, run: Run, previous: Any, scope: Any = None) -> dict:
        return self.injectables(run, previous, self._params, {}, scope=scope)

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

    def _run(self, config, modes, durability, emit, context=None) -> Run:
        return Run(self, config, modes=modes, durability=durability, emit=emit, context=context)

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
            lambda emit: self._run(config, modes, durability, emit, context), input
        ):
            if version == "v2":
                yield _v2_chunk(mode, chunk, ns)
            elif subgraphs:
                yield (ns, chunk) if single else (ns, mode, chunk)
            else:
                yield chunk if single else (mode, chunk)

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
        run = self._run(config, modes, durability, lambda _m, c, _ns=(): chunks.append(c), context)
        run.run(input)
        return _invoke_result(run, stream_mode, chunks, version)

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

        threading.Thread(target=produce, name=f"astream-{self.name}", daemon=True).start()
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

        def work() -> Run:
            run = self._run(config, modes, kwargs.get("durability"),
                            lambda _m, c, _ns=(): chunks.append(c), kwargs.get("context"))
            run.run(input)
            return run

        run = await asyncio.to_thread(work)
        return _invoke_result(run, stream_mode, chunks, version)

    # -- state ------------------------------------------------------------------------------
    def _require_checkpointer(self) -> BaseCheckpointSaver:
        if self.checkpointer is None:
            raise ValueError("No checkpointer set")
        return self.checkpointer

    def _snapshot(self, tup: Any) -> StateSnapshot:
        values = tup.checkpoint["channel_values"]
        pending = "__start__" in values
        run = self._run(tup.config, (), None, lambda *_: None)
        if pending:
            run._adopt(tup)
            for task_id, channel, value in tup.pending_writes or ():
                run.writes.setdefault(task_id, {})[channel] = value
            task = task_from_state(run)
            tasks, interrupts = (task,), tuple(intr for _t, intr in run.pending_interrupts())
        else:
            tasks, interrupts = (), ()
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
        run = self._run(config, (), "sync", lambda *_: None)
        saved = saver.get_tuple(run.config)
        step = saved.metadata.get("step", -1) + 1 if saved else -1
        checkpoint = run._new_checkpoint(
            {"__end__": values, "__previous__": values}, step, saved.checkpoint if saved else None
        )
        parent = saved.config if saved else {
            "configurable": {**run.config["configurable"], "checkpoint_ns": run.config["configurable"].get("checkpoint_ns", "")}
        }
        return saver.put(parent, checkpoint, run._metadata("update", step), checkpoint["channel_versions"])

    async def aupdate_state(self, config: dict, values: Any, as_node: str | None = None) -> dict:
        return await asyncio.to_thread(self.update_state, config, values, as_node)


def _v2_chunk(mode: str, chunk: Any, ns: tuple) -> dict:
    """A ``version="v2"`` stream part (LangGraph's ``StreamPart``): ``{"type", "ns", "data"}``;
    ``values`` parts also carry ``"interrupts"``, taken out of the chunk's ``__interrupt__``."""
    if mode != "values":
        return {"type": mode, "ns": ns, "data": chunk}
    interrupts: tuple = ()
    if isinstance(chunk, dict) and "__interrupt__" in chunk:
        chunk = dict(chunk)
        interrupts = chunk.pop("__interrupt__")
    return {"type": mode, "ns": ns, "data": chunk, "interrupts": interrupts}


def _invoke_result(run: Run, stream_mode: str, chunks: list, version: str) -> Any:
    if stream_mode != "values":
        return chunks
    if version == "v2":
        value = run.output if run.status == "done" else {}
        return GraphOutput(value=value, interrupts=run.interrupts)
    if run.status == "interrupted":
        result = dict(run.end_value) if isinstance(run.end_value, dict) else {}
        result["__interrupt__"] = list(run.interrupts)
        return result
    return run.output


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
        return Pregel(
            func,
            checkpointer=self.checkpointer,
            store=self.store,
            retry_policy=self.retry_policy,
            context_schema=self.context_schema,
        )

    @dataclass
    class final(Generic[R, S]):
        """Return ``entrypoint.final(value=..., save=...)``: the caller gets ``value``; the
        thread's next run gets ``save`` as ``previous`` (LangGraph's ``entrypoint.final``)."""

        value: R
        save: S
