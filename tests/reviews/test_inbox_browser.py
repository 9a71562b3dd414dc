"""The inbox's filters, pages and claims in headless Chromium against a live Daphne server:
what only a browser shows (htmx swaps, pushed URLs, the list's socket following the filters).

Same set-up as ``tests/e2e``: ``ChannelsLiveServerTestCase`` forks Daphne onto the test
database, Playwright drives Debian's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser import CHROMIUM, LIVE, BrowserTestCase
from workflows.models import Interrupt, Thread

pytestmark = pytest.mark.browser

@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class InboxInBrowserTests(BrowserTestCase):
    def setUp(self) -> None:
        super().setUp()
        for name in ("alice", "bob"):
            self.reviewer(name)

    @staticmethod
    def waiting(workflow: str, text: str) -> Interrupt:
        thread = Thread.objects.create(
            thread_id=str(uuid.uuid4()), workflow=workflow, status="interrupted", input=text
        )
        return Interrupt.objects.create(
            thread=thread,
            interrupt_id=uuid.uuid4().hex,
            checkpoint_id=str(uuid.uuid4()),
            task_id=str(uuid.uuid4()),
            value={"essay": f"An essay about {text}", "action": "Please approve/reject"},
        )

    def test_filters_swap_the_list_and_claims_show_up_live(self) -> None:
        for n in range(22):
            self.waiting("essay-review", f"topic {n:02d}")
        section = self.waiting("parallel-review", "the launch plan")

        page = self.logged_in_page("alice")
        page.evaluate("window.__marker = 1")
        expect(page.get_by_text("1–20 of 23 waiting · oldest first")).to_be_visible()

        # Next page over htmx: the list changes, the URL follows, the page does not reload.
        page.get_by_role("link", name="Next →").click()
        expect(page.get_by_text("21–23 of 23 waiting · oldest first")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/\?page=2$"))

        # Choosing a workflow filters at once (no submit); the page number resets.
        page.get_by_label("Workflow").select_option("parallel-review")
        expect(page.get_by_text("1 waiting that match · oldest first")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/\?workflow=parallel-review$"))
        item = page.get_by_role("article").filter(has_text="the launch plan")
        expect(item).to_be_visible()

        # Typing searches after a pause.
        page.get_by_label("Workflow").select_option("")
        page.get_by_label("Search").fill("topic 07")
        expect(page.get_by_text("1 waiting that match · oldest first")).to_be_visible()
        expect(page.get_by_role("article").filter(has_text="topic 07")).to_be_visible()
        page.get_by_label("Search").fill("")
        page.get_by_label("Workflow").select_option("parallel-review")
        expect(page.get_by_text("1 waiting that match · oldest first")).to_be_visible()

        # Bob claims the section in his browser: alice's filtered list says so, live.
        bob = self.logged_in_page("bob")
        bob.goto(f"/interrupts/{section.pk}/")
        bob.get_by_role("button", name="Claim for 10 minutes").click()
        expect(bob.get_by_text("You are reviewing this until")).to_be_visible()
        expect(item.get_by_text(re.compile(r"bob is reviewing \(until \d\d:\d\d\)"))).to_be_visible(
            timeout=LIVE
        )
        expect(page.get_by_text("1 waiting that match · oldest first")).to_be_visible()

        assert page.evaluate("window.__marker") == 1, "the inbox was reloaded"

        # Alice cannot answer it meanwhile; when bob releases it, her list shows that too.
        page.goto(f"/interrupts/{section.pk}/")
        expect(page.get_by_text("is reviewing this (until")).to_be_visible()
        expect(page.get_by_role("button", name="Send answer")).to_have_count(0)
        page.go_back()
        expect(page.get_by_text("bob is reviewing")).to_be_visible()
        expect(page.get_by_label("Workflow")).to_have_value("parallel-review")
        page.evaluate("window.__marker = 2")
        bob.get_by_role("button", name="Release").click()
        expect(bob.get_by_text("Nobody is reviewing this.")).to_be_visible()
        expect(page.get_by_text("bob is reviewing")).to_have_count(0, timeout=LIVE)
        assert page.evaluate("window.__marker") == 2, "the inbox was reloaded"
