"""Public value types of the functional API, with LangGraph's names and shapes.

As in ``langgraph.types``: ``Interrupt``, ``Command``, ``RetryPolicy``, ``StateSnapshot``,
``PregelTask``, ``GraphOutput``, plus the errors a run raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

__all__ = [
    "Command",
    "EmptyInputError",
    "GraphInterrupt",
    "GraphOutput",
    "Interrupt",
    "NodeTimeoutError",
    "NondeterminismError",
    "PregelTask",
    "RetryPolicy",
    "StateSnapshot",
    "ThreadBusyError",
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
    """An attempt of an async task ran longer than its ``timeout`` (LangGraph's error, same
    message). Not a ``TimeoutError`` (an ``OSError``), so the default retry policy retries it.
    ``node``, ``timeout``, ``elapsed`` (seconds), ``kind`` (``"run"``)."""

    def __init__(self, node: str, elapsed: float, *, timeout: float) -> None:
        self.node = node
        self.elapsed = elapsed
        self.timeout = self.run_timeout = timeout
        self.idle_timeout = None
        self.kind = "run"
        super().__init__(
            f"Node {node!r} exceeded its run timeout of {timeout:.3f}s (elapsed: {elapsed:.3f}s)."
        )


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
