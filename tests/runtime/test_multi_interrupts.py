"""Several interrupts: matched by position within each task, resumed one at a time, by id
(reference §1.4)."""

from __future__ import annotations

import pytest

from .lg import API_IDS, APIS, FLOWSITE, LANGGRAPH, N, attempt, cfg, interrupt_ids, run_both, same


def q(i: int, value) -> N:
    return N("Interrupt", (("value", value), ("id", f"<intr:{i}>"), ("response_schema", None)))


def build_multi(api, saver, bodies: list):
    """§1.4 ``multi_int.py``: an entrypoint with 2 interrupts calls a task with 2 interrupts."""

    @api.task
    def ask_task(topic: str) -> str:
        bodies.append(topic)
        c = api.interrupt(f"task-q1 {topic}")
        d = api.interrupt(f"task-q2 {topic}")
        return f"{topic}:{c}+{d}"

    @api.entrypoint(checkpointer=saver)
    def wf_multi(x: str) -> dict:
        a = api.interrupt("entry-q1")
        b = api.interrupt("entry-q2")
        t = ask_task("T").result()
        return {"a": a, "b": b, "t": t}

    return wf_multi


def test_interrupts_matched_by_position(saver_factory):
    def scenario(api, saver):
        bodies: list = []
        wf = build_multi(api, saver, bodies)
        c = cfg("t")
        out = [list(wf.stream("x", c))]
        for answer in "ABCD":
            out.append(list(wf.stream(api.Command(resume=answer), c)))
        return {"chunks": out, "task_bodies": len(bodies), "state": wf.get_state(c).values}

    t = same(run_both(scenario, saver_factory))
    assert t["chunks"] == [
        [{"__interrupt__": (q(0, "entry-q1"),)}],
        [{"__interrupt__": (q(1, "entry-q2"),)}],
        [{"__interrupt__": (q(2, "task-q1 T"),)}],
        [{"__interrupt__": (q(3, "task-q2 T"),)}],
        [{"ask_task": "T:C+D"}, {"wf_multi": {"a": "A", "b": "B", "t": "T:C+D"}}],
    ]
    assert t["task_bodies"] == 3  # the interrupting task re-runs from its start on each resume
    assert t["state"] == {"a": "A", "b": "B", "t": "T:C+D"}


def test_resume_by_id_map(saver_factory):
    def scenario(api, saver):
        wf = build_multi(api, saver, [])
        c = cfg("t")
        first = wf.invoke("x", c)
        (intr_id,) = interrupt_ids(first)
        return [first, wf.invoke(api.Command(resume={intr_id: "A"}), c)]

    t = same(run_both(scenario, saver_factory))
    assert t == [{"__interrupt__": [q(0, "entry-q1")]}, {"__interrupt__": [q(1, "entry-q2")]}]


def build_parallel(api, saver, bodies: list):
    @api.task
    def review(name: str) -> str:
        bodies.append(name)
        return "OK-" + api.interrupt(f"review {name}")

    @api.entrypoint(checkpointer=saver)
    def wf(names: list) -> list:
        futures = [review(n) for n in names]
        return [f.result() for f in futures]

    return wf


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_parallel_interrupts(api, saver_factory):
    """Deliberate difference: LangGraph surfaces only the first future's interrupt per run (both
    tasks record theirs); Flowsite surfaces every pending interrupt at once, in call order, so a
    reviewer sees them all. In both, a plain resume is ambiguous and resuming by id works."""
    bodies: list = []
    wf = build_parallel(api, saver_factory(api), bodies)
    c = cfg("t")
    first = list(wf.stream(["x", "y"], c))
    values = [i.value for i in first[-1]["__interrupt__"]]
    state_values = [i.value for i in wf.get_state(c).interrupts]
    if api is LANGGRAPH:
        assert values == state_values == ["review x"]
    else:
        assert values == state_values == ["review x", "review y"]
    assert len(first) == 1  # exactly one __interrupt__ chunk per run

    ambiguous = attempt(lambda: wf.invoke(api.Command(resume="plain"), c))
    assert ambiguous[:2] == ("raises", "RuntimeError")
    assert ambiguous[2].startswith(
        "When there are multiple pending interrupts, you must specify the interrupt id"
    )

    x_id = interrupt_ids(first)[0]
    second = list(wf.stream(api.Command(resume={x_id: "1"}), c))
    assert second[0] == {"review": "OK-1"}
    (y,) = second[-1]["__interrupt__"]
    assert y.value == "review y"
    third = list(wf.stream(api.Command(resume={y.id: "2"}), c))
    assert third == [{"review": "OK-2"}, {"wf": ["OK-1", "OK-2"]}]


