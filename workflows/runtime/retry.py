"""Retries and timeouts of task attempts (LangGraph's ``run_with_retry`` and node timeouts).

``with_retry`` / ``with_retry_async`` run one call under a ``RetryPolicy`` (or a sequence of
them: the first whose ``retry_on`` matches the error decides), sleeping
``min(max_interval, initial_interval * backoff_factor ** (attempt - 1))`` seconds (plus up to 1 s
of jitter) between attempts. ``GraphInterrupt`` and ``NondeterminismError`` are never retried.
``with_timeout`` bounds one attempt of an async task (``NodeTimeoutError``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from .types import GraphInterrupt, NodeTimeoutError, NondeterminismError, RetryPolicy

__all__ = ["with_retry", "with_retry_async", "with_timeout"]


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


def with_retry(policy: Any, call: Callable[[], Any]) -> Any:
    """Run ``call`` under ``policy`` (LangGraph's ``run_with_retry``); re-raises the last error."""
    policies = _policies(policy)
    attempt = 0
    while True:
        try:
            return call()
        except (GraphInterrupt, NondeterminismError):  # retrying cannot help
            raise
        except Exception as exc:
            attempt += 1
            matched = _matching(policies, exc)
            if matched is None or attempt >= matched.max_attempts:
                raise
            time.sleep(_delay(matched, attempt))


async def with_retry_async(policy: Any, call: Callable[[], Any]) -> Any:
    """``with_retry`` for a ``call`` returning an awaitable (LangGraph's ``arun_with_retry``)."""
    policies = _policies(policy)
    attempt = 0
    while True:
        try:
            return await call()
        except (GraphInterrupt, NondeterminismError):
            raise
        except Exception as exc:
            attempt += 1
            matched = _matching(policies, exc)
            if matched is None or attempt >= matched.max_attempts:
                raise
            await asyncio.sleep(_delay(matched, attempt))


async def with_timeout(task: Any, attempt: Any) -> Any:
    """Await one attempt of an async task within its ``timeout`` seconds; past it, the attempt
    is cancelled and ``NodeTimeoutError`` raised (for the retry policy to judge)."""
    if task.timeout is None:
        return await attempt
    started = time.monotonic()
    try:
        return await asyncio.wait_for(attempt, task.timeout)
    except TimeoutError:
        raise NodeTimeoutError(
            task.name, time.monotonic() - started, timeout=task.timeout
        ) from None
