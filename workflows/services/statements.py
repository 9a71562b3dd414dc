"""The run lifecycle's hot statements as SQL: claim a run, load it, find the claimable ones and
a thread's next, record an outcome.

The executor makes these on every run. Django's ORM compiles a query on each call, and for
these it costs far more than the database does (``claim_next_run``'s candidates on SQLite:
620 µs through the ORM, 26 µs as SQL), so they are written once per database vendor from the
models' table names, as ``workflows.checkpointer`` writes the checkpointer's. The same SQL runs
on SQLite and PostgreSQL. Every other lifecycle write stays ORM.

Run ids go in as the ``Run`` primary key's database value and come out as ``uuid.UUID``, as the
ORM gives them.
"""

from __future__ import annotations

from typing import Any

from django.db import connections

from ..models import Checkpoint, Interrupt, Run, Thread

__all__ = [
    "RunStatements", "loaded_run", "run_id_param", "run_ids", "statements", "thread_values",
]


class RunStatements:
    """The SQL of one vendor; ``%s`` parameters, statuses among them (``Run.Status``)."""

    def __init__(self, connection: Any) -> None:
        q = connection.ops.quote_name
        run, thread = q(Run._meta.db_table), q(Thread._meta.db_table)
        checkpoint, interrupt = q(Checkpoint._meta.db_table), q(Interrupt._meta.db_table)
        #: ``[id]`` -> ``LOADED_RUN`` then ``LOADED_THREAD`` fields of the run and its thread
        self.load = (
            f"SELECT r.id, r.thread_id, r.kind, r.input, t.id, t.thread_id, t.workflow "
            f"FROM {run} r JOIN {thread} t ON t.id = r.thread_id WHERE r.id = %s"
        )
        #: ``[thread pk]`` -> a row if the thread has a checkpoint
        self.has_checkpoint = f"SELECT 1 FROM {checkpoint} WHERE thread_id = %s LIMIT 1"
        #: ``[thread pk, queued]`` -> a row if the thread has a queued run
        self.has_queued = f"SELECT 1 FROM {run} WHERE thread_id = %s AND status = %s LIMIT 1"
        #: ``[cancelled, resolved_at, thread pk, pending]``: its pending interrupts cancelled
        self.cancel_pending = (
            f"UPDATE {interrupt} SET status = %s, resolved_at = %s "
            "WHERE thread_id = %s AND status = %s"
        )
        #: ``[queued, running, limit]`` -> the oldest queued runs whose thread has no running run
        self.claimable = (
            f"SELECT r.id FROM {run} r WHERE r.status = %s AND NOT EXISTS (SELECT 1 FROM {run} b "
            "WHERE b.thread_id = r.thread_id AND b.status = %s) ORDER BY r.created_at LIMIT %s"
        )
        #: ``[running, worker, started_at, lease_expires_at, id, queued]``: one row changed, or none
        self.claim = (
            f"UPDATE {run} SET status = %s, worker = %s, started_at = %s, lease_expires_at = %s "
            "WHERE id = %s AND status = %s"
        )
        #: ``[id, queued]`` -> the oldest queued run of that run's thread
        self.next_of_thread = (
            f"SELECT n.id FROM {run} n WHERE n.thread_id = (SELECT r.thread_id FROM {run} r "
            "WHERE r.id = %s) AND n.status = %s ORDER BY n.created_at LIMIT 1"
        )
        #: ``[id]`` -> the run's thread pk and workflow name
        self.thread_of = (
            f"SELECT r.thread_id, t.workflow FROM {run} r JOIN {thread} t ON t.id = r.thread_id "
            "WHERE r.id = %s"
        )
        #: ``[status, finished_at, error, id, running, worker]``: one row changed, or none
        self.finish = (
            f"UPDATE {run} SET status = %s, finished_at = %s, error = %s, lease_expires_at = NULL "
            "WHERE id = %s AND status = %s AND worker = %s"
        )
        self._quote, self._thread = q, thread

    def update_thread(self, fields: list[str]) -> str:
        """``UPDATE`` of the thread's ``fields`` (column names); parameters: their values as the
        database stores them (:func:`thread_values`), then the thread's pk."""
        sets = ", ".join(f"{self._quote(name)} = %s" for name in fields)
        return f"UPDATE {self._thread} SET {sets} WHERE id = %s"


#: the fields ``RunStatements.load`` reads of a run and of its thread, in its column order: the
#: models' field order, as ``Model.from_db`` takes them
LOADED_RUN = ("id", "thread_id", "kind", "input")
LOADED_THREAD = ("id", "thread_id", "workflow")

_STATEMENTS: dict[str, RunStatements] = {}


def statements(using: str = "default") -> tuple[Any, RunStatements]:
    """The Django connection ``using`` and its vendor's :class:`RunStatements`."""
    connection = connections[using]
    sql = _STATEMENTS.get(connection.vendor)
    if sql is None:
        sql = _STATEMENTS[connection.vendor] = RunStatements(connection)
    return connection, sql


def run_id_param(connection: Any, run_id: Any) -> Any:
    """``run_id`` (a UUID or its text) as the database stores ``Run``'s primary key."""
    return Run._meta.pk.get_db_prep_value(run_id, connection)


def loaded_run(connection: Any, row: tuple) -> Run:
    """The ``Run`` (its ``thread`` set) of a ``RunStatements.load`` row, as the ORM makes it
    from a query of those columns (``Model.from_db``: the other fields are deferred, read from
    the database if touched). Of these columns only the run's UUID needs converting."""
    n = len(LOADED_RUN)
    run = Run.from_db(connection.alias, LOADED_RUN, [Run._meta.pk.to_python(row[0]), *row[1:n]])
    run.thread = Thread.from_db(connection.alias, LOADED_THREAD, row[n:])
    return run


def thread_values(connection: Any, fields: dict[str, Any]) -> list:
    """``fields`` (``Thread`` field names and values) as the database stores them, in order."""
    return [
        Thread._meta.get_field(name).get_db_prep_save(value, connection)
        for name, value in fields.items()
    ]


def run_ids(rows: list) -> list:
    """The first column of ``rows`` as ``uuid.UUID`` run ids."""
    to_python = Run._meta.pk.to_python
    return [to_python(row[0]) for row in rows]
