"""Replay must follow the recorded run: non-determinism is caught (beyond LangGraph).

A resume re-runs the entrypoint body from the top and replays finished tasks from their pending
writes. LangGraph matches a call to its stored result by task id, which hashes the call position
*and the task name* (reference §1.6). So when the program changed between two runs of one thread:

* a *renamed* task at a recorded position gets another id: LangGraph silently executes it (the
  recorded call's result is ignored; its side effects may happen twice);
* *changed arguments* with the same name keep the id: LangGraph silently returns the stale result.

Flowsite records each executed task call (a ``__call__`` pending write with the task's name, call
position and an xxh3 fingerprint of its arguments, stored with the task's first write). On replay,
another name at a recorded position stops the run with ``NondeterminismError`` (Temporal's model)
naming both names and the position; changed arguments log a WARNING on ``workflows.runtime`` and
proceed with the stored result, as LangGraph does.
"""

from __future__ import annotations

import logging
import threading

import pytest

from workflows.runtime import InMemorySaver, JsonPlusSerializer, NondeterminismError
from workflows.runtime.checkpoint import PutCheckpoint, PutWrites, ReleaseThread
from workflows.runtime.determinism import fingerprint as _fingerprint

from .lg import API_IDS, APIS, FLOWSITE, LANGGRAPH, attempt, cfg, run_both, same

RENAMED = (
    "Nondeterministic replay at call position [0] (call #0 of entrypoint 'wf'): the resumed body "
    "called task 'b', but the recorded run called task 'a' there. A resumed entrypoint must make "
    "the same task calls in the same order; restore the code that started this run, or start a "
    "new run with new input."
)


def build_switchable(api, saver, calls: list, program: dict):
    """``wf`` calls task ``a`` or ``b`` (``program["name"]``) with ``program["arg"]``, then
    interrupts: the program can be changed between the first run and the resume."""

    @api.task
    def a(x: str) -> str:
        calls.append(("a", x))
        return f"a:{x}"

    @api.task
    def b(x: str) -> str:
        calls.append(("b", x))
        return f"b:{x}"

    @api.entrypoint(checkpointer=saver)
    def wf(n: int) -> list:
        t = a if program["name"] == "a" else b
        r = t(program["arg"]).result()
        answer = api.interrupt("q")
        return [r, answer]

    return wf


def test_renamed_task_at_a_recorded_position(saver_factory):
    """Deliberate difference: LangGraph runs the renamed task ``b`` (``a``'s recorded result is
    ignored) and completes with ``b``'s result; Flowsite refuses to replay with
    ``NondeterminismError`` and executes nothing."""

    def scenario(api, saver):
        calls: list = []
        program = {"name": "a", "arg": "A"}
        wf = build_switchable(api, saver, calls, program)
        c = cfg("t")
        first = wf.invoke(1, c)
        program["name"] = "b"
        resumed = attempt(lambda: list(wf.stream(api.Command(resume="yes"), c)))
        return {"first": first, "resumed": resumed, "calls": calls}

    t = run_both(scenario, saver_factory)
    assert t["flowsite"]["first"] == t["langgraph"]["first"]
    assert t["langgraph"]["resumed"] == [{"b": "b:A"}, {"wf": ["b:A", "yes"]}]
    assert t["langgraph"]["calls"] == [("a", "A"), ("b", "A")]
    assert t["flowsite"]["resumed"] == ("raises", "NondeterminismError", RENAMED)
    assert t["flowsite"]["calls"] == [("a", "A")]


