"""``LangGraphDjangoSaver``: a LangGraph ``BaseCheckpointSaver`` on Flowsite's Django models.

LangGraph's ``StateGraph(...).compile(checkpointer=...)``, ``create_agent(..., checkpointer=...)``
and ``langgraph.func.entrypoint(checkpointer=...)`` accept only a
``langgraph.checkpoint.base.BaseCheckpointSaver``. This is one, storing into the same ``Thread``,
``Checkpoint``, ``PendingWrite`` and ``Interrupt`` rows as ``DjangoSaver``, so the inbox, thread
pages and checkpoint history show a LangGraph graph's threads like Flowsite's own::

    from langgraph.graph import StateGraph
    from workflows.langgraph_saver import LangGraphDjangoSaver

    graph = StateGraph(State)...compile(checkpointer=LangGraphDjangoSaver())

Values go through LangGraph's own serializer (``JsonPlusSerializer`` by default, so LangChain
messages, ``Send``, ``Interrupt`` and ``Command`` round-trip): its ``(type, bytes)`` go in
``serde_type`` / ``blob``, and a readable JSON form (``workflows.langgraph_values``) in ``data`` /
``value`` for the dashboard. Checkpoints are stored whole (as ``SqliteSaver`` does), pending
writes by LangGraph's rules (special channels upserted, others insert-or-ignore) and returned in
``writes_sort_key`` order.

``Interrupt`` rows follow the root namespace's ``__interrupt__`` writes (one per
``langgraph.types.Interrupt``); a task that writes again without one had its interrupts answered
(resolved, if the dashboard did not already record the answer), and a new checkpoint leaves the
pending interrupts of older ones (smaller ids) cancelled (the graph moved on without them).

Every method runs its queries on the runtime's few I/O threads (``workflows.runtime.pool.
io_workers``, one per thread id), so LangGraph's background threads and event loops never hold
database connections of their own; a caller outside a transaction gives its pooled connection
back before it waits on them (:func:`release_pooled_connections`), so that waiters never hold
the whole connection pool. As with ``DjangoSaver``, a caller inside
``transaction.atomic()`` does not see its own uncommitted rows through this saver.
Requires the ``agents`` extra (langgraph).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from django.db import connections, transaction
from django.utils import timezone
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.types import INTERRUPT, RESUME

from .checkpointer import _config
from .langgraph_values import to_display
from .runtime.pool import io_workers
from .runtime.serde import JsonPlusSerializer as FlowsiteSerializer

__all__ = ["LangGraphDjangoSaver"]

PRUNE_STRATEGIES = ("keep_latest", "delete")
_DISPLAY = FlowsiteSerializer()  # writes the readable JSON text of data / value
_IO_PREFIX = "workflows-io-"


def release_pooled_connections() -> None:
    """Give this thread's pooled database connections back to their pool (Django's psycopg
    pool) unless a transaction is open on them; the next query takes one again. For a thread
    about to wait on another thread that needs a connection: were every pooled connection held
    by such waiters, the pool would be exhausted until its timeout. Connections without a pool
    (SQLite) stay open."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and getattr(conn, "pool", None) and not conn.in_atomic_block:
            conn.close()


def _hidden_channel(name: str, value: Any) -> bool:
    """LangGraph's routing channels (``branch:to:<node>``) and an empty ``Send`` queue: not
    shown in the dashboard."""
    return name.startswith("branch:") or (name == "__pregel_tasks" and not value)


def checkpoint_display(checkpoint: dict) -> dict:
    """The readable JSON stored in ``Checkpoint.data`` for a LangGraph checkpoint."""
    values = {
        k: v for k, v in checkpoint.get("channel_values", {}).items() if not _hidden_channel(k, v)
    }
    return {
        "v": checkpoint.get("v"),
        "id": checkpoint.get("id"),
        "ts": checkpoint.get("ts"),
        "channel_values": to_display(values),
        "channel_versions": to_display(checkpoint.get("channel_versions", {})),
        "versions_seen": to_display(checkpoint.get("versions_seen", {})),
    }


