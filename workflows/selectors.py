"""Read-side queries for pages: a thread's timeline, rebuilt from the database alone.

A browser that missed stream chunks (the channel layer is at-most-once) reloads this.
"""

from __future__ import annotations

from typing import Any

from django.db.models import prefetch_related_objects

from .checkpointer import DjangoSaver
from .models import Checkpoint, Interrupt, PendingWrite, Thread

_ORDER = {"input": 0, "task": 1, "interrupt": 2, "resume": 3, "error": 4, "result": 5}


PUSH_PREFIX = "~__pregel_push, "
# a LangGraph graph's writes that are bookkeeping, not what a task produced
LANGGRAPH_INTERNAL = ("__", "branch:")


def task_name(task_path: str, scheduled: Any = None) -> str:
    """The task's name from a stored ``task_path`` (its last component). A LangGraph ``Send``
    task's path (``"~__pregel_push, <index>"``) is named by the node of that ``Send`` in
    ``scheduled``: the ``__pregel_tasks`` channel of its checkpoint, as readable JSON."""
    if task_path.startswith(PUSH_PREFIX) and isinstance(scheduled, list):
        index = task_path[len(PUSH_PREFIX):].split(", ", 1)[0]
        if index.isdigit() and int(index) < len(scheduled) and isinstance(scheduled[int(index)], dict):
            return str(scheduled[int(index)].get("node") or "task")
    return task_path.rsplit(", ", 1)[-1] if task_path else "task"


def scheduled_sends(values: dict) -> Any:
    """The ``Send`` packets a LangGraph checkpoint schedules (``__pregel_tasks``), if any."""
    return values.get("__pregel_tasks")


def _langgraph_task_events(thread: Thread, scheduled: dict[str, Any]) -> list[dict[str, Any]]:
    """A LangGraph graph's task events: per task, what it wrote (messages, state keys) or its
    error; a message already shown (the agent's middleware writes it again) is left out."""
    serde = DjangoSaver().serde
    tasks: dict[tuple[str, str], dict[str, Any]] = {}
    for write in PendingWrite.objects.filter(thread=thread).exclude(serde_type="").order_by("id"):
        name = task_name(write.task_path, scheduled.get(write.checkpoint_id))
        if name == "__start__" or write.checkpoint_ns:
            continue  # the input (shown as such), and subgraphs' own writes
        key = (write.checkpoint_id, write.task_id)
        if write.channel == "__error__":
            tasks[key] = {"id": f"write-{write.pk}", "kind": "error", "name": name,
                          "value": serde.loads(write.value), "at": write.created_at}
        elif not write.channel.startswith(LANGGRAPH_INTERNAL) and tasks.get(key, {}).get("kind") != "error":
            event = tasks.setdefault(key, {"id": f"write-{write.pk}", "kind": "task", "name": name,
                                           "value": {}, "at": write.created_at})
            event["value"][write.channel] = serde.loads(write.value)
    shown: list[Any] = []
    events = []
    for event in tasks.values():
        if event["kind"] == "task" and isinstance(event["value"].get("messages"), list):
            fresh = [m for m in event["value"]["messages"] if m not in shown]
            shown.extend(fresh)
            event["value"]["messages"] = fresh
            event["value"] = {k: v for k, v in event["value"].items() if v != []}
            if not event["value"]:
                continue
        events.append(event)
    return events


