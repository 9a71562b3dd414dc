"""Checkpoint and metadata builders, and the durability-ordered hand-over of checkpointer
operations (LangGraph's ``create_checkpoint`` and the loop's ``_put_checkpoint`` /
``put_writes`` with ``durability``).

A checkpoint is the dict described in :mod:`.checkpoint`; its metadata is
``{"source": "input" | "loop" | "update" | "fork", "step": int, "parents": {}, ...}`` plus the
caller's scalar ``config["metadata"]`` and ``configurable`` keys (LangGraph's rule).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from . import ids
from .checkpoint import BaseCheckpointSaver, Op, PutCheckpoint
from .pool import in_event_loop, io_workers, worker_pool

__all__ = [
    "ASYNC_FLUSH_SECONDS",
    "DURABILITY",
    "CheckpointWriter",
    "checkpoint_metadata",
    "new_checkpoint",
    "now_iso",
    "put_checkpoint",
]

DURABILITY = ("sync", "async", "exit")
ASYNC_FLUSH_SECONDS = 1.0

_CONFIG_KEYS = ("thread_id", "checkpoint_id", "checkpoint_ns", "checkpoint_map")


def now_iso() -> str:
    """The current UTC time as ISO 8601 (checkpoints' ``ts``, debug chunks' ``timestamp``)."""
    return datetime.now(UTC).isoformat()


def new_checkpoint(
    values: dict, step: int, parent: dict | None, saver: BaseCheckpointSaver | None
) -> dict:
    """A new checkpoint holding the channel ``values`` at ``step``: its id is a uuid6 of the
    step, and the versions of the channels written are the ``parent`` checkpoint's plus one
    (``saver.get_next_version``; ``1`` each without a checkpointer)."""
    versions = dict(parent["channel_versions"]) if parent else {}
    for channel in values:
        versions[channel] = saver.get_next_version(versions.get(channel), None) if saver else 1
    return {
        "v": 1,
        "id": ids.checkpoint_id(step),
        "ts": now_iso(),
        "channel_values": values,
        "channel_versions": versions,
        "versions_seen": {},
        "updated_channels": sorted(values),
    }


def checkpoint_metadata(config: dict, source: str, step: int) -> dict:
    """The metadata of a checkpoint written at ``step`` by ``source`` under ``config``: as
    LangGraph, the scalar values of ``config["metadata"]`` and ``configurable`` are copied,
    except private (``__*``, ``langgraph_*``) and checkpoint-addressing keys."""
    # a child's run names the enclosing checkpoints (LangGraph's ``parents``, its checkpoint map)
    meta = {"source": source, "step": step,
            "parents": dict(config["configurable"].get("checkpoint_map") or {})}
    for key, value in {**config.get("metadata", {}), **config["configurable"]}.items():
        if key.startswith("__") or key.startswith("langgraph_") or key in _CONFIG_KEYS:
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            meta[key] = value
    return meta


def put_checkpoint(parent_config: dict, checkpoint: dict, metadata: dict) -> PutCheckpoint:
    """The operation storing ``checkpoint`` as a child of ``parent_config``'s checkpoint."""
    return PutCheckpoint(parent_config, checkpoint, metadata, dict(checkpoint["channel_versions"]))


class CheckpointWriter:
    """Hands a run's checkpointer operations over according to its ``durability``.

    ``"sync"``: each is stored before the run goes on. ``"async"`` (the default, as in
    LangGraph): buffered and stored in one ``put_batch`` when the run stops (interrupt, error or
    completion) or when the oldest buffered operation is older than ``ASYNC_FLUSH_SECONDS``; so
    a run that finishes quickly costs one transaction. ``"exit"``: stored only when the run
    stops. ``key`` (the thread id) picks the I/O thread of checkpointers that want one.
    """

    def __init__(self, saver: BaseCheckpointSaver, durability: str, key: str) -> None:
        self.saver = saver
        self.durability = durability
        self.key = key
        self.lock = threading.Lock()
        self.ops: list[Op] = []  # operations not yet flushed
        self.since: float | None = None

    def io(self, fn: Callable, *args: Any) -> Any:
        """Call the checkpointer: on the thread's I/O worker when the checkpointer asks for one
        (``io_thread = True``: database connections stay on a few threads), else here unless
        this thread runs an event loop (the Django ORM refuses loop threads)."""
        if getattr(self.saver, "io_thread", False):
            return io_workers().submit(self.key, fn, *args).result()
        if in_event_loop():
            return worker_pool().submit(fn, *args).result()
        return fn(*args)

    def submit(self, op: Op) -> None:
        """Store ``op`` now (``"sync"``) or buffer it (see the class)."""
        if self.durability == "sync":
            self.io(self.saver.put_batch, [op])
            return
        with self.lock:
            self.ops.append(op)
            if self.since is None:
                self.since = time.monotonic()
            due = (
                self.durability == "async"
                and time.monotonic() - self.since > ASYNC_FLUSH_SECONDS
            )
        if due:
            self.flush()

    def flush(self, *extra: Op) -> None:
        """Store the buffered operations (and ``extra`` ones) in one ``put_batch`` call."""
        with self.lock:
            ops, self.ops, self.since = [*self.ops, *extra], [], None
        if ops:
            self.io(self.saver.put_batch, ops)

    def discard(self) -> None:
        """Drop the buffered operations (``"exit"``: only the final checkpoint is stored)."""
        with self.lock:
            self.ops.clear()
            self.since = None
