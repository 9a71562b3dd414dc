"""Thread state: get_state / get_state_history shapes (reference §1.2), checkpoint counts,
metadata from config (§3), time travel and forks (§1.9), durability."""

from __future__ import annotations

import pytest

from .lg import API_IDS, APIS, LANGGRAPH, N, attempt, cfg, run_both, same

DONE = {"e": "E cat", "ok": True}


def q(i: int, value="q") -> N:
    return N("Interrupt", (("value", value), ("id", f"<intr:{i}>"), ("response_schema", None)))


def build(api, saver, execs: list):
    @api.task
    def write_essay(topic: str) -> str:
        execs.append(topic)
        return "E " + topic

    @api.entrypoint(checkpointer=saver)
    def workflow(topic: str) -> dict:
        e = write_essay(topic).result()
        return {"e": e, "ok": api.interrupt("q")}

    return workflow


def fields(snapshot: N) -> dict:
    return dict(snapshot.fields)


def without_answered_interrupts(snapshot: N) -> N:
    """The snapshot with ``interrupts`` emptied (top level and in its task): see
    ``test_history_keeps_answered_interrupts_only_in_langgraph``."""
    f = fields(snapshot)
    tasks = tuple(
        N("PregelTask", tuple((k, () if k == "interrupts" else v) for k, v in t.fields))
        for t in f["tasks"]
    )
    return N("StateSnapshot", tuple(
        (k, tasks if k == "tasks" else () if k == "interrupts" else v) for k, v in snapshot.fields
    ))


def history_scenario(api, saver):
    execs: list = []
    wf = build(api, saver, execs)
    c = cfg("t", tag="x", num=3, nested={"dropped": True})
    wf.invoke("cat", c)
    wf.invoke(api.Command(resume=True), c)
    return {"history": list(wf.get_state_history(cfg("t"))), "execs": execs}


def test_history_after_interrupt_and_resume(saver_factory):
    results = run_both(history_scenario, saver_factory)
    for name in results:
        # compared apart, below (a deliberate difference)
        results[name]["history"][1] = without_answered_interrupts(results[name]["history"][1])
    t = same(results)
    loop, inp = (fields(s) for s in t["history"])  # newest first; 2 checkpoints per run
    # metadata copies string/number config keys; the dict-valued key is dropped
    assert loop["metadata"] == {"source": "loop", "step": 0, "parents": {}, "tag": "x", "num": 3}
    assert inp["metadata"] == {"source": "input", "step": -1, "parents": {}, "tag": "x", "num": 3}
    assert loop["values"] == DONE and loop["next"] == () and loop["tasks"] == ()
    assert loop["parent_config"] == inp["config"] and inp["parent_config"] is None
    assert inp["values"] is None and inp["next"] == ("workflow",)
    # the old input snapshot's task shows the entrypoint's result
    (task,) = inp["tasks"]
    assert dict(task.fields)["result"] == DONE
    assert dict(task.fields)["path"] == ("__pregel_pull", "workflow")
    assert t["execs"] == ["cat"]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_history_keeps_answered_interrupts_only_in_langgraph(api, saver_factory):
    """Deliberate difference: in the snapshot of a step whose interrupt was answered, LangGraph
    still lists that interrupt (its ``__interrupt__`` write is kept as a record of the step);
    Flowsite clears the write when the interrupt is answered (DjangoSaver keeps its Interrupt
    rows in step with it), so answered interrupts are not listed. Pending interrupts are listed
    the same in both (see ``test_essay``)."""
    history = history_scenario(api, saver_factory(api))["history"]
    old_input = history[1]
    if api is LANGGRAPH:
        assert [i.value for i in old_input.interrupts] == ["q"]
        assert [i.value for i in old_input.tasks[0].interrupts] == ["q"]
    else:
        assert old_input.interrupts == () and old_input.tasks[0].interrupts == ()


def test_time_travel_forks_and_reruns(saver_factory):
    """Reference §1.9: ``stream(None, <input checkpoint config>)`` writes a fork checkpoint,
    re-executes the tasks and interrupts again with a new id; resuming writes ``loop`` step 1 on
    the new branch. New input with a ``checkpoint_id`` also forks."""

    def scenario(api, saver):
        execs: list = []
        wf = build(api, saver, execs)
        c = cfg("t")
        first = wf.invoke("cat", c)
        wf.invoke(api.Command(resume=True), c)
        input_config = list(wf.get_state_history(c))[-1].config
        replay = list(wf.stream(None, input_config))
        state = wf.get_state(c)
        resumed = list(wf.stream(api.Command(resume="fork-yes"), c))
        lineage = [(s.metadata["source"], s.metadata["step"], s.config, s.parent_config)
                   for s in wf.get_state_history(c)]
        addressed = wf.get_state(input_config)
        new_input = list(wf.stream("dog", input_config))
        return {
            "first": first, "replay": replay, "state": state, "resumed": resumed,
            "lineage": lineage, "addressed": addressed, "new_input": new_input, "execs": execs,
        }

    results = run_both(scenario, saver_factory)
    for name in results:  # the addressed checkpoint's interrupt was answered: compared apart
        results[name]["addressed"] = without_answered_interrupts(results[name]["addressed"])
    t = same(results)
    assert t["first"] == {"__interrupt__": [q(0)]}
    assert t["replay"] == [{"write_essay": "E cat"}, {"__interrupt__": (q(1),)}]  # a new id
    assert fields(t["state"])["metadata"] == {"source": "fork", "step": 0, "parents": {}}
    assert t["resumed"] == [{"workflow": {"e": "E cat", "ok": "fork-yes"}}]
    sources = [(src, step) for src, step, _c, _p in t["lineage"]]
    assert sources == [("loop", 1), ("fork", 0), ("loop", 0), ("input", -1)]
    new_loop, fork, old_loop, old_input = [(conf, parent) for *_, conf, parent in t["lineage"]]
    assert fork[1] == old_input[0]  # the fork's parent is the addressed checkpoint
    assert new_loop[1] == fork[0]  # the resume continues the new branch
    assert old_loop[1] == old_input[0]
    assert fields(t["addressed"])["metadata"]["source"] == "input"
    assert t["new_input"] == [{"write_essay": "E dog"}, {"__interrupt__": (q(2),)}]
    assert t["execs"] == ["cat", "cat", "dog"]


