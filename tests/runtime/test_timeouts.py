"""Retries and timeouts as LangGraph 1.2.24 (issue 7, item 3): ``TimeoutPolicy`` (run and idle
timeouts, ``refresh_on``), ``Runtime.heartbeat()``, ``NodeTimeoutError`` handed to the retry
policy, entrypoint-level ``retry_policy`` and ``timeout``, and timeouts refused on sync code."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import langgraph.types
import pytest

import workflows

from .lg import APIS, FLOWSITE, arun_both, attempt, cfg, run_both, same


def timeout_policy(api):
    return workflows.TimeoutPolicy if api is FLOWSITE else langgraph.types.TimeoutPolicy


def describe(exc: BaseException) -> list:
    """A timeout error without its (timing-dependent) elapsed seconds."""
    return [type(exc).__name__, exc.node, exc.kind, exc.timeout, exc.run_timeout,
            exc.idle_timeout]


def test_timeout_policy_coerce():
    def scenario(api):
        policy = timeout_policy(api)
        return [
            policy.coerce(None),
            policy.coerce(2),
            policy.coerce(timedelta(milliseconds=1500)),
            policy.coerce(policy(idle_timeout=timedelta(seconds=3), refresh_on="heartbeat")),
            policy.coerce(policy()),
            attempt(lambda: policy.coerce(0)),
            attempt(lambda: policy.coerce(policy(idle_timeout=-1))),
            attempt(lambda: policy.coerce(policy(run_timeout=1, refresh_on="never"))),
            policy(run_timeout=1) == policy(run_timeout=1),
        ]

    t = same(run_both(scenario))
    assert t[5] == ("raises", "ValueError", "run_timeout must be greater than 0")


async def test_idle_timeout_and_refresh_on(saver_factory):
    """An async task sleeping without progress past ``idle_timeout`` fails with
    ``NodeTimeoutError(kind="idle")``; under ``refresh_on="auto"`` its ``custom`` writes are
    progress; under ``"heartbeat"`` only ``runtime.heartbeat()`` is."""

    async def scenario(api, saver):
        policy = timeout_policy(api)

        def make(refresh_on: str, progress: str):
            @api.task(name=f"{refresh_on}_{progress}",
                      timeout=policy(idle_timeout=0.15, refresh_on=refresh_on))
            async def work(steps: int, runtime) -> str:
                for i in range(steps):
                    await asyncio.sleep(0.06)
                    if progress == "writes":
                        runtime.stream_writer({"step": i})
                    elif progress == "heartbeat":
                        runtime.heartbeat()
                return "done"

            return work

        tasks = {(r, p): make(r, p) for r in ("auto", "heartbeat")
                 for p in ("none", "writes", "heartbeat")}

        @api.entrypoint(checkpointer=saver)
        async def wf(steps: int) -> dict:
            out = {}
            for (refresh_on, progress), work in tasks.items():
                try:
                    out[f"{refresh_on}/{progress}"] = await work(steps)
                except Exception as exc:  # noqa: BLE001 - the transcript records it
                    out[f"{refresh_on}/{progress}"] = describe(exc)
            return out

        return await wf.ainvoke(5, cfg("t"))

    t = same(await arun_both(scenario, saver_factory))
    assert t["auto/writes"] == t["auto/heartbeat"] == t["heartbeat/heartbeat"] == "done"
    assert t["auto/none"] == ["NodeTimeoutError", "auto_none", "idle", 0.15, None, 0.15]
    assert t["heartbeat/writes"][2] == "idle"


async def test_run_timeout_is_not_refreshed(saver_factory):
    async def scenario(api, saver):
        policy = timeout_policy(api)

        @api.task(timeout=policy(run_timeout=timedelta(milliseconds=150), idle_timeout=1))
        async def beating(runtime) -> str:
            for _ in range(10):
                await asyncio.sleep(0.03)
                runtime.heartbeat()
            return "done"

        @api.entrypoint(checkpointer=saver)
        async def wf(x: int):
            try:
                return await beating()
            except Exception as exc:  # noqa: BLE001
                return describe(exc)

        return await wf.ainvoke(1, cfg("t"))

    assert same(await arun_both(scenario, saver_factory)) == [
        "NodeTimeoutError", "beating", "run", 0.15, 0.15, 1.0
    ]


async def test_timeout_error_is_handed_to_the_retry_policy(saver_factory):
    """``retry_on=NodeTimeoutError``: the timed-out attempt is retried; other errors are not."""

    async def scenario(api, saver):
        errors = workflows if api is FLOWSITE else __import__("langgraph.errors", fromlist=["x"])
        attempts = []

        @api.task(timeout=0.05, retry_policy=api.RetryPolicy(
            initial_interval=0, jitter=False, max_attempts=3, retry_on=errors.NodeTimeoutError))
        async def slow(x: int) -> int:
            attempts.append(x)
            await asyncio.sleep(5 if len(attempts) < 3 else 0)
            return len(attempts)

        @api.entrypoint(checkpointer=saver)
        async def wf(x: int) -> int:
            return await slow(x)

        return [await wf.ainvoke(1, cfg("t")), attempts]

    assert same(await arun_both(scenario, saver_factory)) == [3, [1, 1, 1]]


async def test_entrypoint_timeout(saver_factory):
    """``@entrypoint(timeout=)`` bounds each attempt of an async body: the run fails with
    ``NodeTimeoutError`` recorded on the entrypoint's task, and ``invoke(None)`` retries it."""

    async def scenario(api, saver):
        bodies = []

        @api.entrypoint(checkpointer=saver, timeout=0.1)
        async def wf(x: int) -> int:
            bodies.append(x)
            if len(bodies) == 1:
                await asyncio.sleep(5)
            return x

        c = cfg("t")
        try:
            first = await wf.ainvoke(1, c)
        except Exception as exc:  # noqa: BLE001
            first = describe(exc)
        state = await wf.aget_state(c)
        error = state.tasks[0].error
        return [first, state.next, error[:60] if error else error, await wf.ainvoke(None, c),
                bodies]

    t = same(await arun_both(scenario, saver_factory))
    assert t[0] == ["NodeTimeoutError", "wf", "run", 0.1, 0.1, None]
    assert t[3:] == [1, [1, 1]]


