"""Tasks: futures, parallelism, un-awaited and nested tasks, errors, resuming after an error,
retry policies (reference §1.6, §1.7). An entrypoint called from a task: test_subgraphs.py."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

from .lg import API_IDS, APIS, LANGGRAPH, N, arun_both, attempt, cfg, collect, run_both, same

N_ERR = N("ValueError", (("args", ("boom in b",)),))  # how a raised error normalizes


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_task_call_returns_a_future_that_does_not_block(api, saver_factory):
    release = threading.Event()
    observed = {}

    @api.task
    def slow(x: int) -> int:
        assert release.wait(5)
        return x

    @api.entrypoint(checkpointer=saver_factory(api))
    def wf(x: int) -> int:
        fut = slow(x)
        observed["future"] = isinstance(fut, concurrent.futures.Future)
        observed["done_before_release"] = fut.done()
        release.set()
        return fut.result()

    assert wf.invoke(4, cfg("t")) == 4
    assert observed == {"future": True, "done_before_release": False}


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_parallel_tasks_overlap(api, saver_factory):
    """4 tasks run at the same time: each waits until all 4 have started (a barrier), which
    only completes if they run concurrently in a thread pool."""
    barrier = threading.Barrier(4, timeout=5)
    spans: dict = {}

    @api.task
    def work(i: int) -> int:
        barrier.wait()  # BrokenBarrierError after 5 s if the tasks ran one after another
        spans[i] = threading.get_ident()
        return i * i

    @api.entrypoint(checkpointer=saver_factory(api))
    def wf(n: int) -> list:
        futures = [work(i) for i in range(n)]
        return [f.result() for f in futures]

    assert wf.invoke(4, cfg("t")) == [0, 1, 4, 9]
    assert len(set(spans.values())) == 4  # four distinct worker threads


def test_parallel_task_updates_and_results(saver_factory):
    def scenario(api, saver):
        @api.task
        def square(i: int) -> int:
            return i * i

        @api.entrypoint(checkpointer=saver)
        def wf(n: int) -> list:
            futures = [square(i) for i in range(n)]
            return [f.result() for f in futures]

        chunks = list(wf.stream(3, cfg("t")))
        return [sorted(chunks[:-1], key=lambda c: c["square"]), chunks[-1]]

    t = same(run_both(scenario, saver_factory))
    assert t == [[{"square": 0}, {"square": 1}, {"square": 4}], {"wf": [0, 1, 4]}]


def stream_releasing(wf, input, config, release: threading.Event) -> list:
    """``list(wf.stream(...))``, setting ``release`` once the entrypoint's update was received
    (tasks the body did not wait for block on it, so the order does not depend on timing)."""
    chunks = []
    for chunk in wf.stream(input, config):
        chunks.append(chunk)
        if "wf" in chunk:
            release.set()
    return chunks


def test_unawaited_task_still_runs(saver_factory):
    def scenario(api, saver):
        release = threading.Event()

        @api.task
        def bg(x: int) -> int:
            assert release.wait(5)  # runs on after the body returned
            return 1

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> str:
            bg(x)
            return "returned-early"

        return stream_releasing(wf, 1, cfg("t"), release)

    t = same(run_both(scenario, saver_factory))
    assert t == [{"wf": "returned-early"}, {"bg": 1}]


async def test_unawaited_async_task_still_runs(saver_factory):
    async def scenario(api, saver):
        @api.task
        async def bg(x: int) -> int:
            return 1

        @api.entrypoint(checkpointer=saver)
        async def wf(x: int) -> str:
            bg(x)
            return "returned-early"

        return sorted(map(str, await collect(wf.astream(1, cfg("t")))))

    t = same(await arun_both(scenario, saver_factory))
    assert t == sorted(["{'wf': 'returned-early'}", "{'bg': 1}"])


def test_nested_tasks(saver_factory):
    def scenario(api, saver):
        @api.task
        def inner(x: int) -> int:
            return x * 10

        @api.task
        def outer(x: int) -> int:
            return inner(x).result() + 1

        @api.entrypoint(checkpointer=saver)
        def nested(x: int) -> int:
            return outer(x).result()

        return list(nested.stream(1, cfg("t")))

    assert same(run_both(scenario, saver_factory)) == [{"inner": 10}, {"outer": 11}, {"nested": 11}]


async def test_async_gather_and_sync_task_in_async_entrypoint(saver_factory):
    async def scenario(api, saver):
        import asyncio

        @api.task
        async def aget(i: int) -> int:
            await asyncio.sleep(0)
            return i

        @api.task
        def sget(i: int) -> int:
            return -i

        @api.entrypoint(checkpointer=saver)
        async def wf(n: int) -> list:
            values = await asyncio.gather(*[aget(i) for i in range(n)])
            return [*values, await sget(n)]  # a sync task is awaitable in async code

        return await wf.ainvoke(3, cfg("t"))

    assert same(await arun_both(scenario, saver_factory)) == [0, 1, 2, -3]


def test_named_task(saver_factory):
    def scenario(api, saver):
        @api.task(name="renamed")
        def original(x: int) -> int:
            return x

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            return original(x).result()

        return list(wf.stream(5, cfg("t")))

    assert same(run_both(scenario, saver_factory)) == [{"renamed": 5}, {"wf": 5}]


def test_exception_in_task_caught_by_entrypoint(saver_factory):
    def scenario(api, saver):
        @api.task
        def fails(x: int) -> int:
            raise ValueError(f"bad {x}")

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> str:
            try:
                fails(x).result()
            except ValueError as exc:
                return f"caught {exc}"
            return "not caught"

        return list(wf.stream(1, cfg("t")))

    # the failed task emits no update; the run continues and completes
    assert same(run_both(scenario, saver_factory)) == [{"wf": "caught bad 1"}]


def build_steps(api, saver, calls: dict, fail_b: list):
    """Reference §1.6: ``step_a`` and ``step_c`` succeed, then ``step_b`` raises."""

    @api.task
    def step_a(x: int) -> int:
        calls["a"] += 1
        return x + 1

    @api.task
    def step_b(x: int) -> int:
        calls["b"] += 1
        if fail_b:
            raise fail_b.pop()
        return x * 10

    @api.task
    def step_c(x: int) -> int:
        calls["c"] += 1
        return x - 1

    @api.entrypoint(checkpointer=saver)
    def wf(x: int) -> dict:
        a = step_a(x).result()
        c = step_c(x).result()
        b = step_b(a).result()
        return {"a": a, "b": b, "c": c}

    return wf


def test_resume_after_error_replays_finished_tasks(saver_factory):
    def scenario(api, saver):
        calls = {"a": 0, "b": 0, "c": 0}
        wf = build_steps(api, saver, calls, [ValueError("boom in b")])
        c = cfg("t")
        chunks: list = []
        try:
            for chunk in wf.stream(1, c, stream_mode=["updates", "tasks"]):
                chunks.append(chunk)
        except ValueError as exc:
            chunks.append(("raised", repr(exc)))
        state = wf.get_state(c)
        history = len(list(wf.get_state_history(c)))
        resumed = list(wf.stream(None, c))
        return {
            "chunks": chunks,
            "error": state.tasks[0].error,
            "next": state.next,
            "checkpoints_after_error": history,
            "resumed": resumed,
            "calls": dict(calls),
            "final": wf.get_state(c).values,
        }

    t = same(run_both(scenario, saver_factory))
    assert t["chunks"][-1] == ("raised", "ValueError('boom in b')")
    failed = [ch for mode, ch in t["chunks"][:-1] if mode == "tasks" and ch.get("error")]
    assert [(f["name"], f["error"]) for f in failed] == [
        ("step_b", N_ERR), ("wf", N_ERR)
    ]
    assert t["error"] == "ValueError('boom in b')"
    assert t["next"] == ("wf",)
    assert t["checkpoints_after_error"] == 1  # an error writes no new checkpoint
    # a and c are served from their stored results (no update), b runs again
    assert t["resumed"] == [{"step_b": 20}, {"wf": {"a": 2, "b": 20, "c": 0}}]
    assert t["calls"] == {"a": 1, "b": 2, "c": 1}
    assert t["final"] == {"a": 2, "b": 20, "c": 0}


def test_resume_after_error_in_body(saver_factory):
    def scenario(api, saver):
        calls = {"n": 0}
        failures = [RuntimeError("body failed")]

        @api.task
        def work(x: int) -> int:
            calls["n"] += 1
            return x + 1

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            y = work(x).result()
            if failures:
                raise failures.pop()
            return y

        c = cfg("t")
        return [attempt(lambda: wf.invoke(1, c)), wf.invoke(None, c), calls["n"]]

    t = same(run_both(scenario, saver_factory))
    assert t == [("raises", "RuntimeError", "body failed"), 2, 1]


def test_replay_matches_by_call_order_and_name_not_arguments(saver_factory):
    """Reference §1.6: with a changed argument, the stale stored result is returned."""

    def scenario(api, saver):
        executed = []
        arg = ["A"]

        @api.task
        def echo(x: str) -> list:
            executed.append(x)
            return (0, x)

        @api.entrypoint(checkpointer=saver)
        def wf(_: int) -> list:
            first = echo(arg[0]).result()
            return [first, api.interrupt("go?")]

        c = cfg("t")
        wf.invoke(1, c)
        arg[0] = "B"
        return [wf.invoke(api.Command(resume="go"), c), executed]

    t = same(run_both(scenario, saver_factory))
    assert t == [[[0, "A"], "go"], ["A"]]  # tuple comes back as a list; executed once


def test_tuple_result_is_a_tuple_in_the_first_run(saver_factory):
    def scenario(api, saver):
        @api.task
        def pair(x: int) -> tuple:
            return (x, x)

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> tuple:
            return pair(x).result()

        return wf.invoke(1, cfg("t"))

    assert same(run_both(scenario, saver_factory)) == (1, 1)


# -- retry policies -----------------------------------------------------------------------------

def test_retry_policy_defaults():
    def scenario(api):
        p = api.RetryPolicy()
        return [p.initial_interval, p.backoff_factor, p.max_interval, p.max_attempts, p.jitter,
                p.retry_on.__name__]

    t = same(run_both(scenario))
    assert t == [0.5, 2.0, 128.0, 3, True, "default_retry_on"]


@pytest.mark.parametrize(
    "exc",
    [ValueError("v"), TypeError("t"), ZeroDivisionError("z"), KeyError("k"), IndexError("i"),
     RuntimeError("r"), NameError("n"), ImportError("i"), OSError("o"), FileNotFoundError("f"),
     ConnectionError("c"), ConnectionResetError("c"), TimeoutError("t"), Exception("e")],
    ids=lambda e: type(e).__name__,
)
def test_default_retry_on(exc):
    from langgraph.types import default_retry_on as lg_default

    from workflows.runtime.types import default_retry_on as fs_default

    assert fs_default(exc) == lg_default(exc)


def retry_scenario(exc_factory, policy_kwargs: dict, fail_times: int):
    def scenario(api, saver):
        attempts = {"n": 0}

        @api.task(retry_policy=api.RetryPolicy(initial_interval=0, jitter=False, **policy_kwargs))
        def flaky(x: int) -> str:
            attempts["n"] += 1
            if attempts["n"] <= fail_times:
                raise exc_factory(attempts["n"])
            return f"ok after {attempts['n']}"

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> str:
            return flaky(x).result()

        return [attempt(lambda: wf.invoke(1, cfg("t"))), attempts["n"]]

    return scenario


@pytest.mark.parametrize(
    ("exc_factory", "kwargs", "fail_times", "expected"),
    [
        # ValueError is not retried by default: 1 attempt
        (lambda n: ValueError(f"v{n}"), {}, 5, [("raises", "ValueError", "v1"), 1]),
        # ConnectionError is: 3 attempts, then the last exception is re-raised
        (lambda n: ConnectionError(f"c{n}"), {}, 5, [("raises", "ConnectionError", "c3"), 3]),
        (lambda n: ConnectionError(f"c{n}"), {}, 2, ["ok after 3", 3]),
        # retry_on=ValueError: succeeded on the 3rd attempt
        (lambda n: ValueError(f"v{n}"), {"retry_on": ValueError}, 2, ["ok after 3", 3]),
        (lambda n: KeyError(n), {"retry_on": (KeyError, ValueError)}, 1, ["ok after 2", 2]),
        (lambda n: KeyError(n), {"retry_on": lambda e: False}, 1, [("raises", "KeyError", "1"), 1]),
        (lambda n: ConnectionError(f"c{n}"), {"max_attempts": 5}, 4, ["ok after 5", 5]),
        (lambda n: ConnectionError(f"c{n}"), {"max_attempts": 1}, 1,
         [("raises", "ConnectionError", "c1"), 1]),
    ],
    ids=["value-not-retried", "connection-exhausted", "connection-recovers", "retry_on-class",
         "retry_on-tuple", "retry_on-predicate", "max_attempts-5", "max_attempts-1"],
)
def test_retry(saver_factory, exc_factory, kwargs, fail_times, expected):
    t = same(run_both(retry_scenario(exc_factory, kwargs, fail_times), saver_factory))
    assert t == expected


async def test_retry_async_task(saver_factory):
    async def scenario(api, saver):
        attempts = {"n": 0}

        policy = api.RetryPolicy(initial_interval=0, jitter=False, retry_on=ValueError)

        @api.task(retry_policy=policy)
        async def flaky(x: int) -> int:
            attempts["n"] += 1
            if attempts["n"] < 3:
                raise ValueError("again")
            return attempts["n"]

        @api.entrypoint(checkpointer=saver)
        async def wf(x: int) -> int:
            return await flaky(x)

        return await wf.ainvoke(1, cfg("t"))

    assert same(await arun_both(scenario, saver_factory)) == 3


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_unawaited_task_that_interrupts(api, saver_factory):
    """Deliberate difference: when a task the body never waited for interrupts, LangGraph
    1.2.24 streams no interrupt, returns the body's value and leaves the thread on its input
    checkpoint with ``next == ()`` (neither finished nor waiting). Flowsite pauses the run on that
    interrupt so it can be answered. Resuming gives the body's value in both."""
    release = threading.Event()

    @api.task
    def bg(x: int) -> str:
        assert release.wait(5)  # the body has returned by now
        return api.interrupt("bg question")

    @api.entrypoint(checkpointer=saver_factory(api))
    def wf(x: int) -> str:
        bg(x)
        return "early"

    c = cfg("t")
    chunks = stream_releasing(wf, 1, c, release)
    state = wf.get_state(c)
    assert chunks[0] == {"wf": "early"}  # the body's update comes first in both
    if api is LANGGRAPH:
        assert chunks == [{"wf": "early"}]
        assert (state.next, state.interrupts) == ((), ())
    else:
        assert [i.value for i in chunks[1]["__interrupt__"]] == ["bg question"]
        assert state.next == ("wf",) and [i.value for i in state.interrupts] == ["bg question"]
    assert wf.invoke(api.Command(resume="answer"), c) == "early"


