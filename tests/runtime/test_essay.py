"""The essay example of the reference (§1.2) on both libraries: stream chunks, invoke results,
interrupt shapes, task replay, sync and async."""

from __future__ import annotations

import pytest

from .lg import API_IDS, APIS, HEX32, N, arun_both, cfg, collect, interrupt_ids, run_both, same

ESSAY = "An essay about topic: cat"
DONE = {"essay": ESSAY, "is_approved": True}
QUESTION = {"essay": ESSAY, "action": "Please approve/reject the essay"}


def build_essay(api, saver, calls: list):
    """Reference §1.2, with a call counter in the task."""

    @api.task
    def write_essay(topic: str) -> str:
        calls.append(topic)
        return f"An essay about topic: {topic}"

    @api.entrypoint(checkpointer=saver)
    def workflow(topic: str) -> dict:
        essay = write_essay("cat").result()
        is_approved = api.interrupt({"essay": essay, "action": "Please approve/reject the essay"})
        return {"essay": essay, "is_approved": is_approved}

    return workflow


def build_async_essay(api, saver, calls: list):
    """The same program with an async entrypoint and an async task."""

    @api.task
    async def write_essay(topic: str) -> str:
        calls.append(topic)
        return f"An essay about topic: {topic}"

    @api.entrypoint(checkpointer=saver)
    async def workflow(topic: str) -> dict:
        essay = await write_essay("cat")
        is_approved = api.interrupt({"essay": essay, "action": "Please approve/reject the essay"})
        return {"essay": essay, "is_approved": is_approved}

    return workflow


def intr(index: int = 0, value=QUESTION) -> N:
    return N("Interrupt", (("value", value), ("id", f"<intr:{index}>"), ("response_schema", None)))


def test_stream_updates_chunks_and_task_runs_once(saver_factory):
    def scenario(api, saver):
        calls: list = []
        wf = build_essay(api, saver, calls)
        first = list(wf.stream("cat", cfg("t1")))
        calls_after_first = list(calls)
        second = list(wf.stream(api.Command(resume=True), cfg("t1")))
        return {"first": first, "resume": second, "calls": (calls_after_first, calls)}

    transcript = same(run_both(scenario, saver_factory))
    assert transcript == {
        "first": [{"write_essay": ESSAY}, {"__interrupt__": (intr(),)}],
        "resume": [{"workflow": {"essay": ESSAY, "is_approved": True}}],
        "calls": (["cat"], ["cat"]),  # the task body ran once across interrupt and resume
    }


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_interrupt_id_is_32_hex_and_stable_across_replays(api, saver_factory):
    wf = build_essay(api, saver_factory(api), [])
    first = list(wf.stream("cat", cfg("t1")))
    (streamed,) = interrupt_ids(first)
    assert HEX32.match(streamed)
    assert interrupt_ids(wf.get_state(cfg("t1")).interrupts) == [streamed]
    # a resume that does not answer (new input would discard it): replay a second interrupt
    # on another thread, same program: ids are derived from the thread's checkpoint, so differ
    other = list(wf.stream("cat", cfg("t2")))
    assert interrupt_ids(other) != [streamed]


def test_invoke_results_and_state(saver_factory):
    def scenario(api, saver):
        calls: list = []
        wf = build_essay(api, saver, calls)
        interrupted = wf.invoke("cat", cfg("t1"))
        state_interrupted = wf.get_state(cfg("t1"))
        done = wf.invoke(api.Command(resume=False), cfg("t1"))
        state_done = wf.get_state(cfg("t1"))
        return {
            "interrupted": interrupted,
            "state_interrupted": state_interrupted,
            "done": done,
            "state_done": state_done,
            "calls": calls,
        }

    t = same(run_both(scenario, saver_factory))
    # v1 invoke: a *list* of interrupts (the stream chunk holds a tuple)
    assert t["interrupted"] == {"__interrupt__": [intr()]}
    assert t["done"] == {"essay": ESSAY, "is_approved": False}  # False is a valid resume value
    assert t["calls"] == ["cat"]
    s = dict(t["state_interrupted"].fields)
    assert s["values"] is None and s["next"] == ("workflow",)
    assert s["metadata"] == {"source": "input", "step": -1, "parents": {}}
    assert s["interrupts"] == (intr(),)
    (entry_task,) = s["tasks"]
    assert dict(entry_task.fields)["path"] == ("__pregel_pull", "workflow")
    d = dict(t["state_done"].fields)
    assert d["values"] == {"essay": ESSAY, "is_approved": False}
    assert d["next"] == () and d["tasks"] == () and d["interrupts"] == ()
    assert d["metadata"] == {"source": "loop", "step": 0, "parents": {}}
    assert d["parent_config"] == s["config"]