def test_parallel_interrupts_answered_together_in_flowsite(saver_factory):
    """Flowsite only: since all parallel interrupts are surfaced, one map answers them all."""
    api = FLOWSITE
    bodies: list = []
    wf = build_parallel(api, saver_factory(api), bodies)
    c = cfg("t")
    ids = interrupt_ids(wf.invoke(["x", "y"], c))
    assert len(ids) == 2
    assert wf.invoke(api.Command(resume={ids[0]: "1", ids[1]: "2"}), c) == ["OK-1", "OK-2"]
    assert sorted(bodies) == ["x", "x", "y", "y"]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_unknown_interrupt_id_in_resume_map(api, saver_factory):
    """Deliberate difference: LangGraph (outside its strict resume mode) ignores ids that match no
    pending interrupt (the run just interrupts again); Flowsite is always strict: it raises
    ``UnknownInterruptError`` (a ``ValueError``) naming them and writes nothing."""
    wf = build_multi(api, saver_factory(api), [])
    c = cfg("t")
    first = wf.invoke("x", c)
    unknown = "0" * 32
    result = attempt(lambda: wf.invoke(api.Command(resume={unknown: "A"}), c))
    if api is LANGGRAPH:
        assert interrupt_ids(result) == interrupt_ids(first)
    else:
        assert result == (
            "raises", "UnknownInterruptError", f"Unknown or already-consumed interrupt: {unknown}"
        )
    # the thread still waits on the same interrupt
    assert interrupt_ids(wf.get_state(c).interrupts) == interrupt_ids(first)
    assert interrupt_ids(wf.invoke(api.Command(resume="A"), c)) != interrupt_ids(first)


STRICT = {"__pregel_strict_resume": True}


def test_strict_resume_mode(saver_factory):
    """LangGraph 1.2.20's strict resume mode (``configurable["__pregel_strict_resume"]``): each
    ``interrupt()`` in a task has its own id, so an answer retried after the task asked its next
    question is refused (``UnknownInterruptError``, reason ``not_pending``) instead of answering
    that question; an empty map (``empty_map``) and one value for several pending interrupts
    (``ambiguous``) are refused too. Nothing is written: the thread still waits."""

    def scenario(api, saver):
        errors = __import__(
            "workflows" if api is FLOWSITE else "langgraph.errors", fromlist=["x"]
        )
        bodies: list = []
        wf = build_multi(api, saver, bodies)
        c = cfg("t", **STRICT)
        first = wf.invoke("x", c)
        (q1,) = first["__interrupt__"]
        out = [first, wf.invoke(api.Command(resume={q1.id: "A"}), c)]

        def refused(resume):
            try:
                wf.invoke(api.Command(resume=resume), c)
            except errors.UnknownInterruptError as exc:
                message = str(exc).replace(q1.id, "<q1>")
                return [type(exc).__name__, message, exc.reason, exc.interrupt_ids,
                        exc.pending_ids]
            return "accepted"

        out.append(refused({q1.id: "A again"}))  # retried: q1 is answered, q2 is pending
        out.append(refused({}))
        out.append(wf.get_state(c).interrupts)
        out.append(wf.invoke(api.Command(resume="B"), c))
        out.append(bodies)
        return out

    t = same(run_both(scenario, saver_factory))
    assert t[2][:3] == [
        "UnknownInterruptError", "Unknown or already-consumed interrupt: <q1>", "not_pending"
    ]
    assert t[3][:3] == ["UnknownInterruptError", "The resume map names no interrupt", "empty_map"]


