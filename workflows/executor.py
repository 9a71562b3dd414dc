"""Background execution of runs, and the live stream of their chunks over the channel layer.

The database is the queue and the source of truth (channel-layer delivery is at-most-once):

* ``services`` write a ``Run`` row (queued) and, on commit, call :func:`wake`;
* an executor *claims* the run with a conditional update (queued -> running), refused while
  another run of the same thread is running (the thread row is locked first on PostgreSQL;
  SQLite's IMMEDIATE transactions serialise writers), then iterates the workflow's
  ``astream(..., stream_mode=STREAM_MODES)`` on its Django checkpointer (``workflows.adapters``:
  a Flowsite entrypoint, sync or ``async def``, or a LangGraph graph);
* each chunk goes to the channel-layer group ``thread.<pk>`` as primitives; thread pages render it.
  Text being written (``messages`` chunks, ``custom`` strings) goes through ``workflows.live``:
  coalesced into one growing block per model call, kept in the ``live`` cache for reconnects;
* the outcome (interrupted / success / error) is written in one transaction, then announced.

Every run executes as a task on one event loop per process (the *executor loop*, a daemon
thread started lazily per PID: loops and pools do not survive ``fork``), so many runs stream at
once without a thread each waiting on them: an ``async def`` entrypoint's body and async tasks
run on that loop (as LangGraph runs them on the caller's), a sync body in the runtime's worker
threads. The ORM work around a run goes to a few executor database threads (never a consumer's
``thread_sensitive`` thread). Two ways to execute, calling
the same :func:`aexecute_run`:

* ``FLOWSITE_EXECUTOR="inprocess"`` (default): inside the server process, at most
  ``FLOWSITE_EXECUTOR_CONCURRENCY`` (8) at once. With the in-memory channel layer, sends are
  handed to the server's event loop (bound by ``flowsite.asgi``) because that layer is not
  thread-safe.
* ``"external"``: ``manage.py run_executor`` processes poll the database for queued runs
  (a conditional update per claim; the thread row locked first on PostgreSQL) and execute
  several at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from . import live
from .runtime.pool import Heartbeat, PerProcess, io_workers

logger = logging.getLogger("workflows.executor")

INBOX_GROUP = "inbox"
LEASE = timedelta(minutes=10)
# "tasks" tells which task a custom string belongs to and when a live text block ends
STREAM_MODES = ["updates", "custom", "messages", "tasks"]
SEND_TIMEOUT = 10.0  # seconds

_loop: tuple[int, asyncio.AbstractEventLoop] | None = None


_BOOT = PerProcess(lambda: uuid.uuid4().hex[:8])


def worker_name() -> str:
    """``host:pid:boot``; the boot id tells a restarted process (same pid) from its ghost."""
    return f"{socket.gethostname()}:{os.getpid()}:{_BOOT.get()}"


# -- channel layer ----------------------------------------------------------------------------
def bind_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the server's event loop (called by the ASGI app on its first request), so that
    executor threads hand channel-layer sends to it; then recover this host's stale runs."""
    global _loop
    if _loop is not None and _loop[0] == os.getpid() and _loop[1] is loop:
        return
    _loop = (os.getpid(), loop)
    if settings.FLOWSITE_EXECUTOR == "inprocess":
        _db_threads().submit(recover)


def group_send(group: str, message: dict) -> None:
    """Send ``message`` (primitives only) to a channel-layer group from any non-loop thread.

    Sends are best effort (at-most-once): a failure is logged, never raised into the run.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        bound = _loop
        if bound and bound[0] == os.getpid() and bound[1].is_running():
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), bound[1])
            future.result(timeout=10)
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.exception("could not send %s to %s", message.get("type"), group)


async def agroup_send(group: str, message: dict) -> None:
    """:func:`group_send` for coroutines: on the server's loop when one is bound in this process
    (the in-memory layer lives there), else on the running loop. Best effort, never raises."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        bound = _loop
        if bound and bound[0] == os.getpid() and bound[1].is_running() \
                and bound[1] is not asyncio.get_running_loop():
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), bound[1])
            await asyncio.wait_for(asyncio.wrap_future(future), SEND_TIMEOUT)
        else:
            await asyncio.wait_for(layer.group_send(group, message), SEND_TIMEOUT)
    except Exception:
        logger.exception("could not send %s to %s", message.get("type"), group)


