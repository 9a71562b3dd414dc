"""LangChain inside entrypoints and tasks (issue 7, item 7), differential against LangGraph:
``config["callbacks"]`` reach tracers, chat models and tools; ``stream_mode="messages"`` and
``"tools"``; ``astream_events(version="v2")``. The chat models are langchain-core's fake
streaming ones (``GenericFakeChatModel`` streams its message split on spaces)."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import tool
from langchain_core.tracers.base import BaseTracer

from .lg import arun_both, cfg, collect, run_both, same

TEXT = "the quick brown fox jumps over the lazy dog"  # 17 chunks: 9 words, 8 spaces


def chat_model(text: str = TEXT) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=text)]))


@tool
def shout(text: str) -> str:
    """Upper-case ``text``."""
    return text.upper()


@tool
def broken(text: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot {text}")


def message(msg: BaseMessage) -> dict:
    """A message as a transcript records it (its id is normalized with the others)."""
    return {"type": type(msg).__name__, "content": msg.content, "id": msg.id,
            "last": getattr(msg, "chunk_position", None)}


def messages(chunks: list) -> list:
    """``(message, metadata)`` chunks of ``stream_mode="messages"`` in transcript form."""
    return [(message(m), meta) for m, meta in chunks]


class Recorder(BaseTracer):
    """A tracer that records each run's start and end: name, type, parent's name, tags,
    metadata, inputs, outputs and error class (what LangSmith would show)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple] = []
        self.names: dict = {}

    def _persist_run(self, run) -> None:
        pass

    def _start_trace(self, run) -> None:
        super()._start_trace(run)
        self.names[run.id] = run.name
        self.events.append((
            "start", run.name, run.run_type, self.names.get(run.parent_run_id),
            sorted(run.tags or []), dict(run.extra.get("metadata", {})), run.inputs,
        ))

    def _end_trace(self, run) -> None:
        error = run.error.split("(")[0].split(":")[0] if run.error else None
        self.events.append(("end", run.name, run.outputs, error))
        super()._end_trace(run)


# -- stream_mode="messages" -------------------------------------------------------------------
def sync_program(api, saver):
    @api.task
    def ask(question: str) -> str:
        return chat_model().invoke(question).content

    @api.entrypoint(checkpointer=saver)
    def wf(question: str) -> dict:
        said = chat_model("body speaks").invoke("x").content
        answer = ask(question).result()
        approved = api.interrupt("approve?")
        return {"said": said, "answer": answer, "approved": approved}

    return wf


def async_program(api, saver):
    @api.task
    async def ask(question: str) -> str:
        return (await chat_model().ainvoke(question)).content

    @api.entrypoint(checkpointer=saver)
    async def wf(question: str) -> dict:
        said = (await chat_model("body speaks").ainvoke("x")).content
        answer = await ask(question)
        approved = api.interrupt("approve?")
        return {"said": said, "answer": answer, "approved": approved}

    return wf


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


# -- config["callbacks"] ----------------------------------------------------------------------
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


# -- stream_mode="tools" ----------------------------------------------------------------------
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


# -- astream_events(version="v2") -------------------------------------------------------------
def events_transcript(events: list) -> dict:
    """Events as (event, name, tags, parent names, data); the root run's ``on_chain_stream``
    events are listed apart: when they come relative to the others depends on when the caller's
    event loop hands on each chunk, in both libraries."""
    names: dict = {}
    rest, root_chunks = [], []
    for ev in events:
        names[ev["run_id"]] = ev["name"]
        data = {k: message(v) if isinstance(v, BaseMessage) else v
                for k, v in ev["data"].items()}
        if ev["event"] == "on_chain_stream" and not ev["parent_ids"]:
            root_chunks.append(data["chunk"])
            continue
        rest.append((ev["event"], ev["name"], sorted(ev["tags"]),
                     [names.get(p, "?") for p in ev["parent_ids"]], data,
                     sorted(ev["metadata"])))
    return {"events": rest, "root_chunks": root_chunks}


@pytest.mark.parametrize("program", [sync_program, async_program], ids=["sync", "async"])
async def test_astream_events_v2(saver_factory, program):
    async def scenario(api, saver):
        wf = program(api, saver)
        first = await collect(wf.astream_events("q", cfg("t"), version="v2"))
        resumed = await collect(wf.astream_events(api.Command(resume=True), cfg("t"),
                                                  version="v2"))
        return [events_transcript(first), events_transcript(resumed)]

    first, resumed = same(await arun_both(scenario, saver_factory))
    kinds = [(e[0], e[1]) for e in first["events"]]
    assert kinds[:3] == [("on_chain_start", "LangGraph"), ("on_chain_start", "wf"),
                         ("on_chat_model_start", "GenericFakeChatModel")]
    assert kinds.count(("on_chat_model_stream", "GenericFakeChatModel")) == 3 + 17
    assert ("on_chain_stream", "ask") in kinds and ("on_chain_end", "ask") in kinds
    assert kinds[-1] == ("on_chain_end", "LangGraph")
    assert first["root_chunks"][0] == {"ask": TEXT}
    assert resumed["events"][-1][4]["output"]["approved"] is True


