"""The checkpointer's I/O threads and their database connections (``workflows.runtime.pool``):
calls that follow each other share one connection, which goes back (to the pool on PostgreSQL)
once the thread has been idle for ``IO_LINGER_SECONDS``."""

import threading
import time

import pytest
from django.db import connections
from django.db.backends.signals import connection_created

from workflows.runtime.pool import IO_LINGER_SECONDS, IOWorkers, _ReleasingPool

pytestmark = pytest.mark.django_db(transaction=True)


def _open_connection():
    wrapper = connections["default"]  # this I/O thread's
    wrapper.ensure_connection()
    return wrapper.connection


def _current_connection():
    return connections["default"].connection


@pytest.fixture
def checkouts():
    """Names of the threads that took a connection (Django's ``connection_created``: each
    connect, which on PostgreSQL is a checkout from the pool with its health check)."""
    names = []

    def created(sender, connection, **kwargs):
        names.append(threading.current_thread().name)

    connection_created.connect(created, weak=False)
    yield names
    connection_created.disconnect(created)


@pytest.fixture
def workers():
    workers = IOWorkers(size=2)
    yield workers
    workers.run_everywhere(connections.close_all)
    for executor in workers.executors:
        executor.shutdown()


def test_calls_in_quick_succession_share_one_connection_given_back_when_idle(workers, checkouts):
    for _ in range(3):
        workers.submit("thread-a", _open_connection).result()
    assert len(checkouts) == 1  # not one checkout (and health check round trip) per call
    time.sleep(IO_LINGER_SECONDS * 4)
    assert workers.submit("thread-a", _current_connection).result() is None


def test_a_busy_thread_keeps_its_connection_until_its_last_call_then_gives_it_back(workers, checkouts):
    seen = [workers.submit("thread-a", _open_connection).result()]
    deadline = time.monotonic() + IO_LINGER_SECONDS * 6
    while time.monotonic() < deadline:  # calls closer together than the linger
        seen.append(workers.submit("thread-a", _open_connection).result())
        time.sleep(IO_LINGER_SECONDS / 5)
    assert len(seen) > 5 and len(checkouts) == 1, "a call in between released the connection"
    time.sleep(IO_LINGER_SECONDS * 4)
    assert workers.submit("thread-a", _current_connection).result() is None


def test_lingering_is_for_single_thread_pools():
    with pytest.raises(ValueError, match="single-thread"):
        _ReleasingPool(2, linger=0.05)


def test_a_busy_thread_has_one_release_pending_not_one_per_call():
    """Each call moves the thread's pending release on instead of adding one: a busy thread's
    calls do not each wake the release timer and the I/O thread later, to find a newer call."""

    class CountingPool(_ReleasingPool):
        checks = 0

        def release_if_idle(self, calls):
            CountingPool.checks += 1
            super().release_if_idle(calls)

    pool = CountingPool(1, linger=IO_LINGER_SECONDS)
    try:
        for _ in range(20):
            pool.submit(time.sleep, IO_LINGER_SECONDS / 50).result()
        deadline = time.monotonic() + IO_LINGER_SECONDS * 10
        while CountingPool.checks == 0 and time.monotonic() < deadline:
            time.sleep(IO_LINGER_SECONDS / 5)
        time.sleep(IO_LINGER_SECONDS * 2)
        assert 1 <= CountingPool.checks <= 3  # 1; more only if the machine stalled a call
    finally:
        pool.shutdown()


def test_a_runs_checkpointer_calls_go_to_the_io_threads_and_a_resume_takes_no_pooled_connection(
    checkouts,
):
    """``DjangoSaver`` is called on the I/O threads (Django's connections are per thread, so
    they stay bounded); on PostgreSQL a resume's lease, read and its one batch all go on the
    process's advisory-lock connection, so it checks out no connection from Django's pool."""
    from workflows import Command, DjangoSaver, entrypoint, interrupt

    saver = DjangoSaver()
    callers = []
    for name in ("acquire_thread_and_get_tuple", "put_batch"):
        method = getattr(saver, name)

        def recorded(*args, _method=method, **kwargs):
            callers.append(threading.current_thread().name)
            return _method(*args, **kwargs)

        setattr(saver, name, recorded)

    @entrypoint(checkpointer=saver)
    def review(topic: str) -> dict:
        return {"approved": interrupt({"topic": topic})}

    config = {"configurable": {"thread_id": "io-thread-resume"}}
    list(review.stream("otters", config))
    checkouts.clear()
    (final,) = review.stream(Command(resume=True), config)
    assert final == {"review": {"approved": True}}
    assert len(callers) == 4  # per stream call: the lease with its read, the batch
    assert all(name.startswith("workflows-io") for name in callers)
    if connections["default"].vendor == "postgresql":
        assert checkouts == []