# -- the executor loop and its database threads ----------------------------------------------
def _start_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="workflows-executor-loop", daemon=True).start()
    return loop


_executor_loop = PerProcess(_start_loop)
_db_pool = PerProcess(
    lambda: concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="workflows-executor-db")
)
_slots = PerProcess(lambda: asyncio.Semaphore(getattr(settings, "FLOWSITE_EXECUTOR_CONCURRENCY", 8)))


def executor_loop() -> asyncio.AbstractEventLoop:
    """This process's executor loop (started on first use)."""
    return _executor_loop.get()


def _db_threads() -> concurrent.futures.ThreadPoolExecutor:
    return _db_pool.get()


def _closing(fn: Callable, *args: Any) -> Any:
    try:
        return fn(*args)
    finally:
        close_old_connections()


async def _db(fn: Callable, *args: Any) -> Any:
    """Run blocking ORM code of the executor on its database threads; their connections follow
    ``CONN_MAX_AGE`` (closed after each call in tests)."""
    return await asyncio.get_running_loop().run_in_executor(_db_threads(), _closing, fn, *args)


def submit(run_id: Any, *, claimed: bool = False) -> concurrent.futures.Future:
    """Schedule a run on the executor loop; the future gives its final status (``None``: not
    claimed). ``claimed``: this worker has claimed it already (``run_executor``)."""
    coro = aexecute_claimed(run_id) if claimed else aexecute_run(run_id)
    return asyncio.run_coroutine_threadsafe(coro, executor_loop())


# -- waking executors -------------------------------------------------------------------------
async def _execute_inprocess(run_id: Any) -> str | None:
    async with _slots.get():
        return await aexecute_run(run_id)


def wake(run_id: Any) -> None:
    """Have an executor pick up ``run_id``: in this process (``inprocess``), or leave it queued
    for ``run_executor`` workers, which poll the database (``external``)."""
    if settings.FLOWSITE_EXECUTOR == "inprocess":
        asyncio.run_coroutine_threadsafe(_execute_inprocess(run_id), executor_loop())


def wake_on_commit(run_id: Any) -> None:
    transaction.on_commit(lambda: wake(run_id))


def recover() -> int:
    """Requeue runs left ``running`` by a dead process of this host or with an expired lease,
    free threads held by dead processes of this host, and wake every queued run. Returns how
    many runs were woken."""
    from .models import Run, Thread

    now = timezone.now()
    try:
        for run in Run.objects.filter(status=Run.Status.RUNNING).only("id", "worker", "lease_expires_at"):
            if _gone(run.worker, boot=True) or (run.lease_expires_at and run.lease_expires_at < now):
                Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, worker=run.worker).update(
                    status=Run.Status.QUEUED, worker="", lease_expires_at=None
                )
        for thread in Thread.objects.exclude(run_owner="").only("pk", "run_owner"):
            if _gone(thread.run_owner, boot=False):
                Thread.objects.filter(pk=thread.pk, run_owner=thread.run_owner).update(
                    run_owner="", run_lease_expires_at=None
                )
        queued = list(Run.objects.filter(status=Run.Status.QUEUED).values_list("id", flat=True))
    finally:
        connections.close_all()
    for run_id in queued:
        wake(run_id)
    return len(queued)


def _gone(token: str, *, boot: bool) -> bool:
    """Whether ``token`` (``host:pid[:boot...]``: a worker name, or the runtime's thread owner)
    names a process of this host that no longer runs. With ``boot``, a token of this very pid
    but another boot id is a previous process that had the same pid."""
    host, pid, rest = (token.split(":", 2) + ["", ""])[:3]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return boot and rest != _BOOT.get()
    return not _alive(int(pid))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- claiming ---------------------------------------------------------------------------------
