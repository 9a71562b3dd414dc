"""Base of the browser tests: headless Chromium (Debian's, never downloaded) driven by Playwright
against Daphne forked by ``ChannelsLiveServerTestCase`` onto the test database."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from channels.testing import ChannelsLiveServerTestCase
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LIVE = 15_000  # ms to wait for something pushed over the WebSocket
PASSWORD = "a-long-reviewer-password"


class DaphneTestCase(ChannelsLiveServerTestCase):
    """Channels' live server (Daphne, forked) on the test database."""

    @classmethod
    def setUpClass(cls) -> None:
        # The forked server opens TEST["NAME"], else "test_" + NAME; but NAME is already the
        # test database's name by now ("test_test_..." on PostgreSQL: django/channels#2176).
        test_settings = settings.DATABASES["default"]["TEST"]
        configured = test_settings.get("NAME")
        test_settings["NAME"] = configured or settings.DATABASES["default"]["NAME"]
        # Channels' consumers reach the ORM through asgiref's one global sync thread. A test
        # that ran before may have started it, and a forked server would inherit the executor
        # without its thread, so every database_sync_to_async call would hang there.
        SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
        try:
            super().setUpClass()
        finally:
            test_settings["NAME"] = configured


class BrowserTestCase(DaphneTestCase):
    """One Chromium per class; ``logged_in_page(username)`` gives a page with its own cookies."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()  # forks the server first: it must not inherit the flag below
        # Playwright's sync API runs an event loop in this thread, so Django would refuse the
        # ORM calls of setUp and of the database flush after each test.
        cls._async_unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        cls.playwright = sync_playwright().start()
        cls.browser = cls.playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            cls.browser.close()
            cls.playwright.stop()
        finally:
            if cls._async_unsafe is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = cls._async_unsafe
            super().tearDownClass()

    def setUp(self) -> None:
        self.contexts: list[BrowserContext] = []

    def tearDown(self) -> None:
        for context in self.contexts:
            context.close()

    def reviewer(self, username: str) -> None:
        """A user who may answer interrupts (``reviews.answer_interrupt``)."""
        user = get_user_model().objects.create_user(username=username, password=PASSWORD)
        user.user_permissions.add(Permission.objects.get(codename="answer_interrupt"))

    def logged_in_page(self, username: str) -> Page:
        """A new browser context (its own cookies) logged in through the login form."""
        context = self.browser.new_context(base_url=self.live_server_url)
        self.contexts.append(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
        return page
