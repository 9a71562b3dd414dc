"""``DjangoSaver``: a checkpointer whose storage is the Django models of this app.

Works on every database Django supports; tested on SQLite and PostgreSQL (psycopg 3). A run
interrupted in one process resumes in another from the database alone. Besides LangGraph's
checkpoint tables, it keeps ``Interrupt`` rows (what reviewers answer) in step with the
``__interrupt__`` pending writes, in the same transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Q
from django.utils import timezone

from .runtime.checkpoint import (
    BaseCheckpointSaver,
    CheckpointTuple,
    get_checkpoint_id,
    get_thread_id,
    write_idx,
)
from .runtime.serde import JsonPlusSerializer


RUN_LEASE = timedelta(minutes=15)


def _last_per_key(rows: list, keys: list[str]) -> list[list]:
    """Upsert batches: the last row per key wins, and rows that set ``task_path`` are kept
    apart from rows that leave it as it is."""
    latest: dict[tuple, Any] = {}
    for row in rows:
        latest[tuple(getattr(row, k if k != "thread" else "thread_id") for k in keys)] = row
    with_path = [r for r in latest.values() if r.task_path]
    without = [r for r in latest.values() if not r.task_path]
    return [group for group in (with_path, without) if group]


def _config(thread_id: str, ns: str, checkpoint_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


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
        self._leases_guard = threading.Lock()

    # -- helpers ----------------------------------------------------------------------------
    def _thread_pk(self, thread_id: str) -> int:
        """The ``Thread`` row's pk for ``thread_id``, creating the row if missing
        (``INSERT ... ON CONFLICT DO NOTHING``: no savepoint, safe against concurrent creators)."""
        from .models import Thread

        threads = Thread.objects.using(self.using)
        pk = threads.filter(thread_id=thread_id).values_list("pk", flat=True).first()
        if pk is None:
            threads.bulk_create([Thread(thread_id=thread_id)], ignore_conflicts=True)
            pk = threads.filter(thread_id=thread_id).values_list("pk", flat=True).get()
        return pk

    def _tuple(self, row: Any, thread_id: str) -> CheckpointTuple:
        from .models import PendingWrite

        writes = (
            PendingWrite.objects.using(self.using)
            .filter(thread_id=row.thread_id, checkpoint_ns=row.checkpoint_ns, checkpoint_id=row.checkpoint_id)
            .order_by("id")
            .values_list("task_id", "channel", "value")
        )
        return CheckpointTuple(
            config=_config(thread_id, row.checkpoint_ns, row.checkpoint_id),
            checkpoint=self.serde.loads(row.data),
            metadata=row.metadata,
            parent_config=(
                _config(thread_id, row.checkpoint_ns, row.parent_checkpoint_id)
                if row.parent_checkpoint_id
                else None
            ),
            pending_writes=[(t, c, self.serde.loads(v)) for t, c, v in writes],
        )

    # -- interface --------------------------------------------------------------------------
    def get_tuple(self, config: dict) -> CheckpointTuple | None:
        from .models import Checkpoint

        thread_id = get_thread_id(config)
        ns = config["configurable"].get("checkpoint_ns", "")
        rows = Checkpoint.objects.using(self.using).filter(
            thread__thread_id=thread_id, checkpoint_ns=ns
        )
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id:
            rows = rows.filter(checkpoint_id=checkpoint_id)
        row = rows.order_by("-checkpoint_id").first()
        return self._tuple(row, thread_id) if row else None

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
        self.put_batch([("put", config, checkpoint, metadata, new_versions)])
        ns = config["configurable"].get("checkpoint_ns", "")
        return _config(get_thread_id(config), ns, checkpoint["id"])

    def put_writes(
        self, config: dict, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self.put_batch([("put_writes", config, writes, task_id, task_path)])

    def put_batch(self, ops: Sequence[tuple]) -> None:
        """Apply checkpoints and pending writes in ONE transaction (see the base class).

        Values are serialized first, so a ``TypeError`` leaves the database untouched.
        Checkpoints are upserted; writes of special channels are upserted, others
        insert-or-ignore (LangGraph's rules); ``Interrupt`` rows follow ``__interrupt__`` writes.
        """
        from .models import Checkpoint, PendingWrite

        checkpoints, special, normal, interrupts = [], [], [], []
        now = timezone.now()
        thread_ids = set()
        releases = []
        for op in ops:
            config = op[1]
            thread_id = get_thread_id(config)
            thread_ids.add(thread_id)
            ns = config["configurable"].get("checkpoint_ns", "")
            if op[0] == "release":
                releases.append((thread_id, op[2]))
                continue
            if op[0] == "put":
                _, _, checkpoint, metadata, _versions = op
                checkpoints.append((thread_id, Checkpoint(
                    checkpoint_ns=ns,
                    checkpoint_id=checkpoint["id"],
                    parent_checkpoint_id=get_checkpoint_id(config),
                    step=metadata.get("step", 0),
                    source=metadata.get("source", "input"),
                    data=self.serde.dumps(checkpoint).decode(),
                    metadata=self.serde.encode(metadata),
                    created_at=now,
                )))
                continue
            _, _, writes, task_id, task_path = op
            checkpoint_id = get_checkpoint_id(config)
            for position, (channel, value) in enumerate(writes):
                idx = write_idx(channel, position)
                row = PendingWrite(
                    checkpoint_ns=ns, checkpoint_id=checkpoint_id, task_id=task_id, idx=idx,
                    channel=channel, value=self.serde.dumps(value).decode(), task_path=task_path,
                    created_at=now,
                )
                (special if idx < 0 else normal).append((thread_id, row))
                if channel == "__interrupt__":
                    interrupts.append((thread_id, checkpoint_id, task_id, value))
        self._apply(checkpoints, special, normal, interrupts, releases, thread_ids, now)

    def _apply(self, checkpoints, special, normal, interrupts, releases, thread_ids, now) -> None:
        from .models import Checkpoint, PendingWrite, Thread

        with transaction.atomic(using=self.using):
            with self._leases_guard:
                leased = {t: self._leases.get(t) for t in thread_ids}
            threads = {t: leased[t] or self._thread_pk(t) for t in thread_ids}
            for thread_id, row in checkpoints + special + normal:
                row.thread_id = threads[thread_id]
            db = self.using or "default"
            if checkpoints:
                Checkpoint.objects.using(db).bulk_create(
                    [row for _, row in checkpoints],
                    update_conflicts=True,
                    unique_fields=["thread", "checkpoint_ns", "checkpoint_id"],
                    update_fields=["parent_checkpoint_id", "step", "source", "data", "metadata"],
                )
            keys = ["thread", "checkpoint_ns", "checkpoint_id", "task_id", "idx"]
            for rows in _last_per_key([row for _, row in special], keys):
                update = ["channel", "value"] + (["task_path"] if rows[0].task_path else [])
                PendingWrite.objects.using(db).bulk_create(
                    rows, update_conflicts=True, unique_fields=keys, update_fields=update
                )
            if normal:
                PendingWrite.objects.using(db).bulk_create(
                    [row for _, row in normal], ignore_conflicts=True
                )
            for thread_id, checkpoint_id, task_id, value in interrupts:
                self._sync_interrupts(threads[thread_id], checkpoint_id, task_id, value, now)
            for thread_id, owner in releases:
                Thread.objects.using(db).filter(pk=threads[thread_id], run_owner=owner).update(
                    run_owner="", run_lease_expires_at=None
                )
        for thread_id, _owner in releases:
            with self._leases_guard:
                self._leases.pop(thread_id, None)

    def acquire_thread(self, thread_id: str, owner: str) -> bool:
        """Lease the thread to one run with a conditional update of its row (free, or its lease
        expired after ``RUN_LEASE``), creating the row if needed: one transaction, enforced by
        the database across processes. Returns ``False`` when another run holds it."""
        from .models import Thread

        connection = connections[self.using or DEFAULT_DB_ALIAS]
        now = timezone.now()
        adapt = connection.ops.adapt_datetimefield_value
        table = connection.ops.quote_name(Thread._meta.db_table)
        # UPDATE ... RETURNING (PostgreSQL, SQLite >= 3.35): lease and pk in one statement
        sql = (
            f"UPDATE {table} SET run_owner = %s, run_lease_expires_at = %s "
            "WHERE thread_id = %s AND (run_owner = '' OR run_owner = %s "
            "OR run_lease_expires_at < %s) RETURNING id"
        )
        params = [owner, adapt(now + RUN_LEASE), thread_id, owner, adapt(now)]
        with transaction.atomic(using=self.using), connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            if row is None:  # a new thread (create its row, then lease it) or a busy one
                Thread.objects.using(self.using).bulk_create(
                    [Thread(thread_id=thread_id)], ignore_conflicts=True
                )
                cursor.execute(sql, params)
                row = cursor.fetchone()
        if row is not None:
            with self._leases_guard:
                self._leases[thread_id] = row[0]  # the row exists while leased: no lookups
        return row is not None

    def release_thread(self, thread_id: str, owner: str) -> None:
        from .models import Thread

        with self._leases_guard:
            self._leases.pop(thread_id, None)
        Thread.objects.using(self.using).filter(thread_id=thread_id, run_owner=owner).update(
            run_owner="", run_lease_expires_at=None
        )

    def _sync_interrupts(self, thread: int, checkpoint_id: str, task_id: str, interrupts: list, now) -> None:
        """Keep ``Interrupt`` rows equal to the task's pending ``__interrupt__`` write: new ones
        pending; when the write is cleared (answered), the task's pending ones resolved."""
        from .models import Interrupt

        rows = Interrupt.objects.using(self.using)
        if not interrupts:  # the runtime clears a task's interrupt write when it is answered
            rows.filter(thread_id=thread, task_id=task_id, status=Interrupt.Status.PENDING).update(
                status=Interrupt.Status.RESOLVED, resolved_at=now
            )
        else:
            rows.bulk_create(
                [
                    Interrupt(
                        thread_id=thread, interrupt_id=intr.id, checkpoint_id=checkpoint_id,
                        task_id=task_id, value=self.serde.to_display(intr.value),
                        response_schema=intr.response_schema, status=Interrupt.Status.PENDING,
                        created_at=now,
                    )
                    for intr in interrupts
                ],
                update_conflicts=True,
                unique_fields=["thread", "interrupt_id"],
                update_fields=["checkpoint_id", "task_id", "value", "response_schema"],
            )

    def delete_thread(self, thread_id: str) -> None:
        from .models import Thread

        Thread.objects.using(self.using).filter(thread_id=thread_id).delete()

    # -- async twins: the ORM in a worker thread, never on the event loop ---------------------
    async def aget_tuple(self, config: dict) -> CheckpointTuple | None:
        return await sync_to_async(self.get_tuple, thread_sensitive=False)(config)

    async def aput(self, config: dict, checkpoint: dict, metadata: dict, new_versions: dict) -> dict:
        return await sync_to_async(self.put, thread_sensitive=False)(config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config, writes, task_id, task_path=""):
        await sync_to_async(self.put_writes, thread_sensitive=False)(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await sync_to_async(self.delete_thread, thread_sensitive=False)(thread_id)
