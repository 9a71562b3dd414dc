"""The lifecycle writes of a run, as the executor makes them: claim it, keep its lease, record
its outcome or give up on it, requeue it when its worker is gone. One keyword-only function
each, each one transaction (or one conditional update).

A run is ``queued`` until a worker claims it (a conditional update queued -> running, refused
while another run of the same thread is running: the partial unique index
``one_running_run_per_thread`` makes the database refuse it, so two workers claiming two runs of
one thread at once cannot both win). The claiming worker's name goes in
``Run.worker`` with a lease (``Run.lease_expires_at``); every later write of the run's outcome
is conditional on the run still being that worker's, so a run requeued behind a worker's back
is never recorded twice.

The lease lasts ``FLOWSITE_RUN_LEASE_SECONDS`` (20 s); the executing process renews it every
``FLOWSITE_HEARTBEAT_SECONDS`` (5 s, ``workflows.execution.leases``), and any process's sweep
requeues a run whose lease expired (:func:`requeue_stale_runs`), freeing its thread for the next
worker: the run's lease is the one fact of who executes a thread.

``worker`` defaults to this process's name (``workflows.execution.processes.worker_name``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import deadlines
from . import statements
from ..execution.processes import worker_name
from ..models import Interrupt, Run, Thread

__all__ = [
    "claim_next_run",
    "claim_run",
    "finish_run",
    "free_thread_owners",
    "give_up_run",
    "renew_run_leases",
    "requeue_run",
    "requeue_stale_runs",
    "run_lease",
]

logger = logging.getLogger("workflows.executor")



def run_lease() -> timedelta:
    """How long a claim lasts without renewal: ``FLOWSITE_RUN_LEASE_SECONDS`` (default 20)."""
    return timedelta(seconds=getattr(settings, "FLOWSITE_RUN_LEASE_SECONDS", 20))


def claim_run(*, run_id: Any, worker: str | None = None) -> bool:
    """Mark the queued run ``run_id`` as running by ``worker``, unless its thread already has a
    running run. Returns whether ``worker`` now owns it (``False``: gone, not queued, or its
    thread busy). One statement (``statements.RunStatements.claim``)."""
    now = timezone.now()
    connection, sql = statements.statements()
    adapt = connection.ops.adapt_datetimefield_value
    params = [
        Run.Status.RUNNING, worker or worker_name(), adapt(now), adapt(now + run_lease()),
        statements.run_id_param(connection, run_id), Run.Status.QUEUED,
    ]
    try:
        with transaction.atomic(), connection.cursor() as cursor:  # a savepoint inside a transaction
            cursor.execute(sql.claim, params)
            return cursor.rowcount == 1
    except IntegrityError:  # one_running_run_per_thread: the thread has a running run
        return False


def claim_next_run(*, worker: str | None = None) -> Any | None:
    """Claim the oldest queued run whose thread has no running run; returns its id or ``None``.
    Concurrent workers race on :func:`claim_run`'s conditional update."""
    connection, sql = statements.statements()
    with connection.cursor() as cursor:
        cursor.execute(sql.claimable, [Run.Status.QUEUED, Run.Status.RUNNING, 20])
        candidates = statements.run_ids(cursor.fetchall())
    for run_id in candidates:
        if claim_run(run_id=run_id, worker=worker):  # a conditional update: of two workers, one wins
            return run_id
    return None


def renew_run_leases(*, run_ids: Iterable[Any], worker: str | None = None) -> int:
    """Extend ``worker``'s leases on its running runs ``run_ids`` to ``run_lease()`` from now, in
    one UPDATE; returns how many are still that worker's."""
    run_ids = list(run_ids)
    if not run_ids:
        return 0
    return Run.objects.filter(
        pk__in=run_ids, status=Run.Status.RUNNING, worker=worker or worker_name()
    ).update(lease_expires_at=timezone.now() + run_lease())


def requeue_run(*, run_id: Any, worker: str | None = None) -> bool:
    """Give ``worker``'s running run back to the queue (a drained run: it stopped at a step
    boundary, its progress checkpointed), for any worker to continue. Returns whether it was
    ``worker``'s."""
    with transaction.atomic():
        requeued = Run.objects.filter(
            pk=run_id, status=Run.Status.RUNNING, worker=worker or worker_name()
        ).update(status=Run.Status.QUEUED, worker="", lease_expires_at=None)
        if requeued:
            _free_thread_of(run_id)
    return bool(requeued)


def _free_thread_of(run_id: Any) -> None:
    """The thread of a run given back is free: the runtime's hold on it, where it is the row
    lease ``Thread.run_owner``, follows the run's lease (a lock lease, PostgreSQL's advisory
    lock or SQLite's record lock, is its process's to give back: it writes no row)."""
    Thread.objects.filter(runs=run_id).exclude(run_owner="").update(run_owner="", run_lease_expires_at=None)


_THREAD_STATUS = {
    Run.Status.INTERRUPTED: Thread.Status.INTERRUPTED,
    Run.Status.SUCCESS: Thread.Status.DONE,
    Run.Status.ERROR: Thread.Status.ERROR,
}


