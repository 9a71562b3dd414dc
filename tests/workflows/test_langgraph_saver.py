"""LangGraphDjangoSaver: LangGraph's conformance suite, and what it stores for the dashboard.

The conformance suite (``langgraph-checkpoint-conformance``) runs every capability, base and
extended (copy_thread, delete_for_runs, prune), on the test database: SQLite, or PostgreSQL when
``DATABASE_URL`` is set.
"""

import asyncio
import uuid

import pytest

pytest.importorskip("langgraph.checkpoint.conformance")

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage  # noqa: E402
from langgraph.checkpoint.base import BaseCheckpointSaver  # noqa: E402
from langgraph.checkpoint.conformance import checkpointer_test, validate  # noqa: E402
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.types import Command, Interrupt, Send, interrupt  # noqa: E402

from tests.workflows.langgraph_graphs import review_graph  # noqa: E402
from workflows.langgraph_saver import LangGraphDjangoSaver  # noqa: E402
from workflows.models import Checkpoint, PendingWrite, Thread  # noqa: E402
from workflows.models import Interrupt as InterruptRow  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)


@checkpointer_test(name="LangGraphDjangoSaver")
async def django_saver():
    yield LangGraphDjangoSaver()


def test_conformance_full_suite():
    report = asyncio.run(validate(django_saver))
    failures = {cap: result.failures for cap, result in report.results.items() if not result.passed}
    assert failures == {}
    assert {cap for cap, result in report.results.items() if result.passed} == {
        c.value for c in ALL_CAPABILITIES
    }
    assert sum(r.tests_passed for r in report.results.values()) >= 80


def test_is_a_langgraph_checkpointer_and_workflows_imports_without_it():
    assert isinstance(LangGraphDjangoSaver(), BaseCheckpointSaver)
    import workflows

    assert workflows.LangGraphDjangoSaver is LangGraphDjangoSaver


def _thread_config():
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def test_langchain_messages_send_interrupt_and_command_round_trip():
    saver = LangGraphDjangoSaver()
    config = _thread_config()
    values = {
        "messages": [
            HumanMessage("Send the report"),
            AIMessage("", tool_calls=[{"name": "send_email", "args": {"to": "a@x.com"}, "id": "c1"}]),
            ToolMessage("Sent", tool_call_id="c1", name="send_email"),
        ],
        "sends": [Send("tools", {"call": 1})],
        "command": Command(resume={"abc": True}),
    }
    checkpoint = {
        "v": 4, "id": "1f0d2c3a-0000-6000-8000-000000000001", "ts": "2026-12-01T00:00:00+00:00",
        "channel_values": values, "channel_versions": {"messages": 1}, "versions_seen": {},
        "updated_channels": None,
    }
    stored = saver.put(config, checkpoint, {"source": "loop", "step": 1}, {"messages": 1})
    saver.put_writes(stored, [("__interrupt__", (Interrupt(value={"q": 1}, id="i" * 32),))], "t1")
    loaded = saver.get_tuple(stored)
    command = loaded.checkpoint["channel_values"].pop("command")
    # LangGraph's msgpack serializer gives tuples back as lists (Command.goto: () -> [])
    assert (type(command), command.resume, command.goto) == (Command, {"abc": True}, [])
    values.pop("command")
    assert loaded.checkpoint["channel_values"] == values
    assert isinstance(loaded.checkpoint["channel_values"]["messages"][1], AIMessage)
    assert loaded.pending_writes == [("t1", "__interrupt__", [Interrupt(value={"q": 1}, id="i" * 32)])]

    row = Checkpoint.objects.get(checkpoint_id=checkpoint["id"])
    assert row.serde_type == "msgpack"
    from workflows.runtime.serde import JsonPlusSerializer

    shown = JsonPlusSerializer().loads(row.data)["channel_values"]
    assert shown["messages"][1] == {
        "type": "ai", "content": "", "tool_calls": "send_email(to='a@x.com')",
    }
    assert shown["messages"][2] == {
        "type": "tool", "content": "Sent", "name": "send_email", "tool_call_id": "c1"
    }
    assert shown["sends"] == [{"node": "tools", "arg": {"call": 1}}]
    assert shown["command"] == {"resume": {"abc": True}}
    intr = InterruptRow.objects.get(interrupt_id="i" * 32)
    assert (intr.status, intr.value, intr.task_id) == ("pending", {"q": 1}, "t1")


