"""Stream modes on the essay example (reference §1.3): values, custom, tasks, checkpoints, debug,
lists of modes, ``subgraphs=True`` and ``version="v2"`` chunk shapes."""

from __future__ import annotations

import pytest

from .lg import API_IDS, APIS, LANGGRAPH, arun_both, attempt, cfg, collect, run_both, same

ESSAY = "An essay about topic: cat"
QUESTION = {"essay": ESSAY, "action": "Please approve/reject the essay"}
DONE = {"essay": ESSAY, "is_approved": True}


def build(api, saver):
    @api.task
    def write_essay(topic: str) -> str:
        api.get_stream_writer()({"progress": "writing"})
        return f"An essay about topic: {topic}"

    @api.entrypoint(checkpointer=saver)
    def workflow(topic: str) -> dict:
        essay = write_essay("cat").result()
        is_approved = api.interrupt({"essay": essay, "action": "Please approve/reject the essay"})
        return {"essay": essay, "is_approved": is_approved}

    return workflow


def essay_run(mode):
    """Both runs of the essay example streamed with ``mode``."""

    def scenario(api, saver):
        wf = build(api, saver)
        first = list(wf.stream("cat", cfg("t1"), stream_mode=mode))
        resume = list(wf.stream(api.Command(resume=True), cfg("t1"), stream_mode=mode))
        return [first, resume]

    return scenario


def interrupt_chunk(i: int = 0):
    from .lg import N

    return N("Interrupt", (("value", QUESTION), ("id", f"<intr:{i}>"), ("response_schema", None)))


def test_values(saver_factory):
    t = same(run_both(essay_run("values"), saver_factory))
    # the resume first streams the thread's __end__ value at resume time (None: no earlier run)
    assert t == [[{"__interrupt__": (interrupt_chunk(),)}], [None, DONE]]


def test_custom(saver_factory):
    t = same(run_both(essay_run("custom"), saver_factory))
    assert t == [[{"progress": "writing"}], []]  # the task is not re-run on resume


def test_custom_writer_is_a_noop_when_not_streamed(saver_factory):
    t = same(run_both(essay_run("updates"), saver_factory))
    assert t[0][0] == {"write_essay": ESSAY}


def test_list_of_modes(saver_factory):
    t = same(run_both(essay_run(["custom", "updates", "values"]), saver_factory))
    assert t == [
        [
            ("custom", {"progress": "writing"}),
            ("updates", {"write_essay": ESSAY}),
            ("updates", {"__interrupt__": (interrupt_chunk(),)}),
            ("values", {"__interrupt__": (interrupt_chunk(),)}),
        ],
        [("values", None), ("updates", {"workflow": DONE}), ("values", DONE)],
    ]


def test_tasks(saver_factory):
    t = same(run_both(essay_run("tasks"), saver_factory))
    entry = {"id": "<uuid:0>", "name": "workflow", "input": "cat", "triggers": ("__start__",)}
    push = {"id": "<uuid:1>", "name": "write_essay", "input": (("cat",), {}),
            "triggers": ("__pregel_push",)}
    intr = {"value": QUESTION, "id": "<intr:0>", "response_schema": None}
    assert t[0] == [
        entry,
        push,
        {"id": "<uuid:1>", "name": "write_essay", "error": None,
         "result": {"__return__": ESSAY}, "interrupts": []},
        {"id": "<uuid:0>", "name": "workflow", "error": None, "result": {}, "interrupts": [intr]},
    ]
    # resume: both task starts again, with the same ids; no task_result for the replayed task
    assert t[1] == [
        entry,
        push,
        {"id": "<uuid:0>", "name": "workflow", "error": None, "result": {"__end__": DONE},
         "interrupts": []},
    ]


def test_checkpoints(saver_factory):
    t = same(run_both(essay_run("checkpoints"), saver_factory))
    config0 = {
        "configurable": {"checkpoint_ns": "", "thread_id": "t1", "checkpoint_id": "<uuid:0>"}
    }
    intr = {"value": QUESTION, "id": "<intr:0>", "response_schema": None}
    input_checkpoint = {
        "config": config0,
        "parent_config": None,
        "values": None,
        "metadata": {"source": "input", "step": -1, "parents": {}},
        "next": ["workflow"],
        "tasks": [{"id": "<uuid:1>", "name": "workflow", "interrupts": (), "state": None}],
    }
    # an interrupt writes no checkpoint, so none is streamed at the interrupt
    assert t[0] == [input_checkpoint]
    # the resume streams the input checkpoint again, with its interrupt, then the loop checkpoint
    resumed = {**input_checkpoint,
               "tasks": [{"id": "<uuid:1>", "name": "workflow", "interrupts": (intr,),
                          "state": None}]}
    assert t[1] == [
        resumed,
        {
            "config": {"configurable": {"checkpoint_ns": "", "thread_id": "t1",
                                        "checkpoint_id": "<uuid:2>"}},
            "parent_config": config0,
            "values": DONE,
            "metadata": {"source": "loop", "step": 0, "parents": {}},
            "next": [],
            "tasks": [],
        },
    ]


