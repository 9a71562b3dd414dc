"""A bulk answer in headless Chromium against a live Daphne server: the reviewer ticks items
of one workflow in the inbox and approves them at once; each is checked on its own (the
workflow's four-eyes rule refuses the one she started herself; another reviewer's claim holds
one back), and the inbox reports which were answered and why the others were not.

Runs are paused in this process (``workflows.execution.running.execute_run``) and resumed by the live server's
executor. ``FLOWSITE_SHOTS``: see ``test_keys_browser``.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from django.contrib.auth.models import User

from reviews.models import Decision
from tests.browser import (
    CHROMIUM,
    LIVE,
    BrowserTestCase,
    essay_workflow,
    finished,
    paused_essays,
    shoot,
)

pytestmark = pytest.mark.browser


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class BulkTests(BrowserTestCase):
    workflows = {  # registered before the server is forked
        "four-eyes-essay": essay_workflow("Four-eyes essay", self_approval=False),
    }

    def setUp(self) -> None:
        super().setUp()
        for name in ("alice", "bob"):
            self.reviewer(name)

    def test_bulk_approve_reports_the_item_that_failed_its_check(self) -> None:
        # Four essays of a four-eyes workflow; alice started the last one herself.
        first, second, third = paused_essays(3, workflow="four-eyes-essay")
        alice = User.objects.get(username="alice")
        (fourth,) = paused_essays(1, workflow="four-eyes-essay", user=alice, first=3)
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
        expect(bar.get_by_text("4 selected (Four-eyes essay)")).to_be_visible()
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
        expect(bar.get_by_text("4 selected (Four-eyes essay)")).to_be_visible()
        shoot(page, "reviews-bulk-selected")

        approve.click()
        report = page.get_by_role("status").filter(has_text="Approved 2 of 4")
        expect(report).to_be_visible(timeout=LIVE)
        expect(report.get_by_role("heading", name="Approved 2 of 4 · 2 not answered")).to_be_visible()
        failed = report.locator("li.bulk-failed")
        expect(failed).to_have_count(2)
        # the four-eyes rule (a permission check of the service: SelfApproval) refused hers
        expect(failed.filter(has_text="topic 03")).to_contain_text(
            "not answered: You started this run, and this workflow needs someone else to approve it"
        )
        expect(failed.filter(has_text="topic 01")).to_contain_text(
            re.compile(r"not answered: bob is reviewing this until \d\d:\d\d")
        )
        expect(report.locator("li.bulk-ok")).to_have_count(2)
        expect(report.locator("li.bulk-ok").filter(has_text="topic 00")).to_have_count(1)
        # What is left waiting: bob's item and her own.
        expect(page.get_by_text("2 waiting · oldest first")).to_be_visible(timeout=LIVE)
        shoot(page, "reviews-bulk-report")

        kinds = dict(Decision.objects.values_list("interrupt_id", "kind"))
        assert kinds == {first.pk: "approve", third.pk: "approve"}
        assert finished([first.thread_id, third.thread_id]) == {
            first.thread_id: True,
            third.thread_id: True,
        }
        fourth.refresh_from_db()
        assert fourth.status == fourth.Status.PENDING