def test_invoke_v2_graph_output(saver_factory):
    def scenario(api, saver):
        wf = build_essay(api, saver, [])
        return [
            wf.invoke("cat", cfg("t1"), version="v2"),
            wf.invoke(api.Command(resume="yes"), cfg("t1"), version="v2"),
        ]

    t = same(run_both(scenario, saver_factory))
    assert t == [
        N("GraphOutput", (("value", {}), ("interrupts", (intr(),)))),
        N("GraphOutput", (("value", {"essay": ESSAY, "is_approved": "yes"}), ("interrupts", ()))),
    ]


def test_invoke_with_updates_mode_returns_chunks(saver_factory):
    def scenario(api, saver):
        wf = build_essay(api, saver, [])
        return [
            wf.invoke("cat", cfg("t1"), stream_mode="updates"),
            wf.invoke(api.Command(resume=True), cfg("t1"), stream_mode="updates"),
        ]

    t = same(run_both(scenario, saver_factory))
    assert t == [
        [{"write_essay": ESSAY}, {"__interrupt__": (intr(),)}],
        [{"workflow": {"essay": ESSAY, "is_approved": True}}],
    ]


def test_invoke_merges_interrupt_into_previous_dict_return(saver_factory):
    """Reference §1.2: v1 invoke merges the thread's last dict return into the interrupt result;
    a non-dict last return is not merged."""

    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def wf(x: str, previous=None):
            ans = api.interrupt(f"q{x}")
            return {"x": x, "ans": ans, "prev": previous} if x != "s" else "plain"

        return [
            wf.invoke("1", cfg("t")),
            wf.invoke(api.Command(resume="a"), cfg("t")),
            wf.invoke("2", cfg("t")),
            wf.invoke(api.Command(resume="b"), cfg("t")),
            wf.invoke("s", cfg("u")),
            wf.invoke(api.Command(resume="c"), cfg("u")),
            wf.invoke("3", cfg("u")),
        ]

    t = same(run_both(scenario, saver_factory))

    def q(i, v):
        return N("Interrupt", (("value", v), ("id", f"<intr:{i}>"), ("response_schema", None)))

    assert t == [
        {"__interrupt__": [q(0, "q1")]},
        {"x": "1", "ans": "a", "prev": None},
        {"x": "1", "ans": "a", "prev": None, "__interrupt__": [q(1, "q2")]},
        {"x": "2", "ans": "b", "prev": {"x": "1", "ans": "a", "prev": None}},
        {"__interrupt__": [q(2, "qs")]},
        "plain",
        {"__interrupt__": [q(3, "q3")]},
    ]


def test_sync_entrypoint_through_async_api(saver_factory):
    async def scenario(api, saver):
        calls: list = []
        wf = build_essay(api, saver, calls)
        first = await collect(wf.astream("cat", cfg("t1")))
        second = await wf.ainvoke(api.Command(resume=True), cfg("t1"))
        return {"first": first, "resume": second, "calls": calls}

    import asyncio

    t = same(asyncio.run(arun_both(scenario, saver_factory)))
    assert t == {
        "first": [{"write_essay": ESSAY}, {"__interrupt__": (intr(),)}],
        "resume": {"essay": ESSAY, "is_approved": True},
        "calls": ["cat"],
    }


async def test_async_essay_astream_and_ainvoke(saver_factory):
    async def scenario(api, saver):
        calls: list = []
        wf = build_async_essay(api, saver, calls)
        streamed = await collect(wf.astream("cat", cfg("t1")))
        streamed_resume = await collect(wf.astream(api.Command(resume=True), cfg("t1")))
        invoked = await wf.ainvoke("cat", cfg("t2"))
        invoked_resume = await wf.ainvoke(api.Command(resume=False), cfg("t2"))
        state = await wf.aget_state(cfg("t2"))
        return {
            "stream": streamed,
            "stream_resume": streamed_resume,
            "invoke": invoked,
            "invoke_resume": invoked_resume,
            "values": state.values,
            "calls": calls,
        }

    t = same(await arun_both(scenario, saver_factory))
    assert t == {
        "stream": [{"write_essay": ESSAY}, {"__interrupt__": (intr(0),)}],
        "stream_resume": [{"workflow": {"essay": ESSAY, "is_approved": True}}],
        "invoke": {"__interrupt__": [intr(1)]},
        "invoke_resume": {"essay": ESSAY, "is_approved": False},
        "values": {"essay": ESSAY, "is_approved": False},
        "calls": ["cat", "cat"],  # once per thread
    }