async def test_event_stream_versions():
    """Only ``astream_events(version="v2")``: LangGraph's sync ``stream_events`` raises
    ``NotImplementedError`` for v1/v2 too; Flowsite also refuses v1 (deprecated in langchain-core,
    which LangGraph hands it to) and v3 (LangGraph's experimental protocol)."""
    from .lg import FLOWSITE, LANGGRAPH, aattempt, attempt

    def build(api):
        @api.entrypoint()
        def wf(x: int) -> int:
            return x

        return wf

    for api in (FLOWSITE, LANGGRAPH):
        assert attempt(lambda api=api: list(build(api).stream_events(1)))[:2] == (
            "raises", "NotImplementedError")
    for version in ("v1", "v3"):
        refused = await aattempt(lambda v=version: collect(build(FLOWSITE).astream_events(
            1, version=v)))
        assert refused[:2] == ("raises", "NotImplementedError")


async def test_astream_events_filters(saver_factory):
    async def scenario(api, saver):
        wf = sync_program(api, saver)
        events = await collect(wf.astream_events(
            "q", cfg("t"), version="v2", include_types=["chat_model"]))
        return sorted({(e["event"], e["name"]) for e in events})

    assert same(await arun_both(scenario, saver_factory)) == [
        ("on_chat_model_end", "GenericFakeChatModel"),
        ("on_chat_model_start", "GenericFakeChatModel"),
        ("on_chat_model_stream", "GenericFakeChatModel"),
    ]


# -- without LangChain ------------------------------------------------------------------------
WITHOUT_LANGCHAIN = """
import sys
sys.modules["langchain_core"] = None  # as if not installed: importing it raises ImportError
import workflows
from workflows import entrypoint, task

@task
def double(x: int) -> int:
    return 2 * x

@entrypoint()
def wf(x: int) -> int:
    return double(x).result()

print(list(wf.stream(2, stream_mode=["messages", "tools", "updates"])))
try:
    wf.invoke(1, {"callbacks": [object()]})
except ImportError as exc:
    print("ImportError:", exc)
"""

LAZY = """
import sys
from workflows import entrypoint

@entrypoint()
def wf(x: int) -> int:
    return x

wf.invoke(1)
print("langchain_core" in sys.modules)
"""


def run_python(code: str) -> str:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.strip()


def test_runtime_works_without_langchain():
    assert run_python(WITHOUT_LANGCHAIN).splitlines() == [
        "[('updates', {'double': 4}), ('updates', {'wf': 4})]",
        'ImportError: config["callbacks"] needs langchain-core: pip install "flowsite[agents]"',
    ]


def test_langchain_is_imported_only_when_used():
    assert run_python(LAZY) == "False"


# -- more of LangGraph's shapes ---------------------------------------------------------------
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


def test_invoke_with_messages_mode_returns_the_chunks(saver_factory):
    def scenario(api, saver):
        wf = sync_program(api, saver)
        return messages(wf.invoke("q", cfg("t"), stream_mode="messages"))

    assert len(same(run_both(scenario, saver_factory))) == 3 + 17


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


def test_failing_task_and_body_are_traced_as_errors(saver_factory):
    def scenario(api, saver):
        @api.task
        def boom(x: int) -> int:
            raise ValueError(f"bad {x}")

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            return boom(x).result()

        recorder = Recorder()
        from .lg import attempt

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


# -- subgraphs --------------------------------------------------------------------------------
def subgraph_program(api, saver):
    @api.task
    def ask(question: str) -> str:
        return chat_model("child says hi").invoke(question).content

    @api.entrypoint(checkpointer=saver)
    def child(question: str) -> str:
        return ask(question).result()

    @api.task
    def delegate(question: str) -> str:
        return child.invoke(question)

    @api.entrypoint(checkpointer=saver)
    def parent(question: str) -> str:
        said = chat_model("parent").invoke("x").content
        return said + delegate(question).result() + child.invoke(question)

    return parent


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


async def test_astream_events_of_subgraphs(saver_factory):
    """The same events, except that LangGraph runs a child invoked with the sync ``invoke``
    without ``astream``, so its body's and tasks' outputs are not ``on_chain_stream`` events
    there; Flowsite reports them as for any run under ``astream_events``."""

    def in_child_stream(event: tuple) -> bool:
        return event[0] == "on_chain_stream" and event[3].count("LangGraph") > 1

    async def scenario(api, saver):
        wf = subgraph_program(api, saver)
        t = events_transcript(await collect(wf.astream_events("q", cfg("t"), version="v2")))
        streamed = [e[1] for e in t["events"] if in_child_stream(e)]
        t["events"] = [e for e in t["events"] if not in_child_stream(e)]
        return [t, streamed]

    results = await arun_both(scenario, saver_factory)
    assert results["flowsite"][1] == ["ask", "child"] * 2 and results["langgraph"][1] == []
    t = same({name: result[0] for name, result in results.items()})
    starts = [(e[1], e[3]) for e in t["events"] if e[0] == "on_chain_start"]
    assert ("child", ["LangGraph", "parent", "delegate", "LangGraph"]) in starts


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


async def test_astream_events_of_a_failing_run(saver_factory):
    async def scenario(api, saver):
        @api.task
        def boom(x: int) -> int:
            raise ValueError("no")

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            return boom(x).result()

        events = []

        async def consume():
            async for ev in wf.astream_events(1, cfg("t"), version="v2"):
                events.append(ev)

        from .lg import aattempt

        outcome = await aattempt(consume)
        return [outcome, events_transcript(events)]

    outcome, t = same(await arun_both(scenario, saver_factory))
    assert outcome == ("raises", "ValueError", "no")
    assert [e[:2] for e in t["events"]] == [
        ("on_chain_start", "LangGraph"), ("on_chain_start", "wf"), ("on_chain_start", "boom")]
