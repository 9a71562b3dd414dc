"""The checkpointer interface and the in-memory checkpointer.

Mirrors ``langgraph.checkpoint.base.BaseCheckpointSaver``: a checkpointer stores, per thread and
namespace, checkpoints (the state between runs) and pending writes (task results, errors,
interrupts and resume values of the step in progress, attached to that step's input checkpoint).

A checkpoint is a dict::

    {"v": 1, "id": "<uuid6>", "ts": "<iso-8601>",
     "channel_values": {"__start__": input} | {"__end__": value, "__previous__": saved},
     "channel_versions": {channel: int}, "versions_seen": {}, "updated_channels": [...]}

and its metadata ``{"source": "input" | "loop" | "update" | "fork", "step": int, "parents": {}}``.

Pending writes use LangGraph's channels (``__return__``, ``__error__``, ``__interrupt__``,
``__resume__``, ``__end__``, ``__previous__``) plus two of Flowsite's: ``__call__``, written once
per executed task call with its first write, whose value is
``{"name": task name, "path": [call index, ...], "args": xxh3-64 hex of the arguments | None}``
(``path`` is the call position: the caller's path plus the call index); and ``__subgraph__``,
the ids of the interrupts a body or task records for a child entrypoint it called (their answers
go to the child, see :mod:`.subgraphs`).
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .serde import JsonPlusSerializer

__all__ = [
    "WRITES_IDX_MAP",
    "BaseCheckpointSaver",
    "CheckpointTuple",
    "InMemorySaver",
    "Op",
    "PutCheckpoint",
    "PutWrites",
    "ReleaseThread",
    "UNREAD",
    "get_checkpoint_id",
    "get_thread_id",
]

#: ``acquire_thread_and_get_tuple``'s tuple when the read failed (the thread is held)
UNREAD = object()

# Fixed write positions of special channels; their writes replace earlier ones (upsert).
# LangGraph's four, plus Flowsite's ``__call__``: what a task call was (its name, call position
# and an argument fingerprint), stored with the task's first write so that a replay can tell a
# changed program from the recorded one (``NondeterminismError``); and ``__subgraph__``.
WRITES_IDX_MAP = {
    "__error__": -1,
    "__scheduled__": -2,
    "__interrupt__": -3,
    "__resume__": -4,
    "__call__": -5,
    "__subgraph__": -6,
}


class CheckpointTuple(NamedTuple):
    """A checkpoint with its config, metadata, parent config and pending writes.

    ``pending_writes`` is a list of ``(task_id, channel, value)`` in write order.
    """

    config: dict
    checkpoint: dict
    metadata: dict
    parent_config: dict | None = None
    pending_writes: list | None = None


@dataclass(frozen=True, slots=True)
class PutCheckpoint:
    """Batched ``put(config, checkpoint, metadata, new_versions)``: store ``checkpoint`` as a
    child of ``config``'s checkpoint."""

    config: dict
    checkpoint: dict
    metadata: dict
    new_versions: dict


@dataclass(frozen=True, slots=True)
class PutWrites:
    """Batched ``put_writes(config, writes, task_id, task_path)``: attach ``(channel, value)``
    writes of ``task_id`` to ``config``'s checkpoint."""

    config: dict
    writes: Sequence[tuple[str, Any]]
    task_id: str
    task_path: str = ""


@dataclass(frozen=True, slots=True)
class ReleaseThread:
    """Batched ``release_thread(thread_id of config, owner)``: give the run's hold on the thread
    back, committed with the run's last writes."""

    config: dict
    owner: str


Op = PutCheckpoint | PutWrites | ReleaseThread


def get_thread_id(config: dict) -> str:
    return str(config["configurable"]["thread_id"])


def get_checkpoint_id(config: dict) -> str | None:
    return config.get("configurable", {}).get("checkpoint_id")


def write_idx(channel: str, position: int) -> int:
    return WRITES_IDX_MAP.get(channel, position)


