"""``stream_mode="messages"`` and ``"tools"`` (issue 7, item 7), differential against
LangGraph: each token a chat model produces inside a body or task with LangGraph's metadata,
the tool-call events of LangChain tools; the caller's metadata and tags in ``tasks`` chunks."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage

from .chat import (
    TEXT,
    async_program,
    broken,
    chat_model,
    message,
    messages,
    shout,
    subgraph_program,
    sync_program,
)
from .lg import arun_both, cfg, collect, run_both, same


def test_messages_sync(saver_factory):
    def scenario(api, saver):
        wf = sync_program(api, saver)
        first = messages(list(wf.stream("q", cfg("t"), stream_mode="messages")))
        resumed = messages(list(wf.stream(api.Command(resume=True), cfg("t"),
                                          stream_mode="messages")))
        return [first, resumed]

    first, resumed = same(run_both(scenario, saver_factory))
    nodes = [meta["langgraph_node"] for _m, meta in first]
    assert nodes == ["wf"] * 3 + ["ask"] * 17
    assert "".join(m["content"] for m, _meta in first[3:]) == TEXT
    assert first[-1][0]["last"] == "last"
    meta = first[3][1]
    assert meta["langgraph_path"] == ("__pregel_push", ("__pregel_pull", "wf"), 0, True)
    assert meta["langgraph_triggers"] == ("__pregel_push",)
    assert meta["langgraph_step"] == 0 and meta["thread_id"] == "t"
    assert meta["checkpoint_ns"] == meta["langgraph_checkpoint_ns"]
    assert meta["langgraph_checkpoint_ns"].startswith("wf:<uuid:")
    assert meta["ls_provider"] == "genericfakechatmodel"
    # the resume replays the task (no tokens) and re-runs the body's model call
    assert [m["content"] for m, _meta in resumed] == ["body", " ", "speaks"]


async def test_messages_async(saver_factory):
    async def scenario(api, saver):
        wf = async_program(api, saver)
        first = messages(await collect(wf.astream("q", cfg("t"), stream_mode="messages")))
        resumed = messages(await collect(wf.astream(api.Command(resume=True), cfg("t"),
                                                    stream_mode="messages")))
        return [first, resumed]

    first, resumed = same(await arun_both(scenario, saver_factory))
    assert [meta["langgraph_node"] for _m, meta in first] == ["wf"] * 3 + ["ask"] * 17
    assert len(resumed) == 3


def test_messages_with_other_modes_and_tags(saver_factory):
    """In a list of modes the chunks are ``("messages", (chunk, metadata))`` in the order the
    run produced them; the caller's tags reach the metadata (without ``seq:step:*``) and a
    model tagged ``nostream`` is not streamed."""

    def scenario(api, saver):
        @api.task
        def ask(question: str) -> str:
            quiet = chat_model("not streamed").with_config(tags=["nostream"]).invoke("x")
            return chat_model("two words").invoke(question).content + quiet.content

        @api.entrypoint(checkpointer=saver)
        def wf(question: str) -> str:
            return ask(question).result()

        config = {**cfg("t"), "tags": ["mine"], "metadata": {"user": "u1"}}
        out = []
        for mode, chunk in wf.stream("q", config, stream_mode=["updates", "messages", "values"]):
            out.append((mode, (message(chunk[0]), chunk[1]) if mode == "messages" else chunk))
        return out

    t = same(run_both(scenario, saver_factory))
    assert [mode for mode, _c in t] == ["messages"] * 3 + ["updates"] * 2 + ["values"]
    assert t[0][1][1]["tags"] == ["mine"] and t[0][1][1]["user"] == "u1"


def test_messages_of_a_model_that_does_not_stream_and_of_returned_messages(saver_factory):
    """``FakeListChatModel.invoke`` streams too (a streaming handler is attached); a message
    a task returns without a model streaming it is emitted whole, once."""

    def scenario(api, saver):
        @api.task
        def listed(question: str) -> str:
            return FakeListChatModel(responses=["abc"]).invoke(question).content

        @api.task
        def made(text: str) -> AIMessage:
            return AIMessage(content=text, id="fixed-id")

        @api.entrypoint(checkpointer=saver)
        def wf(question: str) -> str:
            return listed(question).result() + made("built").result().content

        return messages(list(wf.stream("q", cfg("t"), stream_mode="messages")))

    t = same(run_both(scenario, saver_factory))
    assert [(m["type"], m["content"]) for m, _meta in t] == [
        ("AIMessageChunk", "a"), ("AIMessageChunk", "b"), ("AIMessageChunk", "c"),
        ("AIMessage", "built"),
    ]
    assert t[-1][1]["langgraph_node"] == "made"


def test_messages_v2_parts_and_subgraphs_shape(saver_factory):
    def scenario(api, saver):
        wf = sync_program(api, saver)
        v2 = [(p["type"], p["ns"], message(p["data"][0]))
              for p in wf.stream("q", cfg("t"), stream_mode="messages", version="v2")]
        sub = [(ns, message(chunk[0])["content"])
               for ns, chunk in wf.stream("q", cfg("t2"), stream_mode="messages",
                                          subgraphs=True)]
        return [v2, sub]

    v2, sub = same(run_both(scenario, saver_factory))
    assert {(kind, ns) for kind, ns, _m in v2} == {("messages", ())}
    assert {ns for ns, _c in sub} == {()}


def test_invoke_with_messages_mode_returns_the_chunks(saver_factory):
    def scenario(api, saver):
        wf = sync_program(api, saver)
        return messages(wf.invoke("q", cfg("t"), stream_mode="messages"))

    assert len(same(run_both(scenario, saver_factory))) == 3 + 17


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_messages_of_parallel_tasks(saver_factory, kind):
    """Tasks running at once stream their tokens interleaved; each task's come in order."""

    async def scenario(api, saver):
        if kind == "sync":
            @api.task
            def ask(n: int) -> str:
                return chat_model(f"answer {n} is here").invoke("q").content

            @api.entrypoint(checkpointer=saver)
            def wf(n: int) -> list:
                return [f.result() for f in [ask(i) for i in range(n)]]

            chunks = await asyncio.to_thread(
                lambda: list(wf.stream(4, cfg("t"), stream_mode="messages")))
        else:
            @api.task
            async def aask(n: int) -> str:
                return (await chat_model(f"answer {n} is here").ainvoke("q")).content

            @api.entrypoint(checkpointer=saver)
            async def wf(n: int) -> list:
                return list(await asyncio.gather(*[aask(i) for i in range(n)]))

            chunks = await collect(wf.astream(4, cfg("t"), stream_mode="messages"))
        by_task: dict = {}
        for msg, meta in chunks:
            by_task.setdefault(meta["langgraph_checkpoint_ns"], []).append(msg.content)
        return sorted("".join(parts) for parts in by_task.values())

    assert same(await arun_both(scenario, saver_factory)) == [
        f"answer {n} is here" for n in range(4)]