def test_resuming_a_finished_thread_returns_last_value_and_writes_nothing(saver_factory):
    def scenario(api, saver):
        calls: list = []
        wf = build_essay(api, saver, calls)
        wf.invoke("cat", cfg("t1"))
        done = wf.invoke(api.Command(resume=True), cfg("t1"))
        history_len = len(list(wf.get_state_history(cfg("t1"))))
        again = wf.invoke(api.Command(resume="ignored"), cfg("t1"))
        streamed = list(wf.stream(api.Command(resume="ignored"), cfg("t1")))
        return {
            "done": done,
            "again": again,
            "streamed": streamed,
            "checkpoints": (history_len, len(list(wf.get_state_history(cfg("t1"))))),
            "calls": calls,
        }

    t = same(run_both(scenario, saver_factory))
    assert t == {
        "done": {"essay": ESSAY, "is_approved": True},
        "again": {"essay": ESSAY, "is_approved": True},
        "streamed": [],
        "checkpoints": (2, 2),
        "calls": ["cat"],
    }


def test_new_input_on_interrupted_thread_starts_fresh(saver_factory):
    """Reference §1.2: new input on a thread waiting on an interrupt discards the pending run."""

    def scenario(api, saver):
        calls: list = []
        wf = build_essay(api, saver, calls)
        first = wf.invoke("cat", cfg("t1"))
        again = list(wf.stream("cat", cfg("t1")))
        history = [s.metadata for s in wf.get_state_history(cfg("t1"))]
        return {"first": first, "again": again, "history": history, "calls": calls}

    t = same(run_both(scenario, saver_factory))
    assert t["first"] == {"__interrupt__": [intr(0)]}
    assert t["again"] == [{"write_essay": ESSAY}, {"__interrupt__": (intr(1),)}]
    assert t["calls"] == ["cat", "cat"]
    assert [(m["source"], m["step"]) for m in t["history"]] == [("input", 0), ("input", -1)]


def test_interrupt_shape(saver_factory):
    import dataclasses

    def scenario(api, saver):
        wf = build_essay(api, saver, [])
        (intr,) = wf.invoke("cat", cfg("t1"))["__interrupt__"]
        return {
            "fields": [f.name for f in dataclasses.fields(api.Interrupt)],
            "repr": repr(intr).replace(intr.id, "<id>"),
            "attrs": (intr.value, intr.response_schema),
            "equal": api.Interrupt(value=1, id="a" * 32) == api.Interrupt(value=1, id="a" * 32),
            "default_id": api.Interrupt(value=1).id,
        }

    t = same(run_both(scenario, saver_factory))
    assert t == {
        "fields": ["value", "id", "response_schema"],
        "repr": "Interrupt(value={'essay': 'An essay about topic: cat', 'action': "
                "'Please approve/reject the essay'}, id='<id>', response_schema=None)",
        "attrs": (QUESTION, None),
        "equal": True,
        "default_id": "placeholder-id",
    }


def test_none_or_command_on_a_finished_thread_returns_its_value(saver_factory):
    """Nothing runs and nothing is written; ``values`` and ``checkpoints`` stream the thread's
    current value and checkpoint (also after ``update_state``)."""

    def scenario(api, saver):
        calls: list = []
        wf = build_essay(api, saver, calls)
        c = cfg("t1")
        wf.invoke("cat", c)
        wf.invoke(api.Command(resume=True), c)
        out = [
            wf.invoke(None, c),
            wf.invoke(None, c, version="v2"),
            list(wf.stream(None, c, stream_mode=["values", "updates", "tasks", "checkpoints"])),
            list(wf.stream(api.Command(resume=1), c, stream_mode=["values", "updates"])),
        ]
        wf.update_state(c, {"patched": True})
        out.append(wf.invoke(None, c))
        out.append(len(list(wf.get_state_history(c))))
        out.append(calls)
        return out

    t = same(run_both(scenario, saver_factory))
    assert t[0] == DONE
    assert t[1] == N("GraphOutput", (("value", DONE), ("interrupts", ())))
    assert [mode for mode, _ in t[2]] == ["values", "checkpoints"]
    assert t[2][0] == ("values", DONE)
    assert t[2][1][1]["metadata"] == {"source": "loop", "step": 0, "parents": {}}
    assert t[3] == [("values", DONE)]
    assert t[4:] == [{"patched": True}, 3, ["cat"]]
