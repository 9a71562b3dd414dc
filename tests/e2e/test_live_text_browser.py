"""Live text in a reviewer's browser: the streaming essay (an ``async def`` workflow whose task
streams a chat model's tokens) started from the Workflows page, against a live Daphne server
with its in-process executor (``ChannelsLiveServerTestCase``), in headless Chromium.

The essay's text grows in place in one block labelled with its task, survives a reload in the
middle, gives way to the task's result in the timeline, and the run reaches Done once approved.
``FLOWSITE_E2E_SCREENSHOTS=/dir`` keeps screenshots (desktop and 390 px) mid-stream and done.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from flowsite.chat_models import fake_essay
from tests.browser import CHROMIUM, LIVE, BrowserTestCase

pytestmark = pytest.mark.browser

THREAD_URL = re.compile(r"/threads/\d+/$")
SCREENSHOTS = os.environ.get("FLOWSITE_E2E_SCREENSHOTS", "")
TASK = "write_essay_with_model"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class LiveTextInBrowserTests(BrowserTestCase):
    def screenshot(self, page: Page, name: str) -> None:
        if SCREENSHOTS:
            os.makedirs(SCREENSHOTS, exist_ok=True)
            page.screenshot(path=os.path.join(SCREENSHOTS, name), full_page=True)

    @staticmethod
    def live_text(page: Page) -> str:
        return page.locator(".event-live .live-text").inner_text()

    def test_streaming_essay_grows_in_place_survives_a_reload_and_reaches_done(self) -> None:
        self.reviewer("alice")
        page = self.logged_in_page("alice")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto("/workflows/")
        card = page.get_by_role("article").filter(
            has=page.get_by_role("heading", name="Streaming essay review", exact=True)
        )
        card.get_by_label("Topic", exact=True).fill("tide pools")
        card.get_by_role("button", name="Start").click()
        page.wait_for_url(THREAD_URL)
        essay = fake_essay("tide pools")

        # One block, labelled with its task, a cursor at its end; its text grows in place.
        block = page.locator(".event-live")
        expect(block).to_have_count(1, timeout=LIVE)
        expect(block.locator(".event-name")).to_have_text(TASK)
        expect(block.locator(".live-cursor")).to_be_attached()
        seen = []
        for _ in range(5):
            seen.append(self.live_text(page))
            page.wait_for_timeout(250)
        assert all(len(a) < len(b) for a, b in zip(seen, seen[1:], strict=False)), seen
        assert all(essay.startswith(text) for text in seen), seen
        expect(page.get_by_text("The workflow is running…")).to_be_visible()  # before it finishes
        expect(page.locator("#live-log li")).to_have_count(0)  # no row per token
        self.screenshot(page, "live-stream-desktop.png")

        # A second browser, narrow, joins in the middle: it sees the text so far at once.
        phone = page.context.new_page()
        phone.set_viewport_size({"width": 390, "height": 844})
        before = self.live_text(page)
        phone.goto(page.url)
        joined = self.live_text(phone)  # the server-rendered page, before any push
        assert len(joined) >= len(before) > 0 and essay.startswith(joined)
        self.screenshot(phone, "live-stream-390.png")

        # A reload in the middle shows the text so far, then it goes on growing.
        before = self.live_text(page)
        page.reload()
        after_reload = self.live_text(page)
        assert len(after_reload) >= len(before) and essay.startswith(after_reload)
        assert len(after_reload) < len(essay), "the reload came after the essay was written"
        page.wait_for_timeout(400)
        assert len(self.live_text(page)) > len(after_reload)

        # When the task finishes, the live block goes and the timeline shows its result.
        expect(page.locator(".event-live")).to_have_count(0, timeout=LIVE)
        task = page.locator("#timeline .event-task").filter(has_text=TASK)
        expect(task).to_be_visible()
        expect(task).to_contain_text("remind us that the familiar is full of surprises")
        expect(page.get_by_text("Paused until a reviewer answers.")).to_be_visible(timeout=LIVE)

        # The async workflow reaches Done once approved.
        page.get_by_role("button", name="Review").click()  # a link styled as a button
        try:
            expect(page.get_by_role("heading", name="Your answer")).to_be_visible()
        except AssertionError:
            page.screenshot(path="/tmp/review.png", full_page=True)
            raise
        page.get_by_role("button", name="Approve").click()
        page.wait_for_url(THREAD_URL)
        expect(page.get_by_text("Finished.", exact=True)).to_be_visible(timeout=LIVE)
        result = page.get_by_role("article").filter(
            has=page.get_by_role("heading", name="Result", exact=True)
        )
        expect(result.get_by_text("Is approved")).to_be_visible()
        expect(phone.get_by_text("Finished.", exact=True)).to_be_visible(timeout=LIVE)
        self.screenshot(page, "live-done-desktop.png")
        self.screenshot(phone, "live-done-390.png")
