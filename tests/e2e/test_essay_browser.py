"""The issue's acceptance test: a reviewer in headless Chromium against a live Daphne server.

``ChannelsLiveServerTestCase`` forks Daphne (HTTP, static files and WebSockets) onto the test
database; its in-process executor runs the workflows and pushes their chunks over the in-memory
channel layer, so everything a reviewer sees here travels the real path. Playwright drives
Debian's ``/usr/bin/chromium`` (never a downloaded browser).

"Without a reload" is checked with a marker set on ``window`` after landing on a page: a
navigation would drop it.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import CHROMIUM, LIVE, BrowserTestCase

pytestmark = pytest.mark.browser

THREAD_URL = re.compile(r"/threads/\d+/$")
# Set to a directory to keep screenshots of the final pages. (A failing expect() already
# reports the page's ARIA snapshot.)
SCREENSHOTS = os.environ.get("FLOWSITE_E2E_SCREENSHOTS", "")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class ReviewerInBrowserTests(BrowserTestCase):
    # -- helpers ------------------------------------------------------------------------------
    def start_workflow(self, page: Page, title: str, **fields: str) -> None:
        """Fill the start form of the workflow card titled ``title`` and start it."""
        page.goto("/workflows/")
        card = page.get_by_role("article").filter(
            has=page.get_by_role("heading", name=title, exact=True)
        )
        for label, value in fields.items():
            card.get_by_label(label, exact=True).fill(value)
        card.get_by_role("button", name="Start").click()
        page.wait_for_url(THREAD_URL)
        expect(page.get_by_text(f"Started {title}.")).to_be_visible()

    def open_review(self, page: Page, text: str) -> None:
        """From the inbox, open the review of the pending interrupt that shows ``text``."""
        page.goto("/")
        item = page.get_by_role("article").filter(has_text=text)
        expect(item).to_be_visible(timeout=LIVE)  # the run pauses in the background
        item.get_by_role("button", name="Review").click()  # a link styled as a button
        expect(page.get_by_role("heading", name="Your answer")).to_be_visible()

    @staticmethod
    def mark_page(page: Page) -> None:
        page.evaluate("window.__marker = 1")

    @staticmethod
    def assert_not_reloaded(page: Page) -> None:
        assert page.evaluate("window.__marker") == 1, "the page was reloaded"

    def screenshot(self, page: Page, name: str) -> None:
        if SCREENSHOTS:
            os.makedirs(SCREENSHOTS, exist_ok=True)
            page.screenshot(path=os.path.join(SCREENSHOTS, name), full_page=True)

    # -- tests --------------------------------------------------------------------------------
    def test_reviewer_approves_an_essay_and_sees_the_result_live(self) -> None:
        self.reviewer("alice")
        page = self.logged_in_page("alice")
        self.start_workflow(page, "Essay review", Topic="tidal pools")
        # The thread page she started from stays open in this tab, connected. The page Approve
        # redirects to usually renders after the run has finished; this one cannot have.
        started = page
        expect(started.get_by_text("Live", exact=True)).to_be_visible(timeout=LIVE)
        self.mark_page(started)

        page = started.context.new_page()
        self.open_review(page, "An essay about topic: tidal pools")
        expect(page.get_by_text("An essay about topic: tidal pools")).to_be_visible()
        expect(page.get_by_text("Please approve/reject the essay")).to_be_visible()
        page.get_by_role("button", name="Approve").click()

        page.wait_for_url(THREAD_URL)
        self.mark_page(page)
        for tab in (page, started):
            result = tab.get_by_role("article").filter(
                has=tab.get_by_role("heading", name="Result", exact=True)
            )
            expect(result).to_be_visible(timeout=LIVE)
            expect(result.get_by_text("Is approved")).to_be_visible()
            expect(result.get_by_text("Yes", exact=True)).to_be_visible()
            expect(result.get_by_text("An essay about topic: tidal pools")).to_be_visible()
            expect(tab.get_by_text("Answered by alice")).to_be_visible()
            expect(tab.get_by_text("Finished.", exact=True)).to_be_visible()
            self.assert_not_reloaded(tab)
        self.screenshot(page, "e2e_done.png")

    def test_thread_page_shows_another_reviewers_answer_live(self) -> None:
        self.reviewer("alice")
        self.reviewer("bob")
        watcher = self.logged_in_page("alice")
        self.start_workflow(
            watcher,
            "Parallel section review",
            Title="Browser launch plan",
            Sections="Goals: ship the browser test\nRisks: flaky live updates",
        )
        # The run pauses on both sections in the background; the open page shows it live.
        expect(watcher.get_by_text("Live", exact=True)).to_be_visible(timeout=LIVE)
        expect(
            watcher.get_by_role("heading", name="Waiting for review · 2", exact=True)
        ).to_be_visible(timeout=LIVE)
        self.mark_page(watcher)

        reviewer = self.logged_in_page("bob")
        self.open_review(reviewer, "ship the browser test")
        reviewer.get_by_label("Approve this section").check()
        # The section's own note (sent with the answer), not the item's comments card.
        reviewer.get_by_role("textbox", name="Note with your decision optional").fill(
            "Goals look right to me"
        )
        reviewer.get_by_role("button", name="Send answer").click()
        reviewer.wait_for_url(THREAD_URL)

        # Alice's page, still open, follows without a reload: bob's answer lands in the
        # timeline and only the other section stays waiting.
        answer = watcher.get_by_role("listitem").filter(has_text="Answered by bob")
        expect(answer).to_be_visible(timeout=LIVE)
        expect(answer.get_by_text("Goals look right to me")).to_be_visible()
        expect(watcher.get_by_role("heading", name="Waiting for review", exact=True)).to_be_visible(
            timeout=LIVE
        )
        expect(watcher.get_by_text("Paused until a reviewer answers.")).to_be_visible()
        self.assert_not_reloaded(watcher)

        # Bob answers the last section; alice's page shows the result, still without a reload.
        self.open_review(reviewer, "flaky live updates")
        reviewer.get_by_role("button", name="Send answer").click()
        reviewer.wait_for_url(THREAD_URL)
        result = watcher.get_by_role("article").filter(
            has=watcher.get_by_role("heading", name="Result", exact=True)
        )
        expect(result.get_by_text("1 of 2 sections approved")).to_be_visible(timeout=LIVE)
        self.assert_not_reloaded(watcher)
        self.screenshot(watcher, "e2e_live.png")
