"""LangGraph graphs registered on the dashboard: started, paused and resumed by the executor.

Runs are executed explicitly with ``running.execute_run`` (``FLOWSITE_EXECUTOR="external"``).
The reviewer's answer must reach the graph: the executor resumes LangGraph graphs with
``langgraph.types.Command`` (any other object is new input to LangGraph, and the answer is lost).
"""

import re

import pytest
from django.urls import reverse

pytest.importorskip("langchain.agents")

from langchain_core.messages import ToolMessage  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.func import entrypoint as lg_entrypoint  # noqa: E402
from langgraph.graph import StateGraph  # noqa: E402
from langgraph.types import interrupt  # noqa: E402

from tests.workflows.langgraph_graphs import Review, review_graph  # noqa: E402
from workflows import adapters, registry, services  # noqa: E402
from workflows.execution import running  # noqa: E402
from workflows.langgraph_saver import LangGraphDjangoSaver  # noqa: E402
from workflows.models import Interrupt, Run, Thread  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def external_executor(settings):
    settings.FLOWSITE_EXECUTOR = "external"


def run_to_pause(workflow, value):
    run = services.start_run(workflow=workflow, input=value)
    assert running.execute_run(run.pk) == Run.Status.INTERRUPTED
    thread = Thread.objects.get(pk=run.thread_id)
    assert thread.status == Thread.Status.INTERRUPTED
    return thread


def answer(thread, value):
    intr = Interrupt.objects.pending().get(thread=thread)
    status = running.execute_run(services.resume_run(interrupt=intr, value=value).pk)
    thread.refresh_from_db()
    intr.refresh_from_db()
    return status, intr


@pytest.mark.parametrize("checkpointer", [None, InMemorySaver(), LangGraphDjangoSaver()])
def test_a_state_graph_gets_the_reviewers_approval(checkpointer):
    registry.register("test-lg-review", review_graph(checkpointer), title="LG review")
    thread = run_to_pause("test-lg-review", {"messages": [{"role": "user", "content": "cats"}]})
    intr = Interrupt.objects.pending().get(thread=thread)
    assert intr.value == {"draft": "Draft: cats are great", "action": "Approve?"}

    status, intr = answer(thread, {"approved": True})
    assert status == Run.Status.SUCCESS
    assert thread.status == Thread.Status.DONE
    assert intr.status == Interrupt.Status.RESOLVED
    assert thread.result["approved"] is True  # the answer reached the graph's state
    assert [m["type"] for m in thread.result["messages"]] == ["human", "ai"]
    state = adapters.adapter_for(registry.get("test-lg-review")).get_state(
        {"configurable": {"thread_id": thread.thread_id}}
    )
    assert state.values["approved"] is True and state.next == ()


def test_langgraphs_own_entrypoint_is_run_and_resumed():
    @lg_entrypoint()
    def confirm(topic: str) -> dict:
        return {"topic": topic, "ok": interrupt({"question": f"Publish {topic}?"})}

    registry.register("test-lg-func", confirm, title="LG functional API")
    thread = run_to_pause("test-lg-func", "cats")
    status, _ = answer(thread, False)
    assert status == Run.Status.SUCCESS
    assert thread.result == {"topic": "cats", "ok": False}


def test_email_assistant_runs_the_tools_as_the_reviewer_decided():
    request = "Email the report to bob@corp.io and delete /srv/old.log"
    thread = run_to_pause("email-assistant", {"messages": [{"role": "user", "content": request}]})
    intr = Interrupt.objects.pending().get(thread=thread)
    assert [a["name"] for a in intr.value["action_requests"]] == ["send_email", "delete_file"]
    assert intr.value["action_requests"][1]["args"] == {"path": "/srv/old.log"}
    assert intr.value["review_configs"][1]["allowed_decisions"] == ["approve", "reject"]

    edited = {"to": "carol@corp.io", "subject": "Report", "body": "Attached."}
    status, intr = answer(thread, {"decisions": [
        {"type": "edit", "edited_action": {"name": "send_email", "args": edited}},
        {"type": "reject", "message": "Keep the log until Friday."},
    ]})
    assert status == Run.Status.SUCCESS
    assert intr.status == Interrupt.Status.RESOLVED
    graph = adapters.adapter_for(registry.get("email-assistant"))
    messages = graph.get_state({"configurable": {"thread_id": thread.thread_id}}).values["messages"]
    tools = {m.name: m for m in messages if isinstance(m, ToolMessage)}
    assert tools["send_email"].content.endswith("Email sent to carol@corp.io with subject “Report”.")
    assert tools["delete_file"].status == "error"
    assert "Keep the log until Friday." in tools["delete_file"].content
    assert thread.result["messages"][-1]["content"] == (
        "Here is what happened:\n"
        "- send_email: Email sent to carol@corp.io with subject “Report”. (as edited by the reviewer)\n"
        "- delete_file: User rejected the tool call for `delete_file` with reason: "
        "Keep the log until Friday."
    )


def test_register_refuses_what_is_neither_an_entrypoint_nor_a_graph():
    with pytest.raises(TypeError, match="Flowsite @entrypoint or a compiled LangGraph graph.*function"):
        registry.register("test-plain", lambda x: x, title="Plain function")
    with pytest.raises(TypeError, match="StateGraph"):
        registry.register("test-uncompiled", StateGraph(Review), title="Not compiled")


