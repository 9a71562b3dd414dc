"""A bulk answer in headless Chromium against a live Daphne server: the reviewer ticks items
of one workflow in the inbox and approves them at once; each is checked on its own, and the
inbox reports which were answered and why the others were not.

Runs are paused in this process (``workflows.execution.running.execute_run``) and resumed by the live server's
executor. ``FLOWSITE_SHOTS``: see ``test_keys_browser``.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from reviews.models import Decision
from tests.browser import CHROMIUM, LIVE, BrowserTestCase
from tests.reviews.test_keys_browser import finished, paused_essays, shot

pytestmark = pytest.mark.browser


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class BulkTests(BrowserTestCase):
    def setUp(self) -> None:
        super().setUp()
        for name in ("alice", "bob"):
            self.reviewer(name)

    def test_bulk_approve_reports_the_item_that_failed_its_check(self) -> None:
        first, second, third, fourth = paused_essays(4)
        page = self.logged_in_page("alice")
        page.set_viewport_size({"width": 1280, "height": 900})
        bar = page.get_by_role("form", name="Answer the selected items")
        approve = bar.get_by_role("button", name="Approve selected")
        expect(approve).to_be_disabled()  # nothing ticked yet

        # Three ticked with the mouse, one with the keys (j j j then x): four of one workflow.
        for interrupt in (first, second, third):
            page.get_by_role("checkbox", name=re.compile(f"^Select topic {interrupt.thread.input[-2:]}")).check()
        page.keyboard.press("Escape")
        page.locator("body").focus()
        for _ in range(4):
            page.keyboard.press("j")
        page.keyboard.press("x")
        expect(page.get_by_role("checkbox", name="Select topic 03")).to_be_checked()
        expect(bar.get_by_text("4 selected (Essay review)")).to_be_visible()
        expect(approve).to_be_enabled()

        # Meanwhile bob claims the second one: alice's list says so live, her ticks stay.
        bob = self.logged_in_page("bob")
        bob.goto(f"/interrupts/{second.pk}/")
        bob.get_by_role("button", name="Claim for 10 minutes").click()
        expect(bob.get_by_text("You are reviewing this until")).to_be_visible()
        expect(page.locator(f"#inbox-item-{second.pk}").get_by_text("bob is reviewing")).to_be_visible(
            timeout=LIVE
        )
        expect(page.get_by_role("checkbox", name="Select topic 01")).to_be_checked()
        expect(bar.get_by_text("4 selected (Essay review)")).to_be_visible()
        shot(page, "bulk-selected")

        approve.click()
        report = page.get_by_role("status").filter(has_text="Approved 3 of 4")
        expect(report).to_be_visible(timeout=LIVE)
        expect(report.get_by_role("heading", name="Approved 3 of 4 · 1 not answered")).to_be_visible()
        failed = report.locator("li.bulk-failed")
        expect(failed).to_have_count(1)
        expect(failed).to_contain_text("topic 01")
        expect(failed).to_contain_text(re.compile(r"not answered: bob is reviewing this until \d\d:\d\d"))
        expect(report.locator("li.bulk-ok")).to_have_count(3)
        # What is left waiting is bob's item.
        expect(page.get_by_text("1 waiting · oldest first")).to_be_visible(timeout=LIVE)
        shot(page, "bulk-report")

        kinds = dict(Decision.objects.values_list("interrupt_id", "kind"))
        assert kinds == {first.pk: "approve", third.pk: "approve", fourth.pk: "approve"}
        assert finished([first.thread_id, third.thread_id, fourth.thread_id]) == {
            first.thread_id: True,
            third.thread_id: True,
            fourth.thread_id: True,
        }
