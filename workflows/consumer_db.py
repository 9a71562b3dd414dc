"""Database calls of Channels consumers, off the server's one thread-sensitive thread.

Channels' ``database_sync_to_async`` is ``SyncToAsync(thread_sensitive=True)``: in a Daphne
process every consumer's database call, and every synchronous Django view, runs on one shared
thread, one at a time, so 200 sockets rendering a thread's state queue behind each other and
behind the HTTP requests. :func:`database_sync_to_async` here runs the call in the event loop's
thread pool instead (``thread_sensitive=False``), several at once, with Channels' connection
handling around each call (``close_old_connections`` before and after: on PostgreSQL, where
``CONN_MAX_AGE`` is 0, the connection goes back to the pool after every call; on SQLite a pool
thread keeps its connection up to ``CONN_MAX_AGE``).

A consumer's calls must not depend on one another's thread (no open transaction across calls,
no thread-local state): each is a whole unit of database work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.db import DatabaseSyncToAsync

__all__ = ["database_sync_to_async"]


def database_sync_to_async(func: Callable[..., Any]) -> DatabaseSyncToAsync:
    """``func`` as a coroutine function run in a pool thread (usable as a method decorator);
    raises what ``func`` raises."""
    return DatabaseSyncToAsync(func, thread_sensitive=False)