def claim(run_id: Any) -> bool:
    """Mark a queued run as running by this worker, unless its thread already has a running
    run. Returns whether this worker now owns it."""
    from .models import Run, Thread

    with transaction.atomic():
        run = Run.objects.filter(pk=run_id).values("thread_id", "status").first()
        if run is None or run["status"] != Run.Status.QUEUED:
            return False
        if connection.features.has_select_for_update:
            Thread.objects.select_for_update().filter(pk=run["thread_id"]).first()
        if Run.objects.filter(thread_id=run["thread_id"], status=Run.Status.RUNNING).exists():
            return False
        now = timezone.now()
        return bool(
            Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(
                status=Run.Status.RUNNING, worker=worker_name(), started_at=now, lease_expires_at=now + LEASE
            )
        )


def claim_next() -> Any | None:
    """Claim the oldest queued run whose thread has no running run (for ``run_executor``
    workers); concurrent workers race on :func:`claim`'s conditional update."""
    from .models import Run

    busy = Run.objects.filter(thread_id=OuterRef("thread_id"), status=Run.Status.RUNNING)
    candidates = (
        Run.objects.filter(status=Run.Status.QUEUED).filter(~Exists(busy)).order_by("created_at")
    )
    for run_id in candidates.values_list("id", flat=True)[:20]:
        if claim(run_id):  # a conditional update: of two workers, one wins
            return run_id
    return None


# -- executing --------------------------------------------------------------------------------
def _command(run: Any, adapter: Any, config: dict, serde: Any) -> Any:
    """The runtime input of a run: its input, the adapter's ``Command(resume=...)`` (Flowsite's
    or LangGraph's), or ``None`` (continue)."""
    from .models import Checkpoint, Run

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
        answers.update(
            (k, v) for k, v in serde.loads(resume)["resume"].items() if k in pending
        )
    return adapter.resume_command(answers) if answers else None


def execute_run(run_id: Any) -> str | None:
    """Claim and execute one run on the executor loop and wait for it (from sync code: tests,
    scripts); returns its final status, or ``None`` if not claimed. Never raises."""
    return submit(run_id).result()


def execute_claimed(run_id: Any) -> str | None:
    """:func:`aexecute_claimed` from sync code, waiting for it."""
    return submit(run_id, claimed=True).result()


def _claim_closing(run_id: Any) -> bool:
    close_old_connections()
    return claim(run_id)


async def aexecute_run(run_id: Any) -> str | None:
    """Claim and execute one run; returns its final status, or ``None`` if not claimed.

    Never raises: a failing workflow marks the run and its thread ``error``.
    """
    try:
        claimed = await _db(_claim_closing, run_id)
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
        await _db(_give_up, run_id, exc)
        if not isinstance(exc, Exception):
            raise
        return None
    finally:
        try:
            await _db(_wake_next_of_thread, run_id)
        finally:
            # the checkpointer's I/O threads: drop broken or expired connections
            await _db(io_workers().run_everywhere, close_old_connections)


def _renew_lease(run_id: Any) -> None:
    from .models import Run

    try:
        Run.objects.filter(pk=run_id, status=Run.Status.RUNNING, worker=worker_name()).update(
            lease_expires_at=timezone.now() + LEASE
        )
    finally:
        connections.close_all()


def _give_up(run_id: Any, exc: BaseException) -> None:
    """Best effort after an executor failure: the run (if still ours) and its thread end in
    ``error``, so the thread is not left running for ever."""
    from .models import Run, Thread

    try:
        error = f"{type(exc).__name__}: {exc}"
        with transaction.atomic():
            thread_id = Run.objects.filter(pk=run_id).values_list("thread_id", flat=True).first()
            mine = Run.objects.filter(pk=run_id, status=Run.Status.RUNNING, worker=worker_name())
            if mine.update(status=Run.Status.ERROR, error=error, finished_at=timezone.now()):
                Thread.objects.filter(pk=thread_id).update(status=Thread.Status.ERROR, error=error)
    except Exception:
        logger.exception("could not record the failure of run %s", run_id)


def _load_run(run_id: Any) -> Any:
    from .models import Run

    return Run.objects.select_related("thread").get(pk=run_id)


