"""Executing one run: claim it from the database, iterate the workflow's
``astream(..., stream_mode=STREAM_MODES)`` on its Django checkpointer (``workflows.adapters``: a
Flowsite entrypoint, sync or ``async def``, or a LangGraph graph) on the executor loop, send
each chunk to the thread's group ``thread.<pk>`` (text being written through
``workflows.live``: one growing block per model call), then record the outcome (interrupted /
success / error) in one transaction and announce it (``workflows.signals.run_status_changed``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any

from django.db import close_old_connections, connections

from .. import live, services, signals
from ..models import Checkpoint, Run
from ..runtime.pool import Heartbeat, io_workers
from . import publishing, threads, waking
from .processes import worker_name

__all__ = [
    "STREAM_MODES",
    "aexecute_claimed",
    "aexecute_run",
    "execute_claimed",
    "execute_run",
    "submit",
    "thread_serde",
]

logger = logging.getLogger("workflows.executor")

# "tasks" tells which task a custom string belongs to and when a live text block ends
STREAM_MODES = ["updates", "custom", "messages", "tasks"]


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


async def aexecute_run(run_id: Any) -> str | None:
    """Claim and execute one run; returns its final status, or ``None`` if not claimed.

    Never raises: a failing workflow marks the run and its thread ``error``.
    """
    try:
        claimed = await threads.database(services.claim_run, run_id=run_id, worker=worker_name())
    except Exception:
        logger.exception("could not claim run %s", run_id)
        return None
    if not claimed:
        return None
    return await aexecute_claimed(run_id)


async def aexecute_claimed(run_id: Any) -> str | None:
    """Execute a run this worker has claimed, then wake the thread's next queued run."""
    try:
        with Heartbeat(lambda: _renew_lease(run_id)):
            return await _execute_claimed(run_id)
    except BaseException as exc:
        logger.exception("executor failed on run %s", run_id)
        await threads.database(_give_up, run_id, exc)
        if not isinstance(exc, Exception):
            raise
        return None
    finally:
        try:
            await threads.database(_wake_next_of_thread, run_id)
        finally:
            # the checkpointer's I/O threads: drop broken or expired connections
            await threads.database(io_workers().run_everywhere, close_old_connections)


def _renew_lease(run_id: Any) -> None:
    try:
        services.renew_run_lease(run_id=run_id, worker=worker_name())
    finally:
        connections.close_all()


def _give_up(run_id: Any, exc: BaseException) -> None:
    """Best effort: a run whose executor failed ends in ``error``."""
    try:
        services.give_up_run(run_id=run_id, error=f"{type(exc).__name__}: {exc}", worker=worker_name())
    except Exception:
        logger.exception("could not record the failure of run %s", run_id)


def _wake_next_of_thread(run_id: Any) -> None:
    thread_id = Run.objects.filter(pk=run_id).values_list("thread_id", flat=True).first()
    nxt = (
        Run.objects.filter(thread_id=thread_id, status=Run.Status.QUEUED)
        .order_by("created_at").values_list("id", flat=True).first()
    )
    if nxt is not None:
        waking.wake(nxt)


# -- one run ------------------------------------------------------------------------------
def thread_serde() -> Any:
    """The serializer of runs' inputs and answers (``DjangoSaver``'s JSON)."""
    from ..checkpointer import DjangoSaver

    return DjangoSaver().serde


def _command(run: Any, adapter: Any, config: dict, serde: Any) -> Any:
    """The runtime input of a run: its input, the adapter's ``Command(resume=...)`` (Flowsite's
    or LangGraph's), or ``None`` (continue)."""
    payload = serde.loads(run.input)
    if run.kind == Run.Kind.START:
        # a start that was cut off after its input checkpoint continues instead of restarting
        started = Checkpoint.objects.filter(thread_id=run.thread_id).exists()
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
    return Run.objects.select_related("thread").get(pk=run_id)


def _prepare(run: Any) -> tuple[Any, dict, Any]:
    """The workflow to run (a Flowsite entrypoint or a LangGraph graph, on its Django
    checkpointer), its config and its input for ``run``."""
    from .. import adapters, registry

    adapter = adapters.adapter_for(registry.get(run.thread.workflow))
    config = {"configurable": {"thread_id": run.thread.thread_id}}
    return adapter, config, _command(run, adapter, config, thread_serde())


async def _announce(
    run: Any, status: str, *, thread_status: str, result: Any = None, error: str = ""
) -> None:
    """After commit, tell the thread's pages (group ``thread.<pk>``: the thread's new
    ``thread_status``) and other apps (``run_status_changed``: the run's ``status``)."""
    await publishing.agroup_send(run.thread.group_name, {
        "type": "thread.status", "run_id": str(run.pk), "status": thread_status, "result": result,
        "error": error,
    })
    try:
        await signals.run_status_changed.asend(
            sender=Run, run_id=str(run.pk), thread_pk=run.thread_id, status=status
        )
    except Exception:
        logger.exception("a run_status_changed receiver failed on run %s", run.pk)


async def _execute_claimed(run_id: Any) -> str:
    run = await threads.database(_load_run, run_id)
    thread = run.thread
    await _announce(run, Run.Status.RUNNING, thread_status=Run.Status.RUNNING)
    try:
        adapter, config, command = await threads.database(_prepare, run)
        await _stream(run, adapter, command, config)
        state = await threads.database(adapter.get_state, config)
    except Exception as exc:
        logger.exception("run %s of thread %s failed", run.pk, thread.thread_id)
        return await _finish(run, Run.Status.ERROR, result=None, error=f"{type(exc).__name__}: {exc}")
    if state.interrupts:
        return await _finish(run, Run.Status.INTERRUPTED, result=None, error="")
    return await _finish(run, Run.Status.SUCCESS, result=adapter.display(state.values), error="")


async def _stream(run: Any, adapter: Any, command: Any, config: dict) -> None:
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
        async for mode, chunk in adapter.astream(command, config, stream_mode=STREAM_MODES):
            if text.feed(mode, chunk):
                continue
            seq += 1
            await send({
                "type": "thread.chunk", "run_id": str(run.pk), "seq": seq, "mode": mode,
                "chunk": adapter.display_chunk(mode, chunk),
            })


async def _finish(run: Any, status: str, *, result: Any, error: str) -> str:
    """Record the run's outcome (one transaction), then announce it."""
    fields = await threads.database(
        services.finish_run, run_id=run.pk, status=status, result=result, error=error,
        worker=worker_name(),
    )
    if fields is not None:
        await _announce(run, status, thread_status=fields["status"], result=result, error=error)
    return status
