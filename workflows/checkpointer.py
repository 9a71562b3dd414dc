"""``DjangoSaver``: a checkpointer whose storage is the Django models of this app.

Works on every database Django supports; tested on SQLite and PostgreSQL (psycopg 3). A run
interrupted in one process resumes in another from the database alone. Besides LangGraph's
checkpoint tables, it keeps ``Interrupt`` rows (what reviewers answer) in step with the
``__interrupt__`` pending writes, in the same transaction.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from . import advisory, file_leases, prepared
from .db_threads import DatabaseThreads
from .runtime.checkpoint import (
    UNREAD,
    BaseCheckpointSaver,
    CheckpointTuple,
    Op,
    PutCheckpoint,
    PutWrites,
    ReleaseThread,
    get_checkpoint_id,
    get_thread_id,
    write_idx,
)
from .runtime.serde import JsonPlusSerializer

RUN_LEASE = timedelta(minutes=15)

# the async twins' ORM calls: bounded, each call's connection closed after it
_saver_threads = DatabaseThreads("workflows-saver-db", 4)


class _Statements:
    """The hot path's SQL for one database vendor, built from the models' table names."""

    def __init__(self, connection: Any) -> None:
        from .models import Checkpoint, Interrupt, PendingWrite, Thread

        q = connection.ops.quote_name
        thread, ckpt = q(Thread._meta.db_table), q(Checkpoint._meta.db_table)
        write, intr = q(PendingWrite._meta.db_table), q(Interrupt._meta.db_table)
        ckpt_cols = (
            f"SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, "
            f"c.data, c.metadata FROM {ckpt} c JOIN {thread} t ON c.thread_id = t.id "
            "WHERE t.thread_id = %s AND c.checkpoint_ns = %s"
        )
        # a checkpoint and its pending writes in one round trip (one row per write)
        with_writes = (
            "SELECT c.*, w.task_id, w.channel, w.value FROM ({}) c LEFT JOIN "
            f"{write} w ON w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns "
            "AND w.checkpoint_id = c.checkpoint_id ORDER BY w.id"
        )
        self.select_latest_checkpoint = with_writes.format(
            ckpt_cols + " ORDER BY c.checkpoint_id DESC LIMIT 1"
        )
        self.select_checkpoint_by_id = with_writes.format(ckpt_cols + " AND c.checkpoint_id = %s")
        self.select_writes = (
            f"SELECT task_id, channel, value FROM {write} "
            "WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = %s ORDER BY id"
        )
        self.upsert_checkpoint = _Insert(
            f"INSERT INTO {ckpt} (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
            "step, source, data, metadata, created_at)", 9,
            "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET "
            "parent_checkpoint_id = excluded.parent_checkpoint_id, step = excluded.step, "
            "source = excluded.source, data = excluded.data, metadata = excluded.metadata",
            thread,
        )
        write_insert = (
            f"INSERT INTO {write} (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, "
            "idx, channel, value, created_at)"
        )
        write_key = "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) "
        self.insert_write = _Insert(write_insert, 9, write_key + "DO NOTHING", thread)
        self.upsert_write = _Insert(write_insert, 9, write_key + (
            "DO UPDATE SET channel = excluded.channel, value = excluded.value, task_path = "
            f"CASE WHEN excluded.task_path = '' THEN {write}.task_path ELSE excluded.task_path END"
        ), thread)
        self.upsert_interrupt = _Insert(
            f"INSERT INTO {intr} (thread_id, interrupt_id, checkpoint_id, task_id, value, "
            "response_schema, status, created_at)", 8,
            "ON CONFLICT (thread_id, interrupt_id) DO UPDATE SET "
            "checkpoint_id = excluded.checkpoint_id, task_id = excluded.task_id, "
            "value = excluded.value, response_schema = excluded.response_schema",
            thread,
        )
        self.resolve_interrupts = (
            f"UPDATE {intr} SET status = 'resolved', resolved_at = %s "
            "WHERE thread_id = %s AND task_id = %s AND status = 'pending'"
        )
        # create-or-lease in one statement (PostgreSQL, SQLite >= 3.35): no row back = busy
        self.lease_thread = (
            f"INSERT INTO {thread} (thread_id, workflow, status, title, error, created_at, "
            "updated_at, run_owner, run_lease_expires_at) "
            "VALUES (%s, '', 'idle', '', '', %s, %s, %s, %s) ON CONFLICT (thread_id) DO UPDATE "
            "SET run_owner = excluded.run_owner, run_lease_expires_at = excluded.run_lease_expires_at "
            f"WHERE {thread}.run_owner = '' OR {thread}.run_owner = excluded.run_owner "
            f"OR {thread}.run_lease_expires_at < %s RETURNING id, created_at = %s"
        )
        # the row's pk, creating it if missing, in one statement (inside put_batch's transaction)
        self.ensure_thread = (
            f"INSERT INTO {thread} (thread_id, workflow, status, title, error, created_at, "
            "updated_at, run_owner, run_lease_expires_at) "
            "VALUES (%s, '', 'idle', '', '', %s, %s, '', NULL) ON CONFLICT (thread_id) DO UPDATE "
            "SET thread_id = excluded.thread_id RETURNING id"
        )
        self.release = (
            f"UPDATE {thread} SET run_owner = '', run_lease_expires_at = NULL "
            "WHERE thread_id = %s AND run_owner = %s"
        )
        # the same naming its thread by thread_id, for a thread whose row is made earlier in
        # the same transaction (``DjangoSaver._write_in_one_query``)
        self.resolve_interrupts_by_name = self.resolve_interrupts.replace(
            "WHERE thread_id = %s", f"WHERE thread_id = ({_thread_pk(thread)})")


def _thread_pk(thread_table: str) -> str:
    return f"SELECT id FROM {thread_table} WHERE thread_id = %s"


class _Insert:
    """An ``INSERT ... VALUES ... ON CONFLICT`` of any number of rows as one statement (one
    parse, plan and execution for the whole batch, not one per row), ``sql(n, by_name)``: the
    first column is the thread's pk, or with ``by_name`` a subquery on its ``thread_id`` (a
    thread whose row is made earlier in the same transaction)."""

    MAX_ROWS = 100  # rows per statement: SQLite allows 32,766 parameters

    def __init__(self, head: str, width: int, conflict: str, thread_table: str) -> None:
        rest = ", %s" * (width - 1)
        self.head, self.conflict = head, conflict
        self.row = {False: f"(%s{rest})", True: f"(({_thread_pk(thread_table)}){rest})"}
        self._sql: dict[tuple[int, bool], str] = {}

    def sql(self, n: int, by_name: bool = False) -> str:
        statement = self._sql.get((n, by_name))
        if statement is None:
            values = ", ".join([self.row[by_name]] * n)
            statement = self._sql[n, by_name] = f"{self.head} VALUES {values} {self.conflict}"
        return statement


class _Batch:
    """Collects ``execute(sql, params)`` calls, to send them together."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Sequence[Any]]] = []

    def execute(self, statement: str, params: Sequence[Any]) -> None:
        self.statements.append((statement, params))


