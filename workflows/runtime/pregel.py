"""Execution of one entrypoint run: checkpoints, pending writes, replay, interrupts, streaming.

The algorithm is LangGraph's for the functional API (reference §1.2, §1.4, §1.6, §4):

* a run on new input writes an ``input`` checkpoint (step n) whose ``__start__`` channel holds the
  input; each finished task stores its result as a *pending write* on that checkpoint;
* ``interrupt()`` or an error stops the run there: the checkpoint keeps its pending writes and no
  new checkpoint is written;
* a resume (``Command(resume=...)``, or ``None`` after an error) re-runs the body from the top;
  tasks whose ``__return__`` write exists are replayed by call order and name, not re-executed;
* beyond LangGraph, each executed task call also records a ``__call__`` write (its name, call
  position and an argument fingerprint): on replay, another task name at a recorded position
  stops the run with ``NondeterminismError`` (Temporal's model), and other arguments with the
  same name log a warning and proceed with the recorded result, as LangGraph does;
* completion writes a ``loop`` checkpoint (step n+1) holding ``__end__`` (the return value) and
  ``__previous__`` (the value saved for the thread's next run).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import itertools
import json
import logging
import os
import queue
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from xxhash import xxh3_64_hexdigest

from . import ids
from .checkpoint import BaseCheckpointSaver
from .context import Runtime, current_scope
from .serde import TAG
from .types import (
    Command,
    EmptyInputError,
    GraphInterrupt,
    Interrupt,
    NodeTimeoutError,
    NondeterminismError,
    PregelTask,
    RetryPolicy,
    ThreadBusyError,
)

logger = logging.getLogger("workflows.runtime")

STREAM_MODES = ("values", "updates", "custom", "checkpoints", "tasks", "debug", "messages")
DURABILITY = ("sync", "async", "exit")
ASYNC_FLUSH_SECONDS = 1.0
MULTIPLE_PENDING = (
    "When there are multiple pending interrupts, you must specify the interrupt id when resuming. "
    "Docs: https://docs.langchain.com/oss/python/langgraph/interrupts"
    "#handling-multiple-interrupts."
)
_DONE = object()

# -- worker threads ---------------------------------------------------------------------------
class PerProcess:
    """A value made lazily, once per process: pools and their threads do not survive ``fork``
    (a forked child, such as a test's live server, starts without them)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.value: Any = None
        self.pid: int | None = None
        self.lock = threading.Lock()

    def get(self) -> Any:
        if self.pid != os.getpid():
            with self.lock:
                if self.pid != os.getpid():
                    self.value = self.factory()
                    self.pid = os.getpid()
        return self.value


class _Beats:
    """One daemon thread per process calling every registered beat each ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.beats: dict[int, Callable[[], Any]] = {}
        self.lock = threading.Lock()
        self.keys = itertools.count()
        threading.Thread(target=self._loop, name="workflows-heartbeat", daemon=True).start()

    def _loop(self) -> None:
        while True:
            time.sleep(self.interval)
            with self.lock:
                beats = list(self.beats.values())
            for beat in beats:
                try:
                    beat()
                except Exception:
                    logger.exception("heartbeat failed")


class Heartbeat:
    """Call ``beat()`` about every ``LEASE_RENEWAL_SECONDS`` while the ``with`` block runs
    (lease renewals of long runs), from one shared daemon thread; a failing beat is logged,
    never raised. Entering and leaving cost a dict update, not a thread."""

    def __init__(self, beat: Callable[[], Any]) -> None:
        self.beat = beat
        self.key: int | None = None

    def __enter__(self) -> Heartbeat:
        beats = _beats.get()
        with beats.lock:
            self.key = next(beats.keys)
            beats.beats[self.key] = self.beat
        return self

    def __exit__(self, *exc: Any) -> None:
        beats = _beats.get()
        with beats.lock:
            beats.beats.pop(self.key, None)


LEASE_RENEWAL_SECONDS = 60.0
_beats = PerProcess(lambda: _Beats(LEASE_RENEWAL_SECONDS))

_worker_pool = PerProcess(
    lambda: concurrent.futures.ThreadPoolExecutor(max_workers=256, thread_name_prefix="workflows")
)


def worker_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The process's thread pool for entrypoint bodies and sync tasks."""
    return _worker_pool.get()


class IOWorkers:
    """Single-thread executors for checkpointer I/O, chosen by thread id: the writes of one
    thread stay in order, and a database checkpointer holds at most ``size`` connections."""

    def __init__(self, size: int = 4) -> None:
        self.executors = [
            concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"workflows-io-{i}")
            for i in range(size)
        ]

    def submit(self, key: str, fn: Callable, *args: Any) -> concurrent.futures.Future:
        return self.executors[hash(key) % len(self.executors)].submit(fn, *args)

    def run_everywhere(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` once on every I/O thread (e.g. to close its database connections)."""
        for future in [ex.submit(fn) for ex in self.executors]:
            future.result()


_io_workers = PerProcess(IOWorkers)


def io_workers() -> IOWorkers:
    """The process's checkpointer I/O threads."""
    return _io_workers.get()


class TaskFuture(concurrent.futures.Future):
    """Result of calling a ``@task``: ``.result()`` blocks, ``await fut`` works in async code."""

    def __await__(self):
        return asyncio.wrap_future(self).__await__()


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


# -- scopes -----------------------------------------------------------------------------------
class Scope:
    """What a running entrypoint body or task sees of its run (kept in a ``ContextVar``)."""

    __slots__ = (
        "run", "task_id", "name", "ns", "path", "calls", "interrupts_seen", "resume", "call",
        "_runtime",
    )

    @property
    def task_path(self) -> str:
        """Stored with each pending write: the call path (LangGraph's form) and the task's name,
        e.g. ``"~__pregel_push, ~__pregel_pull, essay, 0000000000, write_essay"``."""
        entry = self.run.graph.name
        if not self.path:
            return f"~__pregel_pull, {entry}"
        calls = ", ".join(f"{p:010d}" for p in self.path)
        return f"~__pregel_push, ~__pregel_pull, {entry}, {calls}, {self.name}"

    def __init__(self, run: Run, task_id: str, name: str, ns: str, path: tuple) -> None:
        self.run = run
        self.task_id = task_id
        self.name = name
        self.ns = ns
        self.path = path
        self.calls = itertools.count()
        self.interrupts_seen = 0
        self.resume: list = list(run.task_writes(task_id).get("__resume__", ()))
        # what this task call was, stored as its ``__call__`` write (``None``: the entrypoint)
        self.call: dict | None = None
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        """This body's or task's ``runtime`` (the injectable, and ``get_runtime()``)."""
        if self._runtime is None:
            self._runtime = Runtime(self.run, self.run.previous, self.writer)
        return self._runtime

    @property
    def config(self) -> dict:
        """The config this body or task sees (``get_config()``, the ``config`` parameter), as in
        LangGraph: the caller's config whose ``configurable`` also holds ``checkpoint_ns`` (this
        scope's namespace, e.g. ``"wf:<id>|task:<id>"``), ``checkpoint_id`` (``None``) and
        ``checkpoint_map`` (each enclosing namespace -> the run's input checkpoint id), and whose
        ``metadata`` holds ``thread_id`` and ``langgraph_step/node/triggers/path/checkpoint_ns``.
        """
        run = self.run
        base = run.config
        checkpoint_id = run.checkpoint["id"] if run.checkpoint else None
        parts = self.ns.split("|")
        checkpoint_map = {base["configurable"].get("checkpoint_ns", ""): checkpoint_id}
        checkpoint_map.update({"|".join(parts[:i]): checkpoint_id for i in range(1, len(parts))})
        path: tuple = ("__pregel_pull", run.graph.name)
        for index in self.path:
            path = ("__pregel_push", path, index, True)
        metadata = {**base.get("metadata", {})}
        if "thread_id" in base["configurable"]:
            metadata["thread_id"] = base["configurable"]["thread_id"]
        metadata.update(
            langgraph_step=run.metadata.get("step", run.step) + 1,
            langgraph_node=self.name,
            langgraph_triggers=("__pregel_push",) if self.path else ("__start__",),
            langgraph_path=path,
            langgraph_checkpoint_ns=self.ns,
        )
        return {
            **base,
            "configurable": {
                **base["configurable"],
                "checkpoint_map": checkpoint_map,
                "checkpoint_id": None,
                "checkpoint_ns": self.ns,
            },
            "metadata": metadata,
        }

    @property
    def writer(self) -> Callable[[Any], None]:
        """The ``custom`` stream writer of this body or task (a no-op when ``custom`` is not
        streamed). As in LangGraph, a chunk carries the namespace of the caller, e.g. ``()`` from
        the entrypoint body, ``('wf:<task_id>',)`` from a task it called; ``subgraphs=True`` and
        ``version="v2"`` show it."""
        run = self.run
        if "custom" not in run.modes:
            return _no_writer
        ns = tuple(self.ns.split("|")[:-1])
        return lambda chunk: run.emit("custom", chunk, ns)

    def interrupt(self, value: Any, response_schema: Any) -> Any:
        schema_type, schema_dict = _schema(response_schema)
        index = self.interrupts_seen
        self.interrupts_seen += 1
        if index < len(self.resume):
            return _validated(self.resume[index], schema_type, schema_dict)
        if self.run.global_resume is not _DONE:
            answer = _validated(self.run.global_resume, schema_type, schema_dict)
            self.run.global_resume = _DONE
            self.resume.append(answer)
            self.run.write(self.task_id, [("__resume__", list(self.resume))], self.task_path)
            return answer
        intr = Interrupt(
            value, ids.interrupt_id(self.ns, index), response_schema=schema_dict
        )
        self.run.graph.checkpointer and self.run.serde.dumps(intr)  # TypeError before pausing
        raise GraphInterrupt((intr,), task_id=self.task_id)


def _no_writer(chunk: Any) -> None:
    pass


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


# -- one run ----------------------------------------------------------------------------------
class Run:
    """One invocation of an entrypoint on one thread.

    ``emit(mode, chunk, ns)`` receives stream chunks of the requested ``modes`` while the run
    executes (``ns`` is the namespace tuple, ``()`` except for ``custom`` chunks of tasks).
    After :meth:`execute`, ``status`` is ``"done"``, ``"interrupted"`` or the run has raised;
    ``output`` is the caller-facing value and ``interrupts`` the surfaced interrupts.
    """

    def __init__(
        self,
        graph: Any,
        config: dict | None,
        *,
        modes: tuple[str, ...],
        durability: str | None,
        emit: Callable[[str, Any, tuple], None],
        context: Any = None,
    ) -> None:
        durability = durability or "async"
        if durability not in DURABILITY:
            raise ValueError(f"durability must be one of {DURABILITY}, got {durability!r}")
        self.graph = graph
        self.saver: BaseCheckpointSaver | None = graph.checkpointer
        self.serde = self.saver.serde if self.saver else None
        self.modes = modes
        self.durability = durability
        self._emit = emit
        self.context = _coerce_context(getattr(graph, "context_schema", None), context)
        self.config = _with_defaults(config)
        self.lock = threading.Lock()
        self.global_resume: Any = _DONE
        self.writes: dict[str, dict[str, Any]] = {}
        self.ops: list[tuple] = []  # checkpointer operations not yet flushed
        self.ops_since: float | None = None
        self.parent_config: dict | None = None
        self.surfaced: list[tuple[int, Interrupt]] = []
        self.futures: list = []
        self.call_seq = itertools.count()
        self.status = "pending"
        self.output: Any = None
        self.interrupts: tuple[Interrupt, ...] = ()
        self.custom_writer = (
            (lambda chunk: self.emit("custom", chunk)) if "custom" in modes else _no_writer
        )
        self.saved = None
        self.checkpoint: dict | None = None
        self.checkpoint_config: dict | None = None
        self.metadata: dict = {}
        self.step = -1
        self.input: Any = None
        self.previous: Any = None
        self.end_value: Any = None
        self.entry_id = ""
        self.owner: str | None = None  # token of this run's hold on the thread
        # recorded task calls of the pending run: call position -> (task_id, ``__call__`` value)
        self.recorded: dict[tuple, tuple[str, dict]] = {}
        self.fatal: NondeterminismError | None = None  # stops the run whatever the body does

    # -- emission ---------------------------------------------------------------------------
    def emit(self, mode: str, chunk: Any, ns: tuple = ()) -> None:
        """Stream ``chunk`` if ``mode`` was asked for; ``tasks`` and ``checkpoints`` chunks are
        also wrapped for ``debug`` as LangGraph does: ``{"step", "timestamp", "type", "payload"}``
        where ``step`` is a checkpoint's own step, and for task events the step being executed
        (the input checkpoint's step + 1)."""
        if mode in self.modes:
            self._emit(mode, chunk, ns)
        if "debug" in self.modes and mode in ("tasks", "checkpoints"):
            if mode == "checkpoints":
                kind, step = "checkpoint", chunk["metadata"]["step"]
            else:
                kind = "task_result" if "result" in chunk or "error" in chunk else "task"
                step = self.metadata.get("step", self.step) + 1
            self._emit(
                "debug",
                {"step": step, "timestamp": now_iso(), "type": kind, "payload": chunk},
                ns,
            )

    def wants(self, mode: str) -> bool:
        return mode in self.modes or (mode in ("tasks", "checkpoints") and "debug" in self.modes)

    # -- storage ----------------------------------------------------------------------------
    def task_writes(self, task_id: str) -> dict[str, Any]:
        return self.writes.get(task_id, {})

    def _io(self, fn: Callable, *args: Any) -> Any:
        """Call the checkpointer: on the thread's I/O worker when the checkpointer asks for one
        (``io_thread = True``: database connections stay on a few threads), else here unless
        this thread runs an event loop (the Django ORM refuses loop threads)."""
        if getattr(self.saver, "io_thread", False):
            key = str(self.config["configurable"].get("thread_id", ""))
            return io_workers().submit(key, fn, *args).result()
        if _in_event_loop():
            return worker_pool().submit(fn, *args).result()
        return fn(*args)

    def write(
        self,
        task_id: str,
        writes: list[tuple[str, Any]],
        task_path: str = "",
        call: dict | None = None,
    ) -> None:
        """Record ``writes`` of ``task_id`` as pending writes of the run's input checkpoint.

        ``call`` (a task's ``__call__`` record) is written with them, in the same operation,
        unless the same record is stored already: so it costs no extra transaction, and a task
        gets it with its first write.
        """
        with self.lock:
            slot = self.writes.setdefault(task_id, {})
            for channel, value in writes:
                slot[channel] = value
            if self.saver is not None and call is not None and slot.get("__call__") != call:
                writes = [*writes, ("__call__", call)]
        if self.saver is None:
            return
        if self.durability != "sync":
            for _channel, value in writes:
                self.serde.dumps(value)  # raise TypeError now, in the writing task
        self._submit(("put_writes", self.checkpoint_config, writes, task_id, task_path))
        if call is not None:  # handed over: later writes of this task need not repeat it
            with self.lock:
                slot["__call__"] = call

    def _submit(self, op: tuple) -> None:
        """Hand a checkpointer operation over according to ``durability``.

        ``"sync"``: stored before the run goes on. ``"async"`` (the default, as in LangGraph):
        buffered and stored in one batch when the run stops (interrupt, error or completion) or
        when the oldest buffered operation is older than ``ASYNC_FLUSH_SECONDS``; so a run that
        finishes quickly costs one transaction. ``"exit"``: stored only when the run stops.
        """
        if self.durability == "sync":
            self._io(self.saver.put_batch, [op])
            return
        with self.lock:
            self.ops.append(op)
            if self.ops_since is None:
                self.ops_since = time.monotonic()
            due = self.durability == "async" and time.monotonic() - self.ops_since > ASYNC_FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self, *extra: tuple) -> None:
        """Store the buffered operations (and ``extra`` ones) in one ``put_batch`` call."""
        with self.lock:
            ops, self.ops, self.ops_since = [*self.ops, *extra], [], None
        if ops:
            self._io(self.saver.put_batch, ops)

    @staticmethod
    def _put_op(parent_config: dict, checkpoint: dict, metadata: dict) -> tuple:
        return ("put", parent_config, checkpoint, metadata, dict(checkpoint["channel_versions"]))

    def _new_checkpoint(self, values: dict, step: int, parent: dict | None) -> dict:
        versions = dict(parent["channel_versions"]) if parent else {}
        for channel in values:
            versions[channel] = self.saver.get_next_version(versions.get(channel), None) if self.saver else 1
        return {
            "v": 1,
            "id": ids.checkpoint_id(step),
            "ts": now_iso(),
            "channel_values": values,
            "channel_versions": versions,
            "versions_seen": {},
            "updated_channels": sorted(values),
        }

    def _metadata(self, source: str, step: int) -> dict:
        meta = {"source": source, "step": step, "parents": {}}
        for key, value in {**self.config.get("metadata", {}), **self.config["configurable"]}.items():
            if key.startswith("__") or key.startswith("langgraph_") or key in (
                "thread_id", "checkpoint_id", "checkpoint_ns", "checkpoint_map",
            ):
                continue
            if isinstance(value, (str, int, float, bool)) or value is None:
                meta[key] = value
        return meta

    # -- preparation ------------------------------------------------------------------------
    def run(self, input: Any) -> None:
        """Prepare and execute the run while holding the thread (``acquire_thread``), so a
        second run started on the same thread at once is refused with ``ThreadBusyError``."""
        saver = self.saver
        thread_id = self.config["configurable"].get("thread_id")
        if saver is None or thread_id is None:
            if self.prepare(input):
                self.execute()
            return
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        if not self._io(saver.acquire_thread, str(thread_id), self.owner):
            raise ThreadBusyError(
                f"Thread {thread_id!r} is busy: another run is executing on it; "
                "try again when it has finished"
            )
        owner = self.owner

        def renew() -> None:  # keep the thread while a long run executes
            if self.owner is not None:
                self._io(saver.acquire_thread, str(thread_id), owner)

        try:
            with Heartbeat(renew):
                if self.prepare(input):
                    self.execute()
        finally:
            if self.owner is not None:
                owner, self.owner = self.owner, None
                self._io(saver.release_thread, str(thread_id), owner)

    def _release_ops(self) -> list[tuple]:
        """The op that gives the thread back, to commit with the run's last writes (once)."""
        if self.owner is None or self.saver is None:
            return []
        owner, self.owner = self.owner, None
        return [("release", self.checkpoint_config or self.config, owner)]

    def prepare(self, input: Any) -> bool:
        """Load the thread and write what the run starts from. Returns ``False`` when there is
        nothing to execute (resuming a finished thread returns its last value)."""
        saver = self.saver
        configurable = self.config["configurable"]
        if saver is not None and "thread_id" not in configurable:
            if "checkpoint_id" in configurable:
                raise KeyError("thread_id")
            raise ValueError(
                "Checkpointer requires one or more of the following 'configurable' keys: "
                "thread_id, checkpoint_ns, checkpoint_id"
            )
        if isinstance(input, Command):
            if saver is None:
                raise RuntimeError("Cannot use Command(resume=...) without checkpointer")
            if input.resume is None:
                raise ValueError(
                    "Command(resume=None) is not a valid resume value: pass the value the "
                    "interrupt() call should return (False and '' are valid)."
                )
        self.saved = saved = self._io(saver.get_tuple, self.config) if saver else None
        if saved is not None:
            self.writes = {}
            for task_id, channel, value in saved.pending_writes or ():
                self.writes.setdefault(task_id, {})[channel] = value
        forking = saver is not None and "checkpoint_id" in configurable
        pending_run = saved is not None and "__start__" in saved.checkpoint["channel_values"]
        values = saved.checkpoint["channel_values"] if saved else {}

        if isinstance(input, Command):
            if saved is None:
                raise EmptyInputError(
                    f"Thread {configurable['thread_id']!r} has no checkpoint to resume"
                )
            if not pending_run:
                return self._nothing_to_run(saved)
            self._adopt(saved)
            self._emit_resumed_checkpoint(saved)
            self._resolve_resume(input.resume)
            self.emit("values", values.get("__end__")) if "values" in self.modes else None
            return True
        if input is None:
            if forking and saved is not None and "__start__" in values:
                self._start(values["__start__"], source="fork")
                return True
            if saved is None:
                raise EmptyInputError("Received no input for __start__")
            if not pending_run:
                return self._nothing_to_run(saved)
            self._adopt(saved)
            self._emit_resumed_checkpoint(saved)
            self.emit("values", values.get("__end__")) if "values" in self.modes else None
            return True
        self._start(input, source="input")
        return True

    def _nothing_to_run(self, saved: Any) -> bool:
        """``None`` or a ``Command`` on a thread whose run finished: as LangGraph, nothing runs
        and no checkpoint is written; the result is the thread's value, streamed as ``values``
        and with its checkpoint as ``checkpoints``."""
        self.checkpoint_config = saved.config
        self.output = self.end_value = saved.checkpoint["channel_values"].get("__end__")
        self.status = "done"
        self.emit("values", self.output)
        self._emit_checkpoint(saved.checkpoint, saved.metadata, saved.parent_config)
        return False

    def _adopt(self, saved: Any) -> None:
        """Continue the pending run of the saved input checkpoint."""
        self.checkpoint = saved.checkpoint
        self.checkpoint_config = saved.config
        self.metadata = saved.metadata
        self.step = saved.metadata.get("step", -1)
        values = saved.checkpoint["channel_values"]
        self.input = values["__start__"]
        self.previous = values.get("__previous__")
        self.end_value = values.get("__end__")

    def _start(self, input: Any, *, source: str) -> None:
        """Write a new input (or fork) checkpoint holding ``input``."""
        saved = self.saved
        self.writes = {}
        carried = {}
        if saved is not None:
            old = saved.checkpoint["channel_values"]
            carried = {k: old[k] for k in ("__end__", "__previous__") if k in old}
        self.step = saved.metadata.get("step", -1) + 1 if saved else -1
        if source == "fork":
            self.step = saved.metadata.get("step", -1) + 1
        values = {"__start__": input, **carried}
        self.checkpoint = self._new_checkpoint(values, self.step, saved.checkpoint if saved else None)
        self.metadata = self._metadata(source, self.step)
        self.input = input
        self.previous = carried.get("__previous__")
        self.end_value = carried.get("__end__")
        parent = saved.config if saved else self.config
        base = {
            "configurable": {
                **self.config["configurable"],
                "checkpoint_ns": self.config["configurable"].get("checkpoint_ns", ""),
            }
        }
        base["configurable"].pop("checkpoint_id", None)
        if parent is not None and saved is not None:
            base["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
        self.checkpoint_config = {
            "configurable": {**base["configurable"], "checkpoint_id": self.checkpoint["id"]}
        }
        if self.saver is None:
            return
        self.parent_config = base
        self.serde.dumps(values)  # TypeError for a non-serializable input, before any write
        self._submit(self._put_op(base, self.checkpoint, self.metadata))
        self._emit_checkpoint(self.checkpoint, self.metadata, base if saved else None)

    def _emit_resumed_checkpoint(self, saved: Any) -> None:
        """Stream the input checkpoint a resume continues, as LangGraph does at the start of the
        run: its entrypoint task shows the interrupts being answered, or the recorded error
        (``{"id", "name", "error", "state"}``)."""
        if not self.wants("checkpoints"):
            return
        entry = self.task_writes(self.entry_task_id())
        task = {"id": self.entry_task_id(), "name": self.graph.name}
        if entry.get("__error__"):
            task.update(error=entry["__error__"], state=None)
        else:
            interrupts = tuple(_interrupt_dict(i) for _t, i in self.pending_interrupts())
            task.update(interrupts=interrupts, state=None)
        self._emit_checkpoint(saved.checkpoint, saved.metadata, saved.parent_config, [task])

    def _emit_checkpoint(
        self, checkpoint: dict, metadata: dict, parent: dict | None, tasks: list | None = None
    ) -> None:
        if not self.wants("checkpoints"):
            return
        values = checkpoint["channel_values"]
        pending = "__start__" in values
        cfg = {"configurable": {
            "checkpoint_ns": self.checkpoint_config["configurable"].get("checkpoint_ns", ""),
            "thread_id": self.config["configurable"].get("thread_id"),
            "checkpoint_id": checkpoint["id"],
        }}
        self.emit("checkpoints", {
            "config": cfg,
            "parent_config": parent,
            "values": values.get("__end__"),
            "metadata": metadata,
            "next": [self.graph.name] if pending else [],
            "tasks": (tasks or [{"id": self.entry_task_id(), "name": self.graph.name,
                                 "interrupts": (), "state": None}])
            if pending else [],
        })

    def pending_interrupts(self) -> list[tuple[str, Interrupt]]:
        """``(task_id, Interrupt)`` of every unanswered interrupt of the pending run."""
        found = []
        for task_id, channels in self.writes.items():
            if "__return__" in channels:
                continue
            for intr in channels.get("__interrupt__") or ():
                found.append((task_id, intr))
        return found

    def _resolve_resume(self, resume: Any) -> None:
        """Turn a resume value into ``__resume__`` writes on the interrupted tasks.

        A map ``{interrupt_id: value}`` answers those interrupts (unknown ids are an error, unlike
        LangGraph, which ignores them); a plain value answers the single pending interrupt.
        """
        pending = self.pending_interrupts()
        by_id = {intr.id: (task_id, intr) for task_id, intr in pending}
        if isinstance(resume, dict) and resume and all(ids.is_interrupt_id(k) for k in resume):
            unknown = sorted(set(resume) - set(by_id))
            if unknown:
                raise ValueError(
                    f"Unknown interrupt id(s) {unknown} for thread "
                    f"{self.config['configurable']['thread_id']!r}; pending: {sorted(by_id)}"
                )
            answers = resume
        elif len(pending) > 1:
            raise RuntimeError(MULTIPLE_PENDING)
        elif not pending:
            self.serde.dumps(resume)
            self.global_resume = resume
            return
        else:
            answers = {pending[0][1].id: resume}
        batch = []
        for intr_id, value in answers.items():
            task_id, intr = by_id[intr_id]
            if intr.response_schema is not None:
                import jsonschema

                jsonschema.validate(value, intr.response_schema)
            resume_list = list(self.writes.get(task_id, {}).get("__resume__", ())) + [value]
            self.serde.dumps(resume_list)  # TypeError before anything is written
            batch.append((task_id, [("__resume__", resume_list), ("__interrupt__", [])]))
        for task_id, writes in batch:
            self.write(task_id, writes)

    # -- execution --------------------------------------------------------------------------
    def entry_task_id(self) -> str:
        if not self.entry_id:
            self.entry_id = ids.entry_task_id(
                self.checkpoint["id"] if self.checkpoint else "",
                self.config["configurable"].get("checkpoint_ns", ""),
                self.step,
                self.graph.name,
            )
        return self.entry_id

    def execute(self) -> None:
        """Run the body (sync or async) to completion, interrupt or error; persist the outcome."""
        name = self.graph.name
        entry_id = self.entry_task_id()
        scope = Scope(self, entry_id, name, f"{name}:{entry_id}", ())
        kwargs = self.graph.injected_kwargs(self, self.previous, scope)
        if self.wants("tasks"):
            self.emit("tasks", {"id": entry_id, "name": name, "input": self.input, "triggers": ("__start__",)})
        self.recorded = self._recorded_calls()
        token = current_scope.set(scope)
        try:
            if self.graph.is_async:
                result = _run_coroutine(self._async_body(kwargs))
            else:
                result = self.graph.func(self.input, **kwargs)
                self._returned(result)
                self._wait_all()
        except GraphInterrupt as gi:
            self._wait_all()
            if self.fatal is None:
                if gi.task_id == entry_id:
                    self.write(entry_id, [("__interrupt__", list(gi.interrupts))], scope.task_path)
                    self._surface(next(self.call_seq), gi.interrupts)
                self._interrupted()
                return
        except BaseException as exc:
            self._wait_all()
            if self.fatal is None:
                if self.surfaced and isinstance(exc, GraphInterrupt):
                    self._interrupted()
                    return
                self._failed(entry_id, exc)
                raise
        finally:
            current_scope.reset(token)
        if self.fatal is not None:
            # a replay went another way than the recorded run: fail, whatever the body did
            self._failed(entry_id, self.fatal)
            raise self.fatal
        if self.surfaced:
            # a task interrupted but the body finished without its result: LangGraph still pauses
            self._interrupted()
            return
        self._completed(result)

    async def _async_body(self, kwargs: dict) -> Any:
        result = await self.graph.func(self.input, **kwargs)
        self._returned(result)
        pending = [f for f in self.futures if isinstance(f, asyncio.Future) and not f.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return result

    def _wait_all(self) -> None:
        for fut in list(self.futures):
            if isinstance(fut, concurrent.futures.Future):
                concurrent.futures.wait([fut])

    def _surface(self, seq: int, interrupts: tuple) -> None:
        with self.lock:
            for intr in interrupts:
                self.surfaced.append((seq, intr))

    def _interrupted(self) -> None:
        self.status = "interrupted"
        self.interrupts = tuple(intr for _seq, intr in sorted(self.surfaced, key=lambda s: s[0]))
        self.flush(*self._release_ops())
        self.emit("updates", {"__interrupt__": self.interrupts})
        # as the v1 invoke result: merged into the thread's last value when that is a dict
        last = dict(self.end_value) if isinstance(self.end_value, dict) else {}
        self.emit("values", {**last, "__interrupt__": self.interrupts})
        if self.wants("tasks"):
            self.emit("tasks", {
                "id": self.entry_task_id(), "name": self.graph.name, "error": None, "result": {},
                "interrupts": [_interrupt_dict(i) for i in self.interrupts],
            })
        # an interrupt writes no checkpoint, so none is streamed (LangGraph)

    def _failed(self, entry_id: str, exc: BaseException) -> None:
        self.status = "error"
        try:
            self.write(entry_id, [("__error__", repr(exc))], f"~__pregel_pull, {self.graph.name}")
            self.flush(*self._release_ops())
        except Exception:  # the original error matters more
            logger.exception("could not record the error of run on %s", self.config)
        if self.wants("tasks"):
            self.emit("tasks", {
                "id": entry_id, "name": self.graph.name, "error": exc, "result": {}, "interrupts": [],
            })

    def _returned(self, result: Any) -> None:
        """The body returned ``result``: stream the entrypoint's update and task result now, as
        LangGraph does when its node finishes, i.e. before tasks it did not wait for (reference
        §1.7: ``[{'wf': 'returned-early'}, {'bg': 1}]``)."""
        if self.fatal is not None:
            return  # the run fails (NondeterminismError), whatever the body returned
        value, _save = _final(result)
        self.emit("updates", {self.graph.name: value})
        if self.wants("tasks"):
            self.emit("tasks", {"id": self.entry_task_id(), "name": self.graph.name, "error": None,
                                "result": {"__end__": value}, "interrupts": []})

    def _completed(self, result: Any) -> None:
        value, save = _final(result)
        self.status = "done"
        self.output = value
        if self.saver is not None:
            if self.durability != "exit":
                # the entrypoint's output, as a pending write of the input checkpoint (LangGraph's
                # record of the step: its snapshot in get_state_history shows it as the result)
                self.write(self.entry_task_id(), [("__end__", value), ("__previous__", save)],
                           f"~__pregel_pull, {self.graph.name}")
            values = {"__end__": value, "__previous__": save}
            checkpoint = self._new_checkpoint(values, self.step + 1, self.checkpoint)
            metadata = self._metadata("loop", self.step + 1)
            parent = self.checkpoint_config
            if self.durability == "exit":
                # only the final checkpoint is stored, as a child of the thread's previous one
                parent = self.parent_config or self.checkpoint_config
                with self.lock:
                    self.ops.clear()
            self.flush(self._put_op(parent, checkpoint, metadata), *self._release_ops())
            self.step += 1
            self.emit("values", value)
            self._emit_checkpoint(checkpoint, metadata, parent)
            return
        self.emit("values", value)

    # -- tasks ------------------------------------------------------------------------------
    def call_task(self, task: Any, parent: Scope, args: tuple, kwargs: dict) -> Any:
        """Start (or replay) one ``@task`` call from ``parent``; returns its future."""
        index = next(parent.calls)
        seq = next(self.call_seq)
        path_str = "|".join(str(p) for p in parent.path)
        task_id = ids.push_task_id(
            self.checkpoint["id"] if self.checkpoint else "",
            self.config["configurable"].get("checkpoint_ns", ""),
            self.step, task.name, path_str, index,
        )
        path = (*parent.path, index)
        call = None
        if self.saver is not None:
            call = self._checked_call(task, parent, path, args, kwargs, task_id)
        if self.wants("tasks"):
            self.emit("tasks", {"id": task_id, "name": task.name, "input": (args, kwargs),
                                "triggers": ("__pregel_push",)})
        done = self.writes.get(task_id, {})
        in_loop = _in_event_loop()
        if "__return__" in done:
            if task.is_async and in_loop:
                fut: Any = asyncio.get_running_loop().create_future()
            else:
                fut = TaskFuture()
            fut.set_result(done["__return__"])
            return fut
        child = Scope(self, task_id, task.name, f"{parent.ns}|{task.name}:{task_id}", path)
        child.call = call
        ctx = contextvars.copy_context()
        if task.is_async:
            if not in_loop:
                raise RuntimeError("In an sync context async tasks cannot be called")
            coro = self._run_async_task(task, child, seq, args, kwargs)
            fut = asyncio.get_running_loop().create_task(coro, context=ctx)
        else:
            fut = TaskFuture()
            worker_pool().submit(ctx.run, self._run_sync_task, task, child, seq, args, kwargs, fut)
        with self.lock:
            self.futures.append(fut)
        return fut

    def _recorded_calls(self) -> dict[tuple, tuple[str, dict]]:
        """The task calls recorded by the pending run's earlier attempts, by call position."""
        found: dict[tuple, tuple[str, dict]] = {}
        for task_id, channels in self.writes.items():
            call = channels.get("__call__")
            if isinstance(call, dict) and isinstance(call.get("path"), list):
                found.setdefault(tuple(call["path"]), (task_id, call))
        return found

    def _checked_call(
        self, task: Any, parent: Scope, path: tuple, args: tuple, kwargs: dict, task_id: str
    ) -> dict:
        """The ``__call__`` record of this task call, checked against the call recorded at the
        same position (beyond LangGraph, which matches by call order *and name* only, so it
        silently runs a renamed task and returns a stale result for changed arguments).

        Another task name there raises ``NondeterminismError`` (and the run fails, even if the
        body catches it); other arguments with the same name log a warning when the recorded
        result (or recorded interrupt answers) will be used, and the run proceeds with them.
        """
        fingerprint = _fingerprint(self.serde, args, kwargs)
        call = {"name": task.name, "path": list(path), "args": fingerprint}
        recorded = self.recorded.get(path)
        if recorded is None:
            return call
        _recorded_id, before = recorded
        where = _position(self.graph.name, parent, path)
        if before.get("name") != task.name:
            exc = NondeterminismError(
                f"Nondeterministic replay at {where}: the resumed body called task "
                f"{task.name!r}, but the recorded run called task {before.get('name')!r} there. "
                "A resumed entrypoint must make the same task calls in the same order; restore "
                "the code that started this run, or start a new run with new input.",
                recorded=before.get("name"),
                called=task.name,
                position=path,
            )
            with self.lock:
                self.fatal = self.fatal or exc
            raise exc
        done = self.writes.get(task_id, {})
        replayed = "__return__" in done or bool(done.get("__resume__"))
        if replayed and fingerprint and before.get("args") and before["args"] != fingerprint:
            logger.warning(
                "Task %r at %s was called with other arguments than in the recorded run: now "
                "%s (argument fingerprint %s), recorded fingerprint %s; %s, as LangGraph does "
                "(entrypoint code must be deterministic).",
                task.name, where, _describe(args, kwargs), fingerprint, before["args"],
                "returning the recorded result" if "__return__" in done
                else "re-running it with its recorded interrupt answers",
            )
        return call

    def _run_sync_task(self, task, scope, seq, args, kwargs, fut: TaskFuture) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        token = current_scope.set(scope)
        try:
            result = _with_retry(task.retry_policy, lambda: task.call(scope, args, kwargs))
            self._task_done(task, scope, result)
        except GraphInterrupt as gi:
            self._task_interrupted(scope, seq, gi)
            fut.set_exception(gi)
        except BaseException as exc:
            self._task_failed(task, scope, exc)
            fut.set_exception(exc)
        else:
            fut.set_result(result)
        finally:
            current_scope.reset(token)

    async def _run_async_task(self, task, scope, seq, args, kwargs) -> Any:
        current_scope.set(scope)
        try:
            result = await _with_retry_async(
                task.retry_policy, lambda: _with_timeout(task, task.call(scope, args, kwargs))
            )
        except GraphInterrupt as gi:
            self._task_interrupted(scope, seq, gi)
            raise
        except BaseException as exc:
            self._task_failed(task, scope, exc)
            raise
        self._task_done(task, scope, result)
        return result

    def _task_done(self, task, scope: Scope, result: Any) -> None:
        self.write(scope.task_id, [("__return__", result)], scope.task_path, scope.call)
        self.emit("updates", {task.name: result})
        if self.wants("tasks"):
            self.emit("tasks", {"id": scope.task_id, "name": task.name, "error": None,
                                "result": {"__return__": result}, "interrupts": []})

    def _task_interrupted(self, scope: Scope, seq: int, gi: GraphInterrupt) -> None:
        if gi.task_id == scope.task_id:
            self.write(
                scope.task_id, [("__interrupt__", list(gi.interrupts))], scope.task_path, scope.call
            )
            self._surface(seq, gi.interrupts)

    def _task_failed(self, task, scope: Scope, exc: BaseException) -> None:
        try:
            self.write(scope.task_id, [("__error__", repr(exc))], scope.task_path, scope.call)
        except Exception:
            logger.exception("could not record the error of task %s", task.name)
        if self.wants("tasks"):
            self.emit("tasks", {"id": scope.task_id, "name": task.name, "error": exc,
                                "result": {}, "interrupts": []})


def _canonical(data: Any) -> Any:
    """Encoded (JSON) data with set members in a stable order, for fingerprints: a set of
    strings iterates in another order in another process."""
    if isinstance(data, list):
        return [_canonical(v) for v in data]
    if not isinstance(data, dict):
        return data
    out = {k: _canonical(v) for k, v in data.items()}
    if out.get(TAG) in ("set", "frozenset", "dict"):
        out["v"] = sorted(out["v"], key=lambda v: json.dumps(v, sort_keys=True))
    return out


def _fingerprint(serde: Any, args: tuple, kwargs: dict) -> str | None:
    """xxh3-64 hex digest of a task call's arguments as the serializer encodes them (equal
    dicts and sets give equal digests), or ``None`` when they are not serializable."""
    try:
        data = _canonical(serde.encode([list(args), kwargs]))
    except Exception:  # noqa: BLE001 - arguments need not be serializable (they are not stored)
        return None
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return xxh3_64_hexdigest(text.encode())


def _describe(args: tuple, kwargs: dict, limit: int = 200) -> str:
    """A short repr of a call's arguments, for log messages."""
    text = repr(args) + (f", {kwargs!r}" if kwargs else "")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _position(entry: str, parent: Scope, path: tuple) -> str:
    """A task call's position for messages, e.g. ``call position [0, 1] (call #1 of task
    'outer')``."""
    caller = f"entrypoint {entry!r}" if not parent.path else f"task {parent.name!r}"
    return f"call position {list(path)} (call #{path[-1]} of {caller})"


def _coerce_context(schema: Any, context: Any) -> Any:
    """``invoke(..., context={...})``: a dict is turned into the entrypoint's ``context_schema``
    when that is a dataclass or pydantic model (LangGraph's ``_coerce_context``)."""
    if isinstance(context, dict) and isinstance(schema, type) and (
        dataclasses.is_dataclass(schema) or hasattr(schema, "model_fields")
    ):
        return schema(**context)
    return context


async def _with_timeout(task: Any, attempt: Any) -> Any:
    """Await one attempt of an async task within its ``timeout`` (``NodeTimeoutError``)."""
    if task.timeout is None:
        return await attempt
    started = time.monotonic()
    try:
        return await asyncio.wait_for(attempt, task.timeout)
    except TimeoutError:
        raise NodeTimeoutError(
            task.name, time.monotonic() - started, timeout=task.timeout
        ) from None


def _final(result: Any) -> tuple[Any, Any]:
    """``(value, save)`` of an entrypoint's return value (``entrypoint.final`` or plain)."""
    from .func import entrypoint  # the final() marker lives with the decorator

    if isinstance(result, entrypoint.final):
        return result.value, result.save
    return result, result


def _interrupt_dict(intr: Interrupt) -> dict:
    return {"value": intr.value, "id": intr.id, "response_schema": intr.response_schema}


def _with_defaults(config: dict | None) -> dict:
    config = dict(config or {})
    config["configurable"] = dict(config.get("configurable") or {})
    config.setdefault("metadata", {})
    return config


def _run_coroutine(coro: Any) -> Any:
    """Run an async body on a private event loop in this worker thread."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


# -- retries ----------------------------------------------------------------------------------
def _policies(policy: RetryPolicy | list | tuple | None) -> list[RetryPolicy]:
    if policy is None:
        return []
    if isinstance(policy, RetryPolicy):
        return [policy]
    return list(policy)


def _matching(policies: list[RetryPolicy], exc: Exception) -> RetryPolicy | None:
    for policy in policies:
        retry_on = policy.retry_on
        if isinstance(retry_on, type) and issubclass(retry_on, BaseException):
            ok = isinstance(exc, retry_on)
        elif isinstance(retry_on, (tuple, list)):
            ok = isinstance(exc, tuple(retry_on))
        else:
            ok = retry_on(exc)
        if ok:
            return policy
    return None


def _delay(policy: RetryPolicy, attempt: int) -> float:
    interval = min(policy.max_interval, policy.initial_interval * policy.backoff_factor ** (attempt - 1))
    return interval + (random.uniform(0, 1) if policy.jitter else 0)


def _with_retry(policy: Any, call: Callable[[], Any]) -> Any:
    """Run ``call`` under ``policy`` (LangGraph's ``run_with_retry``)."""
    policies = _policies(policy)
    attempt = 0
    while True:
        try:
            return call()
        except (GraphInterrupt, NondeterminismError):  # retrying cannot help
            raise
        except Exception as exc:
            attempt += 1
            matched = _matching(policies, exc)
            if matched is None or attempt >= matched.max_attempts:
                raise
            time.sleep(_delay(matched, attempt))


async def _with_retry_async(policy: Any, call: Callable[[], Any]) -> Any:
    policies = _policies(policy)
    attempt = 0
    while True:
        try:
            return await call()
        except (GraphInterrupt, NondeterminismError):
            raise
        except Exception as exc:
            attempt += 1
            matched = _matching(policies, exc)
            if matched is None or attempt >= matched.max_attempts:
                raise
            await asyncio.sleep(_delay(matched, attempt))


# -- driving a run for stream/invoke ----------------------------------------------------------
def iterate(
    make_run: Callable[[Callable[[str, Any, tuple], None]], Run], input: Any
) -> Iterator[tuple[str, Any, tuple]]:
    """Execute a run in a worker thread and yield ``(mode, chunk, ns)`` as it produces them."""
    chunks: queue.SimpleQueue = queue.SimpleQueue()
    run = make_run(lambda mode, chunk, ns=(): chunks.put((mode, chunk, ns)))

    def body() -> None:
        try:
            run.run(input)
        except BaseException as exc:
            chunks.put((_DONE, exc, ()))
        else:
            chunks.put((_DONE, None, ()))

    worker_pool().submit(contextvars.copy_context().run, body)
    while True:
        mode, chunk, ns = chunks.get()
        if mode is _DONE:
            if chunk is not None:
                raise chunk
            return
        yield mode, chunk, ns


def task_from_state(run: Run) -> PregelTask:
    """The entrypoint's pending task as ``get_state().tasks`` shows it."""
    entry = run.task_writes(run.entry_task_id())
    interrupts = tuple(intr for _t, intr in run.pending_interrupts())
    return PregelTask(
        id=run.entry_task_id(),
        name=run.graph.name,
        path=("__pregel_pull", run.graph.name),
        error=entry.get("__error__"),
        interrupts=interrupts,
        state=None,
        result=entry.get("__end__"),
    )


__all__ = ["IOWorkers", "PerProcess", "Run", "Scope", "TaskFuture", "io_workers", "iterate", "task_from_state", "worker_pool"]
