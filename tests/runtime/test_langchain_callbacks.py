"""``config["callbacks"]`` inside entrypoints and tasks (issue 7, item 7), differential against
LangGraph: a ``BaseTracer`` sees the root run, the entrypoint and each task attempt as chain
runs nested as on LangGraph, with the chat models and tools called inside under them."""

from __future__ import annotations

import pytest

from .chat import Recorder, async_program, broken, chat_model, shout, subgraph_program, sync_program
from .lg import arun_both, attempt, cfg, collect, run_both, same


def traced(program, resume: bool = True):
    def scenario(api, saver):
        wf = program(api, saver)
        recorder = Recorder()
        config = {**cfg("t"), "callbacks": [recorder], "tags": ["mine"],
                  "metadata": {"user": "u1"}}
        list(wf.stream("q", config))
        first = recorder.events[:]
        recorder.events.clear()
        if resume:
            list(wf.stream(api.Command(resume=True), config))
        return [first, recorder.events]

    return scenario


def test_tracer_sees_entrypoint_tasks_and_models(saver_factory):
    first, resumed = same(run_both(traced(sync_program), saver_factory))
    starts = [(e[1], e[2], e[3], e[4]) for e in first if e[0] == "start"]
    assert starts == [
        ("LangGraph", "chain", None, ["mine"]),
        ("wf", "chain", "LangGraph", ["graph:step:0", "mine"]),
        ("GenericFakeChatModel", "llm", "wf", ["mine", "seq:step:1"]),
        ("ask", "chain", "wf", ["mine", "seq:step:1"]),
        ("GenericFakeChatModel", "llm", "ask", ["mine", "seq:step:1"]),
    ]
    ends = [(e[1], e[3]) for e in first if e[0] == "end"]
    assert ends[-2:] == [("wf", "GraphInterrupt"), ("LangGraph", None)]
    # on resume the replayed task is not run again, so it is not traced
    assert [e[1] for e in resumed if e[0] == "start"] == [
        "LangGraph", "wf", "GenericFakeChatModel"]


async def test_tracer_async(saver_factory):
    async def scenario(api, saver):
        wf = async_program(api, saver)
        recorder = Recorder()
        config = {**cfg("t"), "callbacks": [recorder]}
        await wf.ainvoke("q", config)
        await wf.ainvoke(api.Command(resume=False), config)
        return recorder.events

    t = same(await arun_both(scenario, saver_factory))
    assert [e[1] for e in t if e[0] == "start"] == [
        "LangGraph", "wf", "GenericFakeChatModel", "ask", "GenericFakeChatModel",
        "LangGraph", "wf", "GenericFakeChatModel"]


def test_tracer_sees_errors_retries_tools_and_run_name(saver_factory):
    def scenario(api, saver):
        attempts = []

        @api.task(retry_policy=api.RetryPolicy(max_attempts=2, initial_interval=0.01,
                                               jitter=False, retry_on=KeyError))
        def flaky(n: int, scale: int = 10) -> int:
            attempts.append(n)
            if len(attempts) == 1:
                raise KeyError("once")
            return n * scale

        @api.task
        def loud(text: str) -> str:
            return shout.invoke({"text": text})

        @api.task
        def fails(text: str) -> str:
            return broken.invoke({"text": text})

        @api.entrypoint(checkpointer=saver)
        def wf(n: int) -> list:
            out = [flaky(n).result(), loud("hey").result()]
            try:
                fails("x").result()
            except ValueError as exc:
                out.append(str(exc))
            return out

        recorder = Recorder()
        config = {**cfg("t"), "callbacks": [recorder], "run_name": "my run"}
        return [wf.invoke(2, config), recorder.events]

    result, events = same(run_both(scenario, saver_factory))
    assert result == [20, "HEY", "cannot x"]
    starts = [(e[1], e[2], e[3], e[6]) for e in events if e[0] == "start"]
    assert starts[:4] == [
        ("my run", "chain", None, {"input": 2}),
        ("wf", "chain", "my run", {"input": 2}),
        ("flaky", "chain", "wf", {"n": 2, "scale": 10}),
        ("flaky", "chain", "wf", {"n": 2, "scale": 10}),
    ]
    assert ("shout", "tool", "loud", {"text": "hey"}) in starts
    ends = [(e[1], e[3]) for e in events if e[0] == "end"]
    assert ("flaky", "KeyError") in ends and ("broken", "ValueError") in ends


