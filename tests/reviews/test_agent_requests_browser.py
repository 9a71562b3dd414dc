"""Agent requests answered in headless Chromium against a live Daphne server: the reviewer
picks decisions, edits arguments in fields (never JSON), sees the diff before sending, and the
workflow (``tests.reviews.agent_payloads``: it returns what it was resumed with) receives
exactly the value the agent expects.

The request is paused in this process (``running.execute_run``); the answer is resumed by the
live server's own executor. Set ``FLOWSITE_SHOTS`` to a directory to keep screenshots of each
page state at 1280 and 390 px (``forms-<state>-desktop.png`` / ``-phone.png``).
"""

from __future__ import annotations

import os
import re
import time

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from tests.browser import CHROMIUM, LIVE, BrowserTestCase, shoot
from tests.reviews.agent_payloads import (
    BATCHED,
    EMAIL_ARGS,
    INBOX,
    PER_CALL,
    PER_CALL_SCHEMA,
    WORKFLOW,
    fresh,
)
from workflows import services
from workflows.execution import running
from workflows.models import Interrupt, Thread

pytestmark = pytest.mark.browser

THREAD_URL = re.compile(r"/threads/\d+/$")


class ReviewPageCase(BrowserTestCase):
    """Helpers: pause the test workflow, open its review page, read what it resumed with."""

    def setUp(self) -> None:
        super().setUp()
        self.reviewer("alice")

    # -- helpers ------------------------------------------------------------------------------
    def paused(self, value, schema=None) -> Interrupt:
        run = services.start_run(workflow=WORKFLOW, input={"value": value, "schema": schema})
        running.execute_run(run.pk)
        return Interrupt.objects.pending().get(thread=run.thread)

    def open(self, interrupt: Interrupt) -> Page:
        page = self.logged_in_page("alice")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"/interrupts/{interrupt.pk}/")
        return page

    @staticmethod
    def action(page: Page, name: str):
        return page.get_by_role("article").filter(has=page.get_by_role("heading", name=name))

    @staticmethod
    def choose(card, decision: str) -> None:
        card.get_by_role("radio", name=re.compile(f"^{decision}")).check()

    def resumed_with(self, interrupt: Interrupt):
        deadline = time.monotonic() + LIVE / 1000
        while time.monotonic() < deadline:
            thread = Thread.objects.get(pk=interrupt.thread_id)
            if thread.status == Thread.Status.DONE:
                return thread.result["resumed_with"]
            assert thread.status != Thread.Status.ERROR, thread.error
            time.sleep(0.1)
        raise AssertionError(f"thread still {thread.status}")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class AgentRequestsInBrowserTests(ReviewPageCase):
    def test_per_call_request_edited_with_the_diff_shown_before_sending(self) -> None:
        interrupt = self.paused(fresh(PER_CALL), fresh(PER_CALL_SCHEMA))
        page = self.open(interrupt)
        card = self.action(page, "send_email")
        expect(card.get_by_text("Tool execution requires approval")).to_be_visible()
        expect(card.get_by_text("alice@example.com")).to_be_visible()  # the proposal, readable
        for decision in ("Approve", "Edit", "Reject", "Respond"):
            expect(card.get_by_role("radio", name=re.compile(f"^{decision}"))).to_be_visible()
        expect(card.get_by_role("radio", name=re.compile("^Ignore"))).to_have_count(0)
        shoot(page, "reviews-forms-per-call")

        self.choose(card, "Edit")
        subject = card.get_by_label("Subject")
        expect(subject).to_have_value("Report")  # prefilled from the proposal
        expect(card.get_by_text("No changes yet")).to_be_visible()
        subject.fill("Monthly report")
        diff = card.locator("[data-diff-list] li")
        expect(diff).to_have_count(1)
        expect(diff.locator("del")).to_have_text("Report")
        expect(diff.locator("ins")).to_have_text("Monthly report")
        shoot(page, "reviews-forms-edit-diff")

        page.get_by_role("button", name="Send decision").click()
        page.wait_for_url(THREAD_URL)
        assert self.resumed_with(interrupt) == {
            "type": "edit",
            "edited_action": {
                "name": "send_email",
                "args": {**EMAIL_ARGS, "subject": "Monthly report"},
            },
        }

    def test_agent_inbox_request_ignored(self) -> None:
        interrupt = self.paused(fresh(INBOX))
        page = self.open(interrupt)
        card = self.action(page, "send_email")
        expect(card.get_by_text("Please review the email before it is sent")).to_be_visible()
        expect(card.get_by_role("radio", name=re.compile("^Reject"))).to_have_count(
            0
        )  # no allow_reject
        shoot(page, "reviews-forms-agent-inbox")
        self.choose(card, "Ignore")
        page.get_by_role("button", name="Send decision").click()
        page.wait_for_url(THREAD_URL)
        assert self.resumed_with(interrupt) == [{"type": "ignore", "args": None}]

    def test_batched_request_one_approved_one_edited_without_json(self) -> None:
        interrupt = self.paused(fresh(BATCHED))
        page = self.open(interrupt)
        email, delete = self.action(page, "send_email"), self.action(page, "delete_file")
        expect(page.get_by_text("The agent wants to make 2 tool calls")).to_be_visible()
        expect(delete.get_by_role("radio")).to_have_count(2)  # approve, reject
        shoot(page, "reviews-forms-batched")

        # An error first: Respond needs a message; nothing is sent, what was typed stays.
        self.choose(email, "Respond")
        self.choose(delete, "Approve")
        page.get_by_role("button", name="Send 2 decisions").click()
        summary = page.get_by_role("alert").filter(has_text="Please correct the answer below.")
        expect(summary).to_contain_text(
            "send_email (action 1) › Message to the agent: Respond needs a message"
        )
        assert Interrupt.objects.get(pk=interrupt.pk).status == Interrupt.Status.PENDING
        shoot(page, "reviews-forms-error")

        self.choose(email, "Edit")
        body = email.get_by_label("Body")
        expect(body).to_have_value("Here it is.")
        body.fill("Here it is, with the figures.")
        expect(email.locator("[data-diff-list] li ins")).to_have_text(
            "Here it is, with the figures."
        )
        expect(delete.get_by_role("radio", name=re.compile("^Approve"))).to_be_checked()
        page.get_by_role("button", name="Send 2 decisions").click()
        page.wait_for_url(THREAD_URL)
        assert self.resumed_with(interrupt) == {
            "decisions": [
                {
                    "type": "edit",
                    "edited_action": {
                        "name": "send_email",
                        "args": {**EMAIL_ARGS, "body": "Here it is, with the figures."},
                    },
                },
                {"type": "approve"},
            ]
        }

        # The answered request says what was decided on each call.
        page.goto(f"/interrupts/{interrupt.pk}/")
        decided = page.locator(".decided-actions > li")
        expect(decided.nth(0)).to_contain_text("send_email Edited")
        expect(decided.nth(0).locator("ins")).to_have_text("Here it is, with the figures.")
        expect(decided.nth(1)).to_contain_text("delete_file Approved")
        shoot(page, "reviews-forms-answered")

        # The audit log, filtered by kind, shows the batch (an edit in it) and its diff.
        get_user_model().objects.filter(username="alice").update(is_staff=True)
        page.goto("/audit/")
        page.get_by_label("Decision").select_option("edit")
        expect(page).to_have_url(re.compile(r"/audit/\?kind=edit$"))
        row = page.get_by_role("row").filter(has_text="send_email")
        expect(row.get_by_text("Mixed", exact=True)).to_be_visible()
        expect(row.locator("ins")).to_have_text("Here it is, with the figures.")
        shoot(page, "reviews-forms-audit-kind")


