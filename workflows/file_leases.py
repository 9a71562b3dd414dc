"""Thread leases on SQLite as POSIX record locks: holding a thread writes nothing.

``DjangoSaver.acquire_thread`` must refuse a second run on a thread while one executes, across
processes. A SQLite database is a file that every process using it opens on one machine (SQLite
itself warns against network file systems), so the processes can exclude each other the way
PostgreSQL's advisory locks do (``workflows.advisory``): each thread is one byte of a lock file
beside the database (``<database>.leases``, never written to), locked with ``fcntl.lockf``
(``F_SETLK``, exclusive, non-blocking) at an offset hashed from the thread id. Taking or giving
one back is a system call, not a writing transaction (the floor of two writing transactions per
essay run: one ``put_batch`` per ``stream`` call), and the kernel releases a process's locks the
moment it exits (``kill -9``, OOM: the thread is free at once, not after a lease expires).

POSIX record locks belong to a process, not a thread, so runs of one process are told apart
here (``held``: thread id -> owner), and the lock file stays open for the life of the process
(closing any descriptor of it would drop all the process's locks). A forked child starts with
none of its parent's locks (POSIX) and opens the file again (:class:`PerProcess`). Two thread
ids whose offsets collide (62-bit hash) exclude each other across processes; within one they
share the byte, which is unlocked when the last of them is given back.

An in-memory database is private to its process: its leases are the ``held`` map alone. Where
``fcntl`` is missing (Windows), ``DjangoSaver`` keeps its row lease (``Thread.run_owner``).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import threading
from collections import Counter
from urllib.parse import urlsplit

from django.db import connections

from .runtime.pool import PerProcess

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = ["FileLeases", "leases", "lock_file", "uses_file_leases"]

logger = logging.getLogger(__name__)


def uses_file_leases(alias: str) -> bool:
    """Whether ``DjangoSaver`` leases threads with record locks on ``alias`` (SQLite, POSIX)."""
    return fcntl is not None and connections[alias].vendor == "sqlite"


def offset(thread_id: str) -> int:
    """The byte of the lock file that stands for ``thread_id``: 62 bits of its BLAKE2b hash."""
    return int.from_bytes(hashlib.blake2b(thread_id.encode(), digest_size=8).digest(), "big") >> 2


class FileLeases:
    """The record-lock leases of this process on the lock file ``path`` (``None``: an
    in-memory database, leased within the process only).

    ``acquire(thread_id, owner) -> bool``; ``release(thread_id, owner)``. Thread-safe. The lock
    file is made with the database's permissions where it is new (``0o666`` less the umask).
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.held: dict[str, str] = {}  # thread id -> owner
        self.bytes: Counter[int] = Counter()  # offset -> thread ids of this process holding it
        self.fd: int | None = None

    def acquire(self, thread_id: str, owner: str) -> bool:
        """Hold ``thread_id`` for ``owner`` (again, for a heartbeat: a no-op). Returns whether
        it is held: ``False`` when another run of this process or another process holds it.
        Raises ``OSError`` when the lock file cannot be opened (say, not writable by this user)
        or locked for another reason than a holder (the ``OSError`` of ``open``/``fcntl``)."""
        with self.lock:
            holder = self.held.get(thread_id)
            if holder is not None:
                return holder == owner
            if self.path is not None:
                at = offset(thread_id)
                if not self.bytes[at]:
                    fd = self._fd()  # an OSError here is the file's, never a holder
                    try:
                        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, at)
                    except OSError as exc:
                        if exc.errno in (errno.EAGAIN, errno.EACCES):  # POSIX: a holder
                            return False
                        raise
                self.bytes[at] += 1
            self.held[thread_id] = owner
            return True

    def release(self, thread_id: str, owner: str) -> None:
        """Give ``thread_id`` back if ``owner`` holds it. Never raises: an unlock that fails
        (which POSIX allows only for a bad descriptor) is logged."""
        with self.lock:
            if self.held.get(thread_id) != owner:
                return
            del self.held[thread_id]
            if self.path is None:
                return
            at = offset(thread_id)
            self.bytes[at] -= 1
            if not self.bytes[at]:
                del self.bytes[at]
                try:
                    fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, at)
                except OSError:  # after the run's commit: log it, never fail the batch
                    logger.exception("could not unlock the record lock of thread %r", thread_id)

    def _fd(self) -> int:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        return self.fd


def lock_file(name: str) -> str:
    """The lock file of the SQLite database ``NAME`` names (a path or a ``file:`` URI, which
    Django's SQLite backend opens with ``uri=True``): ``<real path>.leases``, with symbolic
    links resolved, so that every process reaching the database by another path locks the
    same file."""
    if name.startswith("file:"):
        name = urlsplit(name).path
    return os.path.realpath(name) + ".leases"


_by_path = PerProcess(dict)  # lock file (or an in-memory database's key) -> FileLeases
_by_name = PerProcess(dict)  # (alias, NAME) -> FileLeases: the hot path's lookup, no system call
_leases_guard = threading.Lock()


def leases(alias: str) -> FileLeases:
    """This process's :class:`FileLeases` for the database ``alias`` names now (a test run's
    database is another file, with its own lock file). Names that reach one file share one."""
    connection = connections[alias]
    name = str(connection.settings_dict["NAME"])
    by_name = _by_name.get()
    found = by_name.get((alias, name))
    if found is not None:
        return found
    path = None if connection.is_in_memory_db() else lock_file(name)
    key = path or f"memory:{alias}:{name}"
    with _leases_guard:
        by_path = _by_path.get()
        if key not in by_path:
            by_path[key] = FileLeases(path)
        found = by_name[(alias, name)] = by_path[key]
    return found
