"""PostgreSQL's prepared statements for the checkpointer's hot path.

Django's psycopg backend binds parameters on the client by default (``ClientCursor``): every
statement reaches the server as new text, which it parses and plans again. Planning is most of
the server's time on the hot path: the latest-checkpoint read is about 0.7 ms as text and
0.2 ms prepared, a run's batch (BEGIN, five upserts, COMMIT, the unlock) 1.3 ms as one simple
query and 0.8 ms as prepared statements in one pipeline (this machine, loopback, 2026-12-08).
So ``DjangoSaver`` and ``workflows.advisory`` send their fixed statements server-side bound and
prepared (psycopg's ``prepare=True``: parsed and planned once per connection, then only bound
and executed; psycopg keeps up to ``prepared_max``, 100, per connection), several at once in
psycopg's pipeline mode: one round trip, as the simple query was.

Prepared statements live on the server session, so a pooler in transaction mode that hands a
client a different session per transaction (PgBouncer before 1.21, or without
``max_prepared_statements``) breaks them: set ``WORKFLOWS_PREPARED_STATEMENTS = False`` there
(Django's advice on server-side binding is the same), and the statements go as text again.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings

__all__ = ["Statement", "enabled", "fetchall", "joined", "pipeline", "transaction"]

Statement = tuple[str, Sequence[Any]]  # (SQL with %s placeholders, its parameters)

_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK"})  # sent as they are: nothing to plan


def enabled(connection: Any) -> bool:
    """Whether hot-path statements go prepared on Django's ``connection`` (PostgreSQL, unless
    the ``WORKFLOWS_PREPARED_STATEMENTS`` setting is false)."""
    return connection.vendor == "postgresql" and getattr(
        settings, "WORKFLOWS_PREPARED_STATEMENTS", True)


def joined(statements: Sequence[Statement]) -> tuple[str, list]:
    """``statements`` as ONE simple query's text (joined by ``;``, parameters to bind on the
    client) and its parameters: what goes instead when preparing is off. PostgreSQL runs a
    simple query of several statements as one transaction ("Multiple Statements in a Simple
    Query")."""
    return ("; ".join(sql for sql, _ in statements),
            [value for _, params in statements for value in params])


@functools.cache
def _cursor_class() -> type:
    import psycopg

    class PreparingCursor(psycopg.Cursor):
        """A server-side binding cursor that prepares what it runs (Django turns psycopg's
        automatic preparing off: ``prepare_threshold`` ``None``)."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            if prepare is None:
                prepare = query not in _CONTROL
            return super().execute(query, params, prepare=prepare, binary=binary)

    return PreparingCursor


#: ``prepare_threshold`` for a connection Django made with ``None``, which turns preparing off,
#: even a cursor's ``prepare=True``: only what asks for it is prepared, as before nothing was
_ONLY_WHEN_ASKED = 2**31


def _cursors(conn: Any, django_connection: Any = None) -> Callable[[], Any]:
    """A factory of preparing cursors on the psycopg connection ``conn``; on Django's
    ``django_connection``, wrapped as Django's cursors are (its error translation, query
    logging under ``DEBUG`` and ``execute_wrapper`` hooks). A connection whose
    ``prepare_threshold`` is ``None`` (Django's default) gets ``_ONLY_WHEN_ASKED``."""
    if conn.prepare_threshold is None:
        conn.prepare_threshold = _ONLY_WHEN_ASKED
    if django_connection is None:
        return lambda: _cursor_class()(conn)
    return lambda: django_connection._prepare_cursor(_cursor_class()(conn))


def fetchall(connection: Any, sql: str, params: Sequence[Any]) -> list[tuple]:
    """The rows of ``sql`` run prepared on Django's ``connection`` (PostgreSQL), its errors
    raised as Django's (``django.db.Error`` subclasses)."""
    connection.ensure_connection()
    with _cursors(connection.connection, connection)() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def pipeline(conn: Any, statements: Sequence[Statement], *, rows: bool = True,
             django_connection: Any = None) -> list[list[tuple]] | None:
    """Run ``statements`` prepared, in order, on the psycopg connection ``conn`` (autocommit)
    in one round trip (psycopg's pipeline mode); returns the rows of each (``[]`` for a
    statement without rows), or with ``rows=False`` nothing (the statements share one cursor).
    The first error is raised (psycopg's) and the statements after it are not run; a statement
    that ran before it stays done unless a transaction holds both (see :func:`transaction`).
    With ``django_connection`` (whose psycopg connection ``conn`` is), the statements go
    through Django's cursor wrapper (see :func:`_cursors`)."""
    make = _cursors(conn, django_connection)
    with contextlib.ExitStack() as stack:
        with conn.pipeline():
            if not rows:
                cursor = stack.enter_context(make())
                for sql, params in statements:
                    cursor.execute(sql, params)
                return None
            cursors = [stack.enter_context(make()) for _ in statements]
            for cursor, (sql, params) in zip(cursors, statements, strict=True):
                cursor.execute(sql, params)
        return [cursor.fetchall() if cursor.description else [] for cursor in cursors]


def transaction(conn: Any, statements: Sequence[Statement], after: Sequence[Statement] = (),
                *, django_connection: Any = None) -> None:
    """``BEGIN``, ``statements``, ``COMMIT``, then ``after`` (outside the transaction: e.g. an
    advisory unlock that must follow the commit) on the psycopg connection ``conn``
    (autocommit), all in one round trip (:func:`pipeline`). On an error (raised: psycopg's, or
    Django's through ``django_connection``) none of ``statements`` is written: a transaction
    the error left open is rolled back, so ``conn`` is idle again."""
    import psycopg

    try:
        pipeline(conn, [("BEGIN", ()), *statements, ("COMMIT", ()), *after], rows=False,
                 django_connection=django_connection)
    except BaseException:
        if not conn.closed and conn.info.transaction_status in (
            psycopg.pq.TransactionStatus.INERROR, psycopg.pq.TransactionStatus.INTRANS,
        ):
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
        raise
