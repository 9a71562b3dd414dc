"""The process's worker threads: the pool that runs entrypoint bodies and sync tasks, the
checkpointer I/O threads, and the heartbeat thread that renews a long run's hold on its thread.

Each is made lazily, once per process (:class:`PerProcess`): pools and their threads do not
survive ``fork``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "LEASE_RENEWAL_SECONDS",
    "Heartbeat",
    "IOWorkers",
    "PerProcess",
    "TaskFuture",
    "after_each_call",
    "in_event_loop",
    "io_workers",
    "run_coroutine",
    "worker_pool",
]

logger = logging.getLogger("workflows.runtime")


class PerProcess:
    """A value made lazily, once per process: pools and their threads do not survive ``fork``
    (a forked child, such as a test's live server, starts without them)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.value: Any = None
        self.pid: int | None = None
        self.lock = threading.Lock()

    def get(self) -> Any:
        if self.pid != os.getpid():
            with self.lock:
                if self.pid != os.getpid():
                    self.value = self.factory()
                    self.pid = os.getpid()
        return self.value


class _Beats:
    """One daemon thread per process calling every registered beat each ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.beats: dict[int, Callable[[], Any]] = {}
        self.lock = threading.Lock()
        self.keys = itertools.count()
        threading.Thread(target=self._loop, name="workflows-heartbeat", daemon=True).start()

    def _loop(self) -> None:
        while True:
            time.sleep(self.interval)
            with self.lock:
                beats = list(self.beats.values())
            for beat in beats:
                try:
                    beat()
                except Exception:
                    logger.exception("heartbeat failed")


class Heartbeat:
    """Call ``beat()`` about every ``LEASE_RENEWAL_SECONDS`` while the ``with`` block runs
    (lease renewals of long runs), from one shared daemon thread; a failing beat is logged,
    never raised. Entering and leaving cost a dict update, not a thread."""

    def __init__(self, beat: Callable[[], Any]) -> None:
        self.beat = beat
        self.key: int | None = None

    def __enter__(self) -> Heartbeat:
        beats = _beats.get()
        with beats.lock:
            self.key = next(beats.keys)
            beats.beats[self.key] = self.beat
        return self

    def __exit__(self, *exc: Any) -> None:
        beats = _beats.get()
        with beats.lock:
            beats.beats.pop(self.key, None)


LEASE_RENEWAL_SECONDS = 60.0
_beats = PerProcess(lambda: _Beats(LEASE_RENEWAL_SECONDS))

_after_call: list[Callable[[], Any]] = []


def after_each_call(fn: Callable[[], Any]) -> None:
    """Have ``fn()`` run on the runtime's threads (the worker pool's, the I/O threads) after
    each call they run, whatever its outcome; a failing ``fn`` is logged, never raised. Django
    registers ``close_old_connections`` (``workflows.apps``): a thread's database connection
    goes back to the connection pool instead of staying with an idle thread."""
    if fn not in _after_call:
        _after_call.append(fn)


def _releasing(fn: Callable, args: tuple, kwargs: dict) -> Any:
    try:
        return fn(*args, **kwargs)
    finally:
        for after in _after_call:
            try:
                after()
            except Exception:
                logger.exception("after-call hook %r failed", after)


class _ReleasingPool(concurrent.futures.ThreadPoolExecutor):
    """A thread pool that runs the :func:`after_each_call` hooks after each call."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        return super().submit(_releasing, fn, args, kwargs)


_worker_pool = PerProcess(lambda: _ReleasingPool(max_workers=256, thread_name_prefix="workflows"))


def worker_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The process's thread pool for entrypoint bodies and sync tasks."""
    return _worker_pool.get()


class IOWorkers:
    """Single-thread executors for checkpointer I/O, chosen by thread id: the writes of one
    thread stay in order, and a database checkpointer holds at most ``size`` connections (each
    given back after each call by the :func:`after_each_call` hooks)."""

    def __init__(self, size: int = 4) -> None:
        self.executors = [
            _ReleasingPool(1, thread_name_prefix=f"workflows-io-{i}")
            for i in range(size)
        ]

    def submit(self, key: str, fn: Callable, *args: Any) -> concurrent.futures.Future:
        return self.executors[hash(key) % len(self.executors)].submit(fn, *args)

    def run_everywhere(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` once on every I/O thread (e.g. to close its database connections)."""
        for future in [ex.submit(fn) for ex in self.executors]:
            future.result()


_io_workers = PerProcess(IOWorkers)


def io_workers() -> IOWorkers:
    """The process's checkpointer I/O threads."""
    return _io_workers.get()


class TaskFuture(concurrent.futures.Future):
    """Result of calling a ``@task``: ``.result()`` blocks, ``await fut`` works in async code."""

    def __await__(self):
        return asyncio.wrap_future(self).__await__()


def in_event_loop() -> bool:
    """Whether this thread runs an event loop (async tasks can be scheduled; the Django ORM
    refuses to be called)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_coroutine(coro: Any) -> Any:
    """Run an async body on a private event loop in this worker thread."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
