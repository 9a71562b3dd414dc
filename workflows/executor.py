"""Background execution of runs, and the live stream of their chunks over the channel layer.

The database is the queue and the source of truth (channel-layer delivery is at-most-once):

* ``services`` write a ``Run`` row (queued) and, on commit, call :func:`wake`;
* an executor *claims* the run with a conditional update (queued -> running), refused while
  another run of the same thread is running (the thread row is locked first on PostgreSQL;
  SQLite's IMMEDIATE transactions serialise writers), then iterates the workflow's
  ``stream(..., stream_mode=["updates", "custom"])`` on its Django checkpointer
  (``workflows.adapters``: a Flowsite entrypoint or a LangGraph graph);
* each chunk goes to the channel-layer group ``thread.<pk>`` as primitives; thread pages render it;
* the outcome (interrupted / success / error) is written in one transaction, then announced.

Two ways to execute, calling the same :func:`execute_run`:

* ``FLOWSITE_EXECUTOR="inprocess"`` (default): a thread pool inside the server process, started
  lazily per PID (pools do not survive ``fork``). With the in-memory channel layer, sends are
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
import uuid
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .runtime.pool import Heartbeat, PerProcess, io_workers

logger = logging.getLogger("workflows.executor")

INBOX_GROUP = "inbox"
LEASE = timedelta(minutes=10)
STREAM_MODES = ["updates", "custom"]

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
        _pool_executor().submit(recover)


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


# -- waking executors -------------------------------------------------------------------------
_executors = PerProcess(
    lambda: concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="workflows-executor")
)


def _pool_executor() -> concurrent.futures.ThreadPoolExecutor:
    return _executors.get()


def wake(run_id: Any) -> None:
    """Have an executor pick up ``run_id``: in this process (``inprocess``), or leave it queued
    for ``run_executor`` workers, which poll the database (``external``)."""
    if settings.FLOWSITE_EXECUTOR == "inprocess":
        _pool_executor().submit(execute_run, run_id)


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
    """Claim and execute one run; returns its final status, or ``None`` if not claimed.

    Never raises: a failing workflow marks the run and its thread ``error``.
    """
    close_old_connections()
    try:
        claimed = claim(run_id)
    except Exception:
        logger.exception("could not claim run %s", run_id)
        connections.close_all()
        return None
    if not claimed:
        connections.close_all()
        return None
    return execute_claimed(run_id)


def execute_claimed(run_id: Any) -> str | None:
    """Execute a run this worker has claimed, then wake the thread's next queued run."""
    try:
        with Heartbeat(lambda: _renew_lease(run_id)):
            return _execute_claimed(run_id)
    except BaseException as exc:
        logger.exception("executor failed on run %s", run_id)
        _give_up(run_id, exc)
        return None
    finally:
        try:
            _wake_next_of_thread(run_id)
        finally:
            connections.close_all()
            # the checkpointer's I/O threads: drop broken or expired connections
            io_workers().run_everywhere(close_old_connections)


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


def _execute_claimed(run_id: Any) -> str:
    from . import adapters, registry
    from .checkpointer import DjangoSaver
    from .models import Run

    run = Run.objects.select_related("thread").get(pk=run_id)
    thread = run.thread
    group = thread.group_name
    serde = DjangoSaver().serde  # runs' inputs and answers are stored in its JSON
    group_send(group, {"type": "thread.status", "run_id": str(run.pk), "status": "running",
                       "result": None, "error": ""})
    try:
        # a Flowsite entrypoint or a LangGraph graph, on its Django checkpointer
        adapter = adapters.adapter_for(registry.get(thread.workflow))
        config = {"configurable": {"thread_id": thread.thread_id}}
        command = _command(run, adapter, config, serde)
        seq = 0
        for mode, chunk in adapter.stream(command, config, stream_mode=STREAM_MODES):
            seq += 1
            group_send(group, {
                "type": "thread.chunk", "run_id": str(run.pk), "seq": seq, "mode": mode,
                "chunk": adapter.display_chunk(mode, chunk),
            })
        state = adapter.get_state(config)
    except Exception as exc:
        logger.exception("run %s of thread %s failed", run.pk, thread.thread_id)
        return _finish(run, Run.Status.ERROR, result=None, error=f"{type(exc).__name__}: {exc}")
    if state.interrupts:
        return _finish(run, Run.Status.INTERRUPTED, result=None, error="")
    return _finish(run, Run.Status.SUCCESS, result=adapter.display(state.values), error="")


def _finish(run: Any, status: str, *, result: Any, error: str) -> str:
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
            return status
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
    group_send(f"thread.{run.thread_id}", {
        "type": "thread.status", "run_id": str(run.pk), "status": fields["status"],
        "result": result, "error": error,
    })
    group_send(INBOX_GROUP, {"type": "inbox.changed"})
    return status


def _wake_next_of_thread(run_id: Any) -> None:
    from .models import Run

    thread_id = Run.objects.filter(pk=run_id).values_list("thread_id", flat=True).first()
    nxt = (
        Run.objects.filter(thread_id=thread_id, status=Run.Status.QUEUED)
        .order_by("created_at").values_list("id", flat=True).first()
    )
    if nxt is not None:
        wake(nxt)
