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
import warnings
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
from .cache import BaseCache, entrypoint_namespace, task_namespace
from .checkpoint import BaseCheckpointSaver
from .checkpoints import checkpoint_metadata, new_checkpoint
from .loop import PregelLoop, iterate, merge_configs, pending_state
from .options import pop_deprecated, refuse_unknown
from .scope import RunControl, Runtime, current, current_scope
from .stream import STREAM_MODES, print_chunk, shaped
from .subgraphs import nest, referenced_subgraph, task_state, with_checkpoint_map
from .types import (
    GraphOutput,
    InvalidUpdateError,
    RetryPolicy,
    StateSnapshot,
    StateUpdate,
    TimeoutPolicy,
    final,
)

__all__ = ["Pregel", "entrypoint", "task"]

R = TypeVar("R")
_UNSET = object()
_SKIP = object()  # a chunk that was only printed (print_mode), not streamed


def _reject_generators(func: Callable) -> None:
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise NotImplementedError("Generators are not supported in the Functional API.")


class _TaskFunction:
    """A function decorated with ``@task``. Calling it inside a run returns a future."""

    def __init__(
        self,
        func: Callable,
        *,
        name: str | None,
        retry_policy: Any,
        cache_policy: Any = None,
        timeout: TimeoutPolicy | None = None,
    ) -> None:
        _reject_generators(func)
        functools.update_wrapper(self, func)
        self.func = func
        self.name = name or task_name(func)
        allow_declared(type_hints(func).get("return"))  # its results load back as their types
        self.retry_policy = _policies(retry_policy)
        self.cache_policy = cache_policy
        self.timeout = timeout
        self.is_async = inspect.iscoroutinefunction(func)
        if timeout is not None and not self.is_async:
            raise _sync_timeout(self.name, "Task")
        self._params = inspect.signature(func).parameters

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        parent = current()
        return parent.loop.call_task(self, parent, args, kwargs)

    def call(self, scope: Any, args: tuple, kwargs: dict) -> Any:
        """Run the body with injected ``config``/``writer``/``store``/``previous``/``runtime``."""
        loop = scope.loop
        injected = loop.graph.injectables(loop, loop.previous, self._params, kwargs, scope=scope)
        return self.func(*args, **kwargs, **injected)

    def clear_cache(self, cache: BaseCache) -> None:
        """Delete this task's cached results from ``cache`` (LangGraph's ``task.clear_cache``;
        nothing happens for a task without ``cache_policy``)."""
        if self.cache_policy is not None:
            cache.clear((task_namespace(self.func),))

    async def aclear_cache(self, cache: BaseCache) -> None:
        """``clear_cache`` for async code."""
        if self.cache_policy is not None:
            await cache.aclear((task_namespace(self.func),))

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

    ``timeout`` (seconds, a ``timedelta``, or a ``TimeoutPolicy(run_timeout=, idle_timeout=,
    refresh_on=)``) bounds each attempt of an async task: ``NodeTimeoutError`` is raised and the
    retry policy decides whether to retry. A sync task with a timeout raises ``ValueError`` at
    decoration time, as in LangGraph. ``retry=`` is LangGraph's deprecated name of
    ``retry_policy`` (``LangGraphDeprecatedSinceV05``); any other keyword is a ``TypeError``
    (LangGraph ignores it).
    """
    retry = pop_deprecated(kwargs, "retry")
    refuse_unknown("task", kwargs)
    if retry_policy is None and retry is not None:
        retry_policy = retry
    policy = TimeoutPolicy.coerce(timeout)

    def decorate(func: Callable) -> _TaskFunction:
        return _TaskFunction(
            func, name=name, retry_policy=retry_policy, cache_policy=cache_policy, timeout=policy
        )

    return decorate(__func_or_none__) if __func_or_none__ is not None else decorate


def _policies(policy: RetryPolicy | Sequence[RetryPolicy] | None) -> Sequence[RetryPolicy]:
    """``retry_policy`` as LangGraph keeps it: ``()``, ``(policy,)`` or the sequence given."""
    if policy is None:
        return ()
    return (policy,) if isinstance(policy, RetryPolicy) else policy


def _sync_timeout(name: str, kind: str) -> ValueError:
    """LangGraph's error for ``timeout=`` on a sync task (``kind="Task"``) or entrypoint
    (``"Node"``)."""
    return ValueError(
        "Node timeouts are only supported for async nodes because sync Python execution cannot "
        f"be safely cancelled in-process. {kind} {name!r} is sync."
    )


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
        timeout: TimeoutPolicy | None = None,
        cache: Any = None,
        cache_policy: Any = None,
        config: dict | None = None,
        name: str | None = None,
    ) -> None:
        self.func = func
        self.name = name or func.__name__
        self.node_name = func.__name__  # the entrypoint's node: kept by copy({"name": ...})
        self.checkpointer = checkpointer
        self.store = store
        self.retry_policy = _policies(retry_policy)
        self.context_schema = context_schema
        self.timeout = timeout
        self.cache = cache
        self.cache_policy = cache_policy
        self.config = config
        self._subgraph: Any = _UNSET
        self.is_async = inspect.iscoroutinefunction(func)
        self.stream_mode = "updates"
        params = list(inspect.signature(func).parameters.values())
        self._params = {p.name: p for p in params[1:]}
        self.__doc__ = func.__doc__
        self.__wrapped__ = func

    def __repr__(self) -> str:
        return f"<entrypoint {self.name}>"

    _COPIED = (
        "checkpointer", "store", "retry_policy", "context_schema", "timeout", "cache",
        "cache_policy", "config", "name",
    )

    def copy(self, update: dict[str, Any] | None = None) -> Pregel:
        """A copy with the attributes in ``update`` replaced, as LangGraph's ``Pregel.copy``
        (e.g. ``graph.copy({"checkpointer": DjangoSaver()})``). ``TypeError`` for a key that is
        not one of ``checkpointer``, ``store``, ``retry_policy``, ``context_schema``,
        ``timeout``, ``cache``, ``cache_policy``, ``config``, ``name``."""
        update = dict(update or {})
        unknown = sorted(set(update) - set(self._COPIED))
        if unknown:
            raise TypeError(f"Pregel.copy() got unknown attribute(s) {unknown}")
        attrs = {key: getattr(self, key) for key in self._COPIED}
        attrs.update(update)
        return Pregel(self.func, **attrs)

    @property
    def subgraph(self) -> Pregel | None:
        """The child entrypoint this one's function refers to, if any (found once, as LangGraph
        finds subgraphs; see :mod:`.subgraphs`)."""
        if self._subgraph is _UNSET:
            self._subgraph = referenced_subgraph(self.func)
        return self._subgraph

    def clear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """Delete the entrypoint's cached results (not its tasks'), as LangGraph's
        ``clear_cache``; ``nodes`` names the entrypoint (other names are skipped). Raises
        ``ValueError`` without ``cache=``."""
        self._cache_to_clear().clear(self._cache_namespaces(nodes))

    async def aclear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """``clear_cache`` for async code."""
        await self._cache_to_clear().aclear(self._cache_namespaces(nodes))

    def _cache_to_clear(self) -> BaseCache:
        if not self.cache:
            raise ValueError("No cache is set for this graph. Cannot clear cache.")
        return self.cache

    def _cache_namespaces(self, nodes: Sequence[str] | None) -> list:
        return [entrypoint_namespace(self.func, name) for name in nodes or (self.node_name,)
                if name == self.node_name]

    def with_config(self, config: dict | None = None, **kwargs: Any) -> Pregel:
        """A copy whose runs start from ``config`` merged with ``kwargs`` (e.g. ``tags=``), as
        LangGraph's ``with_config``: a call's own config is merged over it (``configurable`` and
        ``metadata`` key by key, ``tags`` concatenated)."""
        return self.copy({"config": merge_configs(self.config, config, kwargs)})

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

    def _loop(
        self, config, modes, durability, emit, context=None, control=None, subgraphs=False
    ) -> PregelLoop:
        loop = PregelLoop(
            self, merge_configs(self.config, config), modes=modes, durability=durability,
            emit=emit, context=context, control=control,
        )
        loop.stream.subgraphs = subgraphs
        caller = current_scope.get()
        if caller is not None:  # called inside another entrypoint's run: a subgraph
            nest(loop, caller, config)
        return loop

    def _options(self, function: str, *, stream_mode, print_mode, output_keys, interrupt_before,
                 interrupt_after, durability, debug, kwargs) -> tuple[tuple[str, ...], bool,
                                                                      tuple[str, ...], Any]:
        """Check one call's options as LangGraph's ``stream`` does. Returns ``(stream modes,
        single mode?, print modes, durability)``. ``checkpoint_during=`` is LangGraph's
        deprecated ``durability`` (``True``: ``"async"``, ``False``: ``"exit"``); an unknown
        keyword is a ``TypeError``; ``output_keys``/``interrupt_before``/``interrupt_after``
        (channels and nodes of a ``StateGraph``) raise ``NotImplementedError``."""
        checkpoint_during = pop_deprecated(kwargs, "checkpoint_during", stacklevel=4)
        refuse_unknown(function, kwargs)
        if checkpoint_during is not None:
            if durability is not None:
                raise ValueError(
                    "Cannot use both `checkpoint_during` and `durability` parameters. Please "
                    "use `durability` instead."
                )
            durability = "async" if checkpoint_during else "exit"
        if durability is not None and self.checkpointer is None:
            warnings.warn(  # LangGraph's warning
                "`durability` has no effect when no checkpointer is present.", stacklevel=4
            )
        for option, value in (("output_keys", output_keys), ("interrupt_before", interrupt_before),
                              ("interrupt_after", interrupt_after)):
            if value is not None:
                raise NotImplementedError(
                    f"{function}({option}=...) is not supported: it names channels or nodes of a "
                    "LangGraph StateGraph; an entrypoint has one node (its body) and one output "
                    "(its return value). Use interrupt() inside the body to pause it."
                )
        modes, single = self._modes(stream_mode)
        prints = ("updates", "values") if debug else (
            (print_mode,) if isinstance(print_mode, str) else tuple(print_mode)
        )
        self._modes(list(prints))
        return modes, single, prints, durability

    def stream(
        self,
        input: Any,
        config: dict | None = None,
        *,
        context: Any = None,
        stream_mode: str | Sequence[str] | None = None,
        print_mode: str | Sequence[str] = (),
        output_keys: str | Sequence[str] | None = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        durability: str | None = None,
        control: RunControl | None = None,
        subgraphs: bool = False,
        debug: bool | None = None,
        version: str = "v1",
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Run the workflow and yield its chunks while it executes (LangGraph's ``stream``).

        ``stream_mode``: ``"updates"`` (default: ``{task_or_entrypoint_name: result}`` and
        ``{"__interrupt__": (Interrupt, ...)}``), ``"values"``, ``"custom"``, ``"tasks"``,
        ``"checkpoints"``, ``"debug"``, or a list of modes (chunks become ``(mode, chunk)``).
        ``print_mode`` modes are printed to stdout as ``[mode] chunk`` (``debug=True``:
        ``updates`` and ``values``). ``control``: a :class:`RunControl` whose
        ``request_drain()`` stops the run at its step boundary (``GraphDrained``).
        ``input`` is the entrypoint's input, ``Command(resume=...)`` or ``None`` (continue after
        an error). Raises ``TypeError`` for an async entrypoint (use ``astream``) and for an
        unknown keyword.
        """
        self._require_sync()
        options = self._options(
            "stream", stream_mode=stream_mode, print_mode=print_mode, output_keys=output_keys,
            interrupt_before=interrupt_before, interrupt_after=interrupt_after,
            durability=durability, debug=debug, kwargs=kwargs,
        )
        return self._stream(input, config, context, options, control, subgraphs, version)

    def _require_sync(self) -> None:
        if self.is_async:
            raise TypeError(
                f'No synchronous function provided to "{self.name}".\nEither initialize with a '
                "synchronous function or invoke via the async API (ainvoke, astream, etc.)"
            )

    def _stream(self, input, config, context, options, control, subgraphs, version):
        modes, _single, prints, durability = options
        wanted = tuple(dict.fromkeys((*modes, *prints)))
        for mode, chunk, ns in iterate(
            lambda emit: self._loop(config, wanted, durability, emit, context, control, subgraphs),
            input,
        ):
            out = self._output(mode, chunk, ns, options, subgraphs, version)
            if out is not _SKIP:
                yield out

    @staticmethod
    def _output(mode: str, chunk: Any, ns: tuple, options: tuple, subgraphs: bool, version: str):
        """Print a chunk of a ``print_mode`` and shape one of a ``stream_mode`` for the caller
        (``_SKIP`` when it was only printed)."""
        modes, single, prints, _durability = options
        if mode in prints:
            print_chunk(mode, chunk, ns, subgraphs=subgraphs)
        if mode not in modes:
            return _SKIP
        return shaped(mode, chunk, ns, single=single, subgraphs=subgraphs, version=version)

    def invoke(
        self,
        input: Any,
        config: dict | None = None,
        *,
        context: Any = None,
        stream_mode: str = "values",
        print_mode: str | Sequence[str] = (),
        output_keys: str | Sequence[str] | None = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        durability: str | None = None,
        control: RunControl | None = None,
        version: str = "v1",
        **kwargs: Any,
    ) -> Any:
        """Run the workflow to its end or its next interrupt and return the result.

        As in LangGraph (v1): the return value (``entrypoint.final``'s ``value``); when
        interrupted, ``{"__interrupt__": [Interrupt, ...]}`` merged into the thread's last
        returned dict; with ``stream_mode="updates"`` the list of update chunks; with
        ``version="v2"`` a ``GraphOutput(value, interrupts)``. A drained run (``control``)
        raises ``GraphDrained``. The other options are ``stream``'s (``debug=`` and the
        deprecated ``checkpoint_during=`` are keywords, as in LangGraph).
        """
        self._require_sync()
        options = self._invoke_options("invoke", stream_mode, print_mode, output_keys,
                                       interrupt_before, interrupt_after, durability, kwargs)
        return self._invoke(input, config, context, stream_mode, options, control, version)

    def _invoke_options(self, function, stream_mode, print_mode, output_keys, interrupt_before,
                        interrupt_after, durability, kwargs):
        debug = kwargs.pop("debug", None)
        if kwargs.pop("subgraphs", False):
            raise NotImplementedError(
                f"{function}(subgraphs=True) is not supported; use stream(subgraphs=True)"
            )
        return self._options(
            function, stream_mode=stream_mode, print_mode=print_mode, output_keys=output_keys,
            interrupt_before=interrupt_before, interrupt_after=interrupt_after,
            durability=durability, debug=debug, kwargs=kwargs,
        )

    def _invoke(self, input, config, context, stream_mode, options, control, version) -> Any:
        loop, chunks = self._invoke_loop(config, context, stream_mode, options, control)
        loop.run(input)
        return _invoke_result(loop, stream_mode, chunks, version)

    def _invoke_loop(self, config, context, stream_mode, options, control) -> tuple[PregelLoop, list]:
        """The run of an ``invoke``, and the list its chunks are collected into."""
        modes, _single, prints, durability = options
        collected = () if stream_mode == "values" else modes
        wanted = tuple(dict.fromkeys((*collected, *prints)))
        chunks: list = []

        def emit(mode: str, chunk: Any, ns: tuple = ()) -> None:
            if mode in prints:
                print_chunk(mode, chunk, ns)
            if mode in collected:
                chunks.append(chunk)

        return self._loop(config, wanted, durability, emit, context, control), chunks

    async def astream(
        self,
        input: Any,
        config: dict | None = None,
        *,
        context: Any = None,
        stream_mode: str | Sequence[str] | None = None,
        print_mode: str | Sequence[str] = (),
        output_keys: str | Sequence[str] | None = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        durability: str | None = None,
        control: RunControl | None = None,
        subgraphs: bool = False,
        debug: bool | None = None,
        version: str = "v1",
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """``stream`` for async code. A top-level ``async def`` entrypoint runs on this event
        loop, as in LangGraph (its body and async tasks are tasks of the loop: one loop carries
        many runs); otherwise the run executes in a worker thread and its chunks are handed to
        this loop as they come."""
        options = self._options(
            "astream", stream_mode=stream_mode, print_mode=print_mode, output_keys=output_keys,
            interrupt_before=interrupt_before, interrupt_after=interrupt_after,
            durability=durability, debug=debug, kwargs=kwargs,
        )
        if self.is_async and current_scope.get() is None:
            async for chunk in self._astream_here(
                input, config, context, options, control, subgraphs, version
            ):
                yield chunk
            return
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue = asyncio.Queue()
        end = object()

        def produce() -> None:
            try:
                for chunk in self._stream(
                    input, config, context, options, control, subgraphs, version
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

    async def _astream_here(self, input, config, context, options, control, subgraphs, version):
        """The run as a task of the running loop (``PregelLoop.arun``), its own context (its
        scope must not leak into the caller between chunks); chunks come through a queue (sync
        tasks emit from their threads). Cancelled if the caller stops iterating early."""
        modes, _single, prints, durability = options
        wanted = tuple(dict.fromkeys((*modes, *prints)))
        here = asyncio.get_running_loop()
        chunks: asyncio.Queue = asyncio.Queue()
        end = object()

        def sink(mode: str, chunk: Any, ns: tuple = ()) -> None:
            here.call_soon_threadsafe(chunks.put_nowait, (mode, chunk, ns))

        run = self._loop(config, wanted, durability, sink, context, control, subgraphs)
        task = asyncio.ensure_future(run.arun(input))
        task.add_done_callback(
            lambda _t: here.call_soon_threadsafe(chunks.put_nowait, (end, None, ()))
        )
        try:
            while True:
                mode, chunk, ns = await chunks.get()
                if mode is end:
                    task.result()  # the run's error, if any
                    return
                out = self._output(mode, chunk, ns, options, subgraphs, version)
                if out is not _SKIP:
                    yield out
        finally:
            if not task.done():
                task.cancel()

    async def ainvoke(
        self,
        input: Any,
        config: dict | None = None,
        *,
        context: Any = None,
        stream_mode: str = "values",
        print_mode: str | Sequence[str] = (),
        output_keys: str | Sequence[str] | None = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        durability: str | None = None,
        control: RunControl | None = None,
        version: str = "v1",
        **kwargs: Any,
    ) -> Any:
        """``invoke`` for async code (sync and async entrypoints alike)."""
        options = self._invoke_options("ainvoke", stream_mode, print_mode, output_keys,
                                       interrupt_before, interrupt_after, durability, kwargs)
        if self.is_async and current_scope.get() is None:  # on this loop, as astream
            loop, chunks = self._invoke_loop(config, context, stream_mode, options, control)
            await asyncio.ensure_future(loop.arun(input))
            return _invoke_result(loop, stream_mode, chunks, version)
        return await asyncio.to_thread(
            self._invoke, input, config, context, stream_mode, options, control, version
        )

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

    def stream_events(
        self, input: Any, config: dict | None = None, *, version: str = "v2", **kwargs: Any
    ) -> Iterator[dict]:
        """Not supported, as in LangGraph for ``version="v1"``/``"v2"`` (langchain-core has no
        synchronous event stream): raises ``NotImplementedError``; use :meth:`astream_events`."""
        raise NotImplementedError(
            f"stream_events(version={version!r}) is not supported. Use astream_events()."
        )

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

    def _snapshot(self, tup: Any, saver: Any = None, subgraphs: bool = False) -> StateSnapshot:
        values = tup.checkpoint["channel_values"]
        pending = "__start__" in values
        tasks, interrupts = pending_state(self, tup)
        tasks = tuple(
            t._replace(state=task_state(self, saver, tup.config, t.id, recurse=subgraphs))
            for t in tasks
        )
        parents = (tup.metadata or {}).get("parents") or {}  # a child's: enclosing checkpoints
        return StateSnapshot(
            values=values.get("__end__"),
            next=(self.node_name,) if pending else (),
            config=with_checkpoint_map(tup.config, parents),
            metadata=tup.metadata,
            created_at=tup.checkpoint.get("ts"),
            parent_config=with_checkpoint_map(tup.parent_config, parents),
            tasks=tasks,
            interrupts=interrupts,
        )

    def get_state(self, config: dict, *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's latest (or ``checkpoint_id``'s) state. Raises ``ValueError`` without a
        checkpointer, ``KeyError('thread_id')`` without a thread id."""
        saver = self._require_checkpointer()
        config["configurable"]["thread_id"]  # KeyError('thread_id'), as LangGraph
        return self._graph_for(config).state(saver, config, subgraphs)

    def _graph_for(self, config: dict) -> Pregel:
        """The entrypoint whose checkpoints ``config``'s namespace holds: this one, or for a
        child's namespace (``"<this entrypoint>:<task id>..."``) the child it refers to."""
        ns = config["configurable"].get("checkpoint_ns", "")
        if ns and self.subgraph is not None and ns.split(":", 1)[0] == self.node_name:
            return self.subgraph
        return self

    def state(self, saver: BaseCheckpointSaver, config: dict, subgraphs: bool) -> StateSnapshot:
        """The snapshot of ``config``'s checkpoint in ``saver`` (for ``get_state``, and a
        parent's ``get_state(subgraphs=True)`` reading a child in its own checkpointer)."""
        tup = saver.get_tuple(config)
        if tup is None:
            return StateSnapshot({}, (), config, None, None, None, (), ())
        return self._snapshot(tup, saver, subgraphs)

    def get_state_history(
        self, config: dict, *, filter: dict | None = None, before: dict | None = None, limit: int | None = None
    ) -> Iterator[StateSnapshot]:
        """The thread's snapshots, newest first."""
        saver = self._require_checkpointer()
        config["configurable"]["thread_id"]
        # one namespace: the root's unless the config names another (children's are apart)
        config = {**config, "configurable": {
            **config["configurable"],
            "checkpoint_ns": config["configurable"].get("checkpoint_ns", ""),
        }}
        graph = self._graph_for(config)
        for tup in saver.list(config, filter=filter, before=before, limit=limit):
            yield graph._snapshot(tup, saver)

    async def aget_state(self, config: dict, *, subgraphs: bool = False) -> StateSnapshot:
        return await asyncio.to_thread(self.get_state, config, subgraphs=subgraphs)

    async def aget_state_history(
        self, config: dict, *, filter: dict | None = None, before: dict | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        snapshots = await asyncio.to_thread(
            lambda: list(self.get_state_history(config, filter=filter, before=before, limit=limit))
        )
        for snap in snapshots:
            yield snap

    def update_state(
        self, config: dict, values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> dict:
        """Write ``values`` as the thread's ``__end__`` and ``__previous__`` (source ``update``),
        as LangGraph's ``update_state`` does for an entrypoint; ``as_node="__input__"`` writes
        them as the input of a pending run instead (source ``input``: ``invoke(None, config)``
        runs it). Returns the new checkpoint's config. ``InvalidUpdateError`` for another
        ``as_node`` than the entrypoint's name. ``task_id`` (the id of the update's task in
        LangGraph) is accepted: Flowsite stores no writes for an update."""
        return self.bulk_update_state(config, [[StateUpdate(values, as_node, task_id)]])

    def bulk_update_state(self, config: dict, supersteps: Sequence[Sequence[StateUpdate]]) -> dict:
        """Apply ``update_state`` once per superstep, in order, each a checkpoint of its own
        (LangGraph's ``bulk_update_state``). ``ValueError`` for no superstep or an empty one;
        ``InvalidUpdateError`` for several updates in one superstep (an entrypoint's value is
        one channel) or an unknown ``as_node``."""
        saver = self._require_checkpointer()
        config["configurable"]["thread_id"]
        if not supersteps:
            raise ValueError("No supersteps provided")
        config = merge_configs(self.config, config)
        for superstep in supersteps:
            if not superstep:
                raise ValueError("No updates provided")
            if len(superstep) > 1:
                raise InvalidUpdateError("as_node is required when applying multiple updates")
            values, as_node, _task_id = StateUpdate(*superstep[0])
            if as_node not in (None, self.node_name, "__input__"):
                raise InvalidUpdateError(f"Node {as_node} does not exist")
            saved = saver.get_tuple(config)
            step = saved.metadata.get("step", -1) + 1 if saved else 0
            old = saved.checkpoint["channel_values"] if saved else {}
            if as_node == "__input__":
                channels = {"__start__": values, **{
                    k: old[k] for k in ("__end__", "__previous__") if k in old
                }}
                source = "input"
            else:
                channels, source = {"__end__": values, "__previous__": values}, "update"
            checkpoint = new_checkpoint(
                channels, step, saved.checkpoint if saved else None, saver
            )
            parent = saved.config if saved else {
                "configurable": {
                    **config["configurable"],
                    "checkpoint_ns": config["configurable"].get("checkpoint_ns", ""),
                }
            }
            metadata = checkpoint_metadata(config, source, step)
            config = saver.put(parent, checkpoint, metadata, checkpoint["channel_versions"])
        return config

    async def aupdate_state(
        self, config: dict, values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> dict:
        return await asyncio.to_thread(self.update_state, config, values, as_node, task_id)

    async def abulk_update_state(
        self, config: dict, supersteps: Sequence[Sequence[StateUpdate]]
    ) -> dict:
        return await asyncio.to_thread(self.bulk_update_state, config, supersteps)


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

    ``retry_policy`` retries the body (a retried body calls its tasks again, under new call
    positions, as in LangGraph); ``timeout`` (seconds, a ``timedelta`` or a ``TimeoutPolicy``)
    bounds each attempt of an async body (``NodeTimeoutError``). ``config_schema=`` and
    ``retry=`` are LangGraph's deprecated names of ``context_schema`` and ``retry_policy`` (with
    its warnings); any other keyword is a ``TypeError`` (LangGraph ignores it).

    Raises at decoration time, with LangGraph's errors: ``ValueError`` for a function without
    parameters or a timeout on a sync function, ``NotImplementedError`` for a generator.
    """

    def __init__(
        self,
        checkpointer: BaseCheckpointSaver | None = None,
        store: Any = None,
        cache: Any = None,
        context_schema: Any = None,
        cache_policy: Any = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        timeout: float | datetime.timedelta | TimeoutPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        config_schema = pop_deprecated(kwargs, "config_schema")
        retry = pop_deprecated(kwargs, "retry")
        refuse_unknown("entrypoint", kwargs)
        self.checkpointer = checkpointer
        self.store = store
        self.cache = cache
        self.cache_policy = cache_policy
        self.context_schema = context_schema if context_schema is not None else config_schema
        self.retry_policy = retry_policy if retry_policy is not None else retry
        self.timeout = TimeoutPolicy.coerce(timeout)

    def __call__(self, func: Callable) -> Pregel:
        _reject_generators(func)
        if not inspect.signature(func).parameters:
            raise ValueError("Entrypoint function must have at least one parameter")
        # the program declared these types: stored inputs, results and previous load back as them
        allow_declared(*entrypoint_types(func), self.context_schema)
        if self.timeout is not None and not inspect.iscoroutinefunction(func):
            raise _sync_timeout(func.__name__, "Node")
        return Pregel(
            func,
            checkpointer=self.checkpointer,
            store=self.store,
            retry_policy=self.retry_policy,
            context_schema=self.context_schema,
            timeout=self.timeout,
            cache=self.cache,
            cache_policy=self.cache_policy,
        )

    final = final
