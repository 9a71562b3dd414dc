"""Executing one run: claim it from the database, iterate the workflow's
``astream(..., stream_mode=STREAM_MODES)`` on its Django checkpointer (``workflows.adapters``: a
Flowsite entrypoint, sync or ``async def``, or a LangGraph graph) on the executor loop, send
each chunk to the thread's group ``thread.<pk>`` (text being written through
``workflows.live``: one growing block per model call), then record the outcome (interrupted /
success / error) in one transaction and announce it (``workflows.signals.run_status_changed``).

While it executes, the run's lease is renewed (``workflows.execution.leases``). A passing
``DatabaseError`` (``OperationalError``, ``InterfaceError``) while claiming, finishing, giving up
or requeueing is retried with a bounded backoff (``DB_RETRY``: 6 attempts over about 6 s); if it
lasts, the run is left to its lease, which is no longer renewed, so the sweep requeues it: never
"running" past its lease. A drained run (:class:`Drain`, SIGTERM) stops at its step boundary,
its progress checkpointed, and goes back to the queue.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from typing import Any

import tenacity
from django.db import InterfaceError, OperationalError

from .. import live, services, signals
from ..models import Run
from ..services import statements
from ..runtime.types import ThreadBusyError
from . import leases, publishing, threads, waking
from .processes import worker_name

__all__ = [
    "STREAM_MODES",
    "Drain",
    "aexecute_claimed",
    "aexecute_run",
    "execute_claimed",
    "execute_run",
    "submit",
    "thread_serde",
]

logger = logging.getLogger("workflows.executor")

#: seconds a run whose thread another run still holds (a hung process: a killed one's lock is
#: gone at once) waits before it goes back to the queue for another try
BUSY_RETRY_SECONDS = 1.0

# "tasks" tells which task a custom string belongs to and when a live text block ends
STREAM_MODES = ["updates", "custom", "messages", "tasks"]

# a passing database error (a restart, a dropped connection, "too many clients") is retried
DB_RETRY = {
    "retry": tenacity.retry_if_exception_type((OperationalError, InterfaceError)),
    "stop": tenacity.stop_after_attempt(6),
    "wait": tenacity.wait_exponential(multiplier=0.2, max=2.0),
    "reraise": True,
}


async def _database_retrying(fn: Callable, **kwargs: Any) -> Any:
    """``fn(**kwargs)`` on the executor's database threads, retried on a passing error."""
    async for attempt in tenacity.AsyncRetrying(**DB_RETRY):
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                logger.warning("retrying %s (attempt %d)", fn.__name__, attempt.retry_state.attempt_number)
            return await threads.database(fn, **kwargs)


class Drain:
    """Asks one run to stop at its step boundary (the workflow's ``RunControl``, made when the
    run starts); ``request_drain()`` may come before that, from any thread."""

    def __init__(self) -> None:
        self.requested = False
        self.control: Any = None

    def attach(self, control: Any) -> Any:
        self.control = control
        if self.requested:
            control.request_drain("shutdown")
        return control

    def request_drain(self) -> None:
        self.requested = True
        if self.control is not None:
            self.control.request_drain("shutdown")


def submit(run_id: Any, *, claimed: bool = False) -> concurrent.futures.Future:
    """Schedule a run on the executor loop; the future gives its final status (``None``: not
    claimed). ``claimed``: this worker has claimed it already."""
    coro = aexecute_claimed(run_id) if claimed else aexecute_run(run_id)
    return asyncio.run_coroutine_threadsafe(coro, threads.executor_loop())


def execute_run(run_id: Any) -> str | None:
    """Claim and execute one run on the executor loop and wait for it (from sync code: tests,
    scripts); returns its final status, or ``None`` if not claimed. Never raises."""
    return submit(run_id).result()


def execute_claimed(run_id: Any) -> str | None:
    """:func:`aexecute_claimed` from sync code, waiting for it."""
    return submit(run_id, claimed=True).result()


async def aexecute_run(run_id: Any, *, drain: Drain | None = None) -> str | None:
    """Claim and execute one run; returns its final status (``queued``: drained, given back),
    or ``None`` if not claimed. ``drain``: to stop it at its step boundary.

    Never raises: a failing workflow marks the run and its thread ``error``.
    """
    try:
        claimed = await _database_retrying(services.claim_run, run_id=run_id, worker=worker_name())
    except Exception:
        logger.exception("could not claim run %s", run_id)
        return None
    if not claimed:
        return None
    return await aexecute_claimed(run_id, drain=drain)


