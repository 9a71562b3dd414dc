"""Public value types of the functional API, with LangGraph's names and shapes.

As in ``langgraph.types``: ``Interrupt``, ``Command``, ``RetryPolicy``, ``StateSnapshot``,
``PregelTask``, ``GraphOutput``, plus the errors a run raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Generic, Literal, NamedTuple, TypeVar

__all__ = [
    "Command",
    "EmptyInputError",
    "GraphDrained",
    "GraphInterrupt",
    "GraphOutput",
    "Interrupt",
    "NodeTimeoutError",
    "NondeterminismError",
    "LangGraphDeprecatedSinceV05",
    "LangGraphDeprecatedSinceV10",
    "LangGraphDeprecationWarning",
    "PregelTask",
    "RetryPolicy",
    "StateSnapshot",
    "StateUpdate",
    "ThreadBusyError",
    "TimeoutPolicy",
    "UnknownInterruptError",
    "default_retry_on",
    "final",
]

R = TypeVar("R")
S = TypeVar("S")


@dataclasses.dataclass(init=False, slots=True, eq=True)
class Interrupt:
    """A pause request raised by ``interrupt(value)``.

    ``value`` is what the caller sees (any serializable value); ``id`` is a 32-hex xxh3-128 digest,
    stable across replays (as in LangGraph: ``xxh3(task_ns)`` for a task's first interrupt,
    ``xxh3(f"{task_ns}|{k}")`` for its k-th); ``response_schema`` is the JSON Schema dict the resume
    value must satisfy, or ``None``.
    """

    value: Any
    id: str
    response_schema: dict[str, Any] | None

    def __init__(
        self, value: Any, id: str = "placeholder-id", *, response_schema: Any = None
    ) -> None:
        self.value = value
        self.id = id
        self.response_schema = response_schema

    def __repr__(self) -> str:
        return (
            f"Interrupt(value={self.value!r}, id={self.id!r}, "
            f"response_schema={self.response_schema!r})"
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Command:
    """Input that resumes a paused thread: ``stream(Command(resume=value), config)``.

    ``resume`` is either the value for the single pending interrupt, or a map
    ``{interrupt_id: value}`` (every key a 32-hex interrupt id) answering specific interrupts.
    ``graph``, ``update`` and ``goto`` are accepted for signature compatibility with LangGraph's
    ``Command``; the functional API does not use them.
    """

    graph: str | None = None
    update: Any = None
    resume: Any = None
    goto: Any = ()


_NOT_RETRIED = (
    ValueError,
    TypeError,
    ArithmeticError,
    ImportError,
    LookupError,
    NameError,
    SyntaxError,
    RuntimeError,
    ReferenceError,
    StopIteration,
    StopAsyncIteration,
    OSError,
)


def default_retry_on(exc: Exception) -> bool:
    """LangGraph's default retry predicate.

    Retries ``ConnectionError`` and HTTP 5xx errors of httpx/requests, and any exception not in
    LangGraph's list of programming errors (``ValueError``, ``TypeError``, ``ArithmeticError``,
    ``ImportError``, ``LookupError``, ``NameError``, ``SyntaxError``, ``RuntimeError``,
    ``ReferenceError``, ``StopIteration``, ``StopAsyncIteration``, ``OSError``).
    """
    if isinstance(exc, ConnectionError):
        return True
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if type(exc).__name__ == "HTTPStatusError" or (
        status is not None and type(exc).__module__.startswith(("httpx", "requests"))
    ):
        return isinstance(status, int) and 500 <= status < 600
    return not isinstance(exc, _NOT_RETRIED)


class RetryPolicy(NamedTuple):
    """How a failing task is retried (LangGraph's ``RetryPolicy``, same defaults).

    Intervals are seconds: attempt ``n`` (from 1) waits
    ``min(max_interval, initial_interval * backoff_factor ** (n - 1))`` plus up to one second of
    jitter. ``retry_on`` is an exception class, a sequence of them, or a predicate.
    """

    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    max_attempts: int = 3
    jitter: bool = True
    retry_on: type[Exception] | Sequence[type[Exception]] | Callable[[Exception], bool] = (
        default_retry_on
    )


class PregelTask(NamedTuple):
    """A task of a checkpoint's pending step, as in ``get_state().tasks``."""

    id: str
    name: str
    path: tuple
    error: Any = None
    interrupts: tuple = ()
    state: Any = None
    result: Any = None


class StateSnapshot(NamedTuple):
    """A thread's state at one checkpoint (LangGraph's ``StateSnapshot``).

    ``values`` is the entrypoint's return value (``None`` while its first run is pending),
    ``next`` names the entrypoint while a run is pending (interrupted or failed), ``created_at``
    is an ISO-8601 string.
    """

    values: Any
    next: tuple
    config: dict
    metadata: dict | None
    created_at: str | None
    parent_config: dict | None
    tasks: tuple
    interrupts: tuple = ()


class GraphOutput(NamedTuple):
    """``invoke(..., version="v2")`` result: the value and the interrupts raised, if any."""

    value: Any
    interrupts: tuple = ()


@dataclasses.dataclass
class final(Generic[R, S]):  # noqa: N801 - LangGraph's name, reached as ``entrypoint.final``
    """Return ``entrypoint.final(value=..., save=...)``: the caller gets ``value``; the
    thread's next run gets ``save`` as ``previous`` (LangGraph's ``entrypoint.final``)."""

    value: R
    save: S


final.__qualname__ = "entrypoint.final"


def final_parts(result: Any) -> tuple[Any, Any]:
    """``(value, save)`` of an entrypoint's return value (``entrypoint.final`` or plain)."""
    if isinstance(result, final):
        return result.value, result.save
    return result, result


class GraphInterrupt(Exception):
    """Raised inside a run when ``interrupt()`` pauses it; carries the ``Interrupt`` objects."""

    def __init__(self, interrupts: Sequence[Interrupt] = (), task_id: str | None = None) -> None:
        super().__init__(tuple(interrupts))
        self.interrupts = tuple(interrupts)
        self.task_id = task_id


class EmptyInputError(Exception):
    """``invoke(None, config)`` on a thread with nothing to resume (LangGraph's error)."""


class NodeTimeoutError(Exception):
    """An attempt of an async task or entrypoint exceeded one of its timeouts (LangGraph's
    error, same message and attributes). Not a ``TimeoutError`` (an ``OSError``), so the default
    retry policy retries it.

    ``node`` (its name), ``elapsed`` (seconds), ``kind`` (``"run"`` or ``"idle"``: which one
    fired), ``timeout`` (the one that fired), ``run_timeout`` / ``idle_timeout`` (the policy's,
    ``None`` if unset). ``ValueError`` if the timeout of ``kind`` is missing.
    """

    def __init__(
        self,
        node: str,
        elapsed: float,
        *,
        kind: Literal["idle", "run"],
        idle_timeout: float | None = None,
        run_timeout: float | None = None,
    ) -> None:
        if kind == "idle":
            if idle_timeout is None:
                raise ValueError("idle_timeout is required when kind='idle'")
            message = (
                f"Node '{node}' exceeded its idle timeout of {idle_timeout:.3f}s without making "
                f"progress (elapsed: {elapsed:.3f}s)."
            )
            self.timeout = idle_timeout
        elif kind == "run":
            if run_timeout is None:
                raise ValueError("run_timeout is required when kind='run'")
            message = (
                f"Node '{node}' exceeded its run timeout of {run_timeout:.3f}s "
                f"(elapsed: {elapsed:.3f}s)."
            )
            self.timeout = run_timeout
        else:
            raise ValueError(f"kind must be 'idle' or 'run', got {kind!r}")
        super().__init__(message)
        self.node = node
        self.elapsed = elapsed
        self.kind = kind
        self.idle_timeout = idle_timeout
        self.run_timeout = run_timeout


def _timeout_seconds(value: float | timedelta | None, *, field: str) -> float | None:
    """LangGraph's ``_coerce_timeout_seconds``: seconds as a float, ``ValueError`` if not > 0."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError(f"{field} must be greater than 0")
    return seconds


@dataclasses.dataclass(frozen=True, slots=True)
class TimeoutPolicy:
    """Timeouts of each attempt of an async task or entrypoint (LangGraph's ``TimeoutPolicy``).

    ``run_timeout``: hard wall-clock cap in seconds (or a ``timedelta``), never refreshed.
    ``idle_timeout``: the longest an attempt may go without progress. ``refresh_on``:
    ``"auto"`` counts as progress the attempt's ``custom`` stream writes, the tasks it calls and
    ``runtime.heartbeat()``; ``"heartbeat"`` counts only ``runtime.heartbeat()``. When one fires
    the attempt is cancelled and ``NodeTimeoutError`` raised, for the retry policy to judge.
    Timeouts rely on asyncio cancellation: sync code blocking the loop delays them.
    """

    run_timeout: float | timedelta | None = None
    idle_timeout: float | timedelta | None = None
    refresh_on: Literal["auto", "heartbeat"] = "auto"

    @classmethod
    def coerce(cls, value: float | timedelta | TimeoutPolicy | None) -> TimeoutPolicy | None:
        """``timeout=`` as a policy with positive float seconds (``None`` for no timeout), as
        LangGraph's ``TimeoutPolicy.coerce``: a number or ``timedelta`` is a ``run_timeout``.
        ``ValueError`` for a non-positive timeout or another ``refresh_on``."""
        if value is None:
            return None
        if not isinstance(value, TimeoutPolicy):
            value = cls(run_timeout=value)
        if value.refresh_on not in ("auto", "heartbeat"):
            raise ValueError("refresh_on must be 'auto' or 'heartbeat'")
        run_timeout = _timeout_seconds(value.run_timeout, field="run_timeout")
        idle_timeout = _timeout_seconds(value.idle_timeout, field="idle_timeout")
        if run_timeout is None and idle_timeout is None:
            return None
        return cls(run_timeout=run_timeout, idle_timeout=idle_timeout, refresh_on=value.refresh_on)


class GraphDrained(Exception):
    """The run stopped before executing because ``RunControl.request_drain()`` was called
    (LangGraph's ``GraphDrained``, message ``"Graph drained: <reason>"``). Its input (or resume)
    is stored: ``invoke(None, config)`` continues it later."""

    def __init__(self, reason: str = "shutdown") -> None:
        self.reason = reason
        super().__init__(f"Graph drained: {reason}")


class UnknownInterruptError(ValueError):
    """A ``Command(resume=...)`` that does not match the pending interrupts (LangGraph's error
    of its strict resume mode; a ``ValueError`` here, as Flowsite always refuses unknown ids).

    ``reason``: ``"not_pending"`` (the map names interrupts that are not pending, listed in
    ``interrupt_ids``), ``"empty_map"`` or ``"ambiguous"`` (one value, several pending).
    ``pending_ids``: the interrupts still waiting. Raised before anything is written.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: Literal["not_pending", "empty_map", "ambiguous"],
        interrupt_ids: Sequence[str] = (),
        pending_ids: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.interrupt_ids = tuple(interrupt_ids)
        self.pending_ids = tuple(pending_ids)


class InvalidUpdateError(Exception):
    """An ``update_state`` that the entrypoint cannot apply (LangGraph's error, same messages)."""


class StateUpdate(NamedTuple):
    """One update of ``bulk_update_state`` (LangGraph's ``StateUpdate``)."""

    values: Any
    as_node: str | None = None
    task_id: str | None = None


class LangGraphDeprecationWarning(DeprecationWarning):
    """LangGraph's deprecation warning (same class names, attributes and messages, so a ported
    program's warning filters keep working): ``"<message>. Deprecated in LangGraph V0.5 to be
    removed in V2.0."``."""

    def __init__(
        self,
        message: str,
        *args: object,
        since: tuple[int, int],
        expected_removal: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(message, *args)
        self.message = message.rstrip(".")
        self.since = since
        self.expected_removal = expected_removal or (since[0] + 1, 0)

    def __str__(self) -> str:
        return (
            f"{self.message}. Deprecated in LangGraph V{self.since[0]}.{self.since[1]}"
            f" to be removed in V{self.expected_removal[0]}.{self.expected_removal[1]}."
        )


class LangGraphDeprecatedSinceV05(LangGraphDeprecationWarning):
    """Deprecated since LangGraph 0.5 (e.g. ``retry=``)."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(message, *args, since=(0, 5), expected_removal=(2, 0))


class LangGraphDeprecatedSinceV10(LangGraphDeprecationWarning):
    """Deprecated since LangGraph 1.0 (e.g. ``config_schema=``, ``checkpoint_during=``)."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(message, *args, since=(1, 0), expected_removal=(2, 0))


class NondeterminismError(RuntimeError):
    """A resumed body called, at a recorded position, a task other than the one recorded.

    Modelled on Temporal's ``NondeterminismError``: the program no longer matches the run it
    resumes, so the run stops (its entrypoint task records the error; ``invoke(None, config)``
    retries it once the code is restored) instead of silently re-running or replaying tasks.
    LangGraph has no such check: it runs the renamed task.

    ``recorded`` and ``called`` are the two task names, ``position`` the call position (the
    caller's path of call indexes plus this call's index, e.g. ``(0,)`` for the body's first
    task call, ``(0, 1)`` for the second call made by that task).
    """

    def __init__(
        self,
        message: str,
        *,
        recorded: str | None = None,
        called: str | None = None,
        position: tuple = (),
    ) -> None:
        super().__init__(message)
        self.recorded = recorded
        self.called = called
        self.position = tuple(position)


class ThreadBusyError(RuntimeError):
    """Another run holds the thread; a second concurrent run on it is refused."""