def test_callbacks_reach_a_model_given_the_config_explicitly(saver_factory):
    """``model.invoke(x, config)`` with the task's injected config nests the model under the
    task, as with no config at all."""

    def scenario(api, saver):
        @api.task
        def ask(question: str, config=None) -> str:
            return chat_model("ok").invoke(question, config).content

        @api.entrypoint(checkpointer=saver)
        def wf(question: str) -> str:
            return ask(question).result()

        recorder = Recorder()
        wf.invoke("q", {**cfg("t"), "callbacks": [recorder]})
        return [(e[1], e[3]) for e in recorder.events if e[0] == "start"]

    assert same(run_both(scenario, saver_factory)) == [
        ("LangGraph", None), ("wf", "LangGraph"), ("ask", "wf"), ("GenericFakeChatModel", "ask")]


def test_nested_tasks_trace_under_their_caller(saver_factory):
    def scenario(api, saver):
        @api.task
        def inner(x: int) -> int:
            return x + 1

        @api.task
        def outer(x: int) -> int:
            return inner(x).result() * 2

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            return outer(x).result()

        recorder = Recorder()
        wf.invoke(1, {**cfg("t"), "callbacks": [recorder]})
        return recorder.events

    t = same(run_both(scenario, saver_factory))
    assert [(e[1], e[3]) for e in t if e[0] == "start"] == [
        ("LangGraph", None), ("wf", "LangGraph"), ("outer", "wf"), ("inner", "outer")]


@pytest.mark.parametrize("with_callbacks", [False, True], ids=["no-callbacks", "callbacks"])
async def test_config_keys_seen_by_bodies_and_tasks(saver_factory, with_callbacks):
    """``get_config()`` holds the run's callbacks (a callback manager: LangGraph gives the async
    kind to sync tasks of async runs too, Flowsite the sync kind to sync code) and the caller's
    tags and recursion limit, not its ``run_name``."""
    from langchain_core.callbacks import BaseCallbackManager

    async def scenario(api, saver):
        def kinds():
            return {k: "manager" if isinstance(v, BaseCallbackManager) else type(v).__name__
                    for k, v in sorted(api.get_config().items())}

        @api.task
        def sync_step(x: int) -> dict:
            return kinds()

        @api.task
        async def async_step(x: int) -> dict:
            return kinds()

        @api.entrypoint(checkpointer=saver)
        async def wf(x: int) -> list:
            return [kinds(), await sync_step(x), await async_step(x)]

        config = cfg("t")
        if with_callbacks:
            config = {**config, "callbacks": [Recorder()], "run_name": "mine", "tags": ["a"],
                      "recursion_limit": 5}
        return await wf.ainvoke(1, config)

    t = same(await arun_both(scenario, saver_factory))
    assert [kinds["callbacks"] for kinds in t] == ["manager"] * 3
    assert ("tags" in t[0]) is with_callbacks


def test_root_run_of_an_interrupted_second_run_ends_with_the_threads_value(saver_factory):
    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> dict:
            return {"x": x, "ok": api.interrupt("ok?")}

        recorder = Recorder()
        config = {**cfg("t"), "callbacks": [recorder]}
        wf.invoke(1, config)
        wf.invoke(api.Command(resume=True), config)
        roots = []
        for mode in ("values", "updates", ["custom", "values"]):
            recorder.events.clear()
            list(wf.stream(2, config, stream_mode=mode))
            roots.append([e[2] for e in recorder.events if e[0] == "end" and e[1] == "LangGraph"])
        recorder.events.clear()
        wf.invoke(3, config)
        return [*roots, [e[2] for e in recorder.events if e[0] == "end" and e[1] == "LangGraph"]]

    values, updates, custom_values, invoked = same(run_both(scenario, saver_factory))
    assert updates == [{"x": 1, "ok": True}]
    for merged in (values, custom_values, invoked):  # a new run: a new interrupt id each time
        assert set(merged[0]) == {"x", "ok", "__interrupt__"}


