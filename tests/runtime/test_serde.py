"""Values that go through a checkpointer (reference §1.8): what round-trips when a task's result
is replayed on resume, and the error for a value that cannot be stored."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import enum
import pathlib
import threading
import uuid
from decimal import Decimal

import pydantic
import pytest

from workflows import register_type

from .lg import API_IDS, APIS, LANGGRAPH, attempt, cfg, run_both, same


@dataclasses.dataclass
class Point:
    x: int
    tags: list


class Model(pydantic.BaseModel):
    name: str
    when: dt.datetime


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Unregistered:
    a: int


# Flowsite rebuilds classes only from its allowlist (LangGraph rebuilds any importable class,
# with a warning): register the ones this module round-trips.
for _cls in (Point, Model, Color):
    register_type(_cls)

VALUES = {
    "datetime": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
    "naive_datetime": dt.datetime(2024, 1, 2, 3, 4, 5),
    "date": dt.date(2024, 1, 2),
    "time": dt.time(1, 2, 3),
    "timedelta": dt.timedelta(days=1, seconds=3),
    "uuid": uuid.UUID(int=5),
    "decimal": Decimal("1.10"),
    "bytes": b"\x00\xff",
    "bytearray": bytearray(b"ab"),
    "set": {1, 2},
    "frozenset": frozenset({3}),
    "deque": collections.deque([1, 2]),
    "path": pathlib.Path("/tmp/x"),
    "enum": Color.RED,
    "dataclass": Point(1, [2]),
    "pydantic": Model(name="n", when=dt.datetime(2024, 1, 1)),
    "int_keys": {1: "a"},
    "inf": float("inf"),
    "nested": {"a": [{"b": {1, 2}}, Decimal("2")]},
}


def replay_scenario(key):
    """A task returns ``VALUES[key]``; after an interrupt the resumed body gets it back from the
    checkpointer (the task is not re-run)."""

    def scenario(api, saver):
        runs = []

        @api.task
        def make(k: str):
            runs.append(k)
            return VALUES[k]

        @api.entrypoint(checkpointer=saver)
        def wf(k: str):
            value = make(k).result()
            api.interrupt("continue?")
            return {"type": type(value).__name__, "equal": value == VALUES[k], "value": value}

        c = cfg("t")
        wf.invoke(key, c)
        return [wf.invoke(api.Command(resume=True), c), runs]

    return scenario


@pytest.mark.parametrize("key", list(VALUES))
def test_task_results_round_trip(saver_factory, key):
    t = same(run_both(replay_scenario(key), saver_factory))
    result, runs = t
    assert runs == [key]
    assert result["equal"] is True
    assert result["type"] == type(VALUES[key]).__name__


def test_tuple_comes_back_as_list(saver_factory):
    def scenario(api, saver):
        @api.task
        def pair(x: int):
            return (x, (x, x))

        @api.entrypoint(checkpointer=saver)
        def wf(x: int):
            first = pair(x).result()
            api.interrupt("q")
            return first

        c = cfg("t")
        return [wf.invoke(1, c), wf.invoke(api.Command(resume=1), c)][1]

    assert same(run_both(scenario, saver_factory)) == [1, [1, 1]]


def test_input_and_interrupt_value_round_trip(saver_factory):
    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def wf(x: dict):
            answer = api.interrupt({"when": x["when"], "ids": {uuid.UUID(int=1)}})
            return [x, answer]

        c = cfg("t")
        value = {"when": dt.date(2024, 5, 6), "amount": Decimal("3.5")}
        first = wf.invoke(value, c)
        state_value = wf.get_state(c).interrupts[0].value
        return [first, state_value, wf.invoke(api.Command(resume={"ok": b"yes"}), c)]

    t = same(run_both(scenario, saver_factory))
    assert t[1] == {"when": dt.date(2024, 5, 6), "ids": {uuid.UUID(int=1)}}
    assert t[2] == [{"when": dt.date(2024, 5, 6), "amount": Decimal("3.5")}, {"ok": b"yes"}]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_unregistered_class(api, saver_factory, caplog):
    """Deliberate difference: LangGraph rebuilds any importable dataclass from a checkpoint
    (logging that this will be blocked); Flowsite rebuilds only classes on its allowlist and loads
    others as a dict of their fields, with a warning naming the type."""

    @api.task
    def make(x: int):
        return Unregistered(x)

    @api.entrypoint(checkpointer=saver_factory(api))
    def wf(x: int):
        value = make(x).result()
        api.interrupt("q")
        return value

    if api is LANGGRAPH:  # LangGraph warns once per type and process: forget earlier warnings
        from langgraph.checkpoint.serde import jsonplus

        jsonplus._warned_unregistered_types.clear()
    c = cfg("t")
    wf.invoke(1, c)
    value = wf.invoke(api.Command(resume=True), c)
    assert "Unregistered" in caplog.text
    if api is LANGGRAPH:
        assert value == Unregistered(1)
    else:
        assert value == {"a": 1}


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_non_serializable_task_result(api, saver_factory):
    """Both raise ``TypeError`` naming the type. Deliberate difference in *when*: LangGraph
    resolves the future with the live object, lets the body finish (updates are streamed, the
    final checkpoint is written) and raises at the end of the run; Flowsite raises from the
    task's future at ``.result()``, so the body can handle it and nothing unstorable is kept."""
    after_result = []

    @api.task
    def make_lock(x: int):
        return threading.Lock()

    @api.entrypoint(checkpointer=saver_factory(api))
    def wf(x: int):
        make_lock(x).result()
        after_result.append("body went on")
        return "done"

    c = cfg("t")
    chunks: list = []
    error = attempt(lambda: chunks.extend(wf.stream(1, c)))
    assert error[:2] == ("raises", "TypeError")
    assert "_thread.lock" in error[2]
    if api is LANGGRAPH:
        assert error[2] == "Type is not msgpack serializable: _thread.lock"
        assert after_result == ["body went on"]
        assert chunks[-1] == {"wf": "done"}
        assert wf.get_state(c).values == "done"
    else:
        assert error[2] == "Type is not serializable: _thread.lock"
        assert after_result == []
        assert chunks == []
        assert wf.get_state(c).next == ("wf",)  # the run stopped on its error


def test_non_serializable_result_can_be_handled_in_flowsite(saver_factory):
    from .lg import FLOWSITE as api

    @api.task
    def make_lock(x: int):
        return threading.Lock()

    @api.entrypoint(checkpointer=saver_factory(api))
    def wf(x: int):
        try:
            make_lock(x).result()
        except TypeError as exc:
            return f"handled: {exc}"
        return "not raised"

    assert wf.invoke(1, cfg("t")) == "handled: Type is not serializable: _thread.lock"


def test_non_serializable_input_and_interrupt_value(saver_factory):
    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def wf(x):
            return api.interrupt(threading.Lock()) if x == "ask" else x

        return [
            attempt(lambda: wf.invoke(threading.Lock(), cfg("a"))),
            attempt(lambda: wf.invoke("ask", cfg("b"))),
        ]

    t = same({name: [r[:2] for r in v] for name, v in run_both(scenario, saver_factory).items()})
    assert t == [("raises", "TypeError")] * 2


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_anything_goes_without_checkpointer(api):
    lock = threading.Lock()

    @api.task
    def same_object(x):
        return x

    @api.entrypoint()
    def wf(x):
        return same_object(x).result()

    assert wf.invoke(lock) is lock
