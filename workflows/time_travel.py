"""Time travel for staff: replay a thread from one of its checkpoints, or fork it with edited
state, as LangGraph's time travel does (``docs/concepts/time-travel``):

* replay: ``invoke(None, {"configurable": {"thread_id": ..., "checkpoint_id": ...}})`` runs the
  thread again from that checkpoint;
* fork: ``update_state(config_with_checkpoint_id, values)`` writes a new checkpoint branching off
  it, then ``invoke(None, new_config)`` runs from there.

A Flowsite ``@entrypoint``'s state is its input, so a fork edits the input of one of its input
checkpoints (``update_state(..., as_node="__input__")``) and the body runs again on it; a
LangGraph graph's is its channels, updated through the graph's reducers (``as_node`` as LangGraph
picks it). Each action is one ``Run`` (kind ``replay`` / ``fork``, its checkpoint id in its
input, executed in the background as any run) and one ``TimeTravel`` row, the audit: who, from
which checkpoint, what was edited. The thread's pending interrupts are cancelled: the run leaves
their branch.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from . import adapters, registry
from .diffs import value_changes
from .execution import running, waking
from .models import Checkpoint, Interrupt, Run, Thread, TimeTravel
from .runtime.types import InvalidUpdateError

__all__ = ["CannotTimeTravel", "InvalidState", "editable_state", "fork_run", "replay_run"]


class CannotTimeTravel(ValueError):
    """The thread has a run queued or running, or the checkpoint is not one it can run from;
    nothing was written."""


class InvalidState(ValueError):
    """The edited state was refused by ``update_state`` (e.g. an unknown channel); nothing was
    written."""


def _langgraph_errors() -> tuple[type[Exception], ...]:
    try:
        from langgraph.errors import InvalidUpdateError as LangGraphInvalidUpdate
    except ImportError:  # the agents extra is not installed
        return ()
    return (LangGraphInvalidUpdate,)


def _serde() -> Any:
    return running.thread_serde()


def _checkpoint(thread: Thread, checkpoint_id: str) -> Checkpoint:
    row = Checkpoint.objects.filter(
        thread=thread, checkpoint_ns="", checkpoint_id=checkpoint_id
    ).first()
    if row is None:
        raise CannotTimeTravel(f"Thread {thread.thread_id} has no checkpoint {checkpoint_id}")
    return row


def _values(row: Checkpoint) -> dict[str, Any]:
    """A checkpoint's channel values as JSON (what the history page shows)."""
    serde = _serde()
    return serde.to_display(serde.loads(row.data)["channel_values"])


def editable_state(row: Checkpoint, values: dict[str, Any] | None = None) -> tuple[bool, Any]:
    """Whether ``row`` can be forked, and the value its fork form starts from: a Flowsite
    entrypoint's input (only its input checkpoints hold one), or ``{}`` for a LangGraph graph
    (the values to update, by channel). ``values``: the row's channel values as JSON, when the
    caller decoded them already (the history page), else decoded here."""
    if row.serde_type:
        return True, {}
    values = _values(row) if values is None else values
    return ("__start__" in values), values.get("__start__")


def _busy(thread: Thread) -> bool:
    return Run.objects.filter(
        thread=thread, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]
    ).exists()


def _queue(
    *, thread: Thread, kind: str, checkpoint_id: str, run_from: str, user: Any,
    values: Any = None, changes: list | None = None,
) -> Run:
    actor = user if getattr(user, "is_authenticated", False) else None
    now = timezone.now()
    with transaction.atomic():
        if _busy(thread):
            raise CannotTimeTravel(f"Thread {thread.thread_id} already has a run waiting")
        Interrupt.objects.pending().filter(thread=thread).update(
            status=Interrupt.Status.CANCELLED, resolved_at=now
        )
        Thread.objects.filter(pk=thread.pk).update(
            status=Thread.Status.RUNNING, error="", updated_at=now
        )
        run = Run.objects.create(
            thread=thread, kind=kind, requested_by=actor,
            input=_serde().dumps({"checkpoint_id": run_from}).decode(),
        )
        TimeTravel.objects.create(
            thread=thread, run=run, kind=kind, checkpoint_id=checkpoint_id,
            new_checkpoint_id=run_from if run_from != checkpoint_id else "",
            values=values, changes=changes or [], requested_by=actor,
        )
        waking.wake_on_commit(run.pk)
    return run


def replay_run(*, thread: Thread, checkpoint_id: str, user: Any = None) -> Run:
    """Queue a run replaying ``thread`` from its checkpoint ``checkpoint_id`` (LangGraph's
    ``invoke(None, config_with_checkpoint_id)``) and audit it. Raises ``CannotTimeTravel``
    (a run already waiting, no such checkpoint); nothing is written then."""
    _checkpoint(thread, checkpoint_id)
    if _busy(thread):
        raise CannotTimeTravel(f"Thread {thread.thread_id} already has a run waiting")
    return _queue(
        thread=thread, kind=Run.Kind.REPLAY, checkpoint_id=checkpoint_id,
        run_from=checkpoint_id, user=user,
    )


def fork_run(*, thread: Thread, checkpoint_id: str, values: Any, user: Any = None) -> Run:
    """Write ``values`` on a branch off ``thread``'s checkpoint ``checkpoint_id``
    (``update_state``, see the module docstring), queue the run continuing from the new
    checkpoint, and audit it with what changed.

    Raises ``CannotTimeTravel`` (a run already waiting; no such checkpoint; a Flowsite
    checkpoint that holds no input) and ``InvalidState`` (``update_state`` refused the values,
    or a LangGraph graph's values are not a JSON object); nothing is written then, except that
    the new checkpoint of a refused run stays (a branch nothing runs on).
    """
    row = _checkpoint(thread, checkpoint_id)
    forkable, before = editable_state(row)
    if not forkable:
        raise CannotTimeTravel("Only an input checkpoint of an entrypoint holds a state to edit")
    if row.serde_type and not isinstance(values, dict):
        raise InvalidState("A graph's state update is a JSON object: {channel: value}")
    if _busy(thread):
        raise CannotTimeTravel(f"Thread {thread.thread_id} already has a run waiting")
    adapter = adapters.adapter_for(registry.get(thread.workflow))
    config = {"configurable": {"thread_id": thread.thread_id, "checkpoint_ns": "",
                               "checkpoint_id": checkpoint_id}}
    try:
        if row.serde_type:
            new_config = adapter.graph.update_state(config, values)
        else:
            new_config = adapter.graph.update_state(config, values, as_node="__input__")
    except (ValueError, TypeError, KeyError, InvalidUpdateError, *_langgraph_errors()) as exc:
        raise InvalidState(f"{type(exc).__name__}: {exc}") from exc
    if row.serde_type:  # what the update changes: the channels it names
        current = _values(row)
        before = {channel: current[channel] for channel in values if channel in current}
    return _queue(
        thread=thread, kind=Run.Kind.FORK, checkpoint_id=checkpoint_id,
        run_from=new_config["configurable"]["checkpoint_id"], user=user, values=values,
        changes=value_changes(before, values),
    )