def finish_run(
    *, run_id: Any, status: str, result: Any = None, error: str = "", worker: str | None = None
) -> dict | None:
    """Record the outcome of ``worker``'s running run: ``status`` is ``interrupted``,
    ``success`` (``result``: the thread's display value) or ``error`` (``error``: its message).
    One transaction: the run, its thread (done / interrupted / error; still ``running`` when
    another answer is already queued) and, on success, the thread's pending interrupts
    (cancelled). Returns the thread's new fields, or ``None`` when the run is no longer
    ``worker``'s (nothing written)."""
    now = timezone.now()
    connection, sql = statements.statements()
    run_param = statements.run_id_param(connection, run_id)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.thread_of, [run_param])
        thread_pk, workflow = cursor.fetchone() or (None, None)
        if thread_pk is not None:
            cursor.execute(sql.finish, [
                status, connection.ops.adapt_datetimefield_value(now), error, run_param,
                Run.Status.RUNNING, worker or worker_name(),
            ])
        if thread_pk is None or cursor.rowcount != 1:
            logger.warning("run %s is no longer this worker's: its outcome is not recorded", run_id)
            return None
        fields: dict[str, Any] = {"status": _THREAD_STATUS[status], "error": error, "updated_at": now}
        if status == Run.Status.SUCCESS:
            fields["result"] = result
            cursor.execute(sql.cancel_pending, [
                Interrupt.Status.CANCELLED, connection.ops.adapt_datetimefield_value(now),
                thread_pk, Interrupt.Status.PENDING,
            ])
        elif status == Run.Status.INTERRUPTED:
            deadlines.stamp_deadlines(thread_pk, workflow)
            cursor.execute(sql.has_queued, [thread_pk, Run.Status.QUEUED])
            if cursor.fetchone():
                fields["status"] = Thread.Status.RUNNING  # another answer is already queued
        values = statements.thread_values(connection, fields)
        cursor.execute(sql.update_thread(list(fields)), [*values, thread_pk])
        if status == Run.Status.INTERRUPTED:
            _announce_interrupts(run_id, thread_pk, workflow)
    return fields


def _announce_interrupts(run_id: Any, thread_pk: int, workflow: str) -> None:
    """Send ``signals.run_interrupted`` in a savepoint of the outcome's transaction: a failing
    receiver loses its own writes, never the run's outcome. The interrupts go as a lazy
    queryset: read only by a receiver that iterates them."""
    from ..signals import run_interrupted

    if not run_interrupted.has_listeners(Run):
        return
    pending = Interrupt.objects.pending().filter(thread_id=thread_pk).select_related("thread")
    try:
        with transaction.atomic():
            run_interrupted.send(sender=Run, run_id=run_id, workflow=workflow, interrupts=pending)
    except Exception:
        logger.exception("a run_interrupted receiver failed for run %s", run_id)


def give_up_run(*, run_id: Any, error: str, worker: str | None = None) -> bool:
    """After an executor failure: the run (if still ``worker``'s) and its thread end in
    ``error`` with ``error``, so the thread is not left running for ever. Returns whether it
    was written."""
    with transaction.atomic():
        thread_pk = Run.objects.filter(pk=run_id).values_list("thread_id", flat=True).first()
        mine = Run.objects.filter(pk=run_id, status=Run.Status.RUNNING, worker=worker or worker_name())
        if mine.update(status=Run.Status.ERROR, error=error, finished_at=timezone.now(), lease_expires_at=None):
            Thread.objects.filter(pk=thread_pk).update(status=Thread.Status.ERROR, error=error)
            return True
    return False


def requeue_stale_runs(*, is_gone: Callable[[str], bool]) -> list[Any]:
    """Requeue every running run whose lease expired or whose worker ``is_gone(worker)``, each
    with a conditional update (a run renewed meanwhile stays), and free its thread for the next
    worker. Returns their ids."""
    now = timezone.now()
    requeued = []
    for run in Run.objects.filter(status=Run.Status.RUNNING).only("id", "worker", "lease_expires_at"):
        if is_gone(run.worker) or (run.lease_expires_at and run.lease_expires_at < now):
            stale = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, worker=run.worker)
            if run.lease_expires_at:
                stale = stale.filter(lease_expires_at=run.lease_expires_at)
            with transaction.atomic():
                if stale.update(status=Run.Status.QUEUED, worker="", lease_expires_at=None):
                    _free_thread_of(run.pk)
                    requeued.append(run.pk)
    return requeued


def free_thread_owners(*, is_gone: Callable[[str], bool]) -> int:
    """Free the threads whose ``run_owner`` ``is_gone(run_owner)`` (the runtime's hold of a dead
    process); returns how many."""
    freed = 0
    for thread in Thread.objects.exclude(run_owner="").only("pk", "run_owner"):
        if is_gone(thread.run_owner):
            freed += Thread.objects.filter(pk=thread.pk, run_owner=thread.run_owner).update(
                run_owner="", run_lease_expires_at=None
            )
    return freed
