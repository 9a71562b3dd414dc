"""Where the worker consumer (``waking.RunsConsumer``) runs.

* :class:`RunsWorker`: Channels' ``Worker`` (``manage.py runworker flowsite.runs``, Flowsite's
  ``runworker`` command is Channels' with this worker class), which also sweeps
  (``recovery``), claims queued runs when it starts, and drains on SIGTERM or SIGINT: it stops
  listening, lets the runs in flight reach a checkpoint (``pool.RunPool.drain``), and exits;
  runs not started stay queued for the other workers.
* :func:`serve`: the embedded default (``FLOWSITE_EXECUTOR="inprocess"``): the same consumer,
  hosted by the server process on its event loop, reading the in-memory layer; called by
  ``flowsite.asgi`` on a server's first request. Daphne has no ASGI lifespan, and ``Worker`` is
  plain asyncio: it runs as a task of the server's loop. A server stopped by SIGTERM or SIGINT
  drains as a worker does: Twisted's "before shutdown" trigger waits for
  ``pool.RunPool.drain`` (runs in flight reach a checkpoint, queued runs stay queued).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.routing import ChannelNameRouter
from channels.worker import Worker
from django.conf import settings

from . import pool, recovery, waking
from .processes import worker_name

__all__ = ["ListeningWorker", "RunsWorker", "runs_application", "serve"]

logger = logging.getLogger("workflows.executor")


def runs_application() -> ChannelNameRouter:
    """The ASGI application of the runs channel (for ``flowsite.asgi``'s ``"channel"`` route)."""
    return ChannelNameRouter({waking.runs_channel(): waking.RunsConsumer.as_asgi()})


class ListeningWorker(Worker):
    """Channels' ``Worker`` whose listener outlives a failing receive (Redis restarting, a read
    timeout): logged, tried again a second later, instead of ending the process."""

    async def listener(self, channel: str) -> None:
        while True:
            try:
                message = await self.channel_layer.receive(channel)
            except Exception:
                logger.exception("could not receive from %s; trying again in 1 s", channel)
                await asyncio.sleep(1)
                continue
            if not message.get("type"):
                logger.warning("a message without a type on %s: dropped", channel)
                continue
            queue = self.get_or_create_application_instance(channel, {"type": "channel", "channel": channel})
            await queue.put(message)


class RunsWorker(ListeningWorker):
    """Channels' ``Worker`` (:class:`ListeningWorker`), plus the sweep, a start-up claim of
    queued runs, and draining on SIGTERM / SIGINT."""

    async def handle(self) -> None:
        logger.info(
            "worker %s listening on %s, %d runs at once", worker_name(), ", ".join(self.channels),
            pool.run_pool().size,
        )
        recovery.start_sweeping(pull=True)
        pool.pull_threadsafe()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        listening = asyncio.ensure_future(super().handle())
        await stop.wait()
        listening.cancel()
        logger.info("draining: %d runs in flight", len(pool.run_pool().inflight))
        await asyncio.wrap_future(pool.drain_threadsafe())
        logger.info("drained")


_hosted: dict[int, Any] = {}


def serve(loop: asyncio.AbstractEventLoop) -> None:
    """Start this server process's part of execution on its event loop ``loop``: the sweep,
    and with ``FLOWSITE_EXECUTOR="inprocess"`` the worker consumer on the runs channel (once
    per loop)."""
    inprocess = settings.FLOWSITE_EXECUTOR == "inprocess"
    recovery.start_sweeping(pull=inprocess)
    if not inprocess or id(loop) in _hosted:
        return
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        # a queue left by another event loop of this process (or of the process this one was
        # forked from) cannot be awaited on this one
        layer.channels.pop(waking.runs_channel(), None)
    worker = ListeningWorker(
        application=runs_application(), channels=[waking.runs_channel()], channel_layer=layer
    )
    _hosted.clear()  # a previous loop's worker ended with its loop
    _hosted[id(loop)] = loop.create_task(worker.arun())
    _drain_before_shutdown(loop)


_draining_trigger: list[Any] = []


def _drain_before_shutdown(loop: asyncio.AbstractEventLoop) -> None:
    """Under Daphne (Twisted's asyncio reactor on ``loop``), have the reactor's shutdown (SIGTERM,
    SIGINT) wait for this process's pool to drain, as ``RunsWorker`` does on the same signals.
    Once per process; elsewhere (a test's event loop, no reactor) nothing."""
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or getattr(reactor, "_asyncioEventloop", None) is not loop or _draining_trigger:
        return
    from twisted.internet import defer

    def drain() -> defer.Deferred:
        logger.info("server stopping: draining %d runs in flight", len(pool.run_pool().inflight))
        drained = defer.Deferred.fromFuture(asyncio.wrap_future(pool.drain_threadsafe(), loop=loop))
        drained.addCallback(lambda _: logger.info("drained"))
        drained.addErrback(lambda failure: logger.error("drain failed: %s", failure.getErrorMessage()))
        return drained

    _draining_trigger.append(reactor.addSystemEventTrigger("before", "shutdown", drain))