def test_debug(saver_factory):
    t = same(run_both(essay_run("debug"), saver_factory))
    steps = [[(c["type"], c["step"]) for c in run] for run in t]
    assert steps == [
        [("checkpoint", -1), ("task", 0), ("task", 0), ("task_result", 0), ("task_result", 0)],
        [("checkpoint", -1), ("task", 0), ("task", 0), ("task_result", 0), ("checkpoint", 0)],
    ]
    assert all(c["timestamp"] == "<ts>" for run in t for c in run)
    # the payloads are those of the checkpoints and tasks modes
    assert t[0][0]["payload"]["metadata"] == {"source": "input", "step": -1, "parents": {}}
    assert t[1][-1]["payload"]["values"] == DONE


def test_debug_steps_count_across_runs(saver_factory):
    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def plain(x: int) -> int:
            return x

        first = list(plain.stream(1, cfg("p"), stream_mode="debug"))
        second = list(plain.stream(2, cfg("p"), stream_mode="debug"))
        return [[(c["type"], c["step"]) for c in run] for run in (first, second)] + [second]

    t = same(run_both(scenario, saver_factory))
    assert t[:2] == [
        [("checkpoint", -1), ("task", 0), ("task_result", 0), ("checkpoint", 0)],
        [("checkpoint", 1), ("task", 2), ("task_result", 2), ("checkpoint", 2)],
    ]


def test_checkpoints_after_error_and_multiple_interrupts(saver_factory):
    """The resumed checkpoint shows the entrypoint's latest interrupt, or its error."""

    def scenario(api, saver):
        failures = [ValueError("boom")]

        @api.task
        def flaky(x: int) -> int:
            if failures:
                raise failures.pop()
            return x

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> list:
            a = api.interrupt("q1")
            b = api.interrupt("q2")
            return [a, b, flaky(x).result()]

        c = cfg("t")
        out = [list(wf.stream(1, c, stream_mode="checkpoints"))]
        out.append(list(wf.stream(api.Command(resume="A"), c, stream_mode="checkpoints")))
        chunks: list = []
        try:
            for chunk in wf.stream(api.Command(resume="B"), c, stream_mode="checkpoints"):
                chunks.append(chunk)
        except ValueError as exc:
            chunks.append(repr(exc))
        out.append(chunks)
        out.append(list(wf.stream(None, c, stream_mode="checkpoints")))
        return [[[ch if isinstance(ch, str) else ch["tasks"] for ch in run] for run in out]]

    (t,) = same(run_both(scenario, saver_factory))

    def entry(**extra):
        return [{"id": "<uuid:0>", "name": "wf", **extra, "state": None}]

    def q(i, v):
        return {"value": v, "id": f"<intr:{i}>", "response_schema": None}

    assert t == [
        [entry(interrupts=())],
        [entry(interrupts=(q(0, "q1"),))],
        [entry(interrupts=(q(1, "q2"),)), "ValueError('boom')"],
        [entry(error="ValueError('boom')"), []],
    ]


def test_subgraphs_and_v2_chunk_shapes(saver_factory):
    def scenario(api, saver):
        wf = build(api, saver)
        return [
            list(wf.stream("cat", cfg("a"), subgraphs=True)),
            list(wf.stream("cat", cfg("b"), subgraphs=True, stream_mode=["updates", "custom"])),
            list(wf.stream("cat", cfg("c"), version="v2", stream_mode=["updates", "custom"])),
        ]

    t = same(run_both(scenario, saver_factory))
    assert t[0][0] == ((), {"write_essay": ESSAY})
    # a task's custom chunk carries its caller's namespace: "<entrypoint>:<entrypoint task id>"
    assert t[1][0] == (("workflow:<uuid:0>",), "custom", {"progress": "writing"})
    assert t[1][1] == ((), "updates", {"write_essay": ESSAY})
    assert t[2][0] == {
        "type": "custom", "ns": ("workflow:<uuid:1>",), "data": {"progress": "writing"}
    }
    assert t[2][1] == {"type": "updates", "ns": (), "data": {"write_essay": ESSAY}}


def test_custom_namespaces_of_body_and_nested_tasks(saver_factory):
    def scenario(api, saver):
        @api.task
        def inner(x: int) -> int:
            api.get_stream_writer()("inner")
            return x

        @api.task
        def outer(x: int, writer=None) -> int:
            writer("outer")
            return inner(x).result()

        @api.entrypoint(checkpointer=saver)
        def wf(x: int, writer=None) -> int:
            writer("body")
            return outer(x).result()

        return list(wf.stream(1, cfg("t"), stream_mode="custom", subgraphs=True))

    t = same(run_both(scenario, saver_factory))
    assert t == [
        ((), "body"),
        (("wf:<uuid:0>",), "outer"),
        (("wf:<uuid:0>", "outer:<uuid:1>"), "inner"),
    ]


