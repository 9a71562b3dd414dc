"""Blocking ORM calls made from async code, on small per-process thread pools.

Django's ORM refuses to run on an event loop, so async code (a consumer, the executor's loop,
a saver's ``a*`` methods) hands each unit of database work to a thread. Two things make the
thread matter on PostgreSQL, where connections come from Django's psycopg pool:

- a thread keeps the connection it opened until something closes it, so threads that are made
  per event loop (the loop's default executor) and never close theirs drain the pool; and
- asgiref's thread-sensitive mode (Channels' ``database_sync_to_async``) puts every call of the
  process, HTTP views included, on one thread, one at a time.

:class:`DatabaseThreads` is a bounded pool made once per process (pools do not survive
``fork``), whose every call is wrapped in Django's ``close_old_connections`` before and after, as
Django does around a request: with ``CONN_MAX_AGE`` 0 (PostgreSQL, and every test run) the
connection goes back after each call, so a pool thread holds none between calls, however many
event loops call it; on SQLite a thread keeps its connection up to ``CONN_MAX_AGE``.

A call must be a whole unit of database work: no transaction left open across calls, no state in
the thread. The caller's context variables are copied into the call, as ``sync_to_async`` does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from django.db import close_old_connections

from .runtime.pool import PerProcess

__all__ = ["DatabaseThreads"]

R = TypeVar("R")


def _closing(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


class DatabaseThreads:
    """``size`` threads named ``name-N`` for blocking ORM calls from async code.

    ``await threads.run(fn, *args, **kwargs)`` runs ``fn`` on one of them and returns (or
    raises) what ``fn`` does; ``threads.wrap(func)`` is the same as a decorator (methods too).
    """

    def __init__(self, name: str, size: int) -> None:
        if size < 1:
            raise ValueError(f"a DatabaseThreads pool needs at least 1 thread, got {size}")
        self.name, self.size = name, size
        self._pool = PerProcess(
            lambda: concurrent.futures.ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)
        )

    def executor(self) -> concurrent.futures.ThreadPoolExecutor:
        """This process's pool (made on first use)."""
        return self._pool.get()

    async def run(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        context = contextvars.copy_context()
        call = functools.partial(context.run, _closing, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.executor(), call)

    def wrap(self, func: Callable[..., R]) -> Callable[..., Awaitable[R]]:
        @functools.wraps(func)
        async def call(*args: Any, **kwargs: Any) -> R:
            return await self.run(func, *args, **kwargs)

        return call