def test_nondeterminism_error_is_recorded_and_the_run_retried_after_a_fix(saver_factory):
    """Flowsite only: the failed resume is recorded as the entrypoint's error (as any error, so
    ``get_state`` shows it and ``invoke(None)`` retries); once the original program is back, the
    retry replays ``a`` and answers the interrupt with the value given to the failed resume."""
    calls: list = []
    program = {"name": "a", "arg": "A"}
    wf = build_switchable(FLOWSITE, saver_factory(FLOWSITE), calls, program)
    c = cfg("t")
    wf.invoke(1, c)
    program["name"] = "b"
    with pytest.raises(NondeterminismError) as info:
        wf.invoke(FLOWSITE.Command(resume="yes"), c)
    assert (info.value.recorded, info.value.called, info.value.position) == ("a", "b", (0,))
    state = wf.get_state(c)
    assert state.next == ("wf",)
    assert state.tasks[0].error.startswith("NondeterminismError(")
    with pytest.raises(NondeterminismError):  # still the changed program: fails again
        wf.invoke(None, c)
    program["name"] = "a"
    assert wf.invoke(None, c) == ["a:A", "yes"]
    assert calls == [("a", "A")]  # never re-executed, and b never ran


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_renamed_nested_task(api, saver_factory):
    """The position is the caller's path plus the call index: here the first call made by the
    body's first task. That task re-runs on resume (it interrupted), calls ``b`` where ``a`` was
    recorded. LangGraph runs ``b``; Flowsite fails the task with ``NondeterminismError``, which
    reaches the caller through the body."""
    calls: list = []
    program = {"name": "a"}

    @api.task
    def a(x: str) -> str:
        calls.append("a")
        return f"a:{x}"

    @api.task
    def b(x: str) -> str:
        calls.append("b")
        return f"b:{x}"

    @api.task
    def outer(x: str) -> str:
        r = (a if program["name"] == "a" else b)(x).result()
        return f"{r}+{api.interrupt('q')}"

    @api.entrypoint(checkpointer=saver_factory(api))
    def wf(x: str) -> str:
        return outer(x).result()

    c = cfg("t")
    assert "__interrupt__" in wf.invoke("X", c)
    program["name"] = "b"
    result = attempt(lambda: wf.invoke(api.Command(resume="ok"), c))
    if api is LANGGRAPH:
        assert result == "b:X+ok"
        assert calls == ["a", "b"]
    else:
        assert result == (
            "raises", "NondeterminismError",
            "Nondeterministic replay at call position [0, 0] (call #0 of task 'outer'): the "
            "resumed body called task 'b', but the recorded run called task 'a' there. A resumed "
            "entrypoint must make the same task calls in the same order; restore the code that "
            "started this run, or start a new run with new input.",
        )
        assert calls == ["a"]


def test_the_run_fails_even_if_the_body_catches_the_error(saver_factory):
    """Flowsite only: a body that swallows the error cannot complete the run (no ``wf`` update
    is streamed, no ``loop`` checkpoint is written)."""
    program = {"name": "a"}

    @FLOWSITE.task
    def a(x: int) -> int:
        return x

    @FLOWSITE.task
    def b(x: int) -> int:
        return -x

    @FLOWSITE.entrypoint(checkpointer=saver_factory(FLOWSITE))
    def wf(x: int) -> str:
        try:
            (a if program["name"] == "a" else b)(x).result()
        except Exception:  # noqa: BLE001 - what is tested
            return "swallowed"
        FLOWSITE.interrupt("q")
        return "done"

    c = cfg("t")
    wf.invoke(1, c)
    program["name"] = "b"
    chunks: list = []
    with pytest.raises(NondeterminismError):
        for chunk in wf.stream(FLOWSITE.Command(resume=True), c):
            chunks.append(chunk)
    assert chunks == []
    assert [s.metadata["source"] for s in wf.get_state_history(c)] == ["input"]


def test_changed_argument_returns_the_stored_result_with_a_warning(saver_factory, caplog):
    """Same transcript on both (the stale ``a:A`` is returned, ``a`` is not re-executed);
    Flowsite also logs a WARNING naming the task, its position and the new arguments."""

    def scenario(api, saver):
        calls: list = []
        program = {"name": "a", "arg": "A"}
        wf = build_switchable(api, saver, calls, program)
        c = cfg("t")
        wf.invoke(1, c)
        program["arg"] = "B"
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="workflows.runtime"):
            resumed = list(wf.stream(api.Command(resume="yes"), c))
        warnings = [r for r in caplog.records if r.name == "workflows.runtime"]
        return {"resumed": resumed, "calls": calls, "warnings": warnings}

    t = run_both(scenario, saver_factory)
    fs, lg = t["flowsite"], t["langgraph"]
    assert fs["resumed"] == lg["resumed"] == [{"wf": ["a:A", "yes"]}]
    assert fs["calls"] == lg["calls"] == [("a", "A")]
    assert lg["warnings"] == []
    (warning,) = fs["warnings"]
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert message.startswith(
        "Task 'a' at call position [0] (call #0 of entrypoint 'wf') was called with other "
        "arguments than in the recorded run: now ('B',) (argument fingerprint "
    )
    assert message.endswith(
        "; returning the recorded result, as LangGraph does (entrypoint code must be "
        "deterministic)."
    )


