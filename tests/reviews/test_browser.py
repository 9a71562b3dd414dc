"""A reviewer in headless Chromium, against Daphne serving the real site (HTTP + WebSockets):
start a workflow, see it pause live, approve it, watch it finish live.

Runs only where Debian's Chromium is installed (never downloads a browser). Daphne runs in a
forked process (ChannelsLiveServerTestCase) with the in-process executor, as in development.
"""

import os
import shutil

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.contrib.auth import get_user_model

from reviews.models import Decision
from workflows.models import Thread

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian's chromium"),
]


class ReviewerInTheBrowser(ChannelsLiveServerTestCase):
    @classmethod
    def setUpClass(cls):
        # Playwright's sync API runs an event loop in this thread; the ORM calls of the test
        # itself are still plain synchronous calls.
        cls._async_unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        super().setUpClass()
        from playwright.sync_api import sync_playwright

        cls.playwright = sync_playwright().start()
        cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.playwright.stop()
        super().tearDownClass()
        if cls._async_unsafe is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    def setUp(self):
        get_user_model().objects.create_user("rita", password="a-long-password")
        self.page = self.browser.new_page()
        self.page.set_default_timeout(15_000)

    def tearDown(self):
        self.page.close()

    def log_in(self):
        page = self.page
        page.goto(self.live_server_url + "/")
        page.fill("input[name=username]", "rita")
        page.fill("input[name=password]", "a-long-password")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Nothing waiting for review")

    def test_start_review_and_watch_the_run_finish(self):
        page = self.page
        self.log_in()
        page.click("text=Start a workflow")
        page.fill("#id_essay-review-topic", "otters")
        page.click("#workflow-essay-review button[type=submit]")

        # The run pauses in the background; the page learns it over the WebSocket.
        review = page.locator("#thread-pending a[role=button]")
        review.wait_for()
        page.wait_for_selector("#nav-pending-count:text-is('1')")
        review.click()

        page.wait_for_selector("text=An essay about topic: otters")
        page.click("button[value=approve]")

        page.wait_for_selector("#thread-outcome .outcome-done")
        outcome = page.inner_text("#thread-outcome")
        assert "An essay about topic: otters" in outcome and "Yes" in outcome
        assert page.inner_text("#nav-pending-count") == "0"

        thread = Thread.objects.get()
        assert thread.status == Thread.Status.DONE
        decision = Decision.objects.get()
        assert (decision.user.username, decision.kind, decision.value) == ("rita", "approve", True)
