"""Database calls of Channels consumers, off the server's one thread-sensitive thread.

Channels' ``database_sync_to_async`` is ``SyncToAsync(thread_sensitive=True)``: in a Daphne
process every consumer's database call, and every synchronous Django view, runs on one shared
thread, one at a time, so 200 sockets rendering a thread's state queue behind each other and
behind the HTTP requests. :func:`database_sync_to_async` here runs the call on this process's
consumer database threads (:class:`~workflows.db_threads.DatabaseThreads`, 4), several at once,
each call's connection closed after it (back to the pool on PostgreSQL) by the pool itself, not
by Channels' ``close_old_connections`` hook, which Channels' test communicators turn off.

A consumer's calls must not depend on one another's thread (no open transaction across calls,
no thread-local state): each is a whole unit of database work.
"""

from __future__ import annotations

from .db_threads import DatabaseThreads

__all__ = ["database_sync_to_async", "consumer_threads"]

consumer_threads = DatabaseThreads("workflows-consumer-db", 4)

#: ``@database_sync_to_async`` on a sync function (or method): an ``async`` function running it on
#: :data:`consumer_threads`; raises what the function raises.
database_sync_to_async = consumer_threads.wrap