ORDER_SCHEMA = {
    "$defs": {
        "Pickup": {
            "type": "object",
            "title": "Pickup",
            "properties": {
                "kind": {"const": "pickup"},
                "store": {"type": "string", "maxLength": 40},
            },
            "required": ["kind", "store"],
        },
        "Delivery": {
            "type": "object",
            "title": "Delivery",
            "properties": {
                "kind": {"const": "delivery"},
                "address": {"type": "string", "maxLength": 80},
                "floor": {"type": "integer", "minimum": 0},
            },
            "required": ["kind", "address"],
        },
    },
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": {"type": "string", "maxLength": 40}, "minItems": 1},
        "shipping": {"oneOf": [{"$ref": "#/$defs/Pickup"}, {"$ref": "#/$defs/Delivery"}]},
    },
    "required": ["items", "shipping"],
}


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class SchemaFormInBrowserTests(ReviewPageCase):
    """A form built from a JSON Schema with a tagged union and an array: the branch chosen shows
    its fields, items are added and removed in the page, and the run gets the assembled value."""

    def test_union_branch_and_array_items_make_the_answer(self) -> None:
        interrupt = self.paused({"order": 42, "action": "Confirm the order"}, ORDER_SCHEMA)
        page = self.open(interrupt)
        page.get_by_label("Item 1", exact=True).fill("Tea")
        page.get_by_role("button", name="Add an item to Items").click()
        page.get_by_role("button", name="Add an item to Items").click()
        new = page.locator("[data-items] [data-item]")
        expect(new).to_have_count(3)
        new.nth(1).get_by_role("textbox").fill("Cake")
        new.nth(2).get_by_role("textbox").fill("Jam")
        new.nth(1).get_by_role("button", name=re.compile("^Remove")).click()
        expect(new).to_have_count(2)

        expect(page.get_by_label("Address")).to_be_hidden()
        page.get_by_role("radio", name="Delivery").check()
        expect(page.get_by_label("Store")).to_be_hidden()
        page.get_by_label("Address").fill("1 Quay Street")
        page.get_by_label("Floor").fill("-1")
        page.get_by_role("button", name="Send answer").click()
        expect(page.get_by_text("Ensure this value is greater than or equal to 0.")).to_be_visible()
        shoot(page, "reviews-forms-schema-form")
        page.get_by_label("Floor").fill("3")
        page.get_by_role("button", name="Send answer").click()
        page.wait_for_url(THREAD_URL)
        assert self.resumed_with(interrupt) == {
            "items": ["Tea", "Jam"],
            "shipping": {"kind": "delivery", "address": "1 Quay Street", "floor": 3},
        }
