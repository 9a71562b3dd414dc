"""The sweep: every server and worker process sweeps every ``FLOWSITE_SWEEP_SECONDS`` (5 s;
``0``: never, as in the tests), so a dead worker's runs are reclaimed within
``FLOWSITE_RUN_LEASE_SECONDS`` + ``FLOWSITE_SWEEP_SECONDS`` (25 s by default) by any live one.

One sweep (:func:`recover`):

1. requeues runs left ``running`` whose lease expired, or whose worker is a dead process of
   this host (found at once), freeing their threads (``services.requeue_stale_runs``);
2. frees threads held by the runtime of dead processes of this host;
3. sends ``workflows.signals.sweep`` (other apps' periodic work: review deadlines...);
4. gets queued runs going: a process with a pool (a worker, or the embedded server) claims them
   from the database while it has free slots; a server without one sends wake messages for the
   oldest (``WAKE_LIMIT``), for idle workers to hear.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

from django.conf import settings
from django.db import connections
from django.utils import timezone

from .. import services, signals
from ..models import Run
from ..runtime.pool import PerProcess
from . import pool, processes, waking

__all__ = ["WAKE_LIMIT", "recover", "start_sweeping"]

logger = logging.getLogger("workflows.executor")

WAKE_LIMIT = 100  # wake messages per sweep, at most


def recover(*, pull: bool = False) -> int:
    """One sweep (blocking ORM code: call it from a sync thread). ``pull``: this process has a
    pool, which claims queued runs itself. Returns how many queued runs it found (at most
    ``WAKE_LIMIT``)."""
    try:
        requeued = services.requeue_stale_runs(is_gone=functools.partial(processes.is_gone, boot=True))
        if requeued:
            logger.warning("requeued %d runs of dead workers: %s", len(requeued), requeued)
        services.free_thread_owners(is_gone=functools.partial(processes.is_gone, boot=False))
        for receiver, response in signals.sweep.send_robust(sender=None, now=timezone.now()):
            if isinstance(response, Exception):
                logger.error("sweep receiver %r failed", receiver, exc_info=response)
        queued = list(
            Run.objects.filter(status=Run.Status.QUEUED).order_by("created_at")
            .values_list("id", flat=True)[:WAKE_LIMIT]
        )
    finally:
        connections.close_all()
    if queued and pull:
        pool.pull_threadsafe()
    elif queued:
        for run_id in queued:
            waking.wake(run_id)
    return len(queued)


class _Sweeper:
    def __init__(self) -> None:
        self.pull = False
        threading.Thread(target=self._sweep_forever, name="workflows-sweep", daemon=True).start()

    def _sweep_forever(self) -> None:
        while True:
            interval = getattr(settings, "FLOWSITE_SWEEP_SECONDS", 5)
            if interval > 0:
                try:
                    recover(pull=self.pull)
                except Exception:
                    logger.exception("sweep failed; trying again in %s s", interval)
            time.sleep(interval if interval > 0 else 5)


_sweeper = PerProcess(_Sweeper)


def start_sweeping(*, pull: bool) -> None:
    """Sweep in this process from now on, every ``FLOWSITE_SWEEP_SECONDS`` (the first at once);
    ``pull``: this process has a pool. Idempotent."""
    sweeper = _sweeper.get()
    sweeper.pull = sweeper.pull or pull
