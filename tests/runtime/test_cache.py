"""Caching of task and entrypoint results: ``CachePolicy(key_func=, ttl=)``,
``task(cache_policy=)``, ``entrypoint(cache=, cache_policy=)``, ``clear_cache``, as LangGraph's
functional API (``langgraph.types.CachePolicy``, ``langgraph.cache.memory.InMemoryCache``).

Each scenario runs on LangGraph (with its ``InMemoryCache``) and on Flowsite with its
``InMemoryCache`` and with ``DjangoCache`` (Django's cache framework), in memory and on
``DjangoSaver``.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest

from .lg import LANGGRAPH, aattempt, arun_both, attempt, cfg, run_both, same


def _flowsite_caches(config: pytest.Config) -> list:
    caches = [pytest.param("memory", id="cache-memory")]
    if config.pluginmanager.hasplugin("django"):
        caches.append(pytest.param("django", id="cache-django"))
    return caches


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cache_factory" in metafunc.fixturenames:
        metafunc.parametrize("cache_factory", _flowsite_caches(metafunc.config), indirect=True)


@pytest.fixture
def cache_factory(request: pytest.FixtureRequest):
    """``make(api) -> cache``: LangGraph's ``InMemoryCache``; Flowsite's ``InMemoryCache`` or a
    ``DjangoCache`` on the default Django cache with a prefix of its own (a fresh cache)."""

    def make(api):
        if api is LANGGRAPH or request.param == "memory":
            return api.InMemoryCache()
        from workflows.cache import DjangoCache

        return DjangoCache(prefix=f"test-{uuid.uuid4().hex}")

    return make


def _writes(saver, config: dict) -> list:
    """``(task id, channel, value)`` of LangGraph's channels among the pending writes of the
    thread's oldest checkpoint (Flowsite's ``__call__`` records left out)."""
    oldest = list(saver.list(config))[-1]
    return sorted(
        ((t, c, v) for t, c, v in oldest.pending_writes or () if c != "__call__"),
        key=lambda w: (w[1], str(w[2])),
    )


def test_cached_task_is_not_executed_again(saver_factory, cache_factory):
    def scenario(api, saver, cache):
        calls: Counter = Counter()

        @api.task(cache_policy=api.CachePolicy())
        def expensive(x: int) -> int:
            calls["expensive"] += 1
            return x * 100

        @api.task
        def plain(x: int) -> int:
            calls["plain"] += 1
            return x + 1

        @api.entrypoint(checkpointer=saver, cache=cache)
        def wf(x: int) -> list:
            calls["wf"] += 1
            return [expensive(x).result(), plain(x).result()]

        modes = ["updates", "tasks"]
        first = list(wf.stream(1, cfg("a"), stream_mode=modes))
        second = list(wf.stream(1, cfg("b"), stream_mode=modes))
        other = wf.invoke(2, cfg("c"))
        return [first, second, other, dict(calls), _writes(saver, cfg("b"))]

    t = same(run_both(lambda api, saver: scenario(api, saver, cache_factory(api)), saver_factory))
    hit = {"expensive": 100, "__metadata__": {"cached": True}}
    updates = [chunk for mode, chunk in t[0] if mode == "updates"]
    assert updates == [{"expensive": 100}, {"plain": 2}, {"wf": [100, 2]}]
    assert [chunk for mode, chunk in t[1] if mode == "updates"] == [
        hit, {"plain": 2}, {"wf": [100, 2]}
    ]
    # a hit streams its task's start, not its result
    results = [c["name"] for mode, c in t[1] if mode == "tasks" and "result" in c]
    assert results == ["plain", "wf"]
    assert t[2] == [200, 3]
    assert t[3] == {"wf": 3, "expensive": 2, "plain": 3}
    # a hit is stored as the task's pending write, as an executed task's result is
    assert [(c, v) for _t, c, v in t[4]] == [
        ("__end__", [100, 2]), ("__previous__", [100, 2]), ("__return__", 100), ("__return__", 2),
    ]


def test_cache_entry_is_written_before_the_task_result_is_returned(saver_factory, cache_factory):
    """A second call with the same key in the same run is a hit on Flowsite. LangGraph hands
    ``cache.set`` to its background executor (``SyncPregelLoop.put_writes`` → ``self.submit``),
    so there the same call is a hit or a miss by timing: this one is not differential."""
    from .lg import FLOWSITE

    calls: Counter = Counter()

    @FLOWSITE.task(cache_policy=FLOWSITE.CachePolicy())
    def expensive(x: int) -> int:
        calls["expensive"] += 1
        return x * 100

    @FLOWSITE.entrypoint(checkpointer=saver_factory(FLOWSITE), cache=cache_factory(FLOWSITE))
    def wf(x: int) -> list:
        return [expensive(x).result(), expensive(x).result()]

    updates = list(wf.stream(1, cfg("a"), stream_mode="updates"))
    assert updates == [
        {"expensive": 100}, {"expensive": 100, "__metadata__": {"cached": True}}, {"wf": [100, 100]}
    ]
    assert calls["expensive"] == 1


def test_entrypoint_cache_policy_key_func_and_ttl(saver_factory, cache_factory):
    def scenario(api, saver, cache):
        calls: Counter = Counter()

        def key(x) -> str:  # the entrypoint's input, or a task's argument
            return str(x["k"] if isinstance(x, dict) else x)

        @api.task
        def plain(x: int) -> int:
            calls["plain"] += 1
            return x + 1

        @api.entrypoint(checkpointer=saver, cache=cache,
                        cache_policy=api.CachePolicy(key_func=key, ttl=2))
        def wf(x: dict) -> int:
            calls["wf"] += 1
            return plain(x["k"]).result()

        modes = ["updates", "tasks", "values"]
        out = [list(wf.stream({"k": 1, "z": 1}, cfg("a"), stream_mode=modes)),
               list(wf.stream({"k": 1, "z": 2}, cfg("b"), stream_mode=modes)),
               wf.get_state(cfg("b")).values, dict(calls), _writes(saver, cfg("b"))]
        time.sleep(2.2)  # both entries (set during thread a's run) expire
        out += [list(wf.stream({"k": 1}, cfg("c"), stream_mode=modes)), dict(calls)]
        return out

    t = same(run_both(lambda api, saver: scenario(api, saver, cache_factory(api)), saver_factory))
    assert [c for m, c in t[1] if m == "updates"] == [{"wf": 2, "__metadata__": {"cached": True}}]
    assert t[2:4] == [2, {"wf": 1, "plain": 1}]
    assert [(c, v) for _t, c, v in t[4]] == [("__end__", 2), ("__previous__", 2)]
    assert t[6] == {"wf": 2, "plain": 2}


def test_resume_replays_a_cached_task_and_errors_and_interrupts_are_not_cached(
    saver_factory, cache_factory
):
    def scenario(api, saver, cache):
        calls: Counter = Counter()

        @api.task(cache_policy=api.CachePolicy())
        def expensive(x: int) -> int:
            calls["expensive"] += 1
            return x * 100

        @api.task(cache_policy=api.CachePolicy())
        def bad(x: int) -> int:
            calls["bad"] += 1
            raise ValueError("bad")

        @api.task(cache_policy=api.CachePolicy())
        def asker(x: int) -> str:
            calls["asker"] += 1
            return api.interrupt(f"q{x}")

        @api.entrypoint(checkpointer=saver, cache=cache)
        def wf(x: int) -> list:
            for _ in range(2):
                try:
                    bad(x).result()
                except ValueError:
                    pass
            return [expensive(x).result(), asker(x).result()]

        out = []
        for thread in ("a", "b"):
            out.append(list(wf.stream(1, cfg(thread))))
            out.append(list(wf.stream(api.Command(resume="R"), cfg(thread))))
        out.append(wf.invoke(1, cfg("c")))
        out.append(dict(calls))
        return out

    t = same(run_both(lambda api, saver: scenario(api, saver, cache_factory(api)), saver_factory))
    # thread b: expensive is a hit, and so is asker: its result after the resume was cached
    assert t[2] == [{"expensive": 100, "__metadata__": {"cached": True}},
                    {"asker": "R", "__metadata__": {"cached": True}}, {"wf": [100, "R"]}]
    assert t[4] == [100, "R"]
    # errors are never cached (and errored tasks re-run on resume); asker ran twice on thread a
    assert t[5] == {"bad": 8, "expensive": 1, "asker": 2}


async def test_async_tasks_use_the_cache(saver_factory, cache_factory):
    async def scenario(api, saver):
        cache = cache_factory(api)
        calls: Counter = Counter()

        @api.task(cache_policy=api.CachePolicy())
        async def aexp(x: int) -> int:
            calls["aexp"] += 1
            return x

        @api.entrypoint(checkpointer=saver, cache=cache)
        async def awf(x: int) -> list:
            return [await aexp(x), await aexp(x)]

        first = await awf.ainvoke(1, cfg("d"))
        await aexp.aclear_cache(cache)
        return [first, await awf.ainvoke(1, cfg("e")), dict(calls)]

    assert same(await arun_both(scenario, saver_factory)) == [[1, 1], [1, 1], {"aexp": 2}]


def test_clear_cache(saver_factory, cache_factory):
    def scenario(api, saver, cache):
        calls: Counter = Counter()

        @api.task(cache_policy=api.CachePolicy())
        def expensive(x: int) -> int:
            calls["expensive"] += 1
            return x

        @api.entrypoint(checkpointer=saver, cache=cache, cache_policy=api.CachePolicy())
        def wf(x: int) -> int:
            calls["wf"] += 1
            return expensive(x).result()

        @api.entrypoint(checkpointer=saver)
        def uncached(x: int) -> int:
            return expensive(x).result()

        out = [wf.invoke(1, cfg("a")), wf.invoke(1, cfg("b")), dict(calls)]
        out.append(expensive.clear_cache(cache))  # the task's entries only
        out += [wf.invoke(1, cfg("c")), dict(calls)]
        out.append(wf.clear_cache())  # the entrypoint's entries only
        out += [wf.invoke(1, cfg("d")), dict(calls)]
        wf.clear_cache(["nope"])  # unknown names are skipped
        out.append(attempt(uncached.clear_cache))
        out.append(attempt(expensive.clear_cache))
        # without cache= on the entrypoint, a policy has no effect
        out += [uncached.invoke(1, cfg("e")), uncached.invoke(1, cfg("f")), dict(calls)]
        return out

    t = same(run_both(lambda api, saver: scenario(api, saver, cache_factory(api)), saver_factory))
    assert t[2] == {"wf": 1, "expensive": 1}
    assert t[5] == {"wf": 1, "expensive": 1}  # the entrypoint's entry still answers
    assert t[8] == {"wf": 2, "expensive": 2}  # the body ran, and the task: its entry was cleared
    assert t[9] == ("raises", "ValueError", "No cache is set for this graph. Cannot clear cache.")
    assert t[10][:2] == ("raises", "TypeError")
    assert t[13] == {"wf": 2, "expensive": 4}


def test_in_memory_cache_api(cache_factory):
    def scenario(api):
        cache = cache_factory(api)
        a, b = ("ns", "a"), ("ns", "b")
        out = [cache.get([]), cache.get([(a, "k")])]
        cache.set({(a, "k"): ({"v": [1, 2]}, None), (b, "k"): ("short", 2), (a, "j"): (3, None)})
        out.append(cache.get([(a, "k"), (b, "k"), (a, "missing")]))
        cache.clear([a])
        out.append(cache.get([(a, "k"), (a, "j"), (b, "k")]))
        time.sleep(2.1)  # "short" expires
        out.append(cache.get([(b, "k")]))
        cache.set({(a, "k"): (1, None)})
        cache.clear()
        out.append(cache.get([(a, "k")]))
        policy = api.CachePolicy()
        key = policy.key_func
        out.append([policy.ttl, key({"a": 1, "b": 2}) == key({"b": 2, "a": 1})])
        out.append(attempt(lambda: api.CachePolicy(None, 3)))
        return out

    t = same(run_both(scenario))
    assert t[2] == {(("ns", "a"), "k"): {"v": [1, 2]}, (("ns", "b"), "k"): "short"}
    assert t[3] == {(("ns", "b"), "k"): "short"}
    assert t[4:6] == [{}, {}]


@pytest.mark.asyncio
async def test_in_memory_cache_async_api(cache_factory):
    async def scenario(api):
        cache = cache_factory(api)
        ns = ("x",)
        await cache.aset({(ns, "k"): (1, None)})
        out = [await cache.aget([(ns, "k")])]
        await cache.aclear([ns])
        out.append(await cache.aget([(ns, "k")]))
        out.append(await aattempt(lambda: cache.aclear(None)))
        return out

    assert same(await arun_both(scenario)) == [{(("x",), "k"): 1}, {}, None]