# -- timeouts and deprecated options -------------------------------------------------------------

async def test_async_task_timeout(saver_factory):
    async def scenario(api, saver):
        import asyncio

        attempts = []

        @api.task(timeout=0.05)
        async def slow(x: int) -> int:
            attempts.append(x)
            await asyncio.sleep(5)
            return x

        @api.task(timeout=5)
        async def quick(x: int) -> int:
            return x

        @api.entrypoint(checkpointer=saver)
        async def wf(x: int) -> list:
            try:
                await slow(x)
            except Exception as exc:  # noqa: BLE001
                return [type(exc).__name__, exc.node, exc.timeout, await quick(x), attempts]
            return ["no timeout"]

        return await wf.ainvoke(1, cfg("t"))

    t = same(await arun_both(scenario, saver_factory))
    assert t == ["NodeTimeoutError", "slow", 0.05, 1, [1]]


async def test_async_task_timeout_is_retried(saver_factory):
    async def scenario(api, saver):
        import asyncio

        attempts = []

        @api.task(timeout=0.05, retry_policy=api.RetryPolicy(initial_interval=0, jitter=False))
        async def slow_then_fast(x: int) -> int:
            attempts.append(x)
            if len(attempts) < 2:
                await asyncio.sleep(5)
            return len(attempts)

        @api.entrypoint(checkpointer=saver)
        async def wf(x: int) -> int:
            return await slow_then_fast(x)

        return await wf.ainvoke(1, cfg("t"))

    assert same(await arun_both(scenario, saver_factory)) == 2


def test_timeout_on_a_sync_task():
    def scenario(api):
        def f(x):
            return x

        return [attempt(lambda: api.task(timeout=1)(f)), attempt(lambda: api.task(f, timeout=1))]

    message = (
        "Node timeouts are only supported for async nodes because sync Python execution cannot "
        "be safely cancelled in-process. Task 'f' is sync."
    )
    assert same(run_both(scenario)) == [("raises", "ValueError", message)] * 2


def test_deprecated_retry_keyword(saver_factory):
    def scenario(api, saver):
        import warnings

        calls = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")

            @api.task(retry=api.RetryPolicy(initial_interval=0, jitter=False, retry_on=ValueError))
            def flaky(x: int) -> str:
                calls.append(x)
                if len(calls) < 3:
                    raise ValueError("again")
                return "ok"

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> str:
            return flaky(x).result()

        deprecated = [w for w in caught if "`retry` is deprecated" in str(w.message)]
        return [wf.invoke(1, cfg("t")), len(calls), len(deprecated)]

    assert same(run_both(scenario, saver_factory)) == ["ok", 3, 1]