def thread_events(thread: Thread) -> list[dict[str, Any]]:
    """The thread's history as events, oldest first.

    A LangGraph graph's thread (rows written by ``LangGraphDjangoSaver``) shows its input, then
    one event per task with what it wrote (or its error), its interrupts and their answers.

    Each event is ``{"id": str, "kind": "input" | "task" | "interrupt" | "resume" | "error" |
    "result", "name": str, "value": JSON-able, "at": datetime | None}``; ``id`` is stable, so
    a page can use it as an element id and ignore duplicates.
    """
    serde = DjangoSaver().serde
    events: list[dict[str, Any]] = []
    scheduled: dict[str, Any] = {}  # a LangGraph graph's Send packets, by checkpoint id
    for ckpt in Checkpoint.objects.filter(thread=thread).order_by("checkpoint_id"):
        values = serde.loads(ckpt.data)["channel_values"]
        if ckpt.serde_type:  # a LangGraph graph: its tasks tell the story, not its checkpoints
            scheduled[ckpt.checkpoint_id] = scheduled_sends(values)
            if ckpt.source != Checkpoint.Source.INPUT or ckpt.checkpoint_ns:
                continue
        if ckpt.source in (Checkpoint.Source.INPUT, Checkpoint.Source.FORK):
            kind, name, value = "input", ("Forked with input" if ckpt.source == "fork" else "Started"), values.get("__start__")
        else:
            kind, name, value = "result", ("State updated" if ckpt.source == "update" else "Finished"), values.get("__end__")
        events.append({
            "id": f"ckpt-{ckpt.checkpoint_id}", "kind": kind, "name": name,
            "value": serde.to_display(value), "at": ckpt.created_at,
        })
    events += _langgraph_task_events(thread, scheduled) if scheduled else []
    writes = PendingWrite.objects.filter(
        thread=thread, channel__in=("__return__", "__error__"), serde_type=""
    )
    for write in writes.order_by("id"):
        is_error = write.channel == "__error__"
        events.append({
            "id": f"write-{write.pk}",
            "kind": "error" if is_error else "task",
            "name": task_name(write.task_path),
            "value": serde.to_display(serde.loads(write.value)),
            "at": write.created_at,
        })
    for intr in with_answerers(Interrupt.objects.filter(thread=thread)):
        events.append({
            "id": f"interrupt-{intr.interrupt_id}", "kind": "interrupt", "name": "Waiting for review",
            "value": intr.value, "at": intr.created_at, "interrupt": intr,
        })
        if intr.status == Interrupt.Status.RESOLVED and intr.resume_value is not None:
            who = answered_by(intr)
            events.append({
                "id": f"resume-{intr.interrupt_id}", "kind": "resume", "name": f"Answered by {who}",
                "value": intr.resume_value, "at": intr.resolved_at, "interrupt": intr,
            })
    events.sort(key=lambda e: (e["at"] is None, e["at"], _ORDER[e["kind"]]))
    return events


def with_answerers(interrupts: Any) -> list[Interrupt]:
    """``interrupts`` (a queryset) as a list, read with what :func:`answered_by` needs: each
    one's ``resolved_by`` joined, and the audit rows (with their users) of only those answered
    without a user (a deadline's default answer, a resume by code): one query, and one more
    pair only when there are such interrupts."""
    rows = list(interrupts.select_related("resolved_by"))
    unattributed = [i for i in rows if i.status == Interrupt.Status.RESOLVED and i.resolved_by_id is None]
    if unattributed:
        prefetch_related_objects(unattributed, "decisions__user")
    return rows


def answered_by(intr: Interrupt) -> str:
    """Who answered ``intr``: the user; else the decider of the review product's audit row
    (``reviews.Decision.decided_by``: ``"System (deadline)"`` for a deadline's default
    answer); else ``"someone"`` (resumed by code without a user)."""
    if intr.resolved_by is not None:
        return intr.resolved_by.get_username()
    decision = next(iter(intr.decisions.all()), None)
    return decision.decided_by if decision is not None else "someone"


def thread_value(thread: Thread, key: str) -> Any:
    """One stored value of ``thread``, whole: ``key`` is ``"input"``, ``"result"`` or the id of
    one of :func:`thread_events` (``"interrupt-<interrupt id>"``, ``"resume-<interrupt id>"``,
    ``"ckpt-<checkpoint id>"``, ``"write-<pk>"``). Raises ``LookupError`` for any other key."""
    if key == "input":
        return thread.input
    if key == "result":
        return thread.result
    kind, _, ident = key.partition("-")
    if kind in ("interrupt", "resume"):
        intr = Interrupt.objects.filter(thread=thread, interrupt_id=ident).first()
        if intr is not None and (kind == "interrupt" or intr.resume_value is not None):
            return intr.value if kind == "interrupt" else intr.resume_value
        raise LookupError(key)
    for event in thread_events(thread):
        if event["id"] == key:
            return event["value"]
    raise LookupError(key)