def _prepare(run: Any) -> tuple[Any, dict, Any]:
    """The workflow to run (a Flowsite entrypoint or a LangGraph graph, on its Django
    checkpointer), its config and its input for ``run``."""
    from . import adapters, registry

    adapter = adapters.adapter_for(registry.get(run.thread.workflow))
    config = {"configurable": {"thread_id": run.thread.thread_id}}
    return adapter, config, _command(run, adapter, config, thread_serde())


async def _execute_claimed(run_id: Any) -> str:
    from .models import Run

    run = await _db(_load_run, run_id)
    thread = run.thread
    group = thread.group_name
    await agroup_send(group, {"type": "thread.status", "run_id": str(run.pk), "status": "running",
                              "result": None, "error": ""})
    try:
        adapter, config, command = await _db(_prepare, run)
        await _stream(run, adapter, command, config)
        state = await _db(adapter.get_state, config)
    except Exception as exc:
        logger.exception("run %s of thread %s failed", run.pk, thread.thread_id)
        return await _finish(run, Run.Status.ERROR, result=None, error=f"{type(exc).__name__}: {exc}")
    if state.interrupts:
        return await _finish(run, Run.Status.INTERRUPTED, result=None, error="")
    return await _finish(run, Run.Status.SUCCESS, result=adapter.display(state.values), error="")


def thread_serde() -> Any:
    """The serializer of runs' inputs and answers (``DjangoSaver``'s JSON)."""
    from .checkpointer import DjangoSaver

    return DjangoSaver().serde


async def _stream(run: Any, adapter: Any, command: Any, config: dict) -> None:
    """Iterate the run's ``astream`` on this loop and send its chunks to the thread's group:
    live text through :class:`workflows.live.LiveText`, everything else as ``thread.chunk``."""
    group = run.thread.group_name

    async def send(message: dict) -> None:
        await agroup_send(group, message)

    seq = 0
    text = live.LiveText(
        thread_pk=run.thread_id, run_id=str(run.pk), entrypoint=adapter.name, send=send, offload=_db,
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
    """Record the run's outcome (one transaction), then announce it to its thread and the inbox."""
    fields = await _db(_record_outcome, run, status, result, error)
    if fields is not None:
        await agroup_send(f"thread.{run.thread_id}", {
            "type": "thread.status", "run_id": str(run.pk), "status": fields["status"],
            "result": result, "error": error,
        })
        await agroup_send(INBOX_GROUP, {"type": "inbox.changed"})
    return status


def _record_outcome(run: Any, status: str, result: Any, error: str) -> dict | None:
    """The thread's new fields, or ``None`` when the run is no longer this worker's."""
    from .models import Interrupt, Run, Thread

    thread_status = {
        Run.Status.INTERRUPTED: Thread.Status.INTERRUPTED,
        Run.Status.SUCCESS: Thread.Status.DONE,
        Run.Status.ERROR: Thread.Status.ERROR,
    }[status]
    now = timezone.now()
    with transaction.atomic():
        mine = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, worker=worker_name())
        if not mine.update(status=status, finished_at=now, error=error, lease_expires_at=None):
            logger.warning("run %s is no longer this worker's: its outcome is not recorded", run.pk)
            return None
        fields: dict[str, Any] = {"status": thread_status, "error": error, "updated_at": now}
        if status == Run.Status.SUCCESS:
            fields["result"] = result
            Interrupt.objects.filter(thread_id=run.thread_id, status=Interrupt.Status.PENDING).update(
                status=Interrupt.Status.CANCELLED, resolved_at=now
            )
        elif status == Run.Status.INTERRUPTED and Run.objects.filter(
            thread_id=run.thread_id, status=Run.Status.QUEUED
        ).exists():
            fields["status"] = Thread.Status.RUNNING  # another answer is already queued
        Thread.objects.filter(pk=run.thread_id).update(**fields)
    return fields


def _wake_next_of_thread(run_id: Any) -> None:
    from .models import Run

    thread_id = Run.objects.filter(pk=run_id).values_list("thread_id", flat=True).first()
    nxt = (
        Run.objects.filter(thread_id=thread_id, status=Run.Status.QUEUED)
        .order_by("created_at").values_list("id", flat=True).first()
    )
    if nxt is not None:
        wake(nxt)
