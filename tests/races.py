"""Races for tests: the same call made from several threads at the same moment, a database
session of its own, as another process would have, and a thread's lease held by another
process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def at_once(fn: Callable[[Any], Any], args: Iterable[Any], *, timeout: float = 30) -> list[Any]:
    """``fn(arg)`` for each of ``args``, each in its own thread with its own database connection
    (closed after), all released together by a barrier. Returns, in the order of ``args``, what
    each call returned or the exception it raised; raises ``TimeoutError`` when a thread has not
    finished after ``timeout`` seconds."""
    from django.db import connections

    args = list(args)
    barrier = threading.Barrier(len(args))
    outcomes: list[Any] = [None] * len(args)

    def call(index: int, arg: Any) -> None:
        try:
            barrier.wait(timeout=timeout)
            outcomes[index] = fn(arg)
        except BaseException as exc:  # the caller asserts on it
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call, args=(i, arg)) for i, arg in enumerate(args)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout * 2)
        if thread.is_alive():
            raise TimeoutError(f"a racing call of {fn!r} did not finish in {timeout * 2} s")
    return outcomes


def other_session():
    """A psycopg connection of its own (autocommit) to the test database (PostgreSQL): what
    another process holds, e.g. an advisory lock on a thread."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    return psycopg.connect(**params, autocommit=True)


@contextlib.contextmanager
def lease_held_elsewhere(thread_id: str) -> Iterator[None]:
    """While the block runs, another process holds ``thread_id``'s lease: an advisory lock of
    another session on PostgreSQL, a record lock of a child process on SQLite (the lock file
    of ``workflows.file_leases``)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with other_session() as other:
            other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [thread_id])
            yield
        return
    holder = hold_record_lock(thread_id)
    try:
        yield
    finally:
        holder.stdin.close()  # the child exits, and the kernel drops its lock
        holder.wait(10)


def hold_record_lock(thread_id: str) -> subprocess.Popen:
    """A child process that holds ``thread_id``'s record lock (SQLite's lease, the lock file of
    ``workflows.file_leases``) until its stdin closes or it is killed; returned once it holds."""
    from django.db import connection

    from workflows import file_leases

    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_RECORD_LOCK, file_leases.leases(connection.alias).path,
         str(file_leases.offset(thread_id))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


_HOLD_RECORD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, int(sys.argv[2]))
print("held", flush=True)
sys.stdin.read()
"""