def test_same_arguments_and_errored_tasks_log_nothing(saver_factory, caplog):
    """No warning when the replay matches, nor when a task that failed re-runs with other
    arguments after ``invoke(None)`` (its new result is used: nothing stale). Same transcript as
    LangGraph."""

    def scenario(api, saver):
        calls: list = []
        program = {"arg": 1, "fail": True}

        @api.task
        def ok(x: int) -> int:
            calls.append(("ok", x))
            return x

        @api.task
        def flaky(x: int) -> int:
            calls.append(("flaky", x))
            if program["fail"]:
                raise ValueError("boom")
            return x * 10

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> list:
            return [ok(x).result(), flaky(program["arg"]).result()]

        c = cfg("t")
        first = attempt(lambda: wf.invoke(1, c))
        program.update(arg=2, fail=False)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="workflows.runtime"):
            second = wf.invoke(None, c)
        warnings = [r.getMessage() for r in caplog.records if r.name == "workflows.runtime"]
        return {"first": first, "second": second, "calls": calls, "warnings": warnings}

    t = same(run_both(scenario, saver_factory))
    assert t == {
        "first": ("raises", "ValueError", "boom"),
        "second": [1, 20],
        "calls": [("ok", 1), ("flaky", 1), ("flaky", 2)],
        "warnings": [],
    }


def test_call_records_are_stored_with_the_first_write(saver_factory):
    """Stored shape (Flowsite only, both checkpointers): one ``__call__`` write per executed task
    call, ``{"name", "path", "args"}``, in the same ``put_writes`` operation as the task's first
    write (so no extra transaction: an ``async`` run is still one ``put_batch``); none for the
    entrypoint; replays and resumes do not write it again."""
    saver = saver_factory(FLOWSITE)
    batches: list = []
    put_batch = saver.put_batch

    def counting(ops):
        batches.append(list(ops))
        return put_batch(ops)

    saver.put_batch = counting

    @FLOWSITE.task
    def inner(x: int) -> int:
        return x + 1

    @FLOWSITE.task
    def outer(x: int) -> int:
        return inner(x).result() * 2

    @FLOWSITE.entrypoint(checkpointer=saver)
    def wf(x: int) -> list:
        first = outer(x).result()
        answer = FLOWSITE.interrupt("q")
        return [first, inner(answer).result()]

    c = cfg("t")
    wf.invoke(1, c)
    assert len(batches) == 1  # input checkpoint, writes and the thread's release: one unit
    writes = saver.get_tuple(c).pending_writes
    calls = {tid: v for tid, ch, v in writes if ch == "__call__"}
    assert sorted((v["name"], v["path"]) for v in calls.values()) == [
        ("inner", [0, 0]), ("outer", [0])
    ]
    assert all(len(v["args"]) == 16 for v in calls.values())  # xxh3-64 hex
    returns = {tid for tid, ch, _v in writes if ch == "__return__"}
    assert set(calls) == returns  # exactly the executed tasks
    for op in batches[0]:  # the record rides along with another write of its task
        if isinstance(op, PutWrites) and any(ch == "__call__" for ch, _v in op.writes):
            assert [ch for ch, _v in op.writes] == ["__return__", "__call__"]

    batches.clear()
    assert wf.invoke(FLOWSITE.Command(resume=5), c) == [4, 6]
    assert len(batches) == 1
    written = [
        (op.task_id, ch) for op in batches[0] if isinstance(op, PutWrites) for ch, _v in op.writes
    ]
    new_calls = [tid for tid, ch in written if ch == "__call__"]
    assert len(new_calls) == 1 and new_calls[0] not in calls  # only inner(answer), at [1]