async def aexecute_claimed(run_id: Any, *, drain: Drain | None = None) -> str | None:
    """Execute a run this worker has claimed, renewing its lease, then wake the thread's next
    queued run."""
    try:
        with leases.holding(run_id):
            return await _execute_claimed(run_id, drain or Drain())
    except BaseException as exc:
        logger.exception("executor failed on run %s", run_id)
        try:
            await _database_retrying(
                services.give_up_run, run_id=run_id, error=f"{type(exc).__name__}: {exc}",
                worker=worker_name(),
            )
        except Exception:
            logger.exception("could not record the failure of run %s: its lease ends it", run_id)
        if not isinstance(exc, Exception):
            raise
        return None
    finally:
        # (the checkpointer's I/O threads give their connections back themselves once idle:
        # workflows.runtime.pool.after_each_call)
        try:
            await threads.database(_wake_next_of_thread, run_id)
        except Exception:
            logger.exception("could not look for the next run of run %s's thread", run_id)


def _wake_next_of_thread(run_id: Any) -> None:
    """Wake the oldest queued run of ``run_id``'s thread, if any (one query)."""
    connection, sql = statements.statements()
    with connection.cursor() as cursor:
        cursor.execute(sql.next_of_thread, [statements.run_id_param(connection, run_id), Run.Status.QUEUED])
        nxt = statements.run_ids(cursor.fetchall())
    if nxt:
        waking.wake(nxt[0])


# -- one run ------------------------------------------------------------------------------
def thread_serde() -> Any:
    """The serializer of runs' inputs and answers (``DjangoSaver``'s JSON)."""
    from ..checkpointer import DjangoSaver

    return DjangoSaver().serde


def _command(run: Any, adapter: Any, config: dict, serde: Any) -> Any:
    """The runtime input of a run: its input, the adapter's ``Command(resume=...)`` (Flowsite's
    or LangGraph's), or ``None`` (continue)."""
    payload = serde.loads(run.input)
    if run.kind in (Run.Kind.REPLAY, Run.Kind.FORK):
        return None  # LangGraph's time travel: invoke(None, config with its checkpoint_id)
    if run.kind == Run.Kind.START:
        # a start that was cut off after its input checkpoint continues instead of restarting
        connection, sql = statements.statements()
        with connection.cursor() as cursor:
            cursor.execute(sql.has_checkpoint, [run.thread_id])
            started = cursor.fetchone() is not None
        return None if started else payload
    # a resume, or a retry after a failed resume: every recorded answer to an interrupt that is
    # still pending goes in (a resume run that failed before storing its answer loses nothing)
    pending = {intr.id for intr in adapter.get_state(config).interrupts}
    answers = {}
    resumes = Run.objects.filter(thread_id=run.thread_id, kind=Run.Kind.RESUME)
    for resume in resumes.order_by("created_at").values_list("input", flat=True):
        answers.update((k, v) for k, v in serde.loads(resume)["resume"].items() if k in pending)
    return adapter.resume_command(answers) if answers else None


def _load_run(run_id: Any) -> Any:
    """The run ``run_id`` with its thread (the fields the executor reads; one query, as SQL:
    ``statements.RunStatements.load``). ``Run.DoesNotExist`` if there is none."""
    connection, sql = statements.statements()
    with connection.cursor() as cursor:
        cursor.execute(sql.load, [statements.run_id_param(connection, run_id)])
        row = cursor.fetchone()
    if row is None:
        raise Run.DoesNotExist(f"no run {run_id}")
    return statements.loaded_run(connection, row)


def _load_and_prepare(run_id: Any) -> tuple[Any, tuple | BaseException]:
    """The run, and what :func:`_prepare` makes of it or the exception it raised: one hop to a
    database thread for both."""
    run = _load_run(run_id)
    try:
        return run, _prepare(run)
    except Exception as exc:
        return run, exc


def _prepare(run: Any) -> tuple[Any, dict, Any]:
    """The workflow to run (a Flowsite entrypoint or a LangGraph graph, on its Django
    checkpointer), its config and its input for ``run``."""
    from .. import adapters, registry

    adapter = adapters.adapter_for(registry.get(run.thread.workflow))
    config = {"configurable": {"thread_id": run.thread.thread_id}}
    command = _command(run, adapter, config, thread_serde())
    if run.kind in (Run.Kind.REPLAY, Run.Kind.FORK):  # from the checkpoint it names
        checkpoint_id = thread_serde().loads(run.input)["checkpoint_id"]
        config = {"configurable": {**config["configurable"], "checkpoint_id": checkpoint_id}}
    return adapter, config, command


