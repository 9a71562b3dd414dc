"""The email assistant (``create_agent`` + ``HumanInTheLoopMiddleware``, a real LangGraph graph)
reviewed in headless Chromium against a live Daphne server.

A reviewer starts the agent from the Workflows page; it pauses with one batched request for its
two tool calls (``send_email``, ``delete_file``). One submit answers both, through the native
decision form (no JSON typed): the tools then run, or not, exactly as decided, and that shows on
the thread page and in the graph's final state (read back through ``LangGraphDjangoSaver``).
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser import CHROMIUM, LIVE, BrowserTestCase

pytestmark = pytest.mark.browser
pytest.importorskip("langchain.agents")

THREAD_URL = re.compile(r"/threads/(\d+)/$")
REQUEST = "Email the board report to dana@example.com, then delete /tmp/board.txt."


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class EmailAssistantInBrowserTests(BrowserTestCase):
    def start_assistant(self, page: Page) -> int:
        """Start the email assistant from the Workflows page; returns the thread's pk."""
        page.goto("/workflows/")
        card = page.get_by_role("article").filter(
            has=page.get_by_role("heading", name="Email assistant", exact=True)
        )
        card.get_by_label("Request").fill(REQUEST)
        card.get_by_role("button", name="Start").click()
        page.wait_for_url(THREAD_URL)
        expect(page.get_by_text("Started Email assistant.")).to_be_visible()
        expect(page.get_by_text("Paused until a reviewer answers.")).to_be_visible(timeout=LIVE)
        expect(page.locator("#thread-pending").get_by_text(
            "The agent wants to run 2 tool calls: send_email, delete_file"
        )).to_be_visible()
        return int(THREAD_URL.search(page.url).group(1))

    def open_request(self, page: Page) -> tuple[Locator, Locator]:
        """Open the pending request from the thread page: the two tool calls' cards."""
        page.get_by_role("button", name="Review").click()
        expect(page.get_by_text("The agent wants to make 2 tool calls")).to_be_visible()
        return (page.get_by_role("article", name="send_email"),
                page.get_by_role("article", name="delete_file"))

    def final_messages(self, thread_pk: int) -> list:
        from workflows import adapters, registry
        from workflows.models import Thread

        thread = Thread.objects.get(pk=thread_pk)
        graph = adapters.adapter_for(registry.get("email-assistant"))
        state = graph.get_state({"configurable": {"thread_id": thread.thread_id}})
        assert state.next == ()  # the agent finished
        return state.values["messages"]

    @staticmethod
    def tool_results(messages: list) -> dict:
        from langchain_core.messages import ToolMessage

        return {m.name: m for m in messages if isinstance(m, ToolMessage)}

    def wait_until_done(self, page: Page) -> Locator:
        page.wait_for_url(THREAD_URL)
        expect(page.get_by_text("Finished.", exact=True)).to_be_visible(timeout=LIVE)
        return page.get_by_role("article").filter(
            has=page.get_by_role("heading", name="Result", exact=True)
        )

    def test_approve_one_tool_call_and_edit_the_others_arguments_in_one_submit(self) -> None:
        self.reviewer("rita")
        page = self.logged_in_page("rita")
        thread_pk = self.start_assistant(page)
        send_email, delete_file = self.open_request(page)
        # delete_file allows exactly approve and reject: the page offers those two
        expect(delete_file.get_by_role("radio")).to_have_count(2)
        delete_file.get_by_role("radio", name=re.compile("^Approve")).check()

        send_email.get_by_role("radio", name=re.compile("^Edit")).check()
        to = send_email.get_by_label(re.compile(r"^To\b"))
        expect(to).to_have_value("dana@example.com")  # prefilled with the proposal
        to.fill("erin@example.com")
        send_email.get_by_label(re.compile(r"^Subject\b")).fill("Board report, final")
        # the changes are shown against the proposal before anything is sent
        diff = send_email.locator("[data-diff]")
        expect(diff.get_by_text("erin@example.com")).to_be_visible()
        expect(diff.get_by_text("dana@example.com")).to_be_visible()
        page.get_by_role("button", name="Send 2 decisions").click()

        result = self.wait_until_done(page)
        expect(result.get_by_text(
            "- send_email: Email sent to erin@example.com with subject “Board report, final”. "
            "(as edited by the reviewer)"
        )).to_be_visible()
        expect(result.get_by_text("- delete_file: File /tmp/board.txt deleted.")).to_be_visible()
        timeline = page.locator("#timeline")
        expect(timeline.get_by_text("Answered by rita")).to_be_visible()
        expect(timeline.get_by_text("tools", exact=True).first).to_be_visible()
        # the answer, pushed live, reads as decisions: an edit's changes old -> new
        expect(timeline.get_by_text("Edited", exact=True)).to_be_visible()
        expect(timeline.get_by_text("Approved", exact=True)).to_be_visible()
        expect(timeline.locator("del", has_text="dana@example.com")).to_be_visible()
        expect(timeline.locator("ins", has_text="erin@example.com")).to_be_visible()

        tools = self.tool_results(self.final_messages(thread_pk))
        assert tools["send_email"].content.endswith(
            "Email sent to erin@example.com with subject “Board report, final”."
        )
        assert '"to": "erin@example.com"' in tools["send_email"].content  # the call that ran
        assert tools["delete_file"].content == "File /tmp/board.txt deleted."
        assert tools["delete_file"].status == "success"

    def test_a_rejection_with_a_message_reaches_the_model(self) -> None:
        self.reviewer("rita")
        page = self.logged_in_page("rita")
        thread_pk = self.start_assistant(page)
        send_email, delete_file = self.open_request(page)
        send_email.get_by_role("radio", name=re.compile("^Approve")).check()
        delete_file.get_by_role("radio", name=re.compile("^Reject")).check()
        delete_file.get_by_label(re.compile("^Why not")).fill("Keep the board file until Friday.")
        page.get_by_role("button", name="Send 2 decisions").click()

        result = self.wait_until_done(page)
        expect(result.get_by_text(
            "- delete_file: User rejected the tool call for `delete_file` with reason: "
            "Keep the board file until Friday."
        )).to_be_visible()
        expect(result.get_by_text(
            "- send_email: Email sent to dana@example.com with subject “Quarterly report”."
        )).to_be_visible()

        messages = self.final_messages(thread_pk)
        refused = self.tool_results(messages)["delete_file"]
        assert refused.status == "error"
        assert "Keep the board file until Friday." in refused.content
        # the model's next turn was given that ToolMessage: its answer quotes the reason
        assert "Keep the board file until Friday." in messages[-1].content
