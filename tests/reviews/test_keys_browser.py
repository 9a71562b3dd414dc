"""Ten reviews cleared by keyboard alone in headless Chromium against a live Daphne server
(``reviews/static/js/review-keys.js``): the keys press the page's own buttons, so each answer
is the form POST a click sends (CSRF, validation, audit), and the next waiting item opens.

Ten essay runs are paused in this process (``workflows.execution.running.execute_run``); the live server's own
executor resumes them. Set ``FLOWSITE_SHOTS`` to a directory to keep screenshots (1280 and
390 px wide: ``keys-<state>-desktop.png`` / ``-phone.png``).
"""

from __future__ import annotations

import os
import re
import uuid

import pytest
from playwright.sync_api import expect

from reviews.models import Decision
from tests.browser import CHROMIUM, LIVE, BrowserTestCase, finished, paused_essays, shoot
from workflows.models import Interrupt, Thread

pytestmark = pytest.mark.browser

ITEM_URL = re.compile(r"/interrupts/(\d+)/$")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class KeyboardTests(BrowserTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.reviewer("alice")

    def test_ten_reviews_cleared_by_keyboard_alone(self) -> None:
        interrupts = paused_essays(10)
        page = self.logged_in_page("alice")
        page.set_viewport_size({"width": 1280, "height": 900})
        expect(page.get_by_text("10 waiting · oldest first")).to_be_visible()

        # "?" lists the keys; Esc closes the list.
        page.keyboard.press("?")
        dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_text("Approve, then open the next waiting item")).to_be_visible()
        shoot(page, "reviews-keys-dialog")
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()

        # Typing in a field is typing: "j" in the search box selects nothing.
        search = page.get_by_label("Search")
        search.focus()
        page.keyboard.type("jk")
        expect(search).to_have_value("jk")
        expect(page.get_by_text("Nothing waiting matches these filters")).to_be_visible()
        expect(page.locator("[data-review-item][aria-current]")).to_have_count(0)
        search.fill("")
        # The list is back (htmx swapped it and pushed the clean URL) before the keys go on.
        expect(page).to_have_url(re.compile(r"/$"))
        expect(page.get_by_text("10 waiting · oldest first")).to_be_visible()
        page.keyboard.press("Escape")  # leaves the field

        # j / k move the selection; Enter opens it.
        items = page.locator("[data-review-item]")
        page.keyboard.press("j")
        page.keyboard.press("j")
        expect(items.nth(1)).to_have_attribute("aria-current", "true")
        page.keyboard.press("k")
        expect(items.nth(0)).to_have_attribute("aria-current", "true")
        shoot(page, "reviews-keys-inbox-selected")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(f"/interrupts/{interrupts[0].pk}/$"))

        # A modifier is not a key of ours: Ctrl+A answers nothing.
        expect(page.get_by_role("button", name="Approve")).to_be_visible()
        page.keyboard.press("Control+a")
        page.keyboard.press("Alt+r")
        expect(page).to_have_url(re.compile(f"/interrupts/{interrupts[0].pk}/$"))
        assert not Decision.objects.exists()

        # Ten answers, by keys only: approve the even ones, reject the odd ones. Each opens
        # the next waiting item, and says what was sent.
        for n, interrupt in enumerate(interrupts):
            expect(page).to_have_url(re.compile(f"/interrupts/{interrupt.pk}/$"), timeout=LIVE)
            expect(page.get_by_text(f"An essay about topic: topic {n:02d}")).to_be_visible()
            if n == 1:
                shoot(page, "reviews-keys-next-item")
            page.keyboard.press("a" if n % 2 == 0 else "r")
        expect(page).to_have_url(re.compile(r"/$"), timeout=LIVE)
        expect(page.get_by_text("Rejected: Essay review. Nothing else is waiting for you.")).to_be_visible()
        expect(page.get_by_role("heading", name="Nothing waiting for review")).to_be_visible()

        decisions = {d.interrupt_id: d for d in Decision.objects.select_related("user")}
        assert len(decisions) == 10
        for n, interrupt in enumerate(interrupts):
            decision = decisions[interrupt.pk]
            assert decision.user.username == "alice"
            assert decision.kind == ("approve" if n % 2 == 0 else "reject")
        results = finished([i.thread_id for i in interrupts])
        assert results == {i.thread_id: n % 2 == 0 for n, i in enumerate(interrupts)}

    def test_c_claims_and_e_goes_to_the_first_field(self) -> None:
        (interrupt,) = paused_essays(1)
        page = self.logged_in_page("alice")
        page.goto(f"/interrupts/{interrupt.pk}/")
        expect(page.get_by_text("Nobody is reviewing this.")).to_be_visible()
        page.keyboard.press("c")
        expect(page.get_by_text("You are reviewing this until")).to_be_visible()
        # j / k at the ends of the queue go nowhere.
        page.keyboard.press("j")
        page.keyboard.press("k")
        expect(page).to_have_url(re.compile(f"/interrupts/{interrupt.pk}/$"))

        # A workflow without a form of its own is answered in a JSON field: "e" goes there,
        # and what is typed there is text, not keys (no "j" to the next item, no "a").
        thread = Thread.objects.create(
            thread_id=str(uuid.uuid4()), workflow="unregistered", status="interrupted", input="x"
        )
        other = Interrupt.objects.create(
            thread=thread,
            interrupt_id=uuid.uuid4().hex,
            checkpoint_id=str(uuid.uuid4()),
            task_id=str(uuid.uuid4()),
            value={"question": "How many?"},
        )
        page.goto(f"/interrupts/{other.pk}/")
        field = page.get_by_label("Resume value (JSON)")
        expect(field).not_to_be_focused()
        page.keyboard.press("e")
        expect(field).to_be_focused()
        page.keyboard.type("jak?")
        expect(field).to_have_value("jak?")
        expect(page.get_by_role("dialog")).to_be_hidden()
        expect(page).to_have_url(re.compile(f"/interrupts/{other.pk}/$"))
        page.keyboard.press("Escape")  # out of the field, the keys work again
        page.keyboard.press("k")
        expect(page).to_have_url(re.compile(f"/interrupts/{interrupt.pk}/$"))
        assert not Decision.objects.exists()
