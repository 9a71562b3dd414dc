"""This process's bounded pool of runs: at most ``FLOWSITE_EXECUTOR_CONCURRENCY`` (8) runs
execute at once, as tasks of the executor loop (``workflows.execution.threads``).

* :meth:`RunPool.offer` (a wake message): claim and execute that run if a slot is free; when the
  pool is full the message is dropped and the run stays queued in the database;
* :meth:`RunPool.pull` (a slot freed, the sweep, a worker starting): claim the oldest queued
  runs from the database while slots are free. So a run waiting behind a full pool is taken by
  the first process with room, and a lost wake message costs at most a sweep interval;
* :meth:`RunPool.drain` (SIGTERM): take nothing new; ask every run in flight to stop at its
  step boundary (``RunControl.request_drain``) and wait for them: they reach a checkpoint and go
  back to the queue (or finish, or pause), for any worker to continue.

Thread-safe entry points (``*_threadsafe``) hand the call to the executor loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any

from django.conf import settings

from .. import services
from ..runtime.pool import PerProcess
from . import running, threads
from .processes import worker_name

__all__ = ["RunPool", "run_pool"]

logger = logging.getLogger("workflows.executor")


class RunPool:
    """Runs executing in this process, bounded by ``size``. Use it on the executor loop."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.inflight: dict[Any, running.Drain] = {}
        self.tasks: set[asyncio.Task] = set()
        self.draining = False
        self._pulling = False

    @property
    def free(self) -> int:
        return 0 if self.draining else self.size - len(self.inflight)

    async def offer(self, run_id: Any) -> bool:
        """Execute ``run_id`` if a slot is free (claimed first: a run claimed elsewhere, or of a
        busy thread, is left). Returns whether it was taken on; the run stays queued if not."""
        run_id = str(run_id)
        if self.free <= 0 or run_id in self.inflight:
            return False
        self._start(run_id, claimed=False)
        return True

    async def pull(self) -> int:
        """Claim queued runs from the database while slots are free; returns how many."""
        if self._pulling:  # one pull at a time: the others would claim the same rows
            return 0
        self._pulling = True
        taken = 0
        try:
            while self.free > 0:
                run_id = await threads.database(services.claim_next_run, worker=worker_name())
                if run_id is None:
                    break
                self._start(str(run_id), claimed=True)
                taken += 1
        except Exception:
            logger.exception("could not claim queued runs")
        finally:
            self._pulling = False
        return taken

    def _start(self, run_id: str, *, claimed: bool) -> None:
        drain = self.inflight[run_id] = running.Drain()
        execute = running.aexecute_claimed if claimed else running.aexecute_run
        task = asyncio.get_running_loop().create_task(self._execute(run_id, execute, drain))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _execute(self, run_id: str, execute: Any, drain: running.Drain) -> None:
        try:
            await execute(run_id, drain=drain)
        except BaseException:
            logger.exception("run %s ended the executor abnormally", run_id)
        finally:
            self.inflight.pop(run_id, None)
        if not self.draining:
            await self.pull()

    async def drain(self) -> None:
        """Take nothing new, ask the runs in flight to stop at their step boundary, and wait
        for them."""
        self.draining = True
        for drain in list(self.inflight.values()):
            drain.request_drain()
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


_pool = PerProcess(lambda: RunPool(getattr(settings, "FLOWSITE_EXECUTOR_CONCURRENCY", 8)))


def run_pool() -> RunPool:
    """This process's pool (made on first use; use it on the executor loop)."""
    return _pool.get()


def offer_threadsafe(run_id: Any) -> concurrent.futures.Future:
    """:meth:`RunPool.offer` from any thread or loop."""
    return asyncio.run_coroutine_threadsafe(run_pool().offer(run_id), threads.executor_loop())


def pull_threadsafe() -> concurrent.futures.Future:
    """:meth:`RunPool.pull` from any thread or loop."""
    return asyncio.run_coroutine_threadsafe(run_pool().pull(), threads.executor_loop())


def drain_threadsafe() -> concurrent.futures.Future:
    """:meth:`RunPool.drain` from any thread or loop."""
    return asyncio.run_coroutine_threadsafe(run_pool().drain(), threads.executor_loop())