def test_a_state_graph_interrupt_becomes_a_pending_interrupt_row_resolved_when_answered():
    graph = review_graph(LangGraphDjangoSaver())
    config = _thread_config()
    graph.invoke({"messages": [HumanMessage("Write about cats")]}, config)
    thread = Thread.objects.get(thread_id=config["configurable"]["thread_id"])
    (row,) = InterruptRow.objects.filter(thread=thread)
    state = graph.get_state(config)
    assert row.interrupt_id == state.interrupts[0].id
    assert (row.status, row.value) == ("pending", {"draft": "Draft: cats are great", "action": "Approve?"})

    result = graph.invoke(Command(resume={row.interrupt_id: {"approved": True}}), config)
    assert result["approved"] is True
    row.refresh_from_db()
    assert (row.status, row.resume_value) == ("resolved", {"approved": True})
    # every row of this thread was written by LangGraph's serializer
    assert set(Checkpoint.objects.filter(thread=thread).values_list("serde_type", flat=True)) == {"msgpack"}
    assert PendingWrite.objects.filter(thread=thread, channel="messages").exists()


def test_new_input_instead_of_an_answer_cancels_the_pending_interrupt():
    graph = review_graph(LangGraphDjangoSaver())
    config = _thread_config()
    graph.invoke({"messages": [HumanMessage("Write about cats")]}, config)
    first = InterruptRow.objects.get(thread__thread_id=config["configurable"]["thread_id"])
    graph.invoke({"messages": [HumanMessage("Now dogs")]}, config)
    first.refresh_from_db()
    assert first.status == "cancelled"


def test_async_graph_on_the_saver():
    graph = review_graph(LangGraphDjangoSaver())
    config = _thread_config()

    async def run():
        await graph.ainvoke({"messages": [HumanMessage("Write")]}, config)
        state = await graph.aget_state(config)
        return await graph.ainvoke(Command(resume={state.interrupts[0].id: {"approved": False}}), config)

    assert asyncio.run(run())["approved"] is False
    assert InterruptRow.objects.get(thread__thread_id=config["configurable"]["thread_id"]).status == "resolved"


def test_reading_a_flowsite_thread_is_a_clear_error():
    from workflows import DjangoSaver, entrypoint

    @entrypoint(checkpointer=DjangoSaver())
    def echo(x):
        return x

    config = _thread_config()
    echo.invoke(1, config)
    with pytest.raises(TypeError, match="written by Flowsite's DjangoSaver"):
        LangGraphDjangoSaver().get_tuple(config)


def test_unknown_prune_strategy_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown prune strategy"):
        LangGraphDjangoSaver().prune(["x"], strategy="oldest")


def test_an_interrupt_inside_a_subgraph_is_listed_once_and_resolved_through_the_parent():
    from typing import TypedDict

    class State(TypedDict):
        x: str

    def ask(state):
        return {"x": interrupt({"q": "Which colour?"})}

    child = StateGraph(State)
    child.add_node("ask", ask)
    child.add_edge(START, "ask")
    child.add_edge("ask", END)
    parent = StateGraph(State)
    parent.add_node("child", child.compile())
    parent.add_edge(START, "child")
    parent.add_edge("child", END)
    graph = parent.compile(checkpointer=LangGraphDjangoSaver())
    config = _thread_config()
    graph.invoke({"x": ""}, config)
    (row,) = InterruptRow.objects.filter(thread__thread_id=config["configurable"]["thread_id"])
    assert (row.interrupt_id, row.value) == (graph.get_state(config).interrupts[0].id, {"q": "Which colour?"})
    assert graph.invoke(Command(resume={row.interrupt_id: "blue"}), config) == {"x": "blue"}
    row.refresh_from_db()
    # resolved when the parent's task ends; the answer itself is in the child's writes (the
    # dashboard records it when a reviewer gives it: services.resume_run)
    assert row.status == "resolved"
