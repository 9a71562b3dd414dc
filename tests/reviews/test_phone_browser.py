"""Phone-sized screens: the inbox, an item and its thread page at 390 px wide in headless
Chromium, with long unbroken text, a claim, a comment and the bulk bar on them; nothing is
wider than the screen (``document.documentElement.scrollWidth <= 390``).
``FLOWSITE_SHOTS``: see ``test_keys_browser``."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from reviews import services as review_services
from tests.browser import CHROMIUM, LIVE, SHOTS, BrowserTestCase
from workflows import services
from workflows.execution import running
from workflows.models import Interrupt

pytestmark = pytest.mark.browser

WIDTH = 390
LONG = "pneumonoultramicroscopicsilicovolcanoconiosis" * 3  # no break opportunity


WIDER = """(width) => Array.from(document.querySelectorAll("body *"))
    .filter((el) => el.getBoundingClientRect().right > width + 0.5)
    .filter((el) => !el.parentElement || el.parentElement.getBoundingClientRect().right <= width + 0.5)
    .map((el) => `${el.tagName.toLowerCase()}.${el.className} (${Math.round(el.getBoundingClientRect().right)} px)`)
    .slice(0, 5)"""


def fits(page: Page) -> None:
    """Nothing on ``page`` is wider than the screen; else the outermost elements that are."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide: {page.evaluate(WIDER, WIDTH)}"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class PhoneTests(BrowserTestCase):
    def test_inbox_item_and_thread_fit_a_390_px_screen(self) -> None:
        self.reviewer("alice")
        self.reviewer("bob")
        run = services.start_run(workflow="essay-review", input=LONG)
        running.execute_run(run.pk)
        interrupt = Interrupt.objects.pending().get(thread=run.thread)
        for n in range(2):
            other = services.start_run(workflow="essay-review", input=f"topic {n}")
            running.execute_run(other.pk)
        from django.contrib.auth import get_user_model

        bob = get_user_model().objects.get(username="bob")
        review_services.claim_interrupt(interrupt=interrupt, user=bob)
        review_services.add_comment(interrupt=interrupt, user=bob, body=f"See {LONG} first")

        page = self.logged_in_page("alice")
        page.set_viewport_size({"width": WIDTH, "height": 844})
        page.goto("/")
        expect(page.get_by_text("3 waiting · oldest first")).to_be_visible()
        page.get_by_role("checkbox").first.check()
        expect(page.get_by_text("1 selected (Essay review)")).to_be_visible()
        expect(page.get_by_text("bob is reviewing")).to_be_visible()
        fits(page)
        self.shot(page, "phone-inbox")

        page.goto(f"/interrupts/{interrupt.pk}/")
        expect(page.locator("#presence").get_by_text("bob claimed this")).to_be_visible(timeout=LIVE)
        expect(page.get_by_text(f"See {LONG} first")).to_be_visible()
        fits(page)
        self.shot(page, "phone-item")

        page.goto(f"/threads/{run.thread_id}/")
        expect(page.locator("main h1")).to_be_visible()
        expect(page.get_by_role("link", name="Review →").first).to_be_visible()
        fits(page)
        self.shot(page, "phone-thread")

    @staticmethod
    def shot(page: Page, name: str) -> None:
        if SHOTS:
            os.makedirs(SHOTS, exist_ok=True)
            page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
