"""Task execution and replay: what calling a ``@task`` inside a run does.

A call gets a deterministic task id (the run's input checkpoint, the step, the task's name and
its call position); a call whose ``__return__`` write exists is replayed (its future resolves to
the recorded result at once), any other is executed: an async task as an asyncio task on the
body's event loop, a sync task on the worker pool, each under its retry policy (and timeout),
with its outcome stored as a pending write (``__return__``, ``__interrupt__`` or ``__error__``)
as LangGraph's ``PregelRunner`` commits a task's writes.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import TYPE_CHECKING, Any

from . import cache as caching
from . import ids
from .determinism import checked_call
from .integrations import task_inputs
from .pool import TaskFuture, in_event_loop, worker_pool
from .retry import with_retry, with_retry_async, with_timeout
from .scope import Scope, current_scope
from .stream import task_start
from .subgraphs import interrupt_writes
from .types import GraphInterrupt

if TYPE_CHECKING:
    from .loop import PregelLoop

__all__ = ["TaskRunner"]

logger = logging.getLogger("workflows.runtime")


class TaskRunner:
    """Starts, replays and records the task calls of one run (its :class:`PregelLoop`)."""

    __slots__ = ("loop",)

    def __init__(self, loop: PregelLoop) -> None:
        self.loop = loop

    def call(self, task: Any, parent: Scope, args: tuple, kwargs: dict) -> Any:
        """Start (or replay) one ``@task`` call from ``parent``; returns its future (a
        :class:`TaskFuture`, or an asyncio future/task in async code)."""
        loop = self.loop
        attempt = parent.attempt
        if attempt is not None:  # the caller runs under a timeout: a call is progress
            if not attempt.active:
                raise asyncio.CancelledError  # the caller timed out (LangGraph's guarded call)
            attempt.progress()
        index = next(parent.calls)
        seq = next(loop.call_seq)
        path_str = "|".join(str(p) for p in parent.path)
        task_id = ids.push_task_id(
            loop.checkpoint["id"] if loop.checkpoint else "",
            loop.config["configurable"].get("checkpoint_ns", ""),
            loop.step, task.name, path_str, index,
        )
        path = (*parent.path, index)
        call = None
        if loop.saver is not None:
            call = checked_call(loop, task, parent, path, args, kwargs, task_id)
        if loop.wants("tasks"):
            loop.emit("tasks", task_start(
                task_id, task.name, (args, kwargs), ("__pregel_push",), loop.config))
        done = loop.writes.get(task_id, {})
        in_loop = in_event_loop()
        if "__return__" in done:
            return _resolved(task, done["__return__"])
        child = Scope(loop, task_id, task.name, f"{parent.ns}|{task.name}:{task_id}", path)
        child.call = call
        child.cache_key, hit = caching.task_lookup(loop, task, args, kwargs)
        if hit is not None:  # a cached result: recorded as the task's, not executed
            loop.write(task_id, [("__return__", hit)], child.task_path, call)
            loop.emit("updates", {task.name: hit, "__metadata__": {"cached": True}})
            return _resolved(task, hit)
        ctx = contextvars.copy_context()
        if task.is_async:
            if not in_loop:
                raise RuntimeError("In an sync context async tasks cannot be called")
            coro = self._run_async(task, child, parent, seq, args, kwargs)
            fut = asyncio.get_running_loop().create_task(coro, context=ctx)
        else:
            fut = TaskFuture()
            worker_pool().submit(
                ctx.run, self._run_sync, task, child, parent, seq, args, kwargs, fut
            )
        with loop.lock:
            loop.futures.append(fut)
        return fut

    def _run_sync(
        self, task, scope: Scope, caller: Scope, seq: int, args, kwargs, fut: TaskFuture
    ) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        token = current_scope.set(scope)
        tracing, inputs = self.loop.tracing, lambda: task_inputs(task.func, args, kwargs)
        try:
            result = with_retry(task.retry_policy, lambda: tracing.call(
                scope, caller, inputs, lambda: task.call(scope, args, kwargs)))
            self._done(task, scope, result)
        except GraphInterrupt as gi:
            self._interrupted(scope, seq, gi)
            fut.set_exception(gi)
        except BaseException as exc:
            self._failed(task, scope, exc)
            fut.set_exception(exc)
        else:
            fut.set_result(result)
        finally:
            current_scope.reset(token)

    async def _run_async(self, task, scope: Scope, caller: Scope, seq: int, args, kwargs) -> Any:
        current_scope.set(scope)
        tracing, inputs = self.loop.tracing, lambda: task_inputs(task.func, args, kwargs)
        try:
            result = await with_retry_async(
                task.retry_policy,
                lambda: with_timeout(
                    task.timeout, task.name, scope,
                    lambda: tracing.acall(
                        scope, caller, inputs, lambda: task.call(scope, args, kwargs)
                    ),
                ),
            )
        except GraphInterrupt as gi:
            self._interrupted(scope, seq, gi)
            raise
        except BaseException as exc:
            self._failed(task, scope, exc)
            raise
        self._done(task, scope, result)
        return result

    def _done(self, task, scope: Scope, result: Any) -> None:
        loop = self.loop
        loop.write(scope.task_id, [("__return__", result)], scope.task_path, scope.call)
        caching.store(loop, scope.cache_key, [("__return__", result)])
        loop.emit("updates", {task.name: result})
        if loop.wants("tasks"):
            loop.emit("tasks", {"id": scope.task_id, "name": task.name, "error": None,
                                "result": {"__return__": result}, "interrupts": []})

    def _interrupted(self, scope: Scope, seq: int, gi: GraphInterrupt) -> None:
        if gi.task_id == scope.task_id:
            loop = self.loop
            loop.write(scope.task_id, interrupt_writes(gi), scope.task_path, scope.call)
            loop.surface(seq, gi.interrupts)

    def _failed(self, task, scope: Scope, exc: BaseException) -> None:
        loop = self.loop
        try:
            loop.write(scope.task_id, [("__error__", repr(exc))], scope.task_path, scope.call)
        except Exception:
            logger.exception("could not record the error of task %s", task.name)
        if loop.wants("tasks"):
            loop.emit("tasks", {"id": scope.task_id, "name": task.name, "error": exc,
                                "result": {}, "interrupts": []})


def _resolved(task: Any, result: Any) -> Any:
    """A future already holding ``result`` (a replayed or cached task call): an asyncio future
    for an async task called in async code, else a :class:`TaskFuture`."""
    if task.is_async and in_event_loop():
        fut: Any = asyncio.get_running_loop().create_future()
    else:
        fut = TaskFuture()
    fut.set_result(result)
    return fut
