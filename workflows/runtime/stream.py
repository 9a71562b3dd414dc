"""Stream output: which chunks a run emits in which ``stream_mode``, and their shapes.

As in LangGraph: ``tasks`` and ``checkpoints`` chunks are also wrapped for ``debug``
(``{"step", "timestamp", "type", "payload"}``); ``version="v2"`` parts are
``{"type", "ns", "data"}`` (``values`` parts also carry ``"interrupts"``); with
``subgraphs=True`` chunks are ``(ns, chunk)`` or ``(ns, mode, chunk)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .checkpoints import now_iso
from .types import Interrupt

__all__ = [
    "STREAM_MODES", "StreamOutput", "checkpoint_chunk", "interrupt_dict", "print_chunk", "shaped",
    "task_start",
    "v2_chunk",
]

STREAM_MODES = (
    "values", "updates", "custom", "checkpoints", "tasks", "debug", "messages", "tools",
)


class StreamOutput:
    """Hands a run's chunks of the requested ``modes`` to ``sink(mode, chunk, ns)``.

    ``task_step()`` is the step being executed (the input checkpoint's step + 1), the ``step`` of
    ``debug`` task events.
    """

    __slots__ = ("modes", "sink", "task_step", "debug", "ns", "subgraphs")

    def __init__(
        self,
        modes: tuple[str, ...],
        sink: Callable[[str, Any, tuple], None],
        task_step: Callable[[], int],
    ) -> None:
        self.modes = modes
        self.sink = sink
        self.task_step = task_step
        self.debug = "debug" in modes
        self.ns: tuple = ()  # the run's namespace: a child's chunks carry it (see .subgraphs)
        self.subgraphs = False  # stream children's chunks too (``subgraphs=True``)

    def emit(self, mode: str, chunk: Any, ns: tuple | None = None) -> None:
        """Stream ``chunk`` if ``mode`` was asked for; ``tasks`` and ``checkpoints`` chunks are
        also wrapped for ``debug`` as LangGraph does: ``{"step", "timestamp", "type",
        "payload"}`` where ``step`` is a checkpoint's own step, and for task events the step
        being executed. ``ns`` defaults to the run's namespace."""
        if ns is None:
            ns = self.ns
        if mode in self.modes:
            self.sink(mode, chunk, ns)
        if self.debug and mode in ("tasks", "checkpoints"):
            if mode == "checkpoints":
                kind, step = "checkpoint", chunk["metadata"]["step"]
            else:
                kind = "task_result" if "result" in chunk or "error" in chunk else "task"
                step = self.task_step()
            self.sink(
                "debug",
                {"step": step, "timestamp": now_iso(), "type": kind, "payload": chunk},
                ns,
            )

    def wants(self, mode: str) -> bool:
        """Whether chunks of ``mode`` are streamed (directly, or inside ``debug`` ones)."""
        return mode in self.modes or (self.debug and mode in ("tasks", "checkpoints"))


# metadata keys a task-start chunk leaves out (LangGraph's EXCLUDED_METADATA_KEYS)
EXCLUDED_METADATA_KEYS = frozenset({
    "thread_id", "checkpoint_id", "checkpoint_ns", "checkpoint_map", "langgraph_step",
    "langgraph_node", "langgraph_triggers", "langgraph_path", "langgraph_checkpoint_ns",
})


def task_start(task_id: str, name: str, input: Any, triggers: tuple, config: dict) -> dict:
    """A ``tasks`` chunk for a task that starts (LangGraph's): ``{"id", "name", "input",
    "triggers"}``, plus ``"metadata"`` when the caller's config has metadata or tags: its
    metadata without LangGraph's own keys, and its tags under ``"tags"``."""
    chunk = {"id": task_id, "name": name, "input": input, "triggers": triggers}
    metadata = {
        k: v for k, v in (config.get("metadata") or {}).items() if k not in EXCLUDED_METADATA_KEYS
    }
    tags = [t for t in config.get("tags") or () if not t.startswith("seq:step")]
    if tags:
        metadata["tags"] = tags
    if metadata:
        chunk["metadata"] = metadata
    return chunk


def interrupt_dict(intr: Interrupt) -> dict:
    """An interrupt as ``tasks``/``checkpoints`` chunks show it: ``{"value", "id",
    "response_schema"}``."""
    return {"value": intr.value, "id": intr.id, "response_schema": intr.response_schema}


def checkpoint_chunk(
    checkpoint: dict,
    metadata: dict,
    parent: dict | None,
    *,
    thread_id: Any,
    ns: str,
    graph_name: str,
    tasks: list,
) -> dict:
    """A ``checkpoints`` chunk (LangGraph's): ``{"config", "parent_config", "values",
    "metadata", "next", "tasks"}``; ``next`` and ``tasks`` are empty unless the checkpoint
    holds a pending run (``__start__``)."""
    values = checkpoint["channel_values"]
    pending = "__start__" in values
    return {
        "config": {"configurable": {
            "checkpoint_ns": ns, "thread_id": thread_id, "checkpoint_id": checkpoint["id"],
        }},
        "parent_config": parent,
        "values": values.get("__end__"),
        "metadata": metadata,
        "next": [graph_name] if pending else [],
        "tasks": tasks if pending else [],
    }


def v2_chunk(mode: str, chunk: Any, ns: tuple) -> dict:
    """A ``version="v2"`` stream part (LangGraph's ``StreamPart``): ``{"type", "ns", "data"}``;
    ``values`` parts also carry ``"interrupts"``, taken out of the chunk's ``__interrupt__``."""
    if mode != "values":
        return {"type": mode, "ns": ns, "data": chunk}
    interrupts: tuple = ()
    if isinstance(chunk, dict) and "__interrupt__" in chunk:
        chunk = dict(chunk)
        interrupts = chunk.pop("__interrupt__")
    return {"type": mode, "ns": ns, "data": chunk, "interrupts": interrupts}


def shaped(mode: str, chunk: Any, ns: tuple, *, single: bool, subgraphs: bool, version: str) -> Any:
    """What ``stream()`` yields for one chunk: the chunk (one mode), ``(mode, chunk)`` (a list
    of modes), with the namespace first when ``subgraphs=True``, or a v2 part."""
    if version == "v2":
        return v2_chunk(mode, chunk, ns)
    if subgraphs:
        return (ns, chunk) if single else (ns, mode, chunk)
    return chunk if single else (mode, chunk)


def print_chunk(mode: str, chunk: Any, ns: tuple, *, subgraphs: bool = False) -> None:
    """Print a chunk of a ``print_mode`` (or ``debug=True``) mode to stdout as LangGraph does:
    ``[mode]`` in bold, ``[graph=ns]`` in yellow with ``subgraphs=True``, then ``repr(chunk)``."""
    parts = [f"\033[1m[{mode}]\033[0m"]
    if subgraphs and ns:
        parts.append(f"\033[1;30;33m[graph={ns}]\033[0m")
    parts.append(repr(chunk))
    print(" ".join(parts))