class BaseCheckpointSaver:
    """Interface of checkpointers (LangGraph's ``BaseCheckpointSaver``).

    Subclasses implement ``get_tuple``, ``list``, ``put``, ``put_writes`` and ``delete_thread``;
    the async twins default to running the sync method in a worker thread.
    ``serde`` serializes every stored value (``TypeError`` for unsupported types).
    """

    serde: JsonPlusSerializer

    def __init__(self, *, serde: JsonPlusSerializer | None = None) -> None:
        self.serde = serde or JsonPlusSerializer()
        self._locks: dict[str, str] = {}  # thread_id -> owner (process-local default)
        self._locks_guard = threading.Lock()

    # -- sync --------------------------------------------------------------------------------
    def get(self, config: dict) -> dict | None:
        tup = self.get_tuple(config)
        return tup.checkpoint if tup else None

    def get_tuple(self, config: dict) -> CheckpointTuple | None:
        """The checkpoint named by ``config`` (its ``checkpoint_id``, else the thread's latest)."""
        raise NotImplementedError

    def list(
        self,
        config: dict | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints of a thread, newest first; ``filter`` matches metadata keys."""
        raise NotImplementedError

    def put(self, config: dict, checkpoint: dict, metadata: dict, new_versions: dict) -> dict:
        """Store ``checkpoint`` as a child of ``config``'s checkpoint; returns its config."""
        raise NotImplementedError

    def put_writes(
        self, config: dict, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Attach ``(channel, value)`` writes of ``task_id`` to ``config``'s checkpoint.

        Writes to special channels (``WRITES_IDX_MAP``) replace earlier ones of the same task;
        other writes are insert-or-ignore.
        """
        raise NotImplementedError

    def delete_thread(self, thread_id: str) -> None:
        raise NotImplementedError

    def put_batch(self, ops: Sequence[Op]) -> None:
        """Apply several operations (:class:`PutCheckpoint`, :class:`PutWrites`,
        :class:`ReleaseThread`), in order, as one unit where the storage allows it.

        Not in LangGraph's interface: the runtime uses it to store a run's writes in one
        transaction (``durability="async"``). This default applies them one by one.
        """
        for op in ops:
            if isinstance(op, PutCheckpoint):
                self.put(op.config, op.checkpoint, op.metadata, op.new_versions)
            elif isinstance(op, PutWrites):
                self.put_writes(op.config, op.writes, op.task_id, op.task_path)
            elif isinstance(op, ReleaseThread):
                self.release_thread(get_thread_id(op.config), op.owner)
            else:
                raise TypeError(f"Unknown checkpointer operation {op!r}")

    def acquire_thread_and_get_tuple(
        self, thread_id: str, owner: str, config: dict
    ) -> tuple[bool, CheckpointTuple | None | object]:
        """:meth:`acquire_thread`, then, if held, :meth:`get_tuple` of ``config``: ``(held,
        tuple or None)``, ``(False, None)`` when another run holds the thread. A read that
        fails gives ``(True, UNREAD)``, the thread held (the caller reads again, where the error
        is raised, and gives the thread back); a saver that takes and reads in one round trip
        (``DjangoSaver`` on PostgreSQL) may instead raise, the thread not held. What a run
        starts with, in one call. Not in LangGraph's interface."""
        if not self.acquire_thread(thread_id, owner):
            return False, None
        try:
            return True, self.get_tuple(config)
        except Exception:
            return True, UNREAD

    def acquire_thread(self, thread_id: str, owner: str) -> bool:
        """Take the thread for one run by ``owner`` (an opaque token). Returns ``False`` when
        another run holds it, so two runs on one thread at once cannot corrupt it. Not in
        LangGraph's interface (its server serialises runs per thread instead)."""
        with self._locks_guard:
            holder = self._locks.get(thread_id)
            if holder is not None and holder != owner:
                return False
            self._locks[thread_id] = owner
            return True

    def release_thread(self, thread_id: str, owner: str) -> None:
        """Give the thread back (a no-op unless ``owner`` holds it). Also batched as
        :class:`ReleaseThread` so that it commits with a run's last writes."""
        with self._locks_guard:
            if self._locks.get(thread_id) == owner:
                del self._locks[thread_id]

    def get_next_version(self, current: int | None, channel: Any = None) -> int:
        return (current or 0) + 1

    # -- async twins ------------------------------------------------------------------------
    async def aget(self, config: dict) -> dict | None:
        return await asyncio.to_thread(self.get, config)

    async def aget_tuple(self, config: dict) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(self, config: dict | None, **kwargs: Any):
        for item in await asyncio.to_thread(lambda: list(self.list(config, **kwargs))):
            yield item

    async def aput(self, config: dict, checkpoint: dict, metadata: dict, new_versions: dict) -> dict:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: dict, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)


class InMemorySaver(BaseCheckpointSaver):
    """Checkpointer that keeps everything in this process's memory (LangGraph's ``InMemorySaver``).

    Values are stored serialized, so they round-trip exactly as on a database checkpointer.
    """

    def __init__(self, *, serde: JsonPlusSerializer | None = None) -> None:
        super().__init__(serde=serde)
        self._lock = threading.RLock()
        # thread_id -> ns -> checkpoint_id -> (checkpoint bytes, metadata bytes, parent id)
        self.storage: dict[str, dict[str, dict[str, tuple[bytes, bytes, str | None]]]] = (
            defaultdict(lambda: defaultdict(dict))
        )
        # (thread_id, ns, checkpoint_id) -> {(task_id, idx): (task_id, channel, bytes, task_path)}
        self.writes: dict[tuple[str, str, str], dict[tuple[str, int], tuple]] = defaultdict(dict)

    def get_tuple(self, config: dict) -> CheckpointTuple | None:
        thread_id = get_thread_id(config)
        ns = config["configurable"].get("checkpoint_ns", "")
        with self._lock:
            checkpoints = self.storage.get(thread_id, {}).get(ns)
            if not checkpoints:
                return None
            cid = get_checkpoint_id(config) or max(checkpoints)
            if cid not in checkpoints:
                return None
            return self._tuple(thread_id, ns, cid)

    def _tuple(self, thread_id: str, ns: str, cid: str) -> CheckpointTuple:
        blob, meta, parent = self.storage[thread_id][ns][cid]
        writes = sorted(self.writes.get((thread_id, ns, cid), {}).values(), key=lambda w: w[4])
        return CheckpointTuple(
            config={"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}},
            checkpoint=self.serde.loads(blob),
            metadata=self.serde.loads(meta),
            parent_config=(
                {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": parent}}
                if parent
                else None
            ),
            pending_writes=[(t, c, self.serde.loads(v)) for t, c, v, _p, _o in writes],
        )

    def list(self, config, *, filter=None, before=None, limit=None):
        with self._lock:
            thread_ids = [get_thread_id(config)] if config else list(self.storage)
            ns_filter = config["configurable"].get("checkpoint_ns") if config else None
            result = []
            for thread_id in thread_ids:
                for ns, checkpoints in self.storage.get(thread_id, {}).items():
                    if ns_filter is not None and ns != ns_filter:
                        continue
                    for cid in sorted(checkpoints, reverse=True):
                        if before and cid >= get_checkpoint_id(before):
                            continue
                        if config and get_checkpoint_id(config) and cid != get_checkpoint_id(config):
                            continue
                        tup = self._tuple(thread_id, ns, cid)
                        if filter and any(tup.metadata.get(k) != v for k, v in filter.items()):
                            continue
                        result.append(tup)
                        if limit is not None and len(result) >= limit:
                            return iter(result)
            return iter(result)

    def put(self, config, checkpoint, metadata, new_versions):
        thread_id = get_thread_id(config)
        ns = config["configurable"].get("checkpoint_ns", "")
        blob, meta = self.serde.dumps(checkpoint), self.serde.dumps(metadata)
        with self._lock:
            self.storage[thread_id][ns][checkpoint["id"]] = (blob, meta, get_checkpoint_id(config))
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint["id"]}}

    def put_writes(self, config, writes, task_id, task_path=""):
        thread_id = get_thread_id(config)
        ns = config["configurable"].get("checkpoint_ns", "")
        key = (thread_id, ns, get_checkpoint_id(config))
        rows = [(channel, self.serde.dumps(value)) for channel, value in writes]  # may raise
        with self._lock:
            stored = self.writes[key]
            for position, (channel, blob) in enumerate(rows):
                idx = write_idx(channel, position)
                if idx >= 0 and (task_id, idx) in stored:
                    continue  # insert-or-ignore for normal channels
                order = stored[(task_id, idx)][4] if (task_id, idx) in stored else len(stored)
                stored[(task_id, idx)] = (task_id, channel, blob, task_path, order)

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self.storage.pop(thread_id, None)
            for key in [k for k in self.writes if k[0] == thread_id]:
                del self.writes[key]
