"""``RunControl`` / ``request_drain()`` as LangGraph 1.2.24 (issue 7, item 5).

LangGraph checks a drain request at each step boundary; an entrypoint's run is one step, so a
drain requested before the body starts stores the input (or the resume answers), raises
``GraphDrained(reason)`` and leaves the run pending (``invoke(None, config)`` continues it),
while a body already running finishes with its in-flight tasks.
"""

from __future__ import annotations

import langgraph.errors
import langgraph.runtime
import pytest

import workflows

from .lg import APIS, FLOWSITE, aattempt, attempt, cfg, run_both, same


def lib(api):
    """``(RunControl, GraphDrained)`` of ``api``'s library."""
    if api is FLOWSITE:
        return workflows.RunControl, workflows.GraphDrained
    return langgraph.runtime.RunControl, langgraph.errors.GraphDrained


def drained(reason: str = "bye"):
    return ("raises", "GraphDrained", f"Graph drained: {reason}")


def build(api, saver, calls: list):
    @api.task
    def step(x: int) -> int:
        calls.append(("step", x))
        return x + 1

    @api.entrypoint(checkpointer=saver)
    def wf(x: int) -> int:
        calls.append(("body", x))
        return api.interrupt(step(x).result())

    return wf


def test_drain_before_the_run_starts(saver_factory):
    def scenario(api, saver):
        run_control, graph_drained = lib(api)
        calls: list = []
        wf = build(api, saver, calls)
        control = run_control()
        control.request_drain("bye")
        c = cfg("t")
        chunks: list = []

        def stream():
            for chunk in wf.stream(1, c, control=control,
                                   stream_mode=["values", "updates", "checkpoints", "tasks"]):
                chunks.append(chunk)

        out = [attempt(stream), chunks]
        try:
            wf.invoke(1, cfg("u"), control=control)
        except graph_drained as exc:
            out.append([exc.reason, str(exc), isinstance(exc, Exception)])
        state = wf.get_state(c)
        out += [state.next, state.values, state.metadata, state.tasks, calls[:]]
        out.append(wf.invoke(None, c))  # the stored input runs later
        out.append(calls)
        return out

    t = same(run_both(scenario, saver_factory))
    assert t[0] == drained()
    assert [mode for mode, _chunk in t[1]] == ["checkpoints"]  # the input checkpoint only
    assert t[2] == ["bye", "Graph drained: bye", True]
    assert t[3] == ("wf",) and t[7] == []  # pending, nothing executed
    assert t[9] == [("body", 1), ("step", 1)]


def test_drain_during_the_run_lets_the_body_finish(saver_factory):
    """A drain requested by a running task: the body goes on (LangGraph schedules the tasks it
    calls within the step) and the run ends as usual."""

    def scenario(api, saver):
        run_control, _ = lib(api)
        control = run_control()
        calls: list = []

        @api.task
        def first(x: int) -> int:
            calls.append("first")
            control.request_drain()
            return x + 1

        @api.task
        def second(x: int) -> int:
            calls.append("second")
            return x * 2

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            return second(first(x).result()).result()

        c = cfg("t")
        result = wf.invoke(1, c, control=control)
        return [result, calls, wf.get_state(c).next, attempt(lambda: wf.invoke(5, c,
                                                                             control=control))]

    t = same(run_both(scenario, saver_factory))
    assert t == [4, ["first", "second"], (), drained("shutdown")]


def test_drain_at_a_resume_keeps_the_answer(saver_factory):
    """``Command(resume=...)`` with a drained control: the answer is stored and the run stops
    before the body re-runs; ``invoke(None)`` later continues with that answer. (Deliberate
    difference: LangGraph still lists the answered interrupt in ``get_state().interrupts``;
    Flowsite records an answer on the interrupted task at once, as for a resume that fails.)"""

    def scenario(api, saver):
        run_control, _ = lib(api)
        calls: list = []
        wf = build(api, saver, calls)
        c = cfg("t")
        first = wf.invoke(1, c)
        control = run_control()
        control.request_drain("bye")
        values: list = []

        def resume():
            for chunk in wf.stream(api.Command(resume="yes"), c, control=control,
                                   stream_mode="values"):
                values.append(chunk)

        out = [first, attempt(resume), values, wf.get_state(c).next, calls[:]]
        out.append(wf.invoke(None, c))
        out.append(calls)
        return out

    t = same(run_both(scenario, saver_factory))
    assert t[1] == drained() and t[2] == [None]
    assert t[5] == "yes" and t[6] == [("body", 1), ("step", 1), ("body", 1)]


def test_drain_without_a_checkpointer():
    def scenario(api):
        run_control, _ = lib(api)
        control = run_control()
        control.request_drain()

        @api.entrypoint()
        def wf(x: int) -> int:
            return x

        return [attempt(lambda: wf.invoke(1, control=control)),
                attempt(lambda: wf.invoke(1, version="v2", control=control)),
                wf.invoke(2, control=run_control()), control.drain_requested,
                control.drain_reason]

    assert same(run_both(scenario)) == [drained("shutdown")] * 2 + [2, True, "shutdown"]


async def test_drain_async(saver_factory):
    out = {}
    for api in APIS:
        run_control, _ = lib(api)
        control = run_control()
        control.request_drain("async")

        @api.entrypoint(checkpointer=saver_factory(api))
        async def wf(x: int) -> int:
            return x

        c = cfg("t")
        out[api.name] = [
            await aattempt(lambda: wf.ainvoke(1, c, control=control)),  # noqa: B023
            await aattempt(
                lambda: _collect(wf.astream(1, cfg("u"), control=control))  # noqa: B023
            ),
            await wf.ainvoke(None, c),
        ]
    assert out["flowsite"] == out["langgraph"] == [drained("async"), drained("async"), 1]


async def _collect(stream):
    return [chunk async for chunk in stream]


@pytest.mark.parametrize("api", APIS, ids=[a.name for a in APIS])
def test_run_control_interface(api):
    run_control, _ = lib(api)
    control = run_control()
    assert (control.drain_requested, control.drain_reason) == (False, None)
    control.request_drain()
    assert (control.drain_requested, control.drain_reason) == (True, "shutdown")
