"""Races for tests: the same call made from several threads at the same moment, and a
database session of its own, as another process would have."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
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