_STATEMENTS: dict[str, _Statements] = {}


def _pipeline(connection: Any) -> Any:
    """psycopg 3's pipeline mode on PostgreSQL: a batch's statements travel together instead
    of one round trip each (results are not read until the transaction ends)."""
    if connection.vendor == "postgresql" and hasattr(connection.connection, "pipeline"):
        return connection.connection.pipeline()
    return contextlib.nullcontext()


def _fetchall(connection: Any, sql: str, params: list) -> list[tuple]:
    """The rows of one of ``_Statements``' reads (prepared on PostgreSQL: ``workflows.prepared``)."""
    if prepared.enabled(connection):
        return prepared.fetchall(connection, sql, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _autocommit(connection: Any) -> bool:
    """Whether ``connection`` is in autocommit mode, without connecting it: one that is not
    connected yet will be in its configured mode (``AUTOCOMMIT``), so a run's first batch,
    which goes on the advisory-lock connection, takes no connection from the pool only to
    ask (a checkout and its health check, a round trip)."""
    if connection.connection is None:
        return connection.settings_dict["AUTOCOMMIT"]
    return connection.get_autocommit()


def _lock_leases(alias: str) -> advisory.Leases | file_leases.FileLeases | None:
    """This process's thread leases on ``alias`` when they are locks that write nothing
    (advisory locks on PostgreSQL, record locks on SQLite), else ``None``: leases are the
    ``Thread.run_owner`` column, taken by an upsert and given back in a run's last batch."""
    if advisory.uses_advisory_locks(alias):
        return advisory.leases(alias)
    if file_leases.uses_file_leases(alias):
        return file_leases.leases(alias)
    return None


def _config(thread_id: str, ns: str, checkpoint_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


def ensure_thread(thread_id: str, using: str | None = None) -> int:
    """The ``Thread`` row's pk for ``thread_id``, creating the row if missing
    (``INSERT ... ON CONFLICT DO NOTHING``: no savepoint, safe against concurrent creators;
    an existing row is only read). ``LangGraphDjangoSaver``'s; ``DjangoSaver.put_batch`` makes a
    new thread's row in its own transaction with one upsert instead (``_Statements.ensure_thread``)."""
    from .models import Thread

    threads = Thread.objects.using(using)
    pk = threads.filter(thread_id=thread_id).values_list("pk", flat=True).first()
    if pk is None:
        threads.bulk_create([Thread(thread_id=thread_id)], ignore_conflicts=True)
        pk = threads.filter(thread_id=thread_id).values_list("pk", flat=True).get()
    return pk


class DjangoSaver(BaseCheckpointSaver):
    """Checkpointer on the ``Thread``, ``Checkpoint``, ``PendingWrite`` and ``Interrupt`` models.

    Use it as any LangGraph checkpointer: ``@entrypoint(checkpointer=DjangoSaver())``. Each
    ``put``/``put_writes`` is one transaction. ``serde`` defaults to the JSON serializer with the
    classes named in the ``WORKFLOWS_SERDE_ALLOWED_TYPES`` setting on its allowlist.
    """

    # The runtime calls this checkpointer on its few I/O threads, so connections stay bounded.
    io_thread = True

    def __init__(self, *, serde: JsonPlusSerializer | None = None, using: str | None = None) -> None:
        super().__init__(
            serde=serde
            or JsonPlusSerializer(getattr(settings, "WORKFLOWS_SERDE_ALLOWED_TYPES", ()))
        )
        self.using = using
        self._leases: dict[str, int] = {}  # thread_id -> Thread.pk, while this process leases it
        self._owners: dict[str, str] = {}  # thread_id -> the owner this saver leased it to
        # threads leased with no row yet (so no checkpoint): get_tuple answers None unasked
        self._absent: set[str] = set()
        self._leases_guard = threading.Lock()

    # -- helpers ----------------------------------------------------------------------------
    def _tuple(self, row: Any, thread_id: str) -> CheckpointTuple:
        """A ``Checkpoint`` model row as a ``CheckpointTuple`` (writes read with one query)."""
        return self._tuple_from(
            thread_id, row.thread_id, row.checkpoint_ns, row.checkpoint_id,
            row.parent_checkpoint_id, row.data, row.metadata,
        )

    def _tuple_from(
        self, thread_id, thread_pk, ns, checkpoint_id, parent_id, data, metadata, *, writes=None
    ):
        if writes is None:
            connection = connections[self.using or DEFAULT_DB_ALIAS]
            writes = _fetchall(
                connection, self._sql(connection).select_writes, [thread_pk, ns, checkpoint_id])
        if isinstance(metadata, str):  # raw queries return JSON as text
            metadata = json.loads(metadata)
        return CheckpointTuple(
            config=_config(thread_id, ns, checkpoint_id),
            checkpoint=self.serde.loads(data),
            metadata=metadata,
            parent_config=_config(thread_id, ns, parent_id) if parent_id else None,
            pending_writes=[(t, c, self.serde.loads(v)) for t, c, v in writes],
        )

    def _note_leased_rows(self, pks: dict) -> None:
        """After a batch's commit: the row ids of the threads it made that are still leased,
        so the lease's later batches name them by id instead of upserting the row again."""
        with self._leases_guard:
            for thread_id, pk in pks.items():
                if thread_id in self._owners:
                    self._leases.setdefault(thread_id, pk)

    def _forget_lease(self, thread_id: str) -> None:
        with self._leases_guard:
            self._leases.pop(thread_id, None)
            self._absent.discard(thread_id)
            self._owners.pop(thread_id, None)

    @staticmethod
    def _sql(connection: Any) -> _Statements:
        statements = _STATEMENTS.get(connection.vendor)
        if statements is None:
            statements = _STATEMENTS[connection.vendor] = _Statements(connection)
        return statements

    # -- interface --------------------------------------------------------------------------
    def get_tuple(self, config: dict) -> CheckpointTuple | None:
        """The checkpoint named by ``config`` (else the thread's latest) with its pending
        writes, in one SQL query because this is the hot path. ``None``, without a query, for
        a thread this saver leased when it had no row (on PostgreSQL the lease's lock reads
        whether it has one; a row lease's upsert says whether it made it), until a batch of
        this saver makes it: a new thread's first run asks for nothing. A thread leased without
        reading its row (SQLite's record locks) has its pk noted from what this reads, so its
        batches name it by pk."""
        thread_id = get_thread_id(config)
        if thread_id in self._absent:
            return None
        connection = connections[self.using or DEFAULT_DB_ALIAS]
        return self._tuple_from_rows(
            thread_id, _fetchall(connection, *self._read_statement(connection, config)))

    def _read_statement(self, connection: Any, config: dict) -> tuple[str, list]:
        """``get_tuple``'s query: ``(sql, params)``."""
        thread_id, sql = get_thread_id(config), self._sql(connection)
        ns = config["configurable"].get("checkpoint_ns", "")
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id:
            return sql.select_checkpoint_by_id, [thread_id, ns, checkpoint_id]
        return sql.select_latest_checkpoint, [thread_id, ns]

    def _tuple_from_rows(self, thread_id: str, rows: list) -> CheckpointTuple | None:
        """The ``CheckpointTuple`` of ``get_tuple``'s rows (``None`` for none)."""
        if not rows:
            return None
        if thread_id in self._owners and thread_id not in self._leases:
            with self._leases_guard:
                if thread_id in self._owners:  # still leased
                    self._leases[thread_id] = rows[0][0]
        writes = [(t, c, v) for *_, t, c, v in rows if t is not None]
        return self._tuple_from(thread_id, *rows[0][:6], writes=writes)

    def list(
        self,
        config: dict | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        from .models import Checkpoint

        rows = Checkpoint.objects.using(self.using).select_related("thread")
        if config:
            rows = rows.filter(thread__thread_id=get_thread_id(config))
            if "checkpoint_ns" in config["configurable"]:
                rows = rows.filter(checkpoint_ns=config["configurable"]["checkpoint_ns"])
            if get_checkpoint_id(config):
                rows = rows.filter(checkpoint_id=get_checkpoint_id(config))
        if before:
            rows = rows.filter(checkpoint_id__lt=get_checkpoint_id(before))
        rows = rows.order_by("-checkpoint_id")
        count = 0
        for row in rows.iterator() if not filter else rows:
            if filter and any(row.metadata.get(k) != v for k, v in filter.items()):
                continue
            yield self._tuple(row, row.thread.thread_id)
            count += 1
            if limit is not None and count >= limit:
                return

    def put(self, config: dict, checkpoint: dict, metadata: dict, new_versions: dict) -> dict:
        self.put_batch([PutCheckpoint(config, checkpoint, metadata, new_versions)])
        ns = config["configurable"].get("checkpoint_ns", "")
        return _config(get_thread_id(config), ns, checkpoint["id"])

    def put_writes(
        self, config: dict, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self.put_batch([PutWrites(config, writes, task_id, task_path)])

    def put_batch(self, ops: Sequence[Op]) -> None:
        """Apply checkpoints and pending writes in ONE transaction (see the base class).

        Values are serialized first, so a ``TypeError`` leaves the database untouched.
        Checkpoints are upserted; writes of special channels are upserted, others
        insert-or-ignore (LangGraph's rules); ``Interrupt`` rows follow ``__interrupt__`` writes;
        ``ReleaseThread`` ops give leased threads back. Written as one multi-row ``INSERT ... ON
        CONFLICT`` per table touched (PostgreSQL and SQLite alike) because this is the hot path;
        on PostgreSQL in autocommit mode all of them as one query (``_write_in_one_query``),
        else in an atomic block.
        """
        connection = connections[self.using or DEFAULT_DB_ALIAS]
        adapt_json = connection.ops.adapt_json_value
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        checkpoints, special, normal, interrupts, releases = [], {}, [], [], []
        for op in ops:
            config = op.config
            thread_id = get_thread_id(config)
            ns = config["configurable"].get("checkpoint_ns", "")
            if isinstance(op, ReleaseThread):
                releases.append((thread_id, op.owner))
            elif isinstance(op, PutCheckpoint):
                checkpoint, metadata = op.checkpoint, op.metadata
                checkpoints.append([
                    thread_id, ns, checkpoint["id"], get_checkpoint_id(config),
                    metadata.get("step", 0), metadata.get("source", "input"),
                    self.serde.dumps(checkpoint).decode(),
                    adapt_json(self.serde.encode(metadata), None), now,
                ])
            elif isinstance(op, PutWrites):
                writes, task_id, task_path = op.writes, op.task_id, op.task_path
                checkpoint_id = get_checkpoint_id(config)
                for position, (channel, value) in enumerate(writes):
                    idx = write_idx(channel, position)
                    row = [thread_id, ns, checkpoint_id, task_id, task_path, idx, channel,
                           self.serde.dumps(value).decode(), now]
                    if idx < 0:  # the last write of a special channel wins
                        special[(thread_id, ns, checkpoint_id, task_id, idx)] = row
                    else:
                        normal.append(row)
                    if channel == "__interrupt__":
                        interrupts.append((thread_id, checkpoint_id, task_id, value))
            else:
                raise TypeError(f"Unknown checkpointer operation {op!r}")
        thread_ids = {row[0] for row in [*checkpoints, *special.values(), *normal]}
        thread_ids.update(t for t, *_ in interrupts)
        sql = self._sql(connection)
        lock_leases = _lock_leases(connection.alias)  # None: row leases, released in the batch
        advisory_locks = isinstance(lock_leases, advisory.Leases)
        rows = (checkpoints, special, normal, interrupts, [] if lock_leases else releases, now)
        with self._leases_guard:
            pks = {t: self._leases.get(t) for t in thread_ids}
            self._absent -= thread_ids  # their rows are being made: read them from now on
        to_release = releases  # the locks still held after the batch
        try:
            if advisory_locks and not connection.in_atomic_block and _autocommit(connection):
                to_release = self._write_in_one_query(connection, sql, pks, rows, releases)
            else:
                with transaction.atomic(using=self.using), connection.cursor() as cursor:
                    for t, pk in pks.items():
                        if pk is None:  # a thread new to the database: its row now
                            cursor.execute(sql.ensure_thread, [t, now, now])
                            pks[t] = cursor.fetchone()[0]
                    with _pipeline(connection):
                        self._write_rows(cursor, connection.ops, sql, pks, *rows)
                if not connection.in_atomic_block:  # committed, not in a caller's transaction
                    self._note_leased_rows(pks)
        finally:  # after the commit (or the failure: the run is over either way)
            for thread_id, _owner in releases:
                self._forget_lease(thread_id)
            if lock_leases is not None:
                for thread_id, owner in to_release:
                    lock_leases.release(thread_id, owner)

    def _write_in_one_query(self, connection, sql, pks, rows, releases) -> list:
        """``put_batch``'s transaction on PostgreSQL outside an atomic block, in ONE round trip:
        ``BEGIN``, its statements and ``COMMIT`` as prepared statements in one pipeline
        (``workflows.prepared.transaction``; with ``WORKFLOWS_PREPARED_STATEMENTS`` off, joined
        by ``;`` in one simple query, parameters bound on the client, which the server runs as
        one transaction: PostgreSQL's "Multiple Statements in a Simple Query"): all of it
        commits, or on an error none of it, raised as Django's error. A thread new to the
        database gets its row first and is named by ``thread_id`` in the statements that follow
        (``_Insert``).

        A run's last batch (it gives one thread back) goes on the connection that holds the
        thread's advisory lock, with the unlock after its ``COMMIT`` in the same round trip
        (``advisory.Leases.commit_and_release``): the thread is free once the batch is durable,
        without a round trip of its own. Returns the releases still to do: none when that
        connection took the batch, else all of ``releases``."""
        now = rows[-1]
        batch = _Batch()
        for t, pk in pks.items():
            if pk is None:
                batch.execute(sql.ensure_thread, [t, now, now])
        self._write_rows(batch, connection.ops, sql, pks, *rows)
        if len(releases) == 1:
            (thread_id, owner), leases = releases[0], advisory.leases(connection.alias)
            with connection.wrap_database_errors:
                if leases.commit_and_release(thread_id, owner, batch.statements):
                    return []
        if prepared.enabled(connection):
            connection.ensure_connection()
            with connection.wrap_database_errors:
                prepared.transaction(connection.connection, batch.statements,
                                     django_connection=connection)
        else:
            with connection.cursor() as cursor:
                cursor.execute(*prepared.joined(batch.statements))
        return releases

    def _write_rows(self, cursor, ops, sql, pks, checkpoints, special, normal, interrupts,
                    releases, now):
        """The statements of one ``put_batch``: one multi-row ``INSERT`` per table touched
        (``_Insert``). A thread whose pk is not known (``None`` in ``pks``) is named by its
        ``thread_id``."""
        adapt_json = ops.adapt_json_value

        def insert(statement: _Insert, rows: list, key=None) -> None:
            if key is not None:  # DO UPDATE may not touch a row twice in one statement
                rows = list({key(r): r for r in rows}.values())
            for by_name in (False, True):
                mine = [r if by_name else [pks[r[0]], *r[1:]]
                        for r in rows if (pks[r[0]] is None) == by_name]
                for i in range(0, len(mine), statement.MAX_ROWS):
                    chunk = mine[i:i + statement.MAX_ROWS]
                    cursor.execute(statement.sql(len(chunk), by_name),
                                   [value for row in chunk for value in row])

        insert(sql.upsert_checkpoint, checkpoints, key=lambda r: tuple(r[:3]))
        insert(sql.upsert_write, list(special.values()))  # one per key already
        insert(sql.insert_write, normal)
        pending = []  # interrupts to upsert, in the batch's order with the answered tasks
        for thread_id, checkpoint_id, task_id, value in interrupts:
            if value:
                pending += [[thread_id, intr.id, checkpoint_id, task_id,
                             adapt_json(self.serde.to_display(intr.value), None),
                             adapt_json(intr.response_schema, None), "pending", now]
                            for intr in value]
                continue
            insert(sql.upsert_interrupt, pending, key=lambda r: (r[0], r[1]))
            pending = []  # the runtime clears a task's interrupt write when it is answered
            if pks[thread_id] is None:
                cursor.execute(sql.resolve_interrupts_by_name, [now, thread_id, task_id])
            else:
                cursor.execute(sql.resolve_interrupts, [now, pks[thread_id], task_id])
        insert(sql.upsert_interrupt, pending, key=lambda r: (r[0], r[1]))
        for thread_id, owner in releases:
            cursor.execute(sql.release, [thread_id, owner])

    def acquire_thread(self, thread_id: str, owner: str) -> bool:
        """Lease the thread to one run, so the database enforces it across processes. Returns
        ``False`` when another run holds it. On PostgreSQL a session advisory lock
        (``workflows.advisory``), on SQLite a record lock on a file beside the database
        (``workflows.file_leases``): neither writes anything, and both are freed the moment the
        holding process is gone. Elsewhere one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``
        that creates the row or takes it if free (or its lease expired after ``RUN_LEASE``).
        Raises ``OperationalError`` (``django.db``) when the lease cannot be asked for."""
        return self._acquire(thread_id, owner)[0]

    def acquire_thread_and_get_tuple(
        self, thread_id: str, owner: str, config: dict
    ) -> tuple[bool, CheckpointTuple | None | object]:
        """``acquire_thread`` and ``get_tuple(config)`` (see the base class). On PostgreSQL in
        one round trip on the advisory locks' connection: the lock, the thread row's id and the
        checkpoint read are three statements of one pipeline (``advisory.Leases.
        acquire_and_read``), so the read sees what the thread's last run committed before it
        let go (under PostgreSQL's default ``read committed``), and a run with one batch per
        ``stream`` call (its last, which goes on that connection too) takes no connection of its
        own from the pool. A lease whose round trip fails raises ``OperationalError``, the
        thread not held."""
        held, rows = self._acquire(thread_id, owner, config)
        if not held:
            return False, None
        try:  # a read that fails leaves the thread held: the run reads again inside its hold
            if rows is None:  # not read with the lease
                return True, self.get_tuple(config)
            return True, self._tuple_from_rows(thread_id, rows)  # may not decode
        except Exception:
            return True, UNREAD

    def _acquire(self, thread_id: str, owner: str, config: dict | None = None
                 ) -> tuple[bool, list | None]:
        """``(held, rows of get_tuple(config) or None when not read with the lease)``."""
        connection = connections[self.using or DEFAULT_DB_ALIAS]
        rows = None
        renewal = self._owners.get(thread_id) == owner  # a heartbeat: nothing new to note
        pk, empty = None, False  # empty: no row, so no checkpoint to read
        lock_leases = _lock_leases(connection.alias)
        if isinstance(lock_leases, advisory.Leases):
            from .models import Thread

            table = connection.ops.quote_name(Thread._meta.db_table)
            read = self._read_statement(connection, config) if config is not None else None
            held, pk, rows = lock_leases.acquire_and_read(thread_id, owner, table, read)
            empty = pk is None  # no row: put_batch creates it
        elif lock_leases is not None:  # record locks
            try:  # the row is not read: get_tuple's read tells (and notes its pk)
                held = lock_leases.acquire(thread_id, owner)
            except OSError as exc:
                from django.db import OperationalError

                raise OperationalError(f"could not lease thread {thread_id!r}: {exc}") from exc
        else:
            now = timezone.now()
            adapt = connection.ops.adapt_datetimefield_value
            params = [thread_id, adapt(now), adapt(now), owner, adapt(now + RUN_LEASE),
                      adapt(now), adapt(now)]
            with connection.cursor() as cursor:  # one statement: its own transaction
                cursor.execute(self._sql(connection).lease_thread, params)
                row = cursor.fetchone()
            held = row is not None
            if held:
                pk, empty = row  # empty: the lease made the row
        if held and not renewal:
            with self._leases_guard:
                self._owners[thread_id] = owner
                if pk is not None:
                    self._leases[thread_id] = pk  # the row exists while leased: no lookups
                if empty:  # no checkpoint yet: nothing to read until put_batch writes one
                    self._absent.add(thread_id)
                else:
                    self._absent.discard(thread_id)
        return held, rows

    def release_thread(self, thread_id: str, owner: str) -> None:
        from .models import Thread

        self._forget_lease(thread_id)
        alias = self.using or DEFAULT_DB_ALIAS
        lock_leases = _lock_leases(alias)
        if lock_leases is not None:
            lock_leases.release(thread_id, owner)
            return
        Thread.objects.using(self.using).filter(thread_id=thread_id, run_owner=owner).update(
            run_owner="", run_lease_expires_at=None
        )

    def delete_thread(self, thread_id: str) -> None:
        from .models import Thread

        Thread.objects.using(self.using).filter(thread_id=thread_id).delete()

    # -- async twins: the ORM on the saver's database threads, never on the event loop ---------------------
    async def aget_tuple(self, config: dict) -> CheckpointTuple | None:
        return await _saver_threads.run(self.get_tuple, config)

    async def aput(self, config: dict, checkpoint: dict, metadata: dict, new_versions: dict) -> dict:
        return await _saver_threads.run(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config, writes, task_id, task_path=""):
        await _saver_threads.run(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await _saver_threads.run(self.delete_thread, thread_id)
