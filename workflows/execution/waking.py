"""Waking executors: a wake is a channel-layer message ``{"type": "run.wake", "run_id": ...}``
on the channel ``FLOWSITE_RUNS_CHANNEL`` (``"flowsite.runs"``), heard by :class:`RunsConsumer`
(routed by ``flowsite.asgi``'s ``ChannelNameRouter``), which hands the run to this process's
bounded pool (``workflows.execution.pool``): claimed from the database, executed several at once.

Where the consumer runs (``FLOWSITE_EXECUTOR``):

* ``"inprocess"`` (default; the embedded setup: SQLite, the in-memory layer, one command): the
  server process hosts it (``workflows.execution.worker.host``, on the server's event loop, where
  the in-memory layer lives). Code outside a server (a shell, a script) has no consumer to
  hear it: its wakes go straight to this process's pool.
* ``"external"``: ``manage.py runworker flowsite.runs`` processes on Redis, as many as needed.

Delivery is at-most-once: a lost or refused message (a full channel, a worker gone) costs
latency, never a run: the database is the queue, and every process's sweep and every freed
slot claim queued runs from it.
"""

from __future__ import annotations

from typing import Any

from channels.consumer import AsyncConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

from . import pool, publishing

__all__ = ["RunsConsumer", "runs_channel", "wake", "wake_on_commit"]


def runs_channel() -> str:
    """The channel name of wake messages (``FLOWSITE_RUNS_CHANNEL``, default ``flowsite.runs``)."""
    return getattr(settings, "FLOWSITE_RUNS_CHANNEL", "flowsite.runs")


def wake(run_id: Any) -> None:
    """Have an executor pick up ``run_id`` (best effort, from any thread)."""
    if settings.FLOWSITE_EXECUTOR == "inprocess":
        if not publishing.serving():
            pool.offer_threadsafe(run_id)
            return
    elif isinstance(get_channel_layer(), InMemoryChannelLayer):
        return  # no other process hears this process's in-memory layer: the workers' sweep will
    publishing.send(runs_channel(), {"type": "run.wake", "run_id": str(run_id)})


def wake_on_commit(run_id: Any) -> None:
    """:func:`wake` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: wake(run_id))


class RunsConsumer(AsyncConsumer):
    """The worker consumer of ``FLOWSITE_RUNS_CHANNEL``: each ``run.wake`` is offered to this
    process's pool and the consumer returns at once (one consumer instance serves the channel;
    the runs execute on the executor loop). It has no channel of its own (no layer alias): it
    hears the runs channel only, through the worker."""

    channel_layer_alias = None

    async def run_wake(self, message: dict) -> None:
        pool.offer_threadsafe(message["run_id"])