def test_entrypoint_timeout_on_a_sync_function():
    def scenario(api):
        def wf(x):
            return x

        return [attempt(lambda: api.entrypoint(timeout=1)(wf)),
                attempt(lambda: api.entrypoint(timeout=timeout_policy(api)(idle_timeout=1))(wf)),
                attempt(lambda: api.entrypoint(timeout=0)(wf))]

    t = same(run_both(scenario))
    assert t[0] == ("raises", "ValueError",
                    "Node timeouts are only supported for async nodes because sync Python "
                    "execution cannot be safely cancelled in-process. Node 'wf' is sync.")
    assert t[2] == ("raises", "ValueError", "run_timeout must be greater than 0")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_entrypoint_retry_policy(saver_factory, is_async):
    """``@entrypoint(retry_policy=)`` retries the body, as LangGraph: the retried body calls its
    tasks again under new call positions (new task ids), so they execute again; the stream
    shows the entrypoint's task once."""

    async def scenario(api, saver):
        calls = []
        policy = api.RetryPolicy(initial_interval=0, jitter=False, max_attempts=3)

        @api.task
        def step(x: int) -> int:
            calls.append(("step", x))
            return x + 1

        def check(x: int, y: int) -> int:
            if calls.count(("body", x)) < 2:
                raise ConnectionError("flaky")
            return y

        if is_async:
            async def wf(x: int) -> int:
                calls.append(("body", x))
                return check(x, await step(x))
        else:
            def wf(x: int) -> int:
                calls.append(("body", x))
                return check(x, step(x).result())

        graph = api.entrypoint(checkpointer=saver, retry_policy=policy)(wf)
        c = cfg("t")
        modes = ["updates", "tasks"]
        chunks = [ch async for ch in graph.astream(1, c, stream_mode=modes)]
        state = await graph.aget_state(c)
        failing = api.entrypoint(checkpointer=saver, retry_policy=policy)(wf)

        def always(x):
            raise ValueError("not retried by the default policy")

        try:
            await api.entrypoint(checkpointer=saver, retry_policy=policy)(always).ainvoke(
                1, cfg("u"))
        except ValueError as exc:
            not_retried = str(exc)
        return [chunks, calls, state.values, not_retried, [p.max_attempts for p in failing.retry_policy]]

    t = same(await arun_both(scenario, saver_factory))
    assert t[1] == [("body", 1), ("step", 1), ("body", 1), ("step", 1)]
    assert t[2] == 2


async def test_heartbeat_and_control_on_the_runtime(saver_factory):
    """``runtime.heartbeat()`` is a no-op outside an idle-timed attempt; ``runtime.control`` is
    the run's ``RunControl`` (a fresh one when none is passed)."""

    async def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        async def wf(x: int, runtime) -> list:
            runtime.heartbeat()
            return [type(runtime.control).__name__, runtime.control.drain_requested]

        return await wf.ainvoke(1, cfg("t"))

    assert same(await arun_both(scenario, saver_factory)) == ["RunControl", False]


def test_names_exported():
    assert all(hasattr(workflows, n) for n in ("TimeoutPolicy", "NodeTimeoutError", "Runtime"))
    assert APIS


@pytest.mark.parametrize("refresh_on", ["auto", "heartbeat"])
async def test_chat_model_tokens_refresh_an_idle_timeout(saver_factory, refresh_on):
    """Under ``refresh_on="auto"`` a LangChain callback event inside the attempt (here each
    token of a slowly streaming chat model) is progress, as LangGraph's idle-progress handler
    makes it; under ``"heartbeat"`` it is not, and the idle timeout fires."""
    pytest.importorskip("langchain_core")
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    async def scenario(api, saver):
        policy = timeout_policy(api)
        model = FakeListChatModel(responses=["abcdefgh"], sleep=0.05)

        @api.task(timeout=policy(idle_timeout=0.2, refresh_on=refresh_on))
        async def ask(question: str) -> str:
            chunks = [chunk.content async for chunk in model.astream(question)]
            return "".join(chunks)

        @api.entrypoint(checkpointer=saver)
        async def wf(question: str):
            try:
                return await ask(question)
            except Exception as exc:  # noqa: BLE001
                return describe(exc)

        return await wf.ainvoke("q", cfg("t"))

    t = same(await arun_both(scenario, saver_factory))
    if refresh_on == "auto":
        assert t == "abcdefgh"
    else:
        assert t == ["NodeTimeoutError", "ask", "idle", 0.2, None, 0.2]
