"""Read-side queries for pages: a thread's timeline, rebuilt from the database alone.

A browser that missed stream chunks (the channel layer is at-most-once) reloads this.
"""

from __future__ import annotations

from typing import Any

from .checkpointer import DjangoSaver
from .models import Checkpoint, Interrupt, PendingWrite, Thread

_ORDER = {"input": 0, "task": 1, "interrupt": 2, "resume": 3, "error": 4, "result": 5}


def task_name(task_path: str) -> str:
    """The task's name from a stored ``task_path`` (its last component)."""
    return task_path.rsplit(", ", 1)[-1] if task_path else "task"


def thread_events(thread: Thread) -> list[dict[str, Any]]:
    """The thread's history as events, oldest first.

    Each event is ``{"id": str, "kind": "input" | "task" | "interrupt" | "resume" | "error" |
    "result", "name": str, "value": JSON-able, "at": datetime | None}``; ``id`` is stable, so
    a page can use it as an element id and ignore duplicates.
    """
    serde = DjangoSaver().serde
    events: list[dict[str, Any]] = []
    for ckpt in Checkpoint.objects.filter(thread=thread).order_by("checkpoint_id"):
        values = serde.loads(ckpt.data)["channel_values"]
        if ckpt.source in (Checkpoint.Source.INPUT, Checkpoint.Source.FORK):
            kind, name, value = "input", ("Forked with input" if ckpt.source == "fork" else "Started"), values.get("__start__")
        else:
            kind, name, value = "result", ("State updated" if ckpt.source == "update" else "Finished"), values.get("__end__")
        events.append({
            "id": f"ckpt-{ckpt.checkpoint_id}", "kind": kind, "name": name,
            "value": serde.to_display(value), "at": ckpt.created_at,
        })
    writes = PendingWrite.objects.filter(thread=thread, channel__in=("__return__", "__error__"))
    for write in writes.order_by("id"):
        is_error = write.channel == "__error__"
        events.append({
            "id": f"write-{write.pk}",
            "kind": "error" if is_error else "task",
            "name": task_name(write.task_path),
            "value": serde.to_display(serde.loads(write.value)),
            "at": write.created_at,
        })
    for intr in Interrupt.objects.filter(thread=thread).select_related("resolved_by"):
        events.append({
            "id": f"interrupt-{intr.interrupt_id}", "kind": "interrupt", "name": "Waiting for review",
            "value": intr.value, "at": intr.created_at, "interrupt": intr,
        })
        if intr.status == Interrupt.Status.RESOLVED and intr.resume_value is not None:
            who = intr.resolved_by.get_username() if intr.resolved_by else "someone"
            events.append({
                "id": f"resume-{intr.interrupt_id}", "kind": "resume", "name": f"Answered by {who}",
                "value": intr.resume_value, "at": intr.resolved_at, "interrupt": intr,
            })
    events.sort(key=lambda e: (e["at"] is None, e["at"], _ORDER[e["kind"]]))
    return events
