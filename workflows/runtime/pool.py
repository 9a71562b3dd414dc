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
    "IO_LINGER_SECONDS",
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
    """Have ``fn()`` run on the runtime's threads after each call they run, whatever its
    outcome (the I/O threads: once idle for ``IO_LINGER_SECONDS`` after a call); a failing
    ``fn`` is logged, never raised. Django
    registers ``close_old_connections`` (``workflows.apps``): a thread's database connection
    goes back to the connection pool instead of staying with an idle thread."""
    if fn not in _after_call:
        _after_call.append(fn)


def _after_call_hooks() -> None:
    for after in _after_call:
        try:
            after()
        except Exception:
            logger.exception("after-call hook %r failed", after)


def _releasing(fn: Callable, args: tuple, kwargs: dict) -> Any:
    try:
        return fn(*args, **kwargs)
    finally:
        _after_call_hooks()


class _ReleasingPool(concurrent.futures.ThreadPoolExecutor):
    """A thread pool that runs the :func:`after_each_call` hooks after each call; with
    ``linger`` (seconds, a single-thread pool), once the thread has had no call for that long
    instead, so the calls of one run that follow each other (hold the thread, read it, write
    its batch) share one pooled connection: one checkout and health check, not one per call."""

    def __init__(self, max_workers: int, *, linger: float = 0.0, **kwargs: Any) -> None:
        if linger and max_workers != 1:
            raise ValueError("linger is for a single-thread pool (its thread owns the connection)")
        super().__init__(max_workers, **kwargs)
        self.linger = linger
        self.calls = 0  # calls submitted so far (lingering pools)

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        if not self.linger:
            return super().submit(_releasing, fn, args, kwargs)
        self.calls += 1
        return super().submit(self._lingering, fn, args, kwargs)

    def _lingering(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            _lingerer.get().later(self, self.calls)

    def release_if_idle(self, calls: int) -> None:
        """On the pool's thread: the hooks, unless a call was submitted since ``calls``."""
        if self.calls == calls:
            _after_call_hooks()


class _Lingerer:
    """One daemon thread per process that submits each lingering pool's release
    (:meth:`_ReleasingPool.release_if_idle`) to that pool's own thread when its time comes.

    A pool has at most one release pending, which each later call moves on: a busy pool's call
    costs a dict update, not a timer entry that later wakes this thread and the pool's (two
    thread switches per checkpointer call, most of them to find a newer call and do nothing)."""

    def __init__(self) -> None:
        self.due: dict[_ReleasingPool, tuple[float, int]] = {}  # pool -> (when, its calls then)
        self.cond = threading.Condition()
        threading.Thread(target=self._run, name="workflows-io-release", daemon=True).start()

    def later(self, pool: _ReleasingPool, calls: int) -> None:
        with self.cond:
            idle = not self.due
            self.due[pool] = (time.monotonic() + pool.linger, calls)
            if idle:  # else it waits for an earlier release, then finds this one
                self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.due:
                    self.cond.wait()
                pool, (when, calls) = min(self.due.items(), key=lambda item: item[1][0])
                delay = when - time.monotonic()
                if delay > 0:
                    self.cond.wait(delay)
                    continue
                del self.due[pool]
            try:
                concurrent.futures.ThreadPoolExecutor.submit(pool, pool.release_if_idle, calls)
            except RuntimeError:  # the pool was shut down: its thread and connection are gone
                pass


_lingerer = PerProcess(_Lingerer)

#: seconds an I/O thread keeps its pooled connection after a call, for the run's next call
IO_LINGER_SECONDS = 0.05


_worker_pool = PerProcess(lambda: _ReleasingPool(max_workers=256, thread_name_prefix="workflows"))


def worker_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The process's thread pool for entrypoint bodies and sync tasks."""
    return _worker_pool.get()


class IOWorkers:
    """Single-thread executors for checkpointer I/O, chosen by thread id: the writes of one
    thread stay in order, and a database checkpointer holds at most ``size`` connections (each
    given back by the :func:`after_each_call` hooks once its thread has had no call for
    ``IO_LINGER_SECONDS``, 0.05 s). A process that forks should give them back first
    (``run_everywhere(connections.close_all)``): a child closes its copies of the threads'
    SQLite connections, and SQLite's locks are per process (see ``tests/browser.py``)."""

    def __init__(self, size: int = 4) -> None:
        self.executors = [
            _ReleasingPool(1, linger=IO_LINGER_SECONDS, thread_name_prefix=f"workflows-io-{i}")
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