class LangGraphDjangoSaver(BaseCheckpointSaver[str]):
    """LangGraph checkpointer on the ``Thread``, ``Checkpoint``, ``PendingWrite`` and
    ``Interrupt`` models (sync and async methods; see the module docstring).

    ``serde``: a LangGraph ``SerializerProtocol`` (default ``JsonPlusSerializer``); ``using``:
    the Django database alias. Reading a thread written by Flowsite's ``DjangoSaver`` raises
    ``TypeError``.
    """

    def __init__(
        self, *, serde: SerializerProtocol | None = None, using: str | None = None
    ) -> None:
        super().__init__(serde=serde)
        self.using = using

    # -- running on the I/O threads ---------------------------------------------------------
    def _io(self, key: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name.startswith(_IO_PREFIX):
            return fn(*args, **kwargs)  # already on one: never wait on a sibling
        release_pooled_connections()
        return io_workers().submit(key, lambda: fn(*args, **kwargs)).result()

    async def _aio(self, key: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.wrap_future(io_workers().submit(key, lambda: fn(*args, **kwargs)))

    # -- models -----------------------------------------------------------------------------
    def _models(self):
        from .models import Checkpoint, Interrupt, PendingWrite, Thread

        db = self.using
        return (Thread.objects.using(db), Checkpoint.objects.using(db),
                PendingWrite.objects.using(db), Interrupt.objects.using(db))

    def _thread_pk(self, thread_id: str) -> int:
        from .checkpointer import ensure_thread

        return ensure_thread(thread_id, self.using)

    def _load(self, serde_type: str, blob: Any, thread_id: str) -> Any:
        if not serde_type:
            raise TypeError(
                f"Thread {thread_id!r} was written by Flowsite's DjangoSaver, not by a LangGraph "
                "graph: run it with its Flowsite entrypoint"
            )
        return self.serde.loads_typed((serde_type, bytes(blob)))

    def _dump(self, value: Any) -> tuple[str, bytes]:
        serde_type, blob = self.serde.dumps_typed(value)
        return serde_type, blob

    # -- reading ----------------------------------------------------------------------------
    def _tuple(self, row: Any, thread_id: str) -> CheckpointTuple:
        _, _, writes, _ = self._models()
        rows = writes.filter(
            thread_id=row.thread_id, checkpoint_ns=row.checkpoint_ns,
            checkpoint_id=row.checkpoint_id,
        ).order_by("task_path", "task_id", "idx")  # LangGraph's writes_sort_key
        pending = [
            (w.task_id, w.channel, self._load(w.serde_type, w.blob, thread_id))
            for w in rows.only("task_id", "channel", "serde_type", "blob")
        ]
        ns = row.checkpoint_ns
        return CheckpointTuple(
            config=_config(thread_id, ns, row.checkpoint_id),
            checkpoint=self._load(row.serde_type, row.blob, thread_id),
            metadata=row.metadata,
            parent_config=(
                _config(thread_id, ns, row.parent_checkpoint_id)
                if row.parent_checkpoint_id else None
            ),
            pending_writes=pending,
        )

    def _get_tuple(self, config: dict) -> CheckpointTuple | None:
        _, checkpoints, _, _ = self._models()
        thread_id = str(config["configurable"]["thread_id"])
        rows = checkpoints.filter(
            thread__thread_id=thread_id,
            checkpoint_ns=config["configurable"].get("checkpoint_ns", ""),
        )
        if checkpoint_id := get_checkpoint_id(config):
            rows = rows.filter(checkpoint_id=checkpoint_id)
        row = rows.order_by("-checkpoint_id").first()
        return None if row is None else self._tuple(row, thread_id)

    def _list(self, config, filter, before, limit) -> list[CheckpointTuple]:
        _, checkpoints, _, _ = self._models()
        rows = checkpoints.select_related("thread")
        if config:
            configurable = config["configurable"]
            if "thread_id" in configurable:
                rows = rows.filter(thread__thread_id=str(configurable["thread_id"]))
            if "checkpoint_ns" in configurable:
                rows = rows.filter(checkpoint_ns=configurable["checkpoint_ns"])
            if checkpoint_id := get_checkpoint_id(config):
                rows = rows.filter(checkpoint_id=checkpoint_id)
        if before and (before_id := get_checkpoint_id(before)):
            rows = rows.filter(checkpoint_id__lt=before_id)
        found: list[CheckpointTuple] = []
        for row in rows.order_by("-checkpoint_id").iterator(chunk_size=100):
            if filter and any(row.metadata.get(k, _ABSENT) != v for k, v in filter.items()):
                continue
            found.append(self._tuple(row, row.thread.thread_id))
            if limit is not None and len(found) >= limit:
                break
        return found

    # -- writing ----------------------------------------------------------------------------
    def _put(self, config: dict, checkpoint: dict, metadata: dict) -> dict:
        _, checkpoints, _, interrupts = self._models()
        thread_id = str(config["configurable"]["thread_id"])
        ns = config["configurable"].get("checkpoint_ns", "")
        serde_type, blob = self._dump(checkpoint)
        stored_metadata = to_display(get_serializable_checkpoint_metadata(config, metadata))
        fields = {
            "parent_checkpoint_id": get_checkpoint_id(config),
            "step": int(metadata.get("step", 0)),
            "source": str(metadata.get("source", "loop")),
            "data": _DISPLAY.dumps(checkpoint_display(checkpoint)).decode(),
            "metadata": stored_metadata,
            "serde_type": serde_type,
            "blob": blob,
        }
        with transaction.atomic(using=self.using):
            pk = self._thread_pk(thread_id)
            checkpoints.update_or_create(
                thread_id=pk, checkpoint_ns=ns, checkpoint_id=checkpoint["id"], defaults=fields
            )
            if ns == "":  # the graph moved on: what older checkpoints waited for is moot
                # (ids increase with time; LangGraph may store an older checkpoint late)
                interrupts.pending().filter(
                    thread_id=pk, checkpoint_id__lt=checkpoint["id"]
                ).update(status="cancelled", resolved_at=timezone.now())
        return _config(thread_id, ns, checkpoint["id"])

    def _put_writes(self, config: dict, writes: Sequence[tuple[str, Any]], task_id: str,
                    task_path: str) -> None:
        from .models import PendingWrite

        _, _, pending_writes, _ = self._models()
        thread_id = str(config["configurable"]["thread_id"])
        ns = config["configurable"].get("checkpoint_ns", "")
        checkpoint_id = get_checkpoint_id(config)
        now = timezone.now()
        special, normal = [], []
        for position, (channel, value) in enumerate(writes):
            serde_type, blob = self._dump(value)
            row = PendingWrite(
                checkpoint_ns=ns, checkpoint_id=checkpoint_id, task_id=task_id,
                task_path=task_path, idx=WRITES_IDX_MAP.get(channel, position), channel=channel,
                value=_DISPLAY.dumps(to_display(value)).decode(), serde_type=serde_type,
                blob=blob, created_at=now,
            )
            (special if channel in WRITES_IDX_MAP else normal).append(row)
        unique = ["thread", "checkpoint_ns", "checkpoint_id", "task_id", "idx"]
        with transaction.atomic(using=self.using):
            pk = self._thread_pk(thread_id)
            for row in special + normal:
                row.thread_id = pk
            if special:  # the last write of a special channel wins (LangGraph's rule)
                pending_writes.bulk_create(
                    special, update_conflicts=True, unique_fields=unique,
                    update_fields=["channel", "value", "serde_type", "blob", "task_path"],
                )
            if normal:
                pending_writes.bulk_create(normal, ignore_conflicts=True)
            if ns == "":
                self._follow_interrupts(pk, checkpoint_id, task_id, dict(writes), now)

    def _follow_interrupts(self, pk: int, checkpoint_id: str, task_id: str, writes: dict,
                           now: Any) -> None:
        """Keep the ``Interrupt`` rows in step with a root task's writes."""
        from .models import Interrupt

        _, _, _, interrupts = self._models()
        if INTERRUPT not in writes:  # the task ran to its end: its interrupts were answered
            resumed = writes.get(RESUME)
            answer = to_display(resumed[-1]) if isinstance(resumed, list) and resumed else None
            interrupts.pending().filter(
                thread_id=pk, checkpoint_id=checkpoint_id, task_id=task_id
            ).update(status=Interrupt.Status.RESOLVED, resolved_at=now, resume_value=answer)
            return
        value = writes[INTERRUPT]
        raised = [i for i in (value if isinstance(value, list | tuple) else [value])
                  if isinstance(getattr(i, "id", None), str) and hasattr(i, "value")]
        for intr in raised:  # raised (again): pending, whatever it was before
            if self._still_pending(pk, intr.id, checkpoint_id, task_id):
                continue
            interrupts.update_or_create(thread_id=pk, interrupt_id=intr.id, defaults={
                "checkpoint_id": checkpoint_id, "task_id": task_id,
                "value": to_display(intr.value), "response_schema": None,
                "status": Interrupt.Status.PENDING, "resume_value": None,
                "resolved_by": None, "resolved_at": None, "created_at": now,
            })

    def _still_pending(self, pk: int, interrupt_id: str, checkpoint_id: str, task_id: str) -> bool:
        """Whether the interrupt is already pending on this very task (a re-run of a step that
        another answer resumed): then its row, and the reviewer's claim on it, stay as they are."""
        _, _, _, interrupts = self._models()
        return interrupts.pending().filter(
            thread_id=pk, interrupt_id=interrupt_id, checkpoint_id=checkpoint_id, task_id=task_id
        ).exists()

    # -- deleting and copying ---------------------------------------------------------------
    def _delete_thread(self, thread_id: str) -> None:
        threads, _, _, _ = self._models()
        threads.filter(thread_id=str(thread_id)).delete()

    def _delete_checkpoints(self, rows: Any) -> None:
        """Delete the given ``Checkpoint`` rows with their pending writes; pending interrupts
        raised on them are cancelled (their rows stay, with the decisions audited on them)."""
        _, checkpoints, writes, interrupts = self._models()
        keys = list(rows.values_list("pk", "thread_id", "checkpoint_ns", "checkpoint_id"))
        with transaction.atomic(using=self.using):
            for _pk, thread_pk, ns, checkpoint_id in keys:
                writes.filter(
                    thread_id=thread_pk, checkpoint_ns=ns, checkpoint_id=checkpoint_id
                ).delete()
                if ns == "":
                    interrupts.pending().filter(
                        thread_id=thread_pk, checkpoint_id=checkpoint_id
                    ).update(status="cancelled", resolved_at=timezone.now())
            checkpoints.filter(pk__in=[k[0] for k in keys]).delete()

    def _delete_for_runs(self, run_ids: Sequence[str]) -> None:
        _, checkpoints, _, _ = self._models()
        if run_ids:
            runs = [str(r) for r in run_ids]
            self._delete_checkpoints(checkpoints.filter(metadata__run_id__in=runs))

    def _prune(self, thread_ids: Sequence[str], strategy: str) -> None:
        if strategy not in PRUNE_STRATEGIES:
            raise ValueError(f"Unknown prune strategy {strategy!r}; use one of {PRUNE_STRATEGIES}")
        _, checkpoints, _, _ = self._models()
        rows = checkpoints.filter(thread__thread_id__in=[str(t) for t in thread_ids])
        if strategy == "keep_latest":
            keep = set()
            for thread_pk, ns in rows.values_list("thread_id", "checkpoint_ns").distinct():
                keep.add(rows.filter(thread_id=thread_pk, checkpoint_ns=ns)
                         .order_by("-checkpoint_id").values_list("pk", flat=True)[0])
            rows = rows.exclude(pk__in=keep)
        self._delete_checkpoints(rows)

    def _copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        threads, checkpoints, writes, interrupts = self._models()
        source = threads.filter(thread_id=str(source_thread_id)).first()
        if source is None:
            return
        copied_fields = ("workflow", "status", "title", "input", "result", "error", "created_by_id")
        with transaction.atomic(using=self.using):
            target, _ = threads.get_or_create(
                thread_id=str(target_thread_id),
                defaults={f: getattr(source, f) for f in copied_fields},
            )
            for model_rows in (checkpoints, writes, interrupts):
                copies = []
                for row in model_rows.filter(thread_id=source.pk):
                    row.pk = None
                    row.thread_id = target.pk
                    copies.append(row)
                model_rows.bulk_create(copies, ignore_conflicts=True)

    # -- LangGraph's interface ----------------------------------------------------------------
    def get_tuple(self, config: dict) -> CheckpointTuple | None:
        """The checkpoint named by ``config`` (else the latest of its thread and namespace) with
        its pending writes, or ``None``."""
        return self._io(_key(config), self._get_tuple, config)

    def list(self, config: dict | None, *, filter: dict[str, Any] | None = None,
             before: dict | None = None, limit: int | None = None) -> Iterator[CheckpointTuple]:
        """Checkpoints, newest first: of ``config``'s thread (and namespace, if given), whose
        metadata has every ``filter`` item, older than ``before``, at most ``limit``."""
        yield from self._io(_key(config), self._list, config, filter, before, limit)

    def put(self, config: dict, checkpoint: dict, metadata: dict,
            new_versions: ChannelVersions) -> dict:
        """Store ``checkpoint`` (its parent is ``config``'s checkpoint id); returns its config."""
        return self._io(_key(config), self._put, config, checkpoint, metadata)

    def put_writes(self, config: dict, writes: Sequence[tuple[str, Any]], task_id: str,
                   task_path: str = "") -> None:
        """Store a task's writes on ``config``'s checkpoint, and follow its interrupts."""
        self._io(_key(config), self._put_writes, config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        """Delete the thread: its row, checkpoints, writes, interrupts, runs and decisions."""
        self._io(str(thread_id), self._delete_thread, thread_id)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints whose metadata ``run_id`` is in ``run_ids``, with their writes."""
        self._io("", self._delete_for_runs, list(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a thread's checkpoints, writes and interrupts to another thread id (created
        with the source's workflow, status and input if it does not exist)."""
        self._io(str(source_thread_id), self._copy_thread, source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``"keep_latest"``: keep only each namespace's latest checkpoint; ``"delete"``: delete
        every checkpoint (the threads' rows and audited interrupts stay). Raises ``ValueError``
        for another strategy."""
        self._io("", self._prune, list(thread_ids), strategy)

    async def aget_tuple(self, config: dict) -> CheckpointTuple | None:
        return await self._aio(_key(config), self._get_tuple, config)

    async def alist(self, config: dict | None, *, filter: dict[str, Any] | None = None,
                    before: dict | None = None, limit: int | None = None
                    ) -> AsyncIterator[CheckpointTuple]:
        for item in await self._aio(_key(config), self._list, config, filter, before, limit):
            yield item

    async def aput(self, config: dict, checkpoint: dict, metadata: dict,
                   new_versions: ChannelVersions) -> dict:
        return await self._aio(_key(config), self._put, config, checkpoint, metadata)

    async def aput_writes(self, config: dict, writes: Sequence[tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        await self._aio(_key(config), self._put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._aio(str(thread_id), self._delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._aio("", self._delete_for_runs, list(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._aio(
            str(source_thread_id), self._copy_thread, source_thread_id, target_thread_id
        )

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._aio("", self._prune, list(thread_ids), strategy)

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """Versions as LangGraph's own database savers make them: a zero-padded counter and a
        random fraction (``"00000000000000000000000000000002.0.64..."``), increasing."""
        import random

        current_v = 0 if current is None else int(str(current).split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"


_ABSENT = object()


def _key(config: dict | None) -> str:
    """The I/O thread key of a config: its thread id (one thread's writes stay in order)."""
    return str(((config or {}).get("configurable") or {}).get("thread_id", ""))
