"""The run loop: one invocation of an entrypoint on one thread (LangGraph's ``PregelLoop``).

The algorithm is LangGraph's for the functional API (reference §1.2, §1.4, §1.6, §4):

* a run on new input writes an ``input`` checkpoint (step n) whose ``__start__`` channel holds the
  input; each finished task stores its result as a *pending write* on that checkpoint;
* ``interrupt()`` or an error stops the run there: the checkpoint keeps its pending writes and no
  new checkpoint is written;
* a resume (``Command(resume=...)``, or ``None`` after an error) re-runs the body from the top;
  tasks whose ``__return__`` write exists are replayed by call order and name, not re-executed
  (:mod:`.runner`), and checked against their ``__call__`` records (:mod:`.determinism`);
* completion writes a ``loop`` checkpoint (step n+1) holding ``__end__`` (the return value) and
  ``__previous__`` (the value saved for the thread's next run).

:class:`PregelLoop` prepares (``prepare``), executes (``execute``) and ends the run
(completed, interrupted or failed); :func:`iterate` drives one in a worker thread for ``stream``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import itertools
import logging
import os
import queue
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from . import cache as caching
from . import ids
from .checkpoint import UNREAD, BaseCheckpointSaver, CheckpointTuple, PutWrites, ReleaseThread
from .checkpoints import (
    DURABILITY,
    CheckpointWriter,
    checkpoint_metadata,
    new_checkpoint,
    put_checkpoint,
)
from .determinism import recorded_calls
from .integrations import tracing_for
from .pool import Heartbeat, run_coroutine, worker_pool
from .retry import with_retry, with_retry_async, with_timeout
from .runner import TaskRunner
from .scope import NO_RESUME, RunControl, Scope, current_scope, no_writer
from .stream import StreamOutput, checkpoint_chunk, interrupt_dict, task_start
from .subgraphs import apply_answers, interrupt_writes, run_nested, task_state, with_checkpoint_map
from .types import (
    Command,
    EmptyInputError,
    GraphDrained,
    GraphInterrupt,
    Interrupt,
    NondeterminismError,
    PregelTask,
    ThreadBusyError,
    UnknownInterruptError,
    final,
    final_parts,
)

__all__ = ["PregelLoop", "iterate", "merge_configs", "pending_state"]

logger = logging.getLogger("workflows.runtime")

MULTIPLE_PENDING = (
    "When there are multiple pending interrupts, you must specify the interrupt id when resuming. "
    "Docs: https://docs.langchain.com/oss/python/langgraph/interrupts"
    "#handling-multiple-interrupts."
)
_END = object()


class PregelLoop:
    """One invocation of an entrypoint (``graph``, a :class:`~.func.Pregel`) on one thread.

    ``emit(mode, chunk, ns)`` receives stream chunks of the requested ``modes`` while the run
    executes (``ns`` is the namespace tuple, ``()`` except for ``custom`` chunks of tasks).
    After :meth:`run`, ``status`` is ``"done"``, ``"interrupted"`` or the run has raised;
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
        control: RunControl | None = None,
    ) -> None:
        durability = durability or "async"
        if durability not in DURABILITY:
            raise ValueError(f"durability must be one of {DURABILITY}, got {durability!r}")
        self.graph = graph
        self.saver: BaseCheckpointSaver | None = graph.checkpointer
        self.serde = self.saver.serde if self.saver else None
        self.modes = modes
        self.durability = durability
        self.context = _coerce_context(getattr(graph, "context_schema", None), context)
        self.config = _with_defaults(config)
        self.control = control if control is not None else RunControl()
        self.stream = StreamOutput(modes, emit, lambda: self.metadata.get("step", self.step) + 1)
        self.emit = self.stream.emit
        self.wants = self.stream.wants
        self.tracing = tracing_for(self.config, modes, self.stream)  # LangChain's callbacks
        self.storage = (
            CheckpointWriter(
                self.saver, durability, str(self.config["configurable"].get("thread_id", ""))
            )
            if self.saver is not None else None
        )
        self.runner = TaskRunner(self)
        self.lock = threading.Lock()
        self.global_resume: Any = NO_RESUME
        self.writes: dict[str, dict[str, Any]] = {}
        self.parent_config: dict | None = None
        self.surfaced: list[tuple[int, Interrupt]] = []
        self.futures: list = []
        self.call_seq = itertools.count()
        self.status = "pending"
        self.output: Any = None
        self.interrupts: tuple[Interrupt, ...] = ()
        self.custom_writer = (
            (lambda chunk: self.emit("custom", chunk)) if "custom" in modes else no_writer
        )
        self.saved: CheckpointTuple | None = None
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
        self.cache = getattr(graph, "cache", None)
        self.entry_cache_key: caching.CacheKey | None = None
        # subgraphs (see :mod:`.subgraphs`): the body or task that called this run (``None``: a
        # top-level run), whether it continues a pending run, and the answers of the run's
        # resume that belong to children (interrupt id -> value; one dict for the whole run)
        self.caller: Scope | None = None
        self._loaded: tuple | None = None  # (config, saved) read by _hold, for prepare
        self.resuming = False
        self.answers: dict[str, Any] = {}

    # -- storage ----------------------------------------------------------------------------
    def task_writes(self, task_id: str) -> dict[str, Any]:
        """The pending writes of ``task_id`` loaded or made so far: channel -> value."""
        return self.writes.get(task_id, {})

    def _io(self, fn: Callable, *args: Any) -> Any:
        return self.storage.io(fn, *args)

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
        self.storage.submit(PutWrites(self.checkpoint_config, writes, task_id, task_path))
        if call is not None:  # handed over: later writes of this task need not repeat it
            with self.lock:
                slot["__call__"] = call

    def _release_ops(self) -> list[ReleaseThread]:
        """The op that gives the thread back, to commit with the run's last writes (once)."""
        if self.owner is None or self.saver is None:
            return []
        owner, self.owner = self.owner, None
        return [ReleaseThread(self.checkpoint_config or self.config, owner)]

    # -- preparation ------------------------------------------------------------------------
    def run(self, input: Any) -> None:
        """Prepare and execute the run while holding the thread (``acquire_thread``), so a
        second run started on the same thread at once is refused with ``ThreadBusyError``.
        LangChain callbacks see it as one root run (``self.tracing``)."""
        self.tracing.start(input)
        try:
            self._run_held(input)
        except BaseException as exc:
            self.tracing.error(exc)
            raise
        self.tracing.end(self._root_output())

    def _root_output(self) -> Any:
        """What LangGraph's root run ends with: the result, or when interrupted the thread's
        value, into which LangGraph's ``values`` stream (``invoke``'s) merges the interrupts."""
        if self.status != "interrupted":
            return self.output
        if isinstance(self.end_value, dict) and ("values" in self.modes or not self.modes):
            return {**self.end_value, "__interrupt__": self.interrupts}
        return self.end_value

    def _run_held(self, input: Any) -> None:
        if self.caller is not None:
            run_nested(self, input)
            return
        saver = self.saver
        thread_id = self.config["configurable"].get("thread_id")
        if saver is None or thread_id is None:
            if self.prepare(input) and not self._drained():
                self.execute()
            return
        renew = self._hold(str(thread_id))
        try:
            with Heartbeat(renew):
                if self.prepare(input) and not self._drained():
                    self.execute()
        finally:
            self._let_go(str(thread_id))

    def _hold(self, thread_id: str) -> Callable[[], None]:
        """Hold the thread for this run (``ThreadBusyError`` when another run holds it); returns
        the heartbeat that keeps holding it while a long run executes."""
        self.owner = owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        held, self._loaded = self._io(self._acquire_and_load, thread_id, owner)
        if not held:
            raise ThreadBusyError(
                f"Thread {thread_id!r} is busy: another run is executing on it; "
                "try again when it has finished"
            )

        def renew() -> None:
            if self.owner is not None:
                self._io(self.saver.acquire_thread, thread_id, owner)

        return renew

    def _acquire_and_load(self, thread_id: str, owner: str) -> tuple[bool, tuple | None]:
        """On the I/O thread, in one hop: hold the thread, then read what :meth:`prepare`
        starts from (``(config, saved)``; ``None`` when the thread is busy, or when the read
        failed: :meth:`prepare` reads again and raises inside the hold's ``try``, which gives
        the thread back)."""
        config = self.config
        held, saved = self.saver.acquire_thread_and_get_tuple(thread_id, owner, config)
        if not held:
            return False, None
        return True, (None if saved is UNREAD else (config, saved))

    def _let_go(self, thread_id: str) -> None:
        """Give the thread back, unless the run's last writes did already."""
        if self.owner is not None:
            owner, self.owner = self.owner, None
            self._io(self.saver.release_thread, thread_id, owner)

    # -- on the caller's event loop ---------------------------------------------------------
    async def arun(self, input: Any) -> None:
        """:meth:`run` of a top-level ``async def`` entrypoint on the running event loop, as
        LangGraph: its body and async tasks are tasks of that loop (no thread and no private
        loop per run, so one loop carries many runs at once); preparation, checkpointer I/O and
        sync tasks go to threads."""
        if self.caller is not None or not self.graph.is_async:
            raise RuntimeError("arun is for a top-level async entrypoint; use run")
        self.tracing.start(input)
        try:
            await self._arun_held(input)
        except BaseException as exc:
            self.tracing.error(exc)
            raise
        self.tracing.end(self._root_output())

    def _prepared(self, input: Any) -> bool:
        return self.prepare(input) and not self._drained()

    async def _arun_held(self, input: Any) -> None:
        thread_id = self.config["configurable"].get("thread_id")
        if self.saver is None or thread_id is None:
            if await asyncio.to_thread(self._prepared, input):
                await self.aexecute()
            return
        renew = await asyncio.to_thread(self._hold, str(thread_id))
        try:
            with Heartbeat(renew):
                if await asyncio.to_thread(self._prepared, input):
                    await self.aexecute()
        finally:
            await asyncio.to_thread(self._let_go, str(thread_id))

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
        loaded, self._loaded = self._loaded, None
        if saver is None:
            saved = None
        elif loaded is not None and loaded[0] is self.config:  # read with the thread's hold
            saved = loaded[1]
        else:
            saved = self._io(saver.get_tuple, self.config)
        self.saved = saved
        if saved is not None:
            self.load_writes(saved)
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
            self.adopt(saved)
            self.resuming = True
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
            self.adopt(saved)
            self.resuming = True
            self._emit_resumed_checkpoint(saved)
            self.emit("values", values.get("__end__")) if "values" in self.modes else None
            return True
        self._start(input, source="input")
        return True

    def _drained(self) -> bool:
        """Stop before the body runs when a drain was requested (LangGraph checks it at each
        step boundary, which for an entrypoint is before its body): what ``prepare`` wrote (the
        input checkpoint, or the resume answers) is stored, the thread released, and
        ``GraphDrained`` raised. Returns ``False`` (go on) otherwise."""
        if not self.control.drain_requested:
            return False
        self.status = "drained"
        if self.storage is not None:
            self.storage.flush(*self._release_ops())
        raise GraphDrained(self.control.drain_reason or "shutdown")

    def load_writes(self, saved: CheckpointTuple) -> None:
        """Take the saved checkpoint's pending writes as this run's (task id -> channel ->
        value; a later write of a channel replaces an earlier one)."""
        self.writes = {}
        for task_id, channel, value in saved.pending_writes or ():
            self.writes.setdefault(task_id, {})[channel] = value

    def _nothing_to_run(self, saved: CheckpointTuple) -> bool:
        """``None`` or a ``Command`` on a thread whose run finished: as LangGraph, nothing runs
        and no checkpoint is written; the result is the thread's value, streamed as ``values``
        and with its checkpoint as ``checkpoints``."""
        self.checkpoint_config = saved.config
        self.output = self.end_value = saved.checkpoint["channel_values"].get("__end__")
        self.status = "done"
        self.emit("values", self.output)
        self._emit_checkpoint(saved.checkpoint, saved.metadata, saved.parent_config)
        return False

    def adopt(self, saved: CheckpointTuple) -> None:
        """Continue the pending run of the saved input checkpoint ``saved`` (one holding
        ``__start__``): its checkpoint, step, input, ``previous`` and last value become this
        run's."""
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
        values = {"__start__": input, **carried}
        self.checkpoint = new_checkpoint(
            values, self.step, saved.checkpoint if saved else None, self.saver
        )
        self.metadata = checkpoint_metadata(self.config, source, self.step)
        self.input = input
        self.previous = carried.get("__previous__")
        self.end_value = carried.get("__end__")
        base = {
            "configurable": {
                **self.config["configurable"],
                "checkpoint_ns": self.config["configurable"].get("checkpoint_ns", ""),
            }
        }
        base["configurable"].pop("checkpoint_id", None)
        if saved is not None:
            base["configurable"]["checkpoint_id"] = saved.config["configurable"]["checkpoint_id"]
        self.checkpoint_config = {
            "configurable": {**base["configurable"], "checkpoint_id": self.checkpoint["id"]}
        }
        if self.saver is None:
            return
        self.parent_config = base
        self.serde.dumps(values)  # TypeError for a non-serializable input, before any write
        self.storage.submit(put_checkpoint(base, self.checkpoint, self.metadata))
        self._emit_checkpoint(self.checkpoint, self.metadata, base if saved else None)

    def _emit_resumed_checkpoint(self, saved: CheckpointTuple) -> None:
        """Stream the input checkpoint a resume continues, as LangGraph does at the start of the
        run: its entrypoint task shows the interrupts being answered, or the recorded error
        (``{"id", "name", "error", "state"}``)."""
        if not self.wants("checkpoints"):
            return
        entry = self.task_writes(self.entry_task_id())
        task = {"id": self.entry_task_id(), "name": self.graph.node_name}
        state = self._task_state()
        if entry.get("__error__"):
            task.update(error=entry["__error__"], state=state)
        else:
            interrupts = tuple(interrupt_dict(i) for _t, i in self.pending_interrupts())
            task.update(interrupts=interrupts, state=state)
        self._emit_checkpoint(saved.checkpoint, saved.metadata, saved.parent_config, [task])

    def _emit_checkpoint(
        self, checkpoint: dict, metadata: dict, parent: dict | None, tasks: list | None = None
    ) -> None:
        if not self.wants("checkpoints"):
            return
        chunk = checkpoint_chunk(
            checkpoint, metadata, parent,
            thread_id=self.config["configurable"].get("thread_id"),
            ns=self.checkpoint_config["configurable"].get("checkpoint_ns", ""),
            graph_name=self.graph.node_name,
            tasks=tasks or [{"id": self.entry_task_id(), "name": self.graph.node_name,
                             "interrupts": (), "state": self._task_state()}],
        )
        if self.caller is not None:  # a child's configs also name the enclosing checkpoints
            parents = metadata.get("parents") or {}
            chunk["config"] = with_checkpoint_map(chunk["config"], parents)
            chunk["parent_config"] = with_checkpoint_map(parent, parents)
        self.emit("checkpoints", chunk)

    def _task_state(self) -> Any:
        """The entrypoint task's ``state`` in ``checkpoints`` chunks (a child's config, when the
        entrypoint refers to one; see :func:`.subgraphs.task_state`)."""
        return task_state(self.graph, self.saver, self.checkpoint_config, self.entry_task_id(),
                          recurse=False)

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

        A map ``{interrupt_id: value}`` answers those interrupts; a plain value answers the
        single pending interrupt (or, with none pending, the next ``interrupt()`` call). As in
        LangGraph's strict resume mode (always on here, where LangGraph needs the private
        ``configurable["__pregel_strict_resume"]``), a map naming an interrupt that is not
        pending raises ``UnknownInterruptError`` (``reason="not_pending"``), so an answer retried
        after the task asked its next question cannot answer that one. An empty map raises it
        (``"empty_map"``) in strict mode and answers nothing otherwise; a plain value with
        several pending interrupts raises it (``"ambiguous"``) in strict mode, else
        LangGraph's ``RuntimeError``. Raised before anything is written.
        """
        pending = self.pending_interrupts()
        by_id = {intr.id: (task_id, intr) for task_id, intr in pending}
        strict = bool(self.config["configurable"].get("__pregel_strict_resume"))
        if isinstance(resume, dict) and all(ids.is_interrupt_id(k) for k in resume):
            if not resume:
                if strict:
                    raise UnknownInterruptError(
                        "The resume map names no interrupt", reason="empty_map",
                        pending_ids=sorted(by_id),
                    )
                return
            unknown = sorted(set(resume) - set(by_id))
            if unknown:
                raise UnknownInterruptError(
                    f"Unknown or already-consumed interrupt: {unknown[0]}",
                    reason="not_pending", interrupt_ids=unknown, pending_ids=sorted(by_id),
                )
            answers = resume
        elif len(pending) > 1:
            if strict:
                raise UnknownInterruptError(
                    MULTIPLE_PENDING, reason="ambiguous", pending_ids=sorted(by_id)
                )
            raise RuntimeError(MULTIPLE_PENDING)
        elif not pending:
            self.serde.dumps(resume)
            self.global_resume = resume
            return
        else:
            answers = {pending[0][1].id: resume}
        apply_answers(self, answers, by_id)

    # -- execution --------------------------------------------------------------------------
    def entry_task_id(self) -> str:
        """The id of the entrypoint's task in this run (deterministic, as LangGraph's)."""
        if not self.entry_id:
            self.entry_id = ids.entry_task_id(
                self.checkpoint["id"] if self.checkpoint else "",
                self.config["configurable"].get("checkpoint_ns", ""),
                self.step,
                self.graph.node_name,
            )
        return self.entry_id

    def call_task(self, task: Any, parent: Scope, args: tuple, kwargs: dict) -> Any:
        """Start (or replay) one ``@task`` call from ``parent``; returns its future."""
        return self.runner.call(task, parent, args, kwargs)

    def execute(self) -> None:
        """Run the body (sync or async) to completion, interrupt or error; persist the outcome."""
        scope, kwargs = self._begin()
        if scope is None:
            return  # the entrypoint's cached result
        result = None
        token = current_scope.set(scope)
        try:
            if self.graph.is_async:
                result = run_coroutine(self._async_body(scope, kwargs))
            else:
                func, value = self.graph.func, self.input
                result = with_retry(self.graph.retry_policy, lambda: self.tracing.call(
                    scope, None, lambda: value, lambda: func(value, **kwargs)
                ))
                self._returned(result)
                self._wait_all()
        except BaseException as exc:
            if self._body_raised(scope, exc):
                return
        finally:
            current_scope.reset(token)
        self._body_done(scope, result)

    async def aexecute(self) -> None:
        """:meth:`execute` of an async body on the running loop; what blocks goes to a thread."""
        scope, kwargs = await asyncio.to_thread(self._begin)
        if scope is None:
            return
        result = None
        token = current_scope.set(scope)
        try:
            result = await self._async_body(scope, kwargs)
        except BaseException as exc:
            if await asyncio.to_thread(self._body_raised, scope, exc):
                return
        finally:
            current_scope.reset(token)
        await asyncio.to_thread(self._body_done, scope, result)

    def _begin(self) -> tuple[Scope | None, dict]:
        """The entrypoint's scope and injected arguments, after the ``tasks`` chunk of its
        start; ``(None, {})`` when its cached result completed the run (the body does not run).
        """
        name = self.graph.node_name
        entry_id = self.entry_task_id()
        ns = f"{name}:{entry_id}"
        if self.caller is not None:  # a child's namespaces start with its own
            ns = f"{self.config['configurable']['checkpoint_ns']}|{ns}"
        scope = Scope(self, entry_id, name, ns, ())
        kwargs = self.graph.injected_kwargs(self, self.previous, scope)
        if self.wants("tasks"):
            self.emit("tasks", task_start(entry_id, name, self.input, ("__start__",), self.config))
        self.recorded = recorded_calls(self.writes)
        hit = caching.entry_lookup(self)
        if hit is not None:  # the entrypoint's cached result: the body does not run
            self.emit("updates", {name: hit[0], "__metadata__": {"cached": True}})
            self._completed(final(value=hit[0], save=hit[1]))
            return None, {}
        return scope, kwargs

    def _body_raised(self, scope: Scope, exc: BaseException) -> bool:
        """After the body raised ``exc``: ``True`` when the run paused (an interrupt), ``False``
        when a replay went another way (``self.fatal`` decides, in :meth:`_body_done`); any
        other error is recorded and raised again."""
        self._wait_all()
        if self.fatal is not None:
            return False
        if isinstance(exc, GraphInterrupt):
            if exc.task_id == scope.task_id:
                self.write(scope.task_id, interrupt_writes(exc), scope.task_path)
                self.surface(next(self.call_seq), exc.interrupts)
            self._interrupted()
            return True
        self._failed(scope.task_id, exc)
        raise exc

    def _body_done(self, scope: Scope, result: Any) -> None:
        if self.fatal is not None:
            # a replay went another way than the recorded run: fail, whatever the body did
            self._failed(scope.task_id, self.fatal)
            raise self.fatal
        if self.surfaced:
            # a task interrupted but the body finished without its result: LangGraph still pauses
            self._interrupted()
            return
        self._completed(result)

    async def _async_body(self, scope: Scope, kwargs: dict) -> Any:
        graph, value = self.graph, self.input
        result = await with_retry_async(
            graph.retry_policy,
            lambda: with_timeout(
                graph.timeout, graph.node_name, scope,
                lambda: self.tracing.acall(
                    scope, None, lambda: value, lambda: graph.func(value, **kwargs)
                ),
            ),
        )
        self._returned(result)
        pending = [f for f in self.futures if isinstance(f, asyncio.Future) and not f.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return result

    def _wait_all(self) -> None:
        for fut in list(self.futures):
            if isinstance(fut, concurrent.futures.Future):
                concurrent.futures.wait([fut])

    def surface(self, seq: int, interrupts: tuple) -> None:
        """Record ``interrupts`` raised by the call numbered ``seq`` (their order in the
        caller-facing result is the calls' order)."""
        with self.lock:
            for intr in interrupts:
                self.surfaced.append((seq, intr))

    def _interrupted(self) -> None:
        self.status = "interrupted"
        self.interrupts = tuple(intr for _seq, intr in sorted(self.surfaced, key=lambda s: s[0]))
        self.storage and self.storage.flush(*self._release_ops())
        self.emit("updates", {"__interrupt__": self.interrupts})
        # as the v1 invoke result: merged into the thread's last value when that is a dict
        last = dict(self.end_value) if isinstance(self.end_value, dict) else {}
        self.emit("values", {**last, "__interrupt__": self.interrupts})
        if self.wants("tasks"):
            self.emit("tasks", {
                "id": self.entry_task_id(), "name": self.graph.node_name, "error": None,
                "result": {}, "interrupts": [interrupt_dict(i) for i in self.interrupts],
            })
        # an interrupt writes no checkpoint, so none is streamed (LangGraph)

    def _failed(self, entry_id: str, exc: BaseException) -> None:
        self.status = "error"
        try:
            self.write(
                entry_id, [("__error__", repr(exc))], f"~__pregel_pull, {self.graph.node_name}"
            )
            self.storage and self.storage.flush(*self._release_ops())
        except Exception:  # the original error matters more
            logger.exception("could not record the error of run on %s", self.config)
        if self.wants("tasks"):
            self.emit("tasks", {
                "id": entry_id, "name": self.graph.node_name, "error": exc, "result": {},
                "interrupts": [],
            })

    def _returned(self, result: Any) -> None:
        """The body returned ``result``: stream the entrypoint's update and task result now, as
        LangGraph does when its node finishes, i.e. before tasks it did not wait for (reference
        §1.7: ``[{'wf': 'returned-early'}, {'bg': 1}]``)."""
        if self.fatal is not None:
            return  # the run fails (NondeterminismError), whatever the body returned
        value, _save = final_parts(result)
        self.emit("updates", {self.graph.node_name: value})
        if self.wants("tasks"):
            self.emit("tasks", {"id": self.entry_task_id(), "name": self.graph.node_name,
                                "error": None, "result": {"__end__": value}, "interrupts": []})

    def _completed(self, result: Any) -> None:
        value, save = final_parts(result)
        self.status = "done"
        self.output = value
        caching.store(self, self.entry_cache_key, [("__end__", value), ("__previous__", save)])
        if self.caller is not None and self.durability == "exit":
            self.emit("values", value)  # as LangGraph, a finished child stores nothing then
            return
        if self.saver is not None:
            if self.durability != "exit":
                # the entrypoint's output, as a pending write of the input checkpoint (LangGraph's
                # record of the step: its snapshot in get_state_history shows it as the result)
                self.write(self.entry_task_id(), [("__end__", value), ("__previous__", save)],
                           f"~__pregel_pull, {self.graph.node_name}")
            values = {"__end__": value, "__previous__": save}
            checkpoint = new_checkpoint(values, self.step + 1, self.checkpoint, self.saver)
            metadata = checkpoint_metadata(self.config, "loop", self.step + 1)
            parent = self.checkpoint_config
            if self.durability == "exit":
                # only the final checkpoint is stored, as a child of the thread's previous one
                parent = self.parent_config or self.checkpoint_config
                self.storage.discard()
            put = put_checkpoint(parent, checkpoint, metadata)
            if self.caller is not None:  # stored with the parent's writes
                self.storage.submit(put)
            else:
                self.storage.flush(put, *self._release_ops())
            self.step += 1
            self.emit("values", value)
            self._emit_checkpoint(checkpoint, metadata, parent)
            return
        self.emit("values", value)


def pending_state(graph: Any, saved: CheckpointTuple) -> tuple[tuple[PregelTask, ...], tuple]:
    """``(tasks, interrupts)`` of ``get_state()`` for a saved checkpoint: for an input
    checkpoint (a pending run), the entrypoint's task (with its error, interrupts and result, as
    LangGraph's ``PregelTask``) and the unanswered interrupts; ``((), ())`` otherwise."""
    if "__start__" not in saved.checkpoint["channel_values"]:
        return (), ()
    loop = PregelLoop(graph, saved.config, modes=(), durability=None, emit=_discard)
    loop.adopt(saved)
    loop.load_writes(saved)
    entry_id = loop.entry_task_id()
    entry = loop.task_writes(entry_id)
    interrupts = tuple(intr for _t, intr in loop.pending_interrupts())
    task = PregelTask(
        id=entry_id,
        name=graph.node_name,
        path=("__pregel_pull", graph.node_name),
        error=entry.get("__error__"),
        interrupts=interrupts,
        state=None,
        result=entry.get("__end__"),
    )
    return (task,), interrupts


def iterate(
    make_loop: Callable[[Callable[[str, Any, tuple], None]], PregelLoop], input: Any
) -> Iterator[tuple[str, Any, tuple]]:
    """Execute a run in a worker thread and yield ``(mode, chunk, ns)`` as it produces them
    (``make_loop(sink)`` builds the run with ``sink`` as its stream output)."""
    chunks: queue.SimpleQueue = queue.SimpleQueue()
    loop = make_loop(lambda mode, chunk, ns=(): chunks.put((mode, chunk, ns)))

    def body() -> None:
        try:
            loop.run(input)
        except BaseException as exc:
            chunks.put((_END, exc, ()))
        else:
            chunks.put((_END, None, ()))

    worker_pool().submit(contextvars.copy_context().run, body)
    while True:
        mode, chunk, ns = chunks.get()
        if mode is _END:
            if chunk is not None:
                raise chunk
            return
        yield mode, chunk, ns


def _discard(mode: str, chunk: Any, ns: tuple = ()) -> None:
    pass


def _coerce_context(schema: Any, context: Any) -> Any:
    """``invoke(..., context={...})``: a dict is turned into the entrypoint's ``context_schema``
    when that is a dataclass or pydantic model (LangGraph's ``_coerce_context``)."""
    if isinstance(context, dict) and isinstance(schema, type) and (
        dataclasses.is_dataclass(schema) or hasattr(schema, "model_fields")
    ):
        return schema(**context)
    return context


def merge_configs(*configs: dict | None) -> dict:
    """Configs merged left to right, as LangGraph's ``merge_configs``: ``configurable`` and
    ``metadata`` key by key, ``tags`` concatenated without repeats, other keys replaced."""
    merged: dict = {}
    for config in configs:
        for key, value in (config or {}).items():
            if key in ("configurable", "metadata") and isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            elif key == "tags" and value:
                merged[key] = list(dict.fromkeys([*merged.get(key, []), *value]))
            else:
                merged[key] = value
    return merged


def _with_defaults(config: dict | None) -> dict:
    config = dict(config or {})
    config["configurable"] = dict(config.get("configurable") or {})
    config.setdefault("metadata", {})
    return config
