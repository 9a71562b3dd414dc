"""Presence and comments on an item's page in headless Chromium against a live Daphne server:
a second reviewer sees who else views the item and, live, "bob claimed this" (the answer
buttons disabled) instead of submitting into a 409; comments appear on the other page live.
``FLOWSITE_SHOTS``: see ``test_keys_browser``.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from reviews.models import Comment, Decision
from tests.browser import CHROMIUM, LIVE, BrowserTestCase, paused_essays, shoot

pytestmark = pytest.mark.browser


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class PresenceTests(BrowserTestCase):
    def setUp(self) -> None:
        super().setUp()
        for name in ("alice", "bob"):
            self.reviewer(name)

    def test_live_claim_notice_on_a_second_reviewers_page(self) -> None:
        (interrupt,) = paused_essays(1)
        url = f"/interrupts/{interrupt.pk}/"
        alice = self.logged_in_page("alice")
        alice.set_viewport_size({"width": 1280, "height": 900})
        alice.goto(url)
        alice.evaluate("window.__marker = 1")
        presence = alice.locator("#presence")
        expect(presence.get_by_text("Nobody else is viewing this.")).to_be_visible(timeout=LIVE)
        approve = alice.get_by_role("button", name="Approve")
        expect(approve).to_be_enabled()

        bob = self.logged_in_page("bob")
        bob.goto(url)
        expect(presence.get_by_text("Also viewing: bob")).to_be_visible(timeout=LIVE)
        expect(bob.locator("#presence").get_by_text("Also viewing: alice")).to_be_visible(timeout=LIVE)

        # Bob comments; alice's page shows it, escaped, without a reload.
        bob.get_by_role("textbox", name="Comment").fill("I'll take this one <b>now</b>")
        bob.get_by_role("button", name="Add comment").click()
        expect(bob.locator("#comment-list").get_by_text("I'll take this one <b>now</b>")).to_be_visible()
        expect(alice.locator("#comment-list").get_by_text("I'll take this one <b>now</b>")).to_be_visible(
            timeout=LIVE
        )

        # Bob claims it: alice sees who, and her buttons are off before she tries.
        bob.get_by_role("button", name="Claim for 10 minutes").click()
        expect(bob.get_by_text("You are reviewing this until")).to_be_visible()
        expect(presence.get_by_text("bob claimed this")).to_be_visible(timeout=LIVE)
        expect(approve).to_be_disabled()
        expect(alice.get_by_role("button", name="Reject")).to_be_disabled()
        shoot(alice, "reviews-presence-claimed")
        # Her keys do nothing meanwhile either.
        alice.locator("body").focus()
        alice.keyboard.press("a")
        assert alice.evaluate("window.__marker") == 1, "the page was reloaded"

        # Bob releases it: alice may answer again, still without a reload.
        bob.get_by_role("button", name="Release").click()
        expect(presence.get_by_text("bob claimed this")).to_have_count(0, timeout=LIVE)
        expect(approve).to_be_enabled()
        bob.close()
        expect(presence.get_by_text("Nobody else is viewing this.")).to_be_visible(timeout=LIVE)
        assert alice.evaluate("window.__marker") == 1, "the page was reloaded"
        assert not Decision.objects.exists()

        approve.click()
        expect(alice).to_have_url(f"{self.live_server_url}/threads/{interrupt.thread_id}/")
        assert Decision.objects.get().user.username == "alice"
        assert Comment.objects.get().author.username == "bob"
