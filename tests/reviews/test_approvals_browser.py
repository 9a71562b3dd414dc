"""Four eyes in headless Chromium against a live Daphne server: a two-approver item resumes
its run only after the second approval, its starter may not approve it; assignment tabs and
the emailed link lead to it.

Same set-up as ``tests/e2e`` (``ChannelsLiveServerTestCase`` forks Daphne, whose in-process
executor runs the workflow). The workflow is registered before the fork, so the server has it,
and removed afterwards. ``FLOWSITE_SHOTS=<dir>`` keeps screenshots (desktop and 390 px wide).
"""

from __future__ import annotations

import os
import re

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from reviews import notifications
from tests.browser import CHROMIUM, LIVE, BrowserTestCase, essay_workflow, shoot
from workflows.models import Interrupt, Run, Thread

pytestmark = pytest.mark.browser

THREAD_URL = re.compile(r"/threads/\d+/$")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class TwoApproversInBrowserTests(BrowserTestCase):
    workflows = {  # registered before the server is forked
        "four-eyes-essay": essay_workflow(
            "Four-eyes essay",
            description="An essay two reviewers must approve; its author may not.",
            assignees=["alice", "group:editors"], approvals=2, self_approval=False,
        )
    }

    def setUp(self) -> None:
        super().setUp()
        for name in ("carol", "alice", "bob", "sam"):
            self.reviewer(name)
        User.objects.filter(username="sam").update(is_staff=True)
        editors = Group.objects.create(name="editors")
        User.objects.get(username="bob").groups.add(editors)

    def test_a_two_approver_item_resumes_only_after_the_second_approval(self) -> None:
        # carol starts the run: the item is assigned to alice and the editors (bob)
        carol = self.logged_in_page("carol")
        carol.goto("/workflows/")
        card = carol.get_by_role("article").filter(
            has=carol.get_by_role("heading", name="Four-eyes essay", exact=True)
        )
        card.get_by_label("Topic", exact=True).fill("salt marshes")
        card.get_by_role("button", name="Start").click()
        carol.wait_for_url(THREAD_URL)
        thread_url = carol.url
        expect(carol.get_by_text("Paused until a reviewer answers.")).to_be_visible(timeout=LIVE)

        # four eyes: carol may not approve her own run
        carol.goto("/")
        carol.get_by_role("article").filter(has_text="salt marshes").get_by_role(
            "button", name="Review"
        ).click()
        expect(
            carol.get_by_text("You started this run, so someone else must approve it")
        ).to_be_visible()
        expect(carol.get_by_text("0 of 2 approvals")).to_be_visible()
        carol.get_by_role("button", name="Approve").click()
        expect(carol.get_by_role("alert")).to_contain_text(
            "You started this run, and this workflow needs someone else to approve it"
        )
        shoot(carol, "reviews-assign-self-approval")

        # alice finds it in "Assigned to me" and approves: 1 of 2, the run still waits
        alice = self.logged_in_page("alice")
        alice.get_by_role("link", name=re.compile(r"^Assigned to me")).click()
        expect(alice).to_have_url(re.compile(r"/\?assigned=me$"))
        item = alice.get_by_role("article").filter(has_text="salt marshes")
        expect(item.get_by_text("0 of 2 approvals")).to_be_visible()
        expect(item.get_by_text("Assigned to")).to_be_visible()
        shoot(alice, "reviews-assign-inbox-assigned")
        item.get_by_role("button", name="Review").click()
        alice.get_by_role("button", name="Approve").click()
        expect(alice.get_by_text("Your approval is recorded: 1 of 2 approvals.")).to_be_visible()
        expect(alice.get_by_text("You approved this.")).to_be_visible()
        expect(alice.get_by_role("button", name="Approve")).to_have_count(0)
        shoot(alice, "reviews-assign-one-of-two")
        interrupt = Interrupt.objects.get(thread__input="salt marshes")
        assert interrupt.status == Interrupt.Status.PENDING
        assert not Run.objects.filter(kind=Run.Kind.RESUME).exists()
        carol.goto(thread_url)
        expect(carol.get_by_text("Paused until a reviewer answers.")).to_be_visible()

        # bob, through the emailed link and his group's tab, gives the second approval
        bob = self.logged_in_page("bob")
        bob.get_by_role("link", name=re.compile(r"^My groups")).click()
        expect(bob.get_by_role("article").filter(has_text="salt marshes")).to_be_visible()
        shoot(bob, "reviews-assign-inbox-groups")
        link = notifications.review_link(interrupt).split("/r/", 1)[1]
        bob.goto(f"/r/{link}")
        expect(bob).to_have_url(re.compile(rf"/interrupts/{interrupt.pk}/$"))
        expect(bob.get_by_text("1 of 2 approvals: alice")).to_be_visible()
        bob.get_by_role("button", name="Approve").click()
        bob.wait_for_url(THREAD_URL)

        # now, and only now, the run resumes and finishes: carol's thread page shows it live
        result = carol.get_by_role("article").filter(
            has=carol.get_by_role("heading", name="Result", exact=True)
        )
        expect(result.get_by_text("Yes", exact=True)).to_be_visible(timeout=LIVE)
        assert Thread.objects.get(input="salt marshes").status == Thread.Status.DONE
        bob.goto(f"/interrupts/{interrupt.pk}/")
        expect(bob.get_by_text(re.compile(r"Approved by alice .*, bob"))).to_be_visible()
        shoot(bob, "reviews-assign-approved")

        # staff's view of the item's assignment (history), and an expired link's page
        sam = self.logged_in_page("sam")
        sam.goto(f"/interrupts/{interrupt.pk}/")
        sam.get_by_text("History (2)").click()
        expect(sam.get_by_text("alice, by the system (workflow assignees)")).to_be_visible()
        shoot(sam, "reviews-assign-item-staff")
        sam.goto("/r/not-a-valid-link/")
        expect(sam.get_by_role("heading", name="This link is not valid")).to_be_visible()
        shoot(sam, "reviews-assign-link-invalid")

    def test_staff_reassign_an_item_from_its_page(self) -> None:
        thread = Thread.objects.create(
            thread_id="t-reassign", workflow="essay-review", status="interrupted", input="dunes"
        )
        interrupt = Interrupt.objects.create(
            thread=thread, interrupt_id="i1", checkpoint_id="c1", task_id="k1",
            value={"essay": "An essay about dunes", "action": "Please approve/reject the essay"},
        )
        sam = self.logged_in_page("sam")
        sam.goto(f"/interrupts/{interrupt.pk}/")
        expect(sam.get_by_text("Not assigned: it waits in everyone's inbox.")).to_be_visible()
        sam.get_by_label("Assign to").fill("alice, group:nobody")
        sam.get_by_role("button", name="Reassign").click()
        expect(sam.get_by_text("No such active user or group: group:nobody")).to_be_visible()
        shoot(sam, "reviews-assign-reassign-error")
        sam.get_by_label("Assign to").fill("alice, group:editors")
        sam.get_by_label("Reason").fill("dunes are alice's")
        sam.get_by_role("button", name="Reassign").click()
        expect(sam.get_by_text("Assigned to alice, group editors.")).to_be_visible()
        shoot(sam, "reviews-assign-reassigned")
        alice = self.logged_in_page("alice")
        alice.get_by_role("link", name=re.compile(r"^Assigned to me")).click()
        expect(alice.get_by_role("article").filter(has_text="dunes")).to_be_visible()
