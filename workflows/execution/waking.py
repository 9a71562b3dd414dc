"""Waking executors: how an executor learns that a run is queued.

``services`` call :func:`wake_on_commit` in the transaction that queues a run. With
``FLOWSITE_EXECUTOR="inprocess"`` (default) the run executes in this process, at most
``FLOWSITE_EXECUTOR_CONCURRENCY`` (8) at once; with ``"external"`` it stays queued for
``manage.py run_executor`` workers, which poll the database.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.db import transaction

from ..runtime.pool import PerProcess
from . import threads

__all__ = ["wake", "wake_on_commit"]

_slots = PerProcess(lambda: asyncio.Semaphore(getattr(settings, "FLOWSITE_EXECUTOR_CONCURRENCY", 8)))


async def _execute_inprocess(run_id: Any) -> str | None:
    from . import running

    async with _slots.get():
        return await running.aexecute_run(run_id)


def wake(run_id: Any) -> None:
    """Have an executor pick up ``run_id``: in this process (``inprocess``), or leave it queued
    for ``run_executor`` workers (``external``)."""
    if settings.FLOWSITE_EXECUTOR == "inprocess":
        asyncio.run_coroutine_threadsafe(_execute_inprocess(run_id), threads.executor_loop())


def wake_on_commit(run_id: Any) -> None:
    """:func:`wake` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: wake(run_id))