async def test_sync_task_in_async_entrypoint_with_callbacks(saver_factory):
    async def scenario(api, saver):
        @api.task
        def ask(question: str) -> str:
            return chat_model("sync in async").invoke(question).content

        @api.task
        async def nested(question: str) -> str:
            return await ask(question)

        @api.entrypoint(checkpointer=saver)
        async def wf(question: str) -> str:
            return await ask(question) + await nested(question)

        recorder = Recorder()
        chunks = await collect(wf.astream("q", {**cfg("t"), "callbacks": [recorder]},
                                          stream_mode="messages"))
        return [[(e[1], e[3]) for e in recorder.events if e[0] == "start"],
                [(meta["langgraph_node"], meta["langgraph_path"]) for _m, meta in chunks]]

    starts, chunks = same(await arun_both(scenario, saver_factory))
    assert ("ask", "nested") in starts
    assert chunks[-1] == ("ask", ("__pregel_push", ("__pregel_push", ("__pregel_pull", "wf"), 1,
                                                    True), 0, True))


def test_failing_task_and_body_are_traced_as_errors(saver_factory):
    def scenario(api, saver):
        @api.task
        def boom(x: int) -> int:
            raise ValueError(f"bad {x}")

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            return boom(x).result()

        recorder = Recorder()

        result = attempt(lambda: wf.invoke(1, {**cfg("t"), "callbacks": [recorder]}))
        return [result, [(e[1], e[3]) for e in recorder.events if e[0] == "end"]]

    result, ends = same(run_both(scenario, saver_factory))
    assert result == ("raises", "ValueError", "bad 1")
    assert ends == [("boom", "ValueError"), ("wf", "ValueError"), ("LangGraph", "ValueError")]


def test_enclosing_langchain_run_parents_the_entrypoint(saver_factory):
    """An entrypoint invoked inside a LangChain runnable (here a ``RunnableLambda``) is traced
    under it, through langchain-core's child runnable config."""
    from langchain_core.runnables import RunnableLambda

    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            return x + 1

        outer = RunnableLambda(lambda x: wf.invoke(x, cfg("t")), name="outer")
        recorder = Recorder()
        result = outer.invoke(1, {"callbacks": [recorder]})
        return [result, [(e[1], e[3]) for e in recorder.events if e[0] == "start"]]

    assert same(run_both(scenario, saver_factory)) == [
        2, [("outer", None), ("LangGraph", "outer"), ("wf", "LangGraph")]]


def test_tracer_sees_subgraph_runs(saver_factory):
    def scenario(api, saver):
        wf = subgraph_program(api, saver)
        recorder = Recorder()
        wf.invoke("q", {**cfg("t"), "callbacks": [recorder]})
        return [(e[1], e[3]) for e in recorder.events if e[0] == "start"]

    t = same(run_both(scenario, saver_factory))
    # the child's own root run nests under the task (or body) that invoked it
    assert t == [
        ("LangGraph", None), ("parent", "LangGraph"), ("GenericFakeChatModel", "parent"),
        ("delegate", "parent"), ("LangGraph", "delegate"), ("child", "LangGraph"),
        ("ask", "child"), ("GenericFakeChatModel", "ask"),
        ("LangGraph", "parent"), ("child", "LangGraph"), ("ask", "child"),
        ("GenericFakeChatModel", "ask"),
    ]


def test_a_cached_task_is_not_traced_again(saver_factory):
    def scenario(api, saver):
        @api.task(cache_policy=api.CachePolicy())
        def ask(question: str) -> str:
            return chat_model("cached answer").invoke(question).content

        @api.entrypoint(checkpointer=saver, cache=api.InMemoryCache())
        def wf(question: str) -> str:
            return ask(question).result()

        recorder = Recorder()
        runs = []
        for thread in ("t1", "t2"):
            recorder.events.clear()
            chunks = list(wf.stream("q", {**cfg(thread), "callbacks": [recorder]},
                                    stream_mode="messages"))
            runs.append([[e[1] for e in recorder.events if e[0] == "start"], len(chunks)])
        return runs

    assert same(run_both(scenario, saver_factory)) == [
        [["LangGraph", "wf", "ask", "GenericFakeChatModel"], 3], [["LangGraph", "wf"], 0]]
