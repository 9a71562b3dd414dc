"""``astream_events(version="v2")`` of entrypoints (issue 7, item 7), differential against
LangGraph: the event sequence of an entrypoint with tasks and chat models, sync and async."""

from __future__ import annotations

import pytest

from .chat import TEXT, async_program, events_transcript, subgraph_program, sync_program
from .lg import aattempt, arun_both, cfg, collect, same


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
    from .lg import FLOWSITE, LANGGRAPH, attempt

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


        outcome = await aattempt(consume)
        return [outcome, events_transcript(events)]

    outcome, t = same(await arun_both(scenario, saver_factory))
    assert outcome == ("raises", "ValueError", "no")
    assert [e[:2] for e in t["events"]] == [
        ("on_chain_start", "LangGraph"), ("on_chain_start", "wf"), ("on_chain_start", "boom")]