@pytest.mark.parametrize("subgraphs", [False, True], ids=["own-graph", "subgraphs"])
def test_messages_of_subgraphs(saver_factory, subgraphs):
    """A child entrypoint's tokens carry its namespace; without ``subgraphs=True`` the parent's
    stream leaves them out, as LangGraph's."""

    def scenario(api, saver):
        wf = subgraph_program(api, saver)
        out = wf.stream("q", cfg("t"), stream_mode="messages", subgraphs=subgraphs)
        if not subgraphs:
            return [(message(m)["content"], meta["langgraph_node"]) for m, meta in out]
        return [(ns, message(m)["content"], meta["langgraph_node"]) for ns, (m, meta) in out]

    t = same(run_both(scenario, saver_factory))
    if not subgraphs:
        assert t == [("parent", "parent")]
    else:
        assert [c[1] for c in t] == ["parent", *["child", " ", "says", " ", "hi"] * 2]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_tools_mode(saver_factory, kind):
    async def scenario(api, saver):
        if kind == "sync":
            @api.task
            def use(text: str) -> str:
                return shout.invoke({"text": text}) + broken_or_none(text)

            def broken_or_none(text):
                try:
                    broken.invoke({"text": text})
                except ValueError:
                    return "!"
                return ""

            @api.entrypoint(checkpointer=saver)
            def wf(text: str) -> str:
                return use(text).result()

            return await asyncio.to_thread(
                lambda: list(wf.stream("hi", cfg("t"), stream_mode=["tools", "updates"])))

        @api.task
        async def ause(text: str) -> str:
            return await shout.ainvoke({"text": text})

        @api.entrypoint(checkpointer=saver)
        async def awf(text: str) -> str:
            return await ause(text)

        return await collect(awf.astream("hi", cfg("t"), stream_mode=["tools", "updates"]))

    t = same(await arun_both(scenario, saver_factory))
    events = [chunk["event"] for mode, chunk in t if mode == "tools"]
    if kind == "sync":
        assert events == ["tool-started", "tool-finished", "tool-started", "tool-error"]
        assert t[0][1]["tool_name"] == "shout" and t[0][1]["input"] == {"text": "hi"}
        assert t[3][1]["message"] == "cannot hi"
    else:
        assert events == ["tool-started", "tool-finished"]


def test_tool_call_ids_and_tool_messages(saver_factory):
    def scenario(api, saver):
        @api.task
        def call(text: str) -> str:
            done = shout.invoke({"name": "shout", "args": {"text": text}, "id": "call-1",
                                 "type": "tool_call"})
            return done.content

        @api.entrypoint(checkpointer=saver)
        def wf(text: str) -> str:
            return call(text).result()

        out = list(wf.stream("hi", cfg("t"), stream_mode=["tools", "messages", "updates"]))
        return [(mode, message(c[0]) if mode == "messages" else c) for mode, c in out]

    t = same(run_both(scenario, saver_factory))
    assert t[0] == ("tools", {"event": "tool-started", "tool_call_id": "call-1",
                              "tool_name": "shout", "input": {"text": "hi"}})


def test_tasks_mode_carries_the_callers_metadata_and_tags(saver_factory):
    """LangGraph's task-start chunks carry the caller's metadata (without its own keys) and tags,
    as the messages stream does."""

    def scenario(api, saver):
        @api.task
        def step(x: int) -> int:
            return x

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            return step(x).result()

        plain = list(wf.stream(1, cfg("t"), stream_mode="tasks"))
        config = {"configurable": {"thread_id": "t2", "user_id": "u"}, "metadata": {"m": 1},
                  "tags": ["mine"]}
        debug = [c["payload"] for c in wf.stream(1, {**config, "configurable": {
            "thread_id": "t3"}}, stream_mode="debug") if c["type"] == "task"]
        return [plain, list(wf.stream(1, config, stream_mode="tasks")), debug]

    plain, tagged, debug = same(run_both(scenario, saver_factory))
    assert "metadata" not in plain[0]
    starts = [c for c in tagged if "input" in c]
    assert [c["metadata"] for c in starts] == [{"m": 1, "tags": ["mine"]}] * 2
    assert [c["metadata"] for c in debug] == [{"m": 1, "tags": ["mine"]}] * 2