def test_strict_resume_refuses_an_ambiguous_value(saver_factory):
    """Strict mode: a plain value while two interrupts (of two parallel tasks) are pending is
    ``UnknownInterruptError`` (``ambiguous``); outside it, LangGraph's ``RuntimeError``."""

    def scenario(api, saver):
        errors = __import__(
            "workflows" if api is FLOWSITE else "langgraph.errors", fromlist=["x"]
        )

        @api.task
        def ask(topic: str) -> str:
            return api.interrupt(topic)

        @api.entrypoint(checkpointer=saver)
        def wf(x: str) -> list:
            return [f.result() for f in [ask("a"), ask("b")]]

        out = []
        for thread, extra in (("strict", STRICT), ("lax", {})):
            c = cfg(thread, **extra)
            wf.invoke("x", c)
            try:
                wf.invoke(api.Command(resume="v"), c)
            except errors.UnknownInterruptError as exc:
                out.append([type(exc).__name__, exc.reason, len(exc.pending_ids)])
            except RuntimeError as exc:
                out.append([type(exc).__name__, str(exc)[:60]])
        return out

    t = same(run_both(scenario, saver_factory))
    assert t[0] == ["UnknownInterruptError", "ambiguous", 2]
    assert t[1][0] == "RuntimeError"


def test_interrupt_ids_follow_the_reference_formula(saver_factory):
    """``id = xxh3_128(task_ns)`` for a task's first interrupt, ``xxh3_128(f"{ns}|{k}")`` for the
    k-th; ``ns`` is ``<entrypoint>:<task_id>`` (PULL task id from get_state)."""
    from xxhash import xxh3_128_hexdigest

    for api in APIS:
        wf = build_multi(api, saver_factory(api), [])
        c = cfg("t")
        first = interrupt_ids(wf.invoke("x", c))
        second = interrupt_ids(wf.invoke(api.Command(resume="A"), c))
        entry_id = wf.get_state(c).tasks[0].id
        ns = f"wf_multi:{entry_id}"
        assert first == [xxh3_128_hexdigest(ns.encode())], api.name
        assert second == [xxh3_128_hexdigest(f"{ns}|1".encode())], api.name


def test_same_interrupt_keeps_its_id_in_state_and_stream(saver_factory):
    def scenario(api, saver):
        wf = build_multi(api, saver, [])
        c = cfg("t")
        streamed = list(wf.stream("x", c))
        return [streamed, wf.get_state(c).interrupts, wf.get_state(c).tasks[0].interrupts]

    t = same(run_both(scenario, saver_factory))
    assert t == [[{"__interrupt__": (q(0, "entry-q1"),)}], (q(0, "entry-q1"),),
                 (q(0, "entry-q1"),)]


def test_interrupt_in_nested_task(saver_factory):
    def scenario(api, saver):
        @api.task
        def inner(x: int) -> str:
            return api.interrupt(f"inner {x}")

        @api.task
        def outer(x: int) -> str:
            return "outer " + inner(x).result()

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> str:
            return outer(x).result()

        c = cfg("t")
        return [list(wf.stream(1, c)), list(wf.stream(api.Command(resume="yes"), c))]

    t = same(run_both(scenario, saver_factory))
    assert t == [[{"__interrupt__": (q(0, "inner 1"),)}],
                 [{"inner": "yes"}, {"outer": "outer yes"}, {"wf": "outer yes"}]]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
async def test_parallel_interrupts_async_gather(api, saver_factory):
    """As ``test_parallel_interrupts`` with async tasks and ``asyncio.gather`` (same deliberate
    difference: Flowsite surfaces both interrupts at once)."""
    import asyncio

    @api.task
    async def review(name: str) -> str:
        return "OK-" + api.interrupt(f"review {name}")

    @api.entrypoint(checkpointer=saver_factory(api))
    async def wf(names: list) -> list:
        return list(await asyncio.gather(*[review(n) for n in names]))

    c = cfg("t")
    first = await wf.ainvoke(["x", "y"], c)
    values = [i.value for i in first["__interrupt__"]]
    assert values == (["review x"] if api is LANGGRAPH else ["review x", "review y"])
    pending = {i.value: i.id for i in (await wf.aget_state(c)).interrupts}
    second = await wf.ainvoke(api.Command(resume={pending["review x"]: "1"}), c)
    (y,) = second["__interrupt__"]
    assert y.value == "review y"
    assert await wf.ainvoke(api.Command(resume={y.id: "2"}), c) == ["OK-1", "OK-2"]
