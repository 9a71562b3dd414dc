"""An entrypoint called inside another entrypoint's run is a subgraph, as in LangGraph's
functional API: it shares the parent's thread and checkpointer, its checkpoints live under the
namespace of the body or task that called it (``"parent:<task id>"``, then ``"...|1"`` for a
second call from the same body or task), its interrupts pause the parent and are answered by a
``Command(resume=...)`` on the parent's thread, its tasks that finished are replayed, not re-run,
and ``subgraphs=True`` (or ``version="v2"``'s ``ns``) shows its chunks under its namespace.

Each scenario runs on LangGraph (the reference) and on Flowsite, in memory and on ``DjangoSaver``.
"""

from __future__ import annotations

from collections import Counter

import pytest

from .lg import N, arun_both, attempt, cfg, collect, run_both, same


def _interrupts_once(obj):
    """``obj`` with each tuple or list of interrupts reduced to one per id.

    LangGraph 1.2.24 lists an interrupt raised in a subgraph's *task* twice (one id, from the
    task and from the subgraph's entrypoint it bubbled through); Flowsite surfaces it once. The
    tests apply this to LangGraph's transcript, after asserting that it had the duplicate.
    """
    if isinstance(obj, (list, tuple)) and obj and all(_is_interrupt(i) for i in obj):
        seen, kept = set(), []
        for intr in obj:
            if repr(intr) not in seen:
                seen.add(repr(intr))
                kept.append(intr)
        return type(obj)(kept)
    if isinstance(obj, N):
        return N(obj.kind, tuple((k, _interrupts_once(v)) for k, v in obj.fields))
    if isinstance(obj, dict):
        return {k: _interrupts_once(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_interrupts_once(v) for v in obj)
    return obj


def _is_interrupt(obj) -> bool:
    """An ``Interrupt`` (normalized) or its dict form in ``tasks`` chunks."""
    if isinstance(obj, dict):
        return set(obj) == {"value", "id", "response_schema"}
    return isinstance(obj, N) and obj.kind == "Interrupt"


def same_but_duplicate_interrupts(results: dict) -> object:
    """Flowsite's transcript equals LangGraph's once LangGraph's duplicated interrupts are
    reduced to one (a deliberate difference, see the README); LangGraph did duplicate."""
    reduced = _interrupts_once(results["langgraph"])
    assert reduced != results["langgraph"], "LangGraph no longer duplicates the interrupt"
    return same({**results, "langgraph": reduced})


def test_entrypoint_called_from_a_task_streams_under_its_namespace(saver_factory):
    def scenario(api, saver):
        @api.task
        def inner_task(x: int) -> int:
            return x * 2

        @api.entrypoint(checkpointer=saver)
        def child(x: int) -> int:
            return inner_task(x).result()

        @api.task
        def call_child(x: int) -> int:
            return child.invoke(x)

        @api.entrypoint(checkpointer=saver)
        def parent(x: int) -> int:
            return call_child(x).result() + 1

        return [
            list(parent.stream(1, cfg("p"), subgraphs=True)),
            list(parent.stream(1, cfg("q"))),
            parent.invoke(1, cfg("r")),
        ]

    t = same(run_both(scenario, saver_factory))
    ns = ("parent:<uuid:0>", "call_child:<uuid:1>")
    assert t[0] == [(ns, {"inner_task": 2}), (ns, {"child": 2}), ((), {"call_child": 2}),
                    ((), {"parent": 3})]
    assert t[1] == [{"call_child": 2}, {"parent": 3}]  # without subgraphs=True: the parent's only
    assert t[2] == 3


def _body_scenario(api, saver, calls: Counter):
    """A parent whose body runs a task, then a child that runs a task and interrupts."""

    @api.task
    def before(x: int) -> int:
        calls["before"] += 1
        return x + 100

    @api.task
    def inner_task(x: int) -> int:
        calls["inner_task"] += 1
        return x * 2

    @api.entrypoint(checkpointer=saver)
    def child(x: int) -> dict:
        calls["child"] += 1
        y = inner_task(x).result()
        return {"y": y, "a": api.interrupt({"q": "child?", "y": y})}

    @api.entrypoint(checkpointer=saver)
    def parent(x: int) -> dict:
        calls["parent"] += 1
        return {"b": before(x).result(), "r": child.invoke(x)}

    return parent


def test_interrupt_in_the_child_body_pauses_the_parent_and_resumes_through_it(saver_factory):
    def scenario(api, saver):
        calls: Counter = Counter()
        parent = _body_scenario(api, saver, calls)
        c = cfg("t")
        first = list(parent.stream(1, c, subgraphs=True))
        paused = parent.get_state(c)
        after_first = dict(calls)
        resumed = list(parent.stream(api.Command(resume="A"), c, subgraphs=True))
        done = parent.get_state(c)
        return [first, paused.next, paused.interrupts, after_first, resumed, dict(calls),
                done.values, done.next, len(list(parent.get_state_history(c)))]

    t = same(run_both(scenario, saver_factory))
    ns = ("parent:<uuid:0>",)
    intr = N("Interrupt", (("value", {"q": "child?", "y": 2}), ("id", "<intr:0>"),
                           ("response_schema", None)))
    assert t[0] == [((), {"before": 101}), (ns, {"inner_task": 2}),
                    (ns, {"__interrupt__": (intr,)}), ((), {"__interrupt__": (intr,)})]
    assert t[1:3] == [("parent",), (intr,)]
    assert t[3] == {"parent": 1, "before": 1, "child": 1, "inner_task": 1}
    assert t[4] == [(ns, {"child": {"y": 2, "a": "A"}}),
                    ((), {"parent": {"b": 101, "r": {"y": 2, "a": "A"}}})]
    # on resume both bodies re-run; the tasks that finished are replayed
    assert t[5] == {"parent": 2, "before": 1, "child": 2, "inner_task": 1}
    assert t[6:] == [{"b": 101, "r": {"y": 2, "a": "A"}}, (), 2]


def test_invoke_of_a_paused_parent_returns_the_child_interrupt(saver_factory):
    def scenario(api, saver):
        calls: Counter = Counter()
        parent = _body_scenario(api, saver, calls)
        c = cfg("t")
        return [parent.invoke(1, c), parent.invoke(api.Command(resume="B"), c),
                parent.invoke(1, cfg("v2"), version="v2"), dict(calls)]

    t = same(run_both(scenario, saver_factory))
    assert t[1] == {"b": 101, "r": {"y": 2, "a": "B"}}
    assert list(t[0]) == ["__interrupt__"] and t[2].kind == "GraphOutput"


def _task_scenario(api, saver, calls: Counter):
    """A parent task calls a child whose task interrupts (twice: two questions)."""

    @api.task
    def inner_task(x: int) -> int:
        calls["inner_task"] += 1
        return x * 2

    @api.task
    def ask(y: int) -> str:
        calls["ask"] += 1
        return api.interrupt(f"first {y}") + api.interrupt(f"second {y}")

    @api.entrypoint(checkpointer=saver)
    def child(x: int) -> dict:
        calls["child"] += 1
        y = inner_task(x).result()
        return {"y": y, "a": ask(y).result()}

    @api.task
    def call_child(x: int) -> dict:
        calls["call_child"] += 1
        return child.invoke(x)

    @api.entrypoint(checkpointer=saver)
    def parent(x: int) -> dict:
        calls["parent"] += 1
        return {"r": call_child(x).result()}

    return parent


def test_interrupts_in_a_child_task_resume_through_the_parent(saver_factory):
    def scenario(api, saver):
        calls: Counter = Counter()
        parent = _task_scenario(api, saver, calls)
        c = cfg("t")
        out = [list(parent.stream(1, c, subgraphs=True, stream_mode=["updates", "tasks"]))]
        out.append(parent.get_state(c).interrupts)
        out.append(list(parent.stream(api.Command(resume="A"), c, subgraphs=True)))
        pending = parent.get_state(c).interrupts
        out.append(pending)
        # the second question answered by id, as the dashboard does
        out.append(parent.invoke(api.Command(resume={pending[0].id: "B"}), c))
        out.append(dict(calls))
        return out

    t = same_but_duplicate_interrupts(run_both(scenario, saver_factory))
    first, second = t[1][0], t[3][0]
    assert [first.fields[0], second.fields[0]] == [("value", "first 2"), ("value", "second 2")]
    assert t[4] == {"r": {"y": 2, "a": "AB"}}
    # each resume re-runs the bodies and the interrupting task; inner_task ran once
    assert t[5] == {"parent": 3, "call_child": 3, "child": 3, "inner_task": 1, "ask": 3}


def test_child_streams_custom_chunks_and_namespaces_a_second_call(saver_factory):
    def scenario(api, saver):
        @api.task
        def inner(x: int) -> int:
            api.get_stream_writer()({"inner": x})
            return x * 2

        @api.entrypoint(checkpointer=saver)
        def child(x: int) -> int:
            api.get_stream_writer()({"child_body": x})
            return inner(x).result()

        @api.entrypoint(checkpointer=saver)
        def parent(x: int) -> list:
            return [child.invoke(x), child.invoke(x + 1)]

        modes = ["custom", "updates"]
        return [
            list(parent.stream(1, cfg("a"), stream_mode=modes)),
            list(parent.stream(1, cfg("b"), stream_mode=modes, subgraphs=True)),
            list(parent.stream(1, cfg("c"), stream_mode=modes, subgraphs=True, version="v2")),
            list(parent.stream(1, cfg("d"), stream_mode=modes, version="v2")),
        ]

    t = same(run_both(scenario, saver_factory))
    assert t[0] == [("updates", {"parent": [2, 4]})]
    first, second = ("parent:<uuid:0>",), ("parent:<uuid:0>", "1")
    assert [chunk[0] for chunk in t[1]] == [
        first, (*first, "child:<uuid:1>"), first, first,
        second, (*second, "child:<uuid:2>"), second, second, (),
    ]
    assert [part["ns"] for part in t[3]] == [()]


def test_checkpoints_of_the_child_live_under_its_namespace(saver_factory):
    def scenario(api, saver):
        calls: Counter = Counter()
        parent = _body_scenario(api, saver, calls)
        c = cfg("t")
        chunks = list(parent.stream(1, c, subgraphs=True, stream_mode=["checkpoints", "updates"]))
        ns = next(ns for ns, _mode, _chunk in chunks if ns)
        child_cfg = {"configurable": {"thread_id": "t", "checkpoint_ns": "|".join(ns)}}
        stored = [(t.metadata, t.parent_config is None) for t in saver.list(child_cfg)]
        parent.invoke(api.Command(resume="A"), c)
        stored_after = [t.metadata for t in saver.list(child_cfg)]
        root = [t.metadata for t in saver.list({"configurable": {"thread_id": "t",
                                                                 "checkpoint_ns": ""}})]
        return [chunks, stored, stored_after, root]

    t = same(run_both(scenario, saver_factory))
    parents = {"": "<uuid:0>"}  # the root input checkpoint, first id of the transcript
    assert t[1] == [({"source": "input", "step": -1, "parents": parents}, True)]
    assert t[2] == [{"source": "loop", "step": 0, "parents": parents},
                    {"source": "input", "step": -1, "parents": parents}]
    assert [m["source"] for m in t[3]] == ["loop", "input"]


def test_get_state_with_subgraphs_shows_the_child_state(saver_factory):
    def scenario(api, saver):
        calls: Counter = Counter()
        parent = _body_scenario(api, saver, calls)
        c = cfg("t")
        parent.invoke(1, c)
        out = [parent.get_state(c), parent.get_state(c, subgraphs=True)]
        parent.invoke(api.Command(resume="A"), c)
        out.append(parent.get_state(c, subgraphs=True))
        return out

    t = same(run_both(scenario, saver_factory))
    flat, deep, done = t
    task = dict(flat.fields)["tasks"][0]
    assert dict(task.fields)["state"] == {
        "configurable": {"thread_id": "t", "checkpoint_ns": "parent:<uuid:1>"}
    }
    child = dict(dict(deep.fields)["tasks"][0].fields)["state"]
    assert child.kind == "StateSnapshot" and dict(child.fields)["next"] == ("child",)
    assert dict(done.fields)["tasks"] == ()


def test_child_called_from_a_task_is_not_seen_by_get_state(saver_factory):
    """LangGraph finds subgraphs by the ``Pregel`` values the entrypoint's function refers to
    (its globals, closure and their attributes): a child called only from a task has no state
    in ``get_state(subgraphs=True)``, though its checkpoints are stored all the same."""

    def scenario(api, saver):
        calls: Counter = Counter()
        parent = _task_scenario(api, saver, calls)
        c = cfg("t")
        parent.invoke(1, c)
        return [(t.name, t.state) for t in parent.get_state(c, subgraphs=True).tasks]

    assert same(run_both(scenario, saver_factory)) == [("parent", None)]


def test_error_in_a_child_task_and_resume_with_none(saver_factory):
    def scenario(api, saver):
        calls: Counter = Counter()
        fail = [True]

        @api.task
        def ok(x: int) -> int:
            calls["ok"] += 1
            return x

        @api.task
        def flaky(x: int) -> int:
            calls["flaky"] += 1
            if fail[0]:
                raise ValueError("boom")
            return x

        @api.entrypoint()
        def child(x: int) -> int:  # no checkpointer of its own: it uses the parent's
            calls["child"] += 1
            return ok(x).result() + flaky(x).result()

        @api.entrypoint(checkpointer=saver)
        def parent(x: int) -> int:
            calls["parent"] += 1
            return child.invoke(x)

        c = cfg("t")
        out = [attempt(lambda: list(parent.stream(1, c, subgraphs=True)))]
        snap = parent.get_state(c, subgraphs=True)
        out.append([snap.next, snap.tasks[0].error, snap.tasks[0].state.tasks[0].error])
        fail[0] = False
        out.append(list(parent.stream(None, c, subgraphs=True)))
        out.append(dict(calls))
        return out

    t = same(run_both(scenario, saver_factory))
    assert t[0] == ("raises", "ValueError", "boom")
    assert t[3] == {"parent": 2, "child": 2, "ok": 1, "flaky": 2}


@pytest.mark.asyncio
async def test_async_child_interrupt_resumed_by_id(saver_factory):
    async def scenario(api, saver):
        calls: Counter = Counter()

        @api.task
        async def aask(x: int) -> str:
            calls["aask"] += 1
            return api.interrupt(f"a{x}")

        @api.entrypoint(checkpointer=saver)
        async def achild(x: int) -> str:
            calls["achild"] += 1
            return await aask(x)

        @api.entrypoint(checkpointer=saver)
        async def aparent(x: int) -> dict:
            calls["aparent"] += 1
            return {"r": await achild.ainvoke(x)}

        c = cfg("a")
        first = await collect(aparent.astream(1, c, subgraphs=True))
        snap = await aparent.aget_state(c)
        resume = api.Command(resume={snap.interrupts[0].id: "Z"})
        return [first, await collect(aparent.astream(resume, c, subgraphs=True)), dict(calls)]

    t = same_but_duplicate_interrupts(await arun_both(scenario, saver_factory))
    assert t[1][-1] == ((), {"aparent": {"r": "Z"}})
    assert t[2] == {"aparent": 2, "achild": 2, "aask": 2}


def test_chat_model_tokens_of_a_child_task_stream_under_its_namespace(saver_factory):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    def scenario(api, saver):
        @api.task
        def speak(topic: str) -> str:
            model = GenericFakeChatModel(messages=iter([AIMessage(content=f"about {topic}")]))
            return model.invoke(topic).content

        @api.entrypoint(checkpointer=saver)
        def child(topic: str) -> str:
            return speak(topic).result()

        @api.entrypoint(checkpointer=saver)
        def parent(topic: str) -> str:
            return child.invoke(topic)

        def tokens(**kwargs):
            return [(ns, m.content, meta["langgraph_node"], meta["langgraph_checkpoint_ns"])
                    for ns, (m, meta) in parent.stream("owls", cfg(kwargs.pop("thread")),
                                                       stream_mode="messages", subgraphs=True)]

        flat = [m.content for m, _meta in parent.stream("owls", cfg("a"), stream_mode="messages")]
        return [tokens(thread="b"), flat]

    nested, flat = same(run_both(scenario, saver_factory))
    assert [content for _ns, content, _node, _cns in nested] == ["about", " ", "owls"]
    # under the child's namespace, with the task's own namespace in the metadata
    assert {(ns, node, checkpoint_ns) for ns, _c, node, checkpoint_ns in nested} == {
        (("parent:<uuid:0>",), "speak", "parent:<uuid:0>|child:<uuid:1>|speak:<uuid:2>")
    }
    assert flat == []  # without subgraphs=True a child's tokens are not streamed


def test_three_levels_interrupt_twice_and_resume_through_the_root(saver_factory):
    def scenario(api, saver):
        calls: Counter = Counter()

        @api.task
        def work(x: int) -> int:
            calls["work"] += 1
            return x + 1

        @api.entrypoint(checkpointer=saver)
        def grandchild(x: int) -> list:
            calls["grandchild"] += 1
            y = work(x).result()
            return [y, api.interrupt(f"first {y}"), api.interrupt(f"second {y}")]

        @api.entrypoint(checkpointer=saver)
        def child(x: int) -> dict:
            calls["child"] += 1
            return {"g": grandchild.invoke(x)}

        @api.entrypoint(checkpointer=saver)
        def root(x: int) -> dict:
            calls["root"] += 1
            return {"c": child.invoke(x), "after": api.interrupt("root?")}

        c = cfg("t")
        out = [list(root.stream(1, c, subgraphs=True))]
        for answer in ("A", "B", "C"):
            out.append(list(root.stream(api.Command(resume=answer), c, subgraphs=True)))
        out.append(dict(calls))
        return out

    t = same(run_both(scenario, saver_factory))
    assert t[3][-1] == ((), {"root": {"c": {"g": [2, "A", "B"]}, "after": "C"}})
    assert t[4] == {"root": 4, "child": 3, "grandchild": 3, "work": 1}


def test_get_state_of_the_child_namespace_and_history_of_the_root(saver_factory):
    def scenario(api, saver):
        calls: Counter = Counter()
        parent = _body_scenario(api, saver, calls)
        c = cfg("t")
        parent.invoke(1, c)
        child_cfg = parent.get_state(c).tasks[0].state
        out = [parent.get_state(child_cfg)]
        parent.invoke(api.Command(resume="A"), c)
        out.append([s.metadata for s in parent.get_state_history(c)])
        # (LangGraph also lists answered interrupts in old snapshots; Flowsite, at any level,
        # lists only pending ones: not compared here)
        out.append([(s.next, s.config, s.parent_config, s.metadata, s.values)
                    for s in parent.get_state_history(child_cfg)])
        return out

    child, root_history, child_history = same(run_both(scenario, saver_factory))
    assert dict(child.fields)["next"] == ("child",)
    assert [m["source"] for m in root_history] == ["loop", "input"]
    assert [s[0] for s in child_history] == [(), ("child",)]


def test_child_with_checkpointer_false_stores_nothing(saver_factory):
    def scenario(api, saver):
        @api.task
        def double(x: int) -> int:
            return x * 2

        @api.entrypoint(checkpointer=False)
        def child(x: int) -> int:
            return double(x).result()

        @api.entrypoint(checkpointer=saver)
        def parent(x: int) -> int:
            return child.invoke(x) + 1

        chunks = list(parent.stream(1, cfg("t"), subgraphs=True))
        ns = "|".join(next(ns for ns, _chunk in chunks if ns))
        stored = list(saver.list({"configurable": {"thread_id": "t", "checkpoint_ns": ns}}))
        return [chunks, len(stored), parent.get_state(cfg("t"), subgraphs=True).values]

    t = same(run_both(scenario, saver_factory))
    assert t[1:] == [0, 3]
