"""``DjangoSaver``: a checkpointer whose storage is the Django models of this app.

Works on every database Django supports; tested on SQLite and PostgreSQL (psycopg 3). A run
interrupted in one process resumes in another from the database alone. Besides LangGraph's
checkpoint tables, it keeps ``Interrupt`` rows (what reviewers answer) in step with the
``__interrupt__`` pending writes, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .runtime.checkpoint import (
    BaseCheckpointSaver,
    CheckpointTuple,
    get_checkpoint_id,
    get_thread_id,
    write_idx,
)
from .runtime.serde import JsonPlusSerializer


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

    # -- helpers ----------------------------------------------------------------------------
    def _thread(self, thread_id: str):
        from .models import Thread

        thread = Thread.objects.using(self.using).filter(thread_id=thread_id).first()
        if thread is None:
            try:
                with transaction.atomic(using=self.using):
                    thread = Thread.objects.using(self.using).create(thread_id=thread_id)
            except IntegrityError:  # created concurrently
                thread = Thread.objects.using(self.using).get(thread_id=thread_id)
        return thread

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
        from .models import Checkpoint

        thread_id = get_thread_id(config)
        ns = config["configurable"].get("checkpoint_ns", "")
        data = self.serde.dumps(checkpoint).decode()
        thread = self._thread(thread_id)
        with transaction.atomic(using=self.using):
            Checkpoint.objects.using(self.using).update_or_create(
                thread=thread,
                checkpoint_ns=ns,
                checkpoint_id=checkpoint["id"],
                defaults={
                    "parent_checkpoint_id": get_checkpoint_id(config),
                    "step": metadata.get("step", 0),
                    "source": metadata.get("source", "input"),
                    "data": data,
                    "metadata": self.serde.encode(metadata),
                },
            )
        return _config(thread_id, ns, checkpoint["id"])

    def put_writes(
        self, config: dict, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        from .models import Interrupt, PendingWrite

        thread_id = get_thread_id(config)
        ns = config["configurable"].get("checkpoint_ns", "")
        checkpoint_id = get_checkpoint_id(config)
        rows = [(channel, value, self.serde.dumps(value).decode()) for channel, value in writes]
        thread = self._thread(thread_id)
        now = timezone.now()
        with transaction.atomic(using=self.using):
            for position, (channel, value, blob) in enumerate(rows):
                idx = write_idx(channel, position)
                key = dict(
                    thread=thread, checkpoint_ns=ns, checkpoint_id=checkpoint_id, task_id=task_id, idx=idx
                )
                if idx < 0:
                    defaults = {"channel": channel, "value": blob}
                    if task_path:
                        defaults["task_path"] = task_path
                    PendingWrite.objects.using(self.using).update_or_create(**key, defaults=defaults)
                else:
                    PendingWrite.objects.using(self.using).get_or_create(
                        **key, defaults={"channel": channel, "value": blob, "task_path": task_path}
                    )
                if channel == "__interrupt__":
                    self._sync_interrupts(thread, checkpoint_id, task_id, value, now)

    def _sync_interrupts(self, thread: Any, checkpoint_id: str, task_id: str, interrupts: list, now) -> None:
        """Keep ``Interrupt`` rows equal to the task's pending ``__interrupt__`` write."""
        from .models import Interrupt

        current = {intr.id for intr in interrupts}
        Interrupt.objects.using(self.using).filter(
            thread=thread, task_id=task_id, status=Interrupt.Status.PENDING
        ).exclude(interrupt_id__in=current).update(status=Interrupt.Status.RESOLVED, resolved_at=now)
        for intr in interrupts:
            Interrupt.objects.using(self.using).update_or_create(
                thread=thread,
                interrupt_id=intr.id,
                defaults={
                    "checkpoint_id": checkpoint_id,
                    "task_id": task_id,
                    "value": self.serde.to_display(intr.value),
                    "response_schema": intr.response_schema,
                    "status": Interrupt.Status.PENDING,
                    "resolved_at": None,
                },
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
