"""``workflows.consumer_db.database_sync_to_async``: consumers' database calls run at once, not
one at a time on the server's thread-sensitive thread, on a few threads per process, and each
call's connection is closed after it (back to the pool on PostgreSQL)."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async as channels_database_sync_to_async
from django.db import connections

from workflows.consumer_db import database_sync_to_async
from workflows.models import Thread

pytestmark = pytest.mark.django_db(transaction=True)


def _meet(barrier: threading.Barrier) -> int:
    barrier.wait()  # BrokenBarrierError unless the other call runs at the same time
    return threading.get_ident()


async def _two_at_once(wrap) -> set[int]:
    barrier = threading.Barrier(2, timeout=5)
    call = wrap(_meet)
    return set(await asyncio.gather(call(barrier), call(barrier)))


async def test_two_calls_run_at_the_same_time_on_two_threads():
    assert len(await _two_at_once(database_sync_to_async)) == 2


async def test_channels_own_decorator_runs_them_one_at_a_time():
    # what consumer_db exists for: thread-sensitive calls share one thread, so they never meet
    with pytest.raises(threading.BrokenBarrierError):
        await _two_at_once(channels_database_sync_to_async)


async def test_each_call_queries_the_database_and_closes_its_connection_after(thread_factory):
    thread = await sync_to_async(thread_factory)()
    seen = {}

    @database_sync_to_async
    def load(pk):
        seen["connection"] = connections["default"]  # this pool thread's wrapper (not the proxy)
        return Thread.objects.get(pk=pk).thread_id

    assert await load(thread.pk) == thread.thread_id
    if seen["connection"].settings_dict["CONN_MAX_AGE"] == 0:  # PostgreSQL: pooled, never kept
        assert seen["connection"].connection is None


async def test_a_call_closes_its_connection_even_with_channels_hook_turned_off(thread_factory):
    """Channels' test communicators make ``channels.db.close_old_connections`` a no-op; the
    consumer threads close theirs themselves, so no socket's call keeps a pooled connection."""
    from unittest import mock

    thread = await sync_to_async(thread_factory)()
    seen = {}

    @database_sync_to_async
    def load(pk):
        seen["connection"] = connections["default"]
        return Thread.objects.get(pk=pk).thread_id

    with mock.patch("channels.db.close_old_connections", lambda **kwargs: None):
        assert await load(thread.pk) == thread.thread_id
    assert seen["connection"].settings_dict["CONN_MAX_AGE"] == 0  # the suite's setting
    assert seen["connection"].connection is None


def test_calls_from_many_event_loops_share_the_processes_few_threads():
    """A consumer database thread is made once per process, not per event loop (a loop's default
    executor makes its own threads, each keeping the connection it opened)."""
    from workflows.consumer_db import consumer_threads

    @database_sync_to_async
    def ident():
        return threading.get_ident()

    async def four_at_once():
        return await asyncio.gather(*(ident() for _ in range(4)))

    seen = set()
    for _ in range(5):
        seen.update(asyncio.run(four_at_once()))
    assert 1 <= len(seen) <= consumer_threads.size


def test_database_threads_refuse_an_empty_pool_and_pass_errors_through():
    from workflows.db_threads import DatabaseThreads

    with pytest.raises(ValueError, match="at least 1 thread"):
        DatabaseThreads("empty", 0)

    def fail():
        raise LookupError("from the thread")

    with pytest.raises(LookupError, match="from the thread"):
        asyncio.run(DatabaseThreads("failing", 1).run(fail))
