"""Thread leases on PostgreSQL as advisory locks: holding a thread writes nothing.

``DjangoSaver.acquire_thread`` must refuse a second run on a thread while one executes, across
processes. Where locks are not at hand that is a conditional upsert of ``Thread.run_owner`` (a
writing transaction of its own per ``stream`` call); SQLite's are record locks on a file
(``workflows.file_leases``). On PostgreSQL it is a session advisory lock,
``pg_try_advisory_lock(hashtextextended(thread_id, 0))``, as the performance issue proposes:
no row is written (the floor of two writing transactions per essay run: one ``put_batch`` per
``stream`` call), and the server releases it the moment the holding process's connection drops
(``kill -9``, OOM, a machine gone: the thread is free at once, not after a lease).

The locks of a process live on one connection per database alias (:class:`Leases`, opened on
first use): taken from Django's psycopg pool and kept, so the process's connections stay within
the pool's ``max_size`` (one of them is this one), and never handed back holding a lock (on
close, ``pg_advisory_unlock_all()`` first). A process's runs on one thread are told apart by
``owner`` here, since a session's advisory locks are re-entrant. Each call is one round trip
under a lock. A run's last batch also goes on this connection, with the unlock after its
``COMMIT`` in the same round trip (:meth:`Leases.commit_and_release`): the process's other
leases wait for that transaction, so it must not wait on a transaction of the same thread
(``DjangoSaver`` sends it only in autocommit mode).

If that connection breaks while runs hold locks, the locks are gone with it: the error is logged
and the next ``acquire`` opens a new connection; a run already executing keeps going (the
served executor's run claim, ``one_running_run_per_thread``, still allows one run per thread).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from . import prepared
from .runtime.pool import PerProcess

__all__ = ["Leases", "close_all", "leases", "uses_advisory_locks"]

logger = logging.getLogger("workflows.checkpointer")

_KEY = "hashtextextended(%s, 0)"  # a thread id's 64-bit lock key, computed by the server
_UNLOCK = f"SELECT pg_advisory_unlock({_KEY})"


def uses_advisory_locks(alias: str) -> bool:
    """Whether ``DjangoSaver`` leases threads with advisory locks on ``alias`` (PostgreSQL)."""
    return connections[alias].vendor == "postgresql"


class Leases:
    """The advisory-lock leases of this process on database ``alias``.

    ``acquire(thread_id, owner, thread_table)`` -> ``(held, thread_pk or None)`` in one round
    trip (``acquire_and_read``: with a read in the same round trip); ``release(thread_id,
    owner)``; ``commit_and_release(thread_id, owner, statements)``: a run's last batch and the
    unlock in one. Thread-safe.
    """

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.lock = threading.Lock()
        self.held: dict[str, str] = {}  # thread id -> owner
        self.conn: Any = None
        self.pool: Any = None  # the pool self.conn came from (None: a connection of its own)

    def _connection(self) -> Any:
        if self.conn is not None and self.conn.closed:
            self._broken()  # its locks are gone; back to its pool, which discards it
        if self.conn is None:
            pool = getattr(connections[self.alias], "pool", None)
            if pool is not None:
                if pool.max_size < 2:  # this one, and the run's I/O connection
                    raise ImproperlyConfigured(
                        f"runs on database {self.alias!r} need a connection pool of at least 2 "
                        f"(FLOWSITE_DB_POOL_MAX_SIZE, now {pool.max_size}): one of the process's "
                        "connections holds its threads' advisory locks")
                pool.open()  # Django opens it lazily too
                self.conn, self.pool = pool.getconn(), pool
                self.conn.autocommit = True
            else:
                import psycopg

                params = connections[self.alias].get_connection_params()
                for django_only in ("cursor_factory", "context", "prepare_threshold"):
                    params.pop(django_only, None)
                self.conn, self.pool = psycopg.connect(**params, autocommit=True), None
        return self.conn

    def _execute(self, statements: list[prepared.Statement]) -> list[list[tuple]]:
        """The rows of each of ``statements``, run in order in one round trip: prepared in a
        pipeline (``workflows.prepared``), else joined by ``;`` as one simple query with
        client-side binding."""
        import psycopg

        try:
            conn = self._connection()
            if prepared.enabled(connections[self.alias]):
                return prepared.pipeline(conn, statements)
            with psycopg.ClientCursor(conn) as cursor:
                cursor.execute(*prepared.joined(statements))
                rows = [cursor.fetchall()]
                while cursor.nextset():
                    rows.append(cursor.fetchall())
                return rows
        except psycopg.OperationalError:
            if self.conn is not None and (self.conn.closed or self.conn.broken):
                self._broken()  # its locks are gone with it
            raise  # else (a statement timeout, a cancel) the session and its locks live on

    def _broken(self) -> None:
        if self.held:
            logger.error("the advisory-lock connection broke: the leases of %s threads were "
                         "lost with it", len(self.held))
        self.close()

    def acquire(self, thread_id: str, owner: str, thread_table: str) -> tuple[bool, int | None]:
        """Hold ``thread_id`` for ``owner`` (again, for a heartbeat: a no-op). Returns whether
        it is held, and the thread row's pk if the row exists. Raises ``OperationalError``
        (``django.db``) when the database cannot be reached, ``ImproperlyConfigured`` when the
        alias's connection pool has room for fewer than 2 connections (this process's lock
        connection would starve its runs' I/O, which waits for the pool's timeout)."""
        held, pk, _rows = self.acquire_and_read(thread_id, owner, thread_table)
        return held, pk

    def acquire_and_read(
        self, thread_id: str, owner: str, thread_table: str,
        read: prepared.Statement | None = None,
    ) -> tuple[bool, int | None, list[tuple] | None]:
        """:meth:`acquire`, and in the same round trip the rows of ``read`` (a statement:
        ``DjangoSaver``'s checkpoint read) as a third value: ``None`` when not read (no
        ``read``, or the thread was held here already). The thread's row and ``read`` are
        statements after the lock's, so each reads in a snapshot taken once the lock is held:
        what the thread's previous holder committed before it let go. If the round trip fails
        on a live connection, the lock it may have taken is given back before the error."""
        from django.db import OperationalError

        with self.lock:
            holder = self.held.get(thread_id)
            if holder is not None:
                return holder == owner, None, None
            statements = [(f"SELECT pg_try_advisory_lock({_KEY})", [thread_id]),
                          (f"SELECT id FROM {thread_table} WHERE thread_id = %s", [thread_id])]
            if read is not None:
                statements.append(read)
            try:
                results = self._execute(statements)
            except ImproperlyConfigured:
                raise
            except Exception as exc:
                if self.conn is not None and not self.conn.closed:
                    self._unlock_quietly(thread_id)
                raise OperationalError(f"could not lease thread {thread_id!r}: {exc}") from exc
            (held,), ids = results[0][0], results[1]
            if not held:
                return False, None, None
            self.held[thread_id] = owner
            return True, (ids[0][0] if ids else None), (results[2] if read is not None else None)

    def _unlock_quietly(self, thread_id: str) -> None:
        """Give back a lock this session may hold for ``thread_id`` (a failed lease's)."""
        try:
            self._execute([(_UNLOCK, [thread_id])])
        except Exception:
            logger.exception("could not give back the advisory lock of thread %r", thread_id)

    def release(self, thread_id: str, owner: str) -> None:
        """Give ``thread_id`` back if ``owner`` holds it; never raises (a lock whose connection
        is gone was released by the server)."""
        with self.lock:
            if self.held.get(thread_id) == owner:
                self._release_locked(thread_id)

    def _release_locked(self, thread_id: str) -> None:
        del self.held[thread_id]
        self._unlock_quietly(thread_id)

    def commit_and_release(
        self, thread_id: str, owner: str, statements: list[prepared.Statement]
    ) -> bool:
        """Run ``statements`` (``(sql, params)`` pairs) as one transaction on this connection,
        then give ``thread_id`` back: ``BEGIN``, the statements, ``COMMIT`` and the unlock in
        one round trip (prepared, in a pipeline; else as one simple query), the unlock
        after the commit (a second run that takes the thread then reads what this one wrote).
        Returns ``True`` when done; ``False``, having written nothing, when the caller must run
        the statements itself: ``owner`` does not hold ``thread_id`` here, the connection is
        not from Django's pool (one of its own lacks the pool's session setup: role, time zone)
        or it broke (the error is logged, the leases it held are gone with it and forgotten; a
        batch whose ``COMMIT`` landed before the break is written again, so the statements must
        be idempotent, as ``DjangoSaver``'s upserts are). On another error the transaction is
        rolled back, the thread given back all the same, and the error (psycopg's) raised."""
        import psycopg

        with self.lock:
            conn = self.conn
            if self.held.get(thread_id) != owner or conn is None or conn.closed or self.pool is None:
                return False
            try:
                if prepared.enabled(connections[self.alias]):
                    prepared.transaction(conn, statements, after=[(_UNLOCK, [thread_id])])
                else:
                    with psycopg.ClientCursor(conn) as cursor:
                        cursor.execute(*prepared.joined(
                            [("BEGIN", []), *statements, ("COMMIT", []), (_UNLOCK, [thread_id])]))
            except psycopg.OperationalError:
                if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.UNKNOWN:
                    self._recover(conn, thread_id)
                    raise
                self._broken()
                return False
            except BaseException:
                self._recover(conn, thread_id)
                raise
            del self.held[thread_id]
            return True

    def _recover(self, conn: Any, thread_id: str) -> None:
        """After a failed :meth:`commit_and_release` on a live connection: roll the failed
        transaction back and give the thread back."""
        import psycopg

        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
        if thread_id in self.held:
            self._release_locked(thread_id)

    def close(self) -> None:
        """Give every lock back and the connection to its pool (or close it)."""
        self.held.clear()
        conn, pool, self.conn, self.pool = self.conn, self.pool, None, None
        if conn is None:
            return
        if pool is None:
            conn.close()
            return
        try:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock_all()")
        except Exception:
            logger.exception("could not give back the advisory locks before returning their "
                             "connection: closing it")
            conn.close()
        pool.putconn(conn)  # a closed or broken connection is discarded by the pool


_leases = PerProcess(dict)
_leases_guard = threading.Lock()


def leases(alias: str) -> Leases:
    """This process's :class:`Leases` on ``alias``."""
    by_alias = _leases.get()
    with _leases_guard:
        if alias not in by_alias:
            by_alias[alias] = Leases(alias)
        return by_alias[alias]


def close_all() -> None:
    """Close this process's advisory-lock connections (before a test database is dropped)."""
    for entry in list(_leases.get().values()):
        with entry.lock:
            entry.close()