def test_v2_values_chunks_carry_interrupts(saver_factory):
    def scenario(api, saver):
        wf = build(api, saver)
        return [
            list(wf.stream("cat", cfg("a"), version="v2", stream_mode="values")),
            list(wf.stream(api.Command(resume=True), cfg("a"), version="v2", stream_mode="values")),
        ]

    t = same(run_both(scenario, saver_factory))
    assert t == [
        [{"type": "values", "ns": (), "data": {}, "interrupts": (interrupt_chunk(),)}],
        [{"type": "values", "ns": (), "data": None, "interrupts": ()},
         {"type": "values", "ns": (), "data": DONE, "interrupts": ()}],
    ]


def test_values_chunk_at_interrupt_merges_the_last_dict_value(saver_factory):
    """As the v1 invoke result (reference §1.2): the interrupt is merged into the thread's last
    dict return value; v2 keeps the value as ``data`` and the interrupts apart."""

    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def wf(x: str):
            return {"x": x, "a": api.interrupt(f"q{x}")}

        c = cfg("t")
        return [
            list(wf.stream("1", c, stream_mode="values")),
            list(wf.stream(api.Command(resume="A"), c, stream_mode="values")),
            list(wf.stream("2", c, stream_mode="values")),
            list(wf.stream("3", cfg("u"), stream_mode="values", version="v2")),
            list(wf.stream(api.Command(resume="B"), cfg("u"), stream_mode="values", version="v2")),
            list(wf.stream("4", cfg("u"), stream_mode="values", version="v2")),
        ]

    t = same(run_both(scenario, saver_factory))
    from .lg import N

    def q(i, v):
        return N("Interrupt", (("value", v), ("id", f"<intr:{i}>"), ("response_schema", None)))

    assert t[2] == [{"x": "1", "a": "A", "__interrupt__": (q(1, "q2"),)}]
    assert t[5] == [{"type": "values", "ns": (), "data": {"x": "3", "a": "B"},
                     "interrupts": (q(3, "q4"),)}]


async def test_astream_modes_async_entrypoint(saver_factory):
    async def scenario(api, saver):
        @api.task
        async def write_essay(topic: str) -> str:
            api.get_stream_writer()({"progress": "writing"})
            return f"An essay about topic: {topic}"

        @api.entrypoint(checkpointer=saver)
        async def workflow(topic: str) -> dict:
            essay = await write_essay("cat")
            is_approved = api.interrupt(
                {"essay": essay, "action": "Please approve/reject the essay"}
            )
            return {"essay": essay, "is_approved": is_approved}

        modes = ["custom", "updates", "values", "tasks"]
        first = await collect(workflow.astream("cat", cfg("t"), stream_mode=modes))
        resume = await collect(
            workflow.astream(api.Command(resume=True), cfg("t"), stream_mode=modes)
        )
        return [first, resume]

    t = same(await arun_both(scenario, saver_factory))
    assert [m for m, _ in t[0]] == ["tasks", "tasks", "custom", "updates", "tasks", "updates",
                                    "values", "tasks"]
    # on completion: the entrypoint's update and task result, then the values
    assert t[1][-3:] == [
        ("updates", {"workflow": DONE}),
        ("tasks", {"id": "<uuid:0>", "name": "workflow", "error": None,
                   "result": {"__end__": DONE}, "interrupts": []}),
        ("values", DONE),
    ]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_unknown_stream_mode_and_durability(api, saver_factory):
    """Deliberate difference: LangGraph silently streams nothing for an unknown mode and ignores
    an unknown durability; Flowsite raises ValueError listing the valid ones."""
    wf = build(api, saver_factory(api))
    bad_mode = attempt(lambda: list(wf.stream("cat", cfg("t"), stream_mode="bogus")))
    bad_durability = attempt(lambda: list(wf.stream("cat", cfg("u"), durability="bogus")))
    if api is LANGGRAPH:
        assert bad_mode == []
        assert bad_durability[0] == {"write_essay": ESSAY}
    else:
        assert bad_mode[:2] == ("raises", "ValueError") and "'bogus'" in bad_mode[2]
        assert bad_durability[:2] == ("raises", "ValueError") and "'bogus'" in bad_durability[2]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_v2_updates_part_of_an_interrupt_keeps_its_data(api, saver_factory):
    """Deliberate difference: with ``version="v2"`` and both ``updates`` and ``values``,
    LangGraph pops ``__interrupt__`` out of the values payload, which on a first run is the same
    dict object as the updates payload, so its interrupt ``updates`` part ends up ``{}``.
    Flowsite leaves the updates part intact."""
    wf = build(api, saver_factory(api))
    parts = list(wf.stream("cat", cfg("t"), stream_mode=["updates", "values"], version="v2"))
    updates = [p["data"] for p in parts if p["type"] == "updates"]
    values = [p for p in parts if p["type"] == "values"]
    assert updates[0] == {"write_essay": ESSAY}
    assert values[0]["data"] == {} and len(values[0]["interrupts"]) == 1
    if api is LANGGRAPH:
        assert updates[1] == {}
    else:
        assert list(updates[1]) == ["__interrupt__"] and len(updates[1]["__interrupt__"]) == 1
