"""This process's executor event loop and its database threads.

Every run executes as a task on one event loop per process (a daemon thread started lazily
per PID: loops and pools do not survive ``fork``), so many runs stream at once without a thread
each waiting on them: an ``async def`` entrypoint's body and async tasks run on that loop (as
LangGraph runs them on the caller's), a sync body in the runtime's worker threads. The ORM work
around a run goes to a few database threads (never a consumer's ``thread_sensitive`` thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from ..db_threads import DatabaseThreads
from ..runtime.pool import PerProcess

__all__ = ["database", "executor_loop"]


def _start_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="workflows-executor-loop", daemon=True).start()
    return loop


_executor_loop = PerProcess(_start_loop)
_db = DatabaseThreads("workflows-executor-db", 4)


def executor_loop() -> asyncio.AbstractEventLoop:
    """This process's executor loop (started on first use)."""
    return _executor_loop.get()


async def database(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run blocking ORM code ``fn(*args, **kwargs)`` on the executor's database threads; their
    connections follow ``CONN_MAX_AGE`` (closed after each call in tests)."""
    return await _db.run(fn, *args, **kwargs)
