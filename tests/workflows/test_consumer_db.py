"""``workflows.consumer_db.database_sync_to_async``: consumers' database calls run at once, not
one at a time on the server's thread-sensitive thread, and each call's connection is closed
after it (back to the pool on PostgreSQL)."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async as channels_database_sync_to_async
from django.db import connection

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
        seen["connection"] = connection  # this pool thread's wrapper
        return Thread.objects.get(pk=pk).thread_id

    assert await load(thread.pk) == thread.thread_id
    if seen["connection"].settings_dict["CONN_MAX_AGE"] == 0:  # PostgreSQL: pooled, never kept
        assert seen["connection"].connection is None
