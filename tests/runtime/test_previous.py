"""``previous``, ``entrypoint.final(value=, save=)`` and ``update_state`` (reference §1.5)."""

from __future__ import annotations

import pytest

from .lg import API_IDS, APIS, cfg, run_both, same


def build_counter(api, saver):
    """Reference §1.5: ``previous=None -> 0``, return ``final(value=prev, save=prev + n)``."""

    @api.entrypoint(checkpointer=saver)
    def counter(n: int, *, previous=None) -> api.entrypoint.final[int, int]:
        prev = previous or 0
        return api.entrypoint.final(value=prev, save=prev + n)

    return counter


def test_final_value_and_save_per_thread(saver_factory):
    def scenario(api, saver):
        counter = build_counter(api, saver)
        t = cfg("t1")
        out = [
            counter.invoke(3, t),
            counter.invoke(1, t),
            list(counter.stream(5, t)),
            list(counter.stream(5, t, stream_mode="values")),
            counter.get_state(t).values,
            saver.get(t)["channel_values"],
            counter.invoke(100, cfg("other")),  # another thread starts from previous=None
            counter.invoke(0, t),
        ]
        return out

    t = same(run_both(scenario, saver_factory))
    assert t == [0, 3, [{"counter": 4}], [9], 9, {"__end__": 9, "__previous__": 14}, 0, 14]


def test_interrupted_run_does_not_change_previous(saver_factory):
    def scenario(api, saver):
        seen = []

        @api.entrypoint(checkpointer=saver)
        def wf(x: str, previous=None):  # injected by name, whatever the annotation
            seen.append(previous)
            answer = api.interrupt(f"ok {x}?") if x == "ask" else None
            return {"x": x, "answer": answer}

        t = cfg("t")
        wf.invoke("a", t)
        wf.invoke("ask", t)  # interrupted: previous stays {"x": "a", ...}
        wf.invoke("b", t)  # new input discards the pending run
        wf.invoke("ask", t)
        wf.invoke(api.Command(resume="yes"), t)
        wf.invoke("c", t)
        return seen

    t = same(run_both(scenario, saver_factory))
    a = {"x": "a", "answer": None}
    b = {"x": "b", "answer": None}
    assert t == [None, a, a, b, b, {"x": "ask", "answer": "yes"}]


def test_save_none_is_stored_as_none(saver_factory):
    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def wf(x: int, previous=None):
            return api.entrypoint.final(value={"got": previous}, save=None)

        return [wf.invoke(1, cfg("t")), wf.invoke(2, cfg("t")), wf.get_state(cfg("t")).values]

    assert same(run_both(scenario, saver_factory)) == [{"got": None}, {"got": None}, {"got": None}]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_previous_is_none_without_checkpointer(api):
    @api.entrypoint()
    def wf(x: int, previous=None):
        return api.entrypoint.final(value=previous, save=x)

    assert [wf.invoke(1), wf.invoke(2)] == [None, None]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_final_needs_two_type_arguments(api):
    assert api.entrypoint.final[int, int] is not None
    with pytest.raises(TypeError):
        api.entrypoint.final[int]


def test_task_sees_the_entrypoints_previous(saver_factory):
    def scenario(api, saver):
        @api.task
        def peek(x: int, previous=None):
            return [x, previous]

        @api.entrypoint(checkpointer=saver)
        def wf(x: int, previous=None):
            return peek(x).result()

        return [wf.invoke(1, cfg("t")), wf.invoke(2, cfg("t"))]

    assert same(run_both(scenario, saver_factory)) == [[1, None], [2, [1, None]]]


def test_update_state_sets_value_and_previous(saver_factory):
    """Reference §1.5: ``update_state`` runs the node's writers (``__end__`` and ``__previous__``)
    and writes a checkpoint with source ``update``."""

    def scenario(api, saver):
        counter_seen = []

        @api.entrypoint(checkpointer=saver)
        def wf(x: int, previous=None):
            counter_seen.append(previous)
            return {"x": x}

        t = cfg("t")
        wf.invoke(1, t)
        returned = wf.update_state(t, {"injected": True})
        state = wf.get_state(t)
        channel_values = saver.get(t)["channel_values"]
        result = wf.invoke(2, t)
        history = [(s.metadata["source"], s.metadata["step"]) for s in wf.get_state_history(t)]
        return {
            "returned_keys": sorted(returned["configurable"]),
            "returned_is_state": returned == state.config,
            "values": state.values,
            "next": state.next,
            "metadata": state.metadata,
            "channel_values": channel_values,
            "result": result,
            "seen": counter_seen,
            "history": history,
        }

    t = same(run_both(scenario, saver_factory))
    assert t == {
        "returned_keys": ["checkpoint_id", "checkpoint_ns", "thread_id"],
        "returned_is_state": True,
        "values": {"injected": True},
        "next": (),
        "metadata": {"source": "update", "step": 1, "parents": {}},
        "channel_values": {"__end__": {"injected": True}, "__previous__": {"injected": True}},
        "result": {"x": 2},
        "seen": [None, {"injected": True}],
        "history": [("loop", 3), ("input", 2), ("update", 1), ("loop", 0), ("input", -1)],
    }


def test_state_values_are_the_return_value_not_the_save_value(saver_factory):
    def scenario(api, saver):
        counter = build_counter(api, saver)
        counter.invoke(7, cfg("t"))
        state = counter.get_state(cfg("t"))
        return [state.values, saver.get(cfg("t"))["channel_values"]]

    assert same(run_both(scenario, saver_factory)) == [0, {"__end__": 0, "__previous__": 7}]