def test_sync_durability_adds_no_transaction(saver_factory):
    """With ``durability="sync"`` each write is stored at once: the ``__call__`` record is part of
    its task's ``__return__`` operation, not one more."""
    saver = saver_factory(FLOWSITE)
    batches: list = []
    put_batch = saver.put_batch
    saver.put_batch = lambda ops: (batches.append(list(ops)), put_batch(ops))[1]

    @FLOWSITE.task
    def double(x: int) -> int:
        return 2 * x

    @FLOWSITE.entrypoint(checkpointer=saver)
    def wf(x: int) -> int:
        return double(x).result() + double(x + 1).result()

    assert wf.invoke(1, cfg("t"), durability="sync") == 6
    kinds = [
        [(type(op), [ch for ch, _v in op.writes] if isinstance(op, PutWrites) else None)
         for op in b]
        for b in batches
    ]
    assert kinds == [
        [(PutCheckpoint, None)],
        [(PutWrites, ["__return__", "__call__"])],
        [(PutWrites, ["__return__", "__call__"])],
        [(PutWrites, ["__end__", "__previous__"])],
        [(PutCheckpoint, None), (ReleaseThread, None)],
    ]


def test_unserializable_arguments_are_not_compared():
    """Arguments need not be serializable (LangGraph does not store them): their fingerprint is
    ``None`` and the replay proceeds without a check of the arguments."""
    lock = threading.Lock()

    @FLOWSITE.task
    def use(x) -> str:
        return "used"

    @FLOWSITE.entrypoint(checkpointer=InMemorySaver())
    def wf(x: int) -> list:
        r = use(lock).result()
        return [r, FLOWSITE.interrupt("q")]

    c = cfg("t")
    wf.invoke(1, c)
    (call,) = [v for _t, ch, v in wf.checkpointer.get_tuple(c).pending_writes if ch == "__call__"]
    assert call == {"name": "use", "path": [0], "args": None}
    assert wf.invoke(FLOWSITE.Command(resume=1), c) == ["used", 1]


def test_fingerprint_ignores_dict_and_set_order():
    serde = JsonPlusSerializer()
    fp = _fingerprint(serde, ({"x": 1, "y": {"b", "a", "c"}},), {"k": 2, "j": 3})
    assert fp == _fingerprint(serde, ({"y": {"c", "a", "b"}, "x": 1},), {"j": 3, "k": 2})
    assert fp != _fingerprint(serde, ({"x": 1, "y": {"a", "b"}},), {"k": 2, "j": 3})
    assert _fingerprint(serde, (1,), {}) != _fingerprint(serde, (), {"x": 1})
    assert _fingerprint(serde, (object(),), {}) is None


def test_nondeterminism_is_not_retried():
    """A task whose retry policy would retry any exception does not retry a
    ``NondeterminismError`` raised by a call it makes: the replay would fail the same way."""
    program = {"name": "a"}
    attempts: list = []

    @FLOWSITE.task
    def a(x: int) -> int:
        return x

    @FLOWSITE.task
    def b(x: int) -> int:
        return x

    policy = FLOWSITE.RetryPolicy(retry_on=Exception, initial_interval=0.01, jitter=False)

    @FLOWSITE.task(retry_policy=policy)
    def outer(x: int) -> int:
        attempts.append(program["name"])
        r = (a if program["name"] == "a" else b)(x).result()
        return r + FLOWSITE.interrupt("q")

    @FLOWSITE.entrypoint(checkpointer=InMemorySaver())
    def wf(x: int) -> int:
        return outer(x).result()

    c = cfg("t")
    wf.invoke(1, c)
    program["name"] = "b"
    with pytest.raises(NondeterminismError):
        wf.invoke(FLOWSITE.Command(resume=1), c)
    assert attempts == ["a", "b"]
