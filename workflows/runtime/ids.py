"""Identifiers of checkpoints, tasks and interrupts, computed as LangGraph computes them."""

from __future__ import annotations

import secrets
import threading
import time
import uuid

from xxhash import xxh3_128_hexdigest

_lock = threading.Lock()
_last_ts = 0


def checkpoint_id(step: int) -> str:
    """A time-ordered UUIDv6 string whose clock sequence is ``step`` (as LangGraph's ``uuid6``).

    Ids of one process sort in creation order (``-bfff-`` is step -1, ``-8000-`` step 0).
    """
    global _last_ts
    with _lock:
        # 100-ns intervals since 1582-10-15, strictly increasing within the process
        ts = time.time_ns() // 100 + 0x01B21DD213814000
        if ts <= _last_ts:
            ts = _last_ts + 1
        _last_ts = ts
    time_high_mid = (ts >> 12) & 0xFFFF_FFFF_FFFF
    time_low = ts & 0x0FFF
    clock_seq = step & 0x3FFF
    node = secrets.randbits(48)
    value = (time_high_mid << 80) | (0x6 << 76) | (time_low << 64)
    value |= (0x8000 | clock_seq) << 48 | node
    return str(uuid.UUID(int=value))


def _uuid_from_digest(digest: str) -> str:
    return str(uuid.UUID(hex=digest))


def entry_task_id(checkpoint_id_: str, checkpoint_ns: str, step: int, name: str) -> str:
    """Id of the entrypoint's own (PULL) task on a checkpoint: stable across resumes."""
    raw = f"{checkpoint_id_}{checkpoint_ns}{step}{name}__pregel_pull"
    return _uuid_from_digest(xxh3_128_hexdigest(raw.encode()))


def push_task_id(
    checkpoint_id_: str, checkpoint_ns: str, step: int, name: str, parent_path: str, index: int
) -> str:
    """Id of a ``@task`` call: by checkpoint, name, caller and call order, not by arguments.

    This is why replay matches results by call order and name, as in LangGraph.
    """
    raw = f"{checkpoint_id_}{checkpoint_ns}{step}{name}__pregel_push{parent_path}{index}"
    return _uuid_from_digest(xxh3_128_hexdigest(raw.encode()))


def interrupt_id(task_ns: str, index: int) -> str:
    """32-hex id of the ``index``-th interrupt of a task (LangGraph's formula)."""
    key = task_ns if index == 0 else f"{task_ns}|{index}"
    return xxh3_128_hexdigest(key.encode())


def is_interrupt_id(key: object) -> bool:
    """Whether ``key`` looks like an interrupt id (32 lowercase hex digits)."""
    return (
        isinstance(key, str)
        and len(key) == 32
        and all(c in "0123456789abcdef" for c in key)
    )
