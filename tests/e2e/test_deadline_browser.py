"""Review deadlines and staff time travel in headless Chromium against a live Daphne server
(``tests/browser.py``).

The deadline's clock is frozen in the test: ``apply_deadlines(now=...)``, the function the
periodic sweep calls, is given a time past the deadline; nothing sleeps. The forked server
inherits the workflow registered with a deadline before it is forked.

``FLOWSITE_SHOTS``: a directory to keep screenshots of each new screen (desktop and 390 px).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from tests.browser import CHROMIUM, LIVE, BrowserTestCase, essay_workflow, shoot
from workflows.deadlines import Default

pytestmark = pytest.mark.browser

THREAD_URL = re.compile(r"/threads/\d+/$")
DEADLINE = timedelta(hours=1)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's {CHROMIUM}")
class DeadlineAndTimeTravelInBrowserTests(BrowserTestCase):
    workflows = {  # registered before the server is forked
        "timed-essay": essay_workflow(
            "Timed essay review",
            description="An essay review that is rejected by default after an hour.",
            review_deadline=DEADLINE,
            on_deadline=Default(False, decision="reject"),
        )
    }

    def start(self, page: Page, title: str, topic: str) -> None:
        page.goto("/workflows/")
        card = page.get_by_role("article").filter(
            has=page.get_by_role("heading", name=title, exact=True)
        )
        card.get_by_label("Topic", exact=True).fill(topic)
        card.get_by_role("button", name="Start").click()
        page.wait_for_url(THREAD_URL)

    def staff(self, username: str) -> None:
        self.reviewer(username)
        get_user_model().objects.filter(username=username).update(is_staff=True)

    def test_a_deadline_reached_gives_the_default_answer(self) -> None:
        from reviews import services
        from reviews.models import Decision
        from workflows.models import Interrupt, Thread

        self.reviewer("alice")
        self.staff("root")
        page = self.logged_in_page("alice")
        self.start(page, "Timed essay review", "sea otters")

        # The run pauses in the server; the inbox shows the time left and sorts by it.
        page.goto("/?sort=due")
        item = page.get_by_role("article").filter(has_text="An essay about topic: sea otters")
        expect(item).to_be_visible(timeout=LIVE)
        expect(item.get_by_text(re.compile(r"(59\sminutes|1\shour) left"))).to_be_visible()
        expect(page.get_by_text("1 waiting · due first")).to_be_visible()
        shoot(page, "reviews-deadline-inbox")
        item.get_by_role("button", name="Review").click()
        expect(page.get_by_text(re.compile(r"(59\sminutes|1\shour) left"))).to_be_visible()

        # Time moves past the deadline: the sweep's function answers by default, as the system.
        interrupt = Interrupt.objects.pending().get()
        assert services.apply_deadlines(now=interrupt.deadline_at + timedelta(minutes=1)) == 1
        decision = Decision.objects.get()
        assert (decision.user, decision.kind, decision.value) == (None, "reject", False)

        # Nothing waits any more. (Alice's open page learns it live from the item's socket and
        # turns its buttons off; a late answer's refusal is tested in tests/reviews/test_deadlines.)
        page.goto("/")
        expect(page.get_by_text("Nothing waiting for review")).to_be_visible()
        # the server's periodic sweep picks the queued resume run up and the run finishes
        page.goto(f"/threads/{decision.run.thread_id}/")
        expect(page.get_by_text("Finished.", exact=True)).to_be_visible(timeout=LIVE)
        assert Thread.objects.get().result["is_approved"] is False

        # The audit log records the system's decision.
        staff = self.logged_in_page("root")
        staff.goto("/audit/")
        row = staff.get_by_role("row").filter(has_text="sea otters")
        expect(row.get_by_text("System (deadline)")).to_be_visible()
        expect(row.get_by_text("Rejected")).to_be_visible()
        expect(staff.get_by_role("link", name="Export CSV")).to_be_visible()
        shoot(staff, "reviews-deadline-audit")

    def test_staff_replay_and_fork_from_the_history(self) -> None:
        self.staff("root")
        page = self.logged_in_page("root")
        self.start(page, "Essay review", "walruses")
        expect(page.get_by_text("Live", exact=True)).to_be_visible(timeout=LIVE)
        expect(page.get_by_role("heading", name=re.compile("Waiting for review"))).to_be_visible(
            timeout=LIVE
        )
        thread_url = page.url

        # Fork from the input checkpoint: bad JSON first (a form error), then a new topic.
        page.goto(thread_url + "history/")
        checkpoint = page.locator("li[id^=checkpoint-]").filter(has_text="Input").last
        checkpoint.get_by_text("Time travel from this checkpoint").click()
        field = checkpoint.get_by_label("Input to run again with (JSON)")
        expect(field).to_have_value('"walruses"')
        field.fill("{not json")
        checkpoint.get_by_role("button", name="Fork with this state").click()
        expect(page.get_by_text("Not forked: correct the edited state.")).to_be_visible()
        checkpoint = page.locator("li[id^=checkpoint-]").filter(has_text="Input").last
        expect(checkpoint.get_by_text(re.compile("This is not valid JSON"))).to_be_visible()
        shoot(page, "reviews-deadline-history-fork-error")
        checkpoint.get_by_label("Input to run again with (JSON)").fill('"narwhals"')
        checkpoint.get_by_role("button", name="Fork with this state").click()

        # The thread page streams the new run: it pauses on the forked topic.
        page.wait_for_url(THREAD_URL)
        expect(page.get_by_text("Forked with the edited state")).to_be_visible()
        expect(page.get_by_text("An essay about topic: narwhals").first).to_be_visible(timeout=LIVE)

        # The history audits it, and a replay from the same checkpoint runs the original again.
        page.goto(thread_url + "history/")
        travel = page.locator("li[id^=time-travel-]").first
        expect(travel.get_by_text("Fork", exact=True)).to_be_visible()
        expect(travel.get_by_text("root")).to_be_visible()
        expect(travel.get_by_text("narwhals")).to_be_visible()
        page.locator("li[id^=checkpoint-]").filter(has_text="Input").last.get_by_text(
            "Time travel from this checkpoint"
        ).click()
        shoot(page, "reviews-deadline-history")
        page.locator("li[id^=checkpoint-]").filter(has_text="Input").last.get_by_role(
            "button", name="Replay from here"
        ).click()
        page.wait_for_url(THREAD_URL)
        expect(page.get_by_text("Replaying from the checkpoint")).to_be_visible()
        expect(page.get_by_text("An essay about topic: walruses").first).to_be_visible(timeout=LIVE)
