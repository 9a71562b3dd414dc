"""The determinism check of replays: ``__call__`` records and ``NondeterminismError``.

Beyond LangGraph, each executed task call records a ``__call__`` pending write (its name, call
position and an argument fingerprint). On replay, another task name at a recorded position stops
the run with ``NondeterminismError`` (Temporal's model); other arguments with the same name log a
warning on the ``workflows.runtime`` logger and proceed with the recorded result, as LangGraph
does (it matches by call order and name only).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from xxhash import xxh3_64_hexdigest

from .serde import TAG
from .types import NondeterminismError

if TYPE_CHECKING:
    from .loop import PregelLoop
    from .scope import Scope

__all__ = ["checked_call", "fingerprint", "recorded_calls"]

logger = logging.getLogger("workflows.runtime")


def recorded_calls(writes: dict[str, dict[str, Any]]) -> dict[tuple, tuple[str, dict]]:
    """The task calls recorded by the pending run's earlier attempts: call position ->
    ``(task_id, __call__ value)``, from the run's pending writes (task id -> channel -> value)."""
    found: dict[tuple, tuple[str, dict]] = {}
    for task_id, channels in writes.items():
        call = channels.get("__call__")
        if isinstance(call, dict) and isinstance(call.get("path"), list):
            found.setdefault(tuple(call["path"]), (task_id, call))
    return found


def checked_call(
    loop: PregelLoop, task: Any, parent: Scope, path: tuple, args: tuple, kwargs: dict,
    task_id: str,
) -> dict:
    """The ``__call__`` record ``{"name", "path", "args"}`` of this task call, checked against
    the call recorded at the same position (beyond LangGraph, which matches by call order *and
    name* only, so it silently runs a renamed task and returns a stale result for changed
    arguments).

    Another task name there raises ``NondeterminismError`` (and the run fails, even if the
    body catches it: it is kept as ``loop.fatal``); other arguments with the same name log a
    warning when the recorded result (or recorded interrupt answers) will be used, and the run
    proceeds with them.
    """
    digest = fingerprint(loop.serde, args, kwargs)
    call = {"name": task.name, "path": list(path), "args": digest}
    recorded = loop.recorded.get(path)
    if recorded is None:
        return call
    _recorded_id, before = recorded
    where = _position(loop.graph.node_name, parent, path)
    if before.get("name") != task.name:
        exc = NondeterminismError(
            f"Nondeterministic replay at {where}: the resumed body called task "
            f"{task.name!r}, but the recorded run called task {before.get('name')!r} there. "
            "A resumed entrypoint must make the same task calls in the same order; restore "
            "the code that started this run, or start a new run with new input.",
            recorded=before.get("name"),
            called=task.name,
            position=path,
        )
        with loop.lock:
            loop.fatal = loop.fatal or exc
        raise exc
    done = loop.writes.get(task_id, {})
    replayed = "__return__" in done or bool(done.get("__resume__"))
    if replayed and digest and before.get("args") and before["args"] != digest:
        logger.warning(
            "Task %r at %s was called with other arguments than in the recorded run: now "
            "%s (argument fingerprint %s), recorded fingerprint %s; %s, as LangGraph does "
            "(entrypoint code must be deterministic).",
            task.name, where, _describe(args, kwargs), digest, before["args"],
            "returning the recorded result" if "__return__" in done
            else "re-running it with its recorded interrupt answers",
        )
    return call


def _canonical(data: Any) -> Any:
    """Encoded (JSON) data with set members in a stable order, for fingerprints: a set of
    strings iterates in another order in another process."""
    if isinstance(data, list):
        return [_canonical(v) for v in data]
    if not isinstance(data, dict):
        return data
    out = {k: _canonical(v) for k, v in data.items()}
    if out.get(TAG) in ("set", "frozenset", "dict"):
        out["v"] = sorted(out["v"], key=lambda v: json.dumps(v, sort_keys=True))
    return out


def fingerprint(serde: Any, args: tuple, kwargs: dict) -> str | None:
    """xxh3-64 hex digest of a task call's arguments as the serializer encodes them (equal
    dicts and sets give equal digests), or ``None`` when they are not serializable."""
    try:
        data = _canonical(serde.encode([list(args), kwargs]))
    except Exception:  # noqa: BLE001 - arguments need not be serializable (they are not stored)
        return None
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return xxh3_64_hexdigest(text.encode())


def _describe(args: tuple, kwargs: dict, limit: int = 200) -> str:
    """A short repr of a call's arguments, for log messages."""
    text = repr(args) + (f", {kwargs!r}" if kwargs else "")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _position(entry: str, parent: Scope, path: tuple) -> str:
    """A task call's position for messages, e.g. ``call position [0, 1] (call #1 of task
    'outer')``."""
    caller = f"entrypoint {entry!r}" if not parent.path else f"task {parent.name!r}"
    return f"call position {list(path)} (call #{path[-1]} of {caller})"