def test_thread_page_and_history_show_an_agents_thread_readably(reviewer_client, user_factory):
    request = "Email the report to bob@corp.io and delete /srv/old.log"
    thread = run_to_pause("email-assistant", {"messages": [{"role": "user", "content": request}]})
    answer(thread, {"decisions": [{"type": "approve"}, {"type": "approve"}]})
    client = reviewer_client(user_factory(is_staff=True))

    page = client.get(f"/threads/{thread.pk}/").content.decode()
    assert "<h1>Email the report to bob@corp.io and delete /srv/old.log" in page  # its title
    for seen in ("File /srv/old.log deleted.", "Email sent to bob@corp.io",
                 "send_email(to=&#x27;bob@corp.io&#x27;, subject=&#x27;Quarterly report&#x27;", "Here is what happened:"):
        assert seen in page
    # tasks named by their node, the Send-scheduled tool node included; no raw objects
    assert ">model<" in page and ">tools<" in page
    assert "AIMessage(" not in page and "branch:to" not in page

    history = client.get(f"/threads/{thread.pk}/history/").content.decode()
    assert "Scheduled tasks" in history and "messages › [3].content" in history  # state diffs
    assert "AIMessage(" not in history and "branch:to" not in history


def event_html(page, event_id):
    """The ``<li>`` of the timeline event ``event_id`` in the thread page ``page``."""
    start = page.index(f'<li id="event-{event_id}"')
    end = page.find('<li id="event-', start + 1)
    return page[start:end if end != -1 else page.index('id="live-blocks"', start)]


def test_thread_page_shows_an_agent_request_and_the_decisions_taken(reviewer_client):
    request = "Email the report to bob@corp.io and delete /srv/old.log"
    thread = run_to_pause("email-assistant", {"messages": [{"role": "user", "content": request}]})
    intr = Interrupt.objects.pending().get(thread=thread)
    client = reviewer_client()

    page = client.get(f"/threads/{thread.pk}/").content.decode()
    pending = page[page.index('id="thread-pending"'):page.index('id="thread-outcome"')]
    assert "The agent wants to run 2 tool calls: send_email, delete_file" in pending
    assert f'href="{reverse("reviews:interrupt", args=[intr.pk])}">Review</a>' in pending
    asked = event_html(page, f"interrupt-{intr.interrupt_id}")
    calls = asked.split('<li class="agent-call">')[1:]
    assert len(calls) == 2
    assert ">send_email</code>" in calls[0] and ">delete_file</code>" in calls[1]
    allowed = [re.findall(r'class="allowed allowed-(\w+)"', call) for call in calls]
    assert allowed == [["approve", "edit", "reject", "respond"], ["approve", "reject"]]
    assert "<dt>to</dt><dd" in calls[0] and ">bob@corp.io</dd>" in calls[0]
    assert "<dt>path</dt><dd" in calls[1] and ">/srv/old.log</dd>" in calls[1]
    for raw in ("action_requests", "Action requests", "review_configs", "Review configs",
                "Allowed decisions", "Tool execution requires approval"):
        assert raw not in page

    edited = {"to": "carol@corp.io", "subject": "Report", "body": "Attached."}
    answer(thread, {"decisions": [
        {"type": "edit", "edited_action": {"name": "send_email", "args": edited}},
        {"type": "reject", "message": "Keep the log until Friday."},
    ]})
    page = client.get(f"/threads/{thread.pk}/").content.decode()
    assert "The agent wants to run" not in page  # answered: no pending card
    answered = event_html(page, f"resume-{intr.interrupt_id}")
    send, delete = answered.split('<li class="agent-call">')[1:]
    assert '<span class="decision decision-edit">Edited</span>' in send
    assert "<del>bob@corp.io</del>" in send and "<ins>carol@corp.io</ins>" in send
    assert "<ins>Report</ins>" in send and "<del>Quarterly report</del>" in send
    assert '<span class="decision decision-reject">Rejected</span>' in delete
    assert "“Keep the log until Friday.”" in delete
    for raw in ("edited_action", "Edited action", "<dt>Decisions</dt>", "<dt>Type</dt>"):
        assert raw not in answered


def test_admin_shows_a_langgraph_checkpoint_and_write_readably(reviewer_client, user_factory):
    from workflows.models import Checkpoint, PendingWrite

    registry.register("test-lg-review", review_graph(), title="LG review")
    thread = run_to_pause("test-lg-review", {"messages": [{"role": "user", "content": "cats"}]})
    admin = reviewer_client(user_factory(is_staff=True, is_superuser=True))
    checkpoint = Checkpoint.objects.filter(thread=thread).latest("checkpoint_id")
    page = admin.get(f"/admin/workflows/checkpoint/{checkpoint.pk}/change/").content.decode()
    assert "msgpack" in page and "Draft: cats are great" in page
    write = PendingWrite.objects.get(thread=thread, channel="messages", task_path__endswith="draft")
    page = admin.get(f"/admin/workflows/pendingwrite/{write.pk}/change/").content.decode()
    assert "Draft: cats are great" in page and "AIMessage(" not in page