def test_history_filters(saver_factory):
    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            return x

        c = cfg("t")
        for i in range(3):
            wf.invoke(i, c)
        history = list(wf.get_state_history(c))
        return {
            "all": [(s.metadata["source"], s.metadata["step"], s.values) for s in history],
            "limit": [s.config for s in wf.get_state_history(c, limit=2)] == [
                s.config for s in history[:2]],
            "filter": [s.metadata["step"]
                       for s in wf.get_state_history(c, filter={"source": "input"})],
            "before": [s.metadata["step"]
                       for s in wf.get_state_history(c, before=history[2].config)],
            "at": wf.get_state(history[3].config).values,
        }

    t = same(run_both(scenario, saver_factory))
    assert t == {
        "all": [("loop", 4, 2), ("input", 3, 1), ("loop", 2, 1), ("input", 1, 0), ("loop", 0, 0),
                ("input", -1, None)],
        "limit": True,
        "filter": [3, 1, -1],
        "before": [1, 0, -1],
        "at": 0,
    }


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_durability_checkpoint_counts(saver_factory, durability):
    """Each completed run writes an input and a loop checkpoint; an interrupt writes none of its
    own; with ``durability="exit"`` a run without interrupt writes only its loop checkpoint."""

    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def plain(x: int) -> int:
            return x

        execs: list = []
        wf = build(api, saver, execs)
        plain.invoke(1, cfg("p"), durability=durability)
        plain.invoke(2, cfg("p"), durability=durability)
        first = wf.invoke("cat", cfg("w"), durability=durability)
        after_interrupt = [s.metadata for s in wf.get_state_history(cfg("w"))]
        done = wf.invoke(api.Command(resume=True), cfg("w"), durability=durability)
        return {
            "plain": [(s.metadata["source"], s.metadata["step"], s.values)
                      for s in plain.get_state_history(cfg("p"))],
            "first": first,
            "after_interrupt": after_interrupt,
            "done": done,
            "essay": [s.metadata["source"] for s in wf.get_state_history(cfg("w"))],
            "state": wf.get_state(cfg("w")).values,
            "execs": execs,
        }

    t = same(run_both(scenario, saver_factory))
    if durability == "exit":
        assert t["plain"] == [("loop", 2, 2), ("loop", 0, 1)]
    else:
        assert t["plain"] == [("loop", 2, 2), ("input", 1, 1), ("loop", 0, 1), ("input", -1, None)]
    assert t["after_interrupt"] == [{"source": "input", "step": -1, "parents": {}}]
    assert t["essay"] == ["loop", "input"]
    assert t["done"] == t["state"] == DONE
    assert t["execs"] == ["cat"]


def test_get_state_after_error(saver_factory):
    def scenario(api, saver):
        @api.task
        def boom(x: int) -> int:
            raise ValueError("boom in b")

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            return boom(x).result()

        c = cfg("t")
        return [attempt(lambda: wf.invoke(1, c)), wf.get_state(c)]

    t = same(run_both(scenario, saver_factory))
    state = fields(t[1])
    assert t[0] == ("raises", "ValueError", "boom in b")
    assert state["next"] == ("wf",)
    assert dict(state["tasks"][0].fields)["error"] == "ValueError('boom in b')"
    assert state["interrupts"] == ()


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_custom_root_checkpoint_ns(api, saver_factory):
    """A custom root ``checkpoint_ns`` is accepted and runs resume alike. Deliberate difference:
    LangGraph stores the run's checkpoints under namespace ``''`` anyway, so ``get_state`` with the
    same config finds nothing (and the plain thread config finds the state); Flowsite stores and
    reads them under ``'foo'``."""

    @api.entrypoint(checkpointer=saver_factory(api))
    def wf(x: int) -> int:
        return api.interrupt(x)

    c = cfg("t", checkpoint_ns="foo")
    assert [i.value for i in wf.invoke(1, c)["__interrupt__"]] == [1]
    assert wf.invoke(api.Command(resume=2), c) == 2
    if api is LANGGRAPH:
        assert (wf.get_state(c).values, wf.get_state(cfg("t")).values) == ({}, 2)
    else:
        assert (wf.get_state(c).values, wf.get_state(cfg("t")).values) == (2, {})