async def _announce(
    run: Any, status: str, *, thread_status: str, result: Any = None, error: str = ""
) -> None:
    """After commit, tell the thread's pages (group ``thread.<pk>``: the thread's new
    ``thread_status``) and other apps (``run_status_changed``: the run's ``status``). A start
    run's ``running`` is not sent to the pages: its thread was made ``running`` with the run
    (``start_run``), so no page shows it otherwise (each message is a state render per page)."""
    if not (status == Run.Status.RUNNING and run.kind == Run.Kind.START):
        await publishing.agroup_send(run.thread.group_name, {
            "type": "thread.status", "run_id": str(run.pk), "status": thread_status,
            "result": result, "error": error,
        })
    try:
        await signals.run_status_changed.asend(
            sender=Run, run_id=str(run.pk), thread_pk=run.thread_id, status=status
        )
    except Exception:
        logger.exception("a run_status_changed receiver failed on run %s", run.pk)


async def _execute_claimed(run_id: Any, drain: Drain) -> str:
    run, prepared = await threads.database(_load_and_prepare, run_id)
    thread = run.thread
    await _announce(run, Run.Status.RUNNING, thread_status=Run.Status.RUNNING)
    adapter = None
    try:
        if isinstance(prepared, BaseException):
            raise prepared
        adapter, config, command = prepared
        await _stream(run, adapter, command, config, drain.attach(adapter.run_control()))
        # the thread's latest state (a replay's config names the checkpoint it started from)
        latest = {"configurable": {"thread_id": config["configurable"]["thread_id"]}}
        state = await threads.database(adapter.get_state, latest)
    except Exception as exc:
        if adapter is not None and isinstance(exc, adapter.drained):
            return await _give_back(run)
        if isinstance(exc, ThreadBusyError):  # a hung earlier holder: later, not a failure
            logger.warning("run %s: thread %s is still held by an earlier run; back to the queue "
                           "in %s s", run.pk, thread.thread_id, BUSY_RETRY_SECONDS)
            await asyncio.sleep(BUSY_RETRY_SECONDS)
            return await _give_back(run)
        logger.exception("run %s of thread %s failed", run.pk, thread.thread_id)
        return await _finish(run, Run.Status.ERROR, result=None, error=f"{type(exc).__name__}: {exc}")
    if state.interrupts:
        return await _finish(run, Run.Status.INTERRUPTED, result=None, error="")
    return await _finish(run, Run.Status.SUCCESS, result=adapter.display(state.values), error="")


async def _give_back(run: Any) -> str:
    """A drained run goes back to the queue (its progress is checkpointed)."""
    logger.info("run %s drained: back to the queue", run.pk)
    await _database_retrying(services.requeue_run, run_id=run.pk, worker=worker_name())
    return Run.Status.QUEUED


async def _stream(run: Any, adapter: Any, command: Any, config: dict, control: Any) -> None:
    """Iterate the run's ``astream`` on this loop and send its chunks to the thread's group:
    live text through :class:`workflows.live.LiveText`, everything else as ``thread.chunk``."""
    group = run.thread.group_name

    async def send(message: dict) -> None:
        await publishing.agroup_send(group, message)

    seq = 0
    text = live.LiveText(
        thread_pk=run.thread_id, run_id=str(run.pk), entrypoint=adapter.name, send=send,
        offload=threads.database,
    )
    async with text:
        async for mode, chunk in adapter.astream(command, config, stream_mode=STREAM_MODES, control=control):
            if text.feed(mode, chunk):
                continue
            seq += 1
            await send({
                "type": "thread.chunk", "run_id": str(run.pk), "seq": seq, "mode": mode,
                "chunk": adapter.display_chunk(mode, chunk),
            })


async def _finish(run: Any, status: str, *, result: Any, error: str) -> str:
    """Record the run's outcome (one transaction), then announce it."""
    try:
        fields = await _database_retrying(
            services.finish_run, run_id=run.pk, status=status, result=result, error=error,
            worker=worker_name(),
        )
    except (OperationalError, InterfaceError):
        logger.exception("could not record the outcome of run %s: its lease ends it", run.pk)
        return status
    if fields is not None:
        await _announce(run, status, thread_status=fields["status"], result=result, error=error)
    return status
