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
