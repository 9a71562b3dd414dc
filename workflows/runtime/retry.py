"""Retries and timeouts of task attempts (LangGraph's ``run_with_retry`` and node timeouts).

``with_retry`` / ``with_retry_async`` run one call under a ``RetryPolicy`` (or a sequence of
them: the first whose ``retry_on`` matches the error decides), sleeping
``min(max_interval, initial_interval * backoff_factor ** (attempt - 1))`` seconds (plus up to 1 s
of jitter) between attempts. ``GraphInterrupt`` and ``NondeterminismError`` are never retried.
``with_timeout`` bounds one attempt of an async task or entrypoint by its ``TimeoutPolicy``
(``NodeTimeoutError``), as LangGraph's ``_arun_with_timeout``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from .types import (
    GraphInterrupt,
    NodeTimeoutError,
    NondeterminismError,
    RetryPolicy,
    TimeoutPolicy,
)

__all__ = ["TimedAttempt", "progress_handler", "with_retry", "with_retry_async", "with_timeout"]


def _policies(policy: RetryPolicy | list | tuple | None) -> list[RetryPolicy]:
    if policy is None:
        return []
    if isinstance(policy, RetryPolicy):
        return [policy]
    return list(policy)


def _matching(policies: list[RetryPolicy], exc: Exception) -> RetryPolicy | None:
    for policy in policies:
        retry_on = policy.retry_on
        if isinstance(retry_on, type) and issubclass(retry_on, BaseException):
            ok = isinstance(exc, retry_on)
        elif isinstance(retry_on, (tuple, list)):
            ok = isinstance(exc, tuple(retry_on))
        else:
            ok = retry_on(exc)
        if ok:
            return policy
    return None


def _delay(policy: RetryPolicy, attempt: int) -> float:
    interval = min(
        policy.max_interval, policy.initial_interval * policy.backoff_factor ** (attempt - 1)
    )
    return interval + (random.uniform(0, 1) if policy.jitter else 0)


def _retry_delay(policies: list[RetryPolicy], exc: Exception, attempt: int) -> float | None:
    """Seconds to wait before attempt ``attempt + 1`` after ``exc``, or ``None`` to give up
    (no policy matches, or the matching one's ``max_attempts`` is reached)."""
    if isinstance(exc, (GraphInterrupt, NondeterminismError)):  # retrying cannot help
        return None
    matched = _matching(policies, exc)
    if matched is None or attempt >= matched.max_attempts:
        return None
    return _delay(matched, attempt)


def with_retry(policy: Any, call: Callable[[], Any]) -> Any:
    """Run ``call`` under ``policy`` (LangGraph's ``run_with_retry``); re-raises the last error."""
    policies = _policies(policy)
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            attempt += 1
            delay = _retry_delay(policies, exc, attempt)
            if delay is None:
                raise
            time.sleep(delay)


async def with_retry_async(policy: Any, call: Callable[[], Any]) -> Any:
    """``with_retry`` for a ``call`` returning an awaitable (LangGraph's ``arun_with_retry``)."""
    policies = _policies(policy)
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            attempt += 1
            delay = _retry_delay(policies, exc, attempt)
            if delay is None:
                raise
            await asyncio.sleep(delay)


class TimedAttempt:
    """The clock of one attempt with a timeout: ``last`` is its last progress
    (``time.monotonic()``); ``active`` turns ``False`` when it ends or times out (its stream
    writes are then dropped and the tasks it calls refused, as LangGraph's guarded config)."""

    __slots__ = ("__weakref__", "active", "auto", "idle", "last")

    def __init__(self, policy: TimeoutPolicy) -> None:
        self.active = True
        self.idle = policy.idle_timeout is not None
        self.auto = self.idle and policy.refresh_on == "auto"
        self.last = time.monotonic()

    def touch(self) -> None:
        """Explicit progress (``runtime.heartbeat()``)."""
        self.last = time.monotonic()

    def progress(self) -> None:
        """Observable progress (a ``custom`` write, a task call): counts under ``"auto"``."""
        if self.auto:
            self.last = time.monotonic()


_handler_class: Any = None


def progress_handler(attempt: TimedAttempt) -> Any:
    """A LangChain callback handler (run inline) that counts every callback event as progress
    of ``attempt`` (LangGraph's ``_IdleProgressCallbackHandler``). Needs ``langchain-core``;
    only called when a LangChain callback manager exists."""
    global _handler_class
    if _handler_class is None:
        import weakref

        from langchain_core.callbacks import BaseCallbackHandler

        class IdleProgressCallbackHandler(BaseCallbackHandler):
            run_inline = True

            def __init__(self, attempt: TimedAttempt) -> None:
                self._attempt = weakref.ref(attempt)

            def _touch(self, *args: Any, **kwargs: Any) -> None:
                attempt = self._attempt()
                if attempt is not None:
                    attempt.touch()

            on_llm_start = on_chat_model_start = on_llm_new_token = on_llm_end = _touch
            on_llm_error = on_chain_start = on_chain_end = on_chain_error = _touch
            on_tool_start = on_tool_end = on_tool_error = on_retriever_start = _touch
            on_retriever_end = on_retriever_error = on_agent_action = _touch
            on_agent_finish = on_text = on_retry = on_custom_event = _touch

        _handler_class = IdleProgressCallbackHandler
    return _handler_class(attempt)


async def _watch(policy: TimeoutPolicy, attempt: TimedAttempt, started: float) -> str:
    """Return ``"run"`` or ``"idle"`` when that timeout of the attempt expires."""
    while True:
        deadlines = []
        if policy.run_timeout is not None:
            deadlines.append((started + policy.run_timeout, "run"))
        if policy.idle_timeout is not None:
            deadlines.append((attempt.last + policy.idle_timeout, "idle"))
        when, kind = min(deadlines)
        remaining = when - time.monotonic()
        if remaining <= 0:
            return kind
        await asyncio.sleep(remaining)


def _drain_cancelled(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it


async def with_timeout(
    policy: TimeoutPolicy | None, name: str, scope: Any, make: Callable[[], Any]
) -> Any:
    """Await one attempt ``make()`` (a coroutine) of the async task or entrypoint ``name``
    under ``policy`` (already coerced). Past its ``run_timeout``, or ``idle_timeout`` seconds
    without progress, the attempt is cancelled and ``NodeTimeoutError`` raised (for the retry
    policy to judge). While it runs, ``scope.attempt`` is its :class:`TimedAttempt`."""
    if policy is None:
        return await make()
    attempt = TimedAttempt(policy)
    scope.attempt = attempt
    started = time.monotonic()
    work = asyncio.ensure_future(make())
    watchdog = asyncio.ensure_future(_watch(policy, attempt, started))
    try:
        done, _ = await asyncio.wait({work, watchdog}, return_when=asyncio.FIRST_COMPLETED)
        if work in done:
            return work.result()
        kind = watchdog.result()
        attempt.active = False
        work.cancel()
        work.add_done_callback(_drain_cancelled)
        raise NodeTimeoutError(
            name,
            time.monotonic() - started,
            kind=kind,
            idle_timeout=policy.idle_timeout,
            run_timeout=policy.run_timeout,
        )
    except asyncio.CancelledError:
        work.cancel()
        work.add_done_callback(_drain_cancelled)
        raise
    finally:
        attempt.active = False
        watchdog.cancel()
        if scope.attempt is attempt:
            scope.attempt = None
