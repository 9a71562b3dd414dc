"""Base of the browser tests: headless Chromium (Debian's, never downloaded) driven by Playwright
against Daphne forked by ``ChannelsLiveServerTestCase`` onto the test database."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from asgiref.sync import SyncToAsync
from channels.testing import ChannelsLiveServerTestCase
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connections
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from workflows import registry, services
from workflows.execution import running
from workflows.models import Interrupt, Run, Thread
from workflows.runtime.pool import io_workers

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
SHOTS = os.environ.get("FLOWSITE_SHOTS", "")


def shoot(page: Page, name: str) -> None:
    """Full-page screenshots of ``page`` at 1280 and 390 px wide into ``$FLOWSITE_SHOTS`` (when
    set): ``<name>-desktop.png`` and ``<name>-390.png``. Asserts the page is no wider than the
    window at each width (no sideways scrolling on a phone)."""
    if not SHOTS:
        return
    os.makedirs(SHOTS, exist_ok=True)
    size = page.viewport_size
    for width, suffix in ((1280, "desktop"), (390, "390")):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{suffix}.png"), full_page=True)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{name} is {wide} px wide at {width} px"
    page.set_viewport_size(size)


def essay_workflow(title: str, **options: Any) -> dict[str, Any]:
    """``register()`` keyword arguments of a variant of the sample essay review
    (``flowsite.workflows.essay_review``: topic in, approve/reject) titled ``title``, with
    ``options`` (``approvals=2``, ``review_deadline=...``) on top; for ``workflows``."""
    from flowsite.workflows import TopicForm, essay_review
    from reviews.forms import ApproveRejectForm

    return {
        "entrypoint": essay_review,
        "title": title,
        "input_form": TopicForm,
        "build_input": lambda data: data["topic"],
        "resume_form": ApproveRejectForm,
        **options,
    }


def paused_essays(
    count: int, *, workflow: str = "essay-review", user: Any = None, first: int = 0
) -> list[Interrupt]:
    """``count`` runs of ``workflow`` (input ``"topic 00"``, ``"topic 01"``, ... from number
    ``first``) started by ``user`` and executed in this process up to their pause; their
    pending interrupts."""
    interrupts = []
    for n in range(first, first + count):
        run = services.start_run(workflow=workflow, input=f"topic {n:02d}", user=user)
        running.execute_run(run.pk)
        interrupts.append(Interrupt.objects.pending().get(thread=run.thread))
    return interrupts


def finished(threads: list[int]) -> dict[int, bool]:
    """Each thread's ``is_approved`` once all have finished (the live server resumes them);
    fails on a thread that errored or after ``2 * LIVE``."""
    deadline = time.monotonic() + 2 * LIVE / 1000
    while time.monotonic() < deadline:
        rows = list(Thread.objects.filter(pk__in=threads))
        assert not [t.error for t in rows if t.status == Thread.Status.ERROR]
        if all(t.status == Thread.Status.DONE for t in rows):
            return {t.pk: t.result["is_approved"] for t in rows}
        time.sleep(0.1)
    raise AssertionError("the runs did not all finish")


def settle_runs(seconds: float = 5.0) -> None:
    """Wait (at most ``seconds``) until the live server has no run queued or running. A test
    that ends on a chunk it saw may leave its run finishing; the database flush after the test
    then raced the run's last transactions and, on PostgreSQL, their locks deadlocked with its
    TRUNCATE now and then (seen once in a full suite: the flush failed, and the test with it)."""
    deadline = time.monotonic() + seconds
    busy = Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING])
    while busy.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


class DaphneTestCase(ChannelsLiveServerTestCase):
    """Channels' live server (Daphne, forked) on the test database.

    ``workflows``: ``{name: register() keyword arguments}`` registered before the server is
    forked (so it has them) and removed after the class's tests."""

    workflows: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def setUpClass(cls) -> None:
        cls._saved_registry = dict(registry._registry)
        for name, options in cls.workflows.items():
            registry.register(name, **options)
        try:
            cls._fork_server()
        except BaseException:
            cls._restore_registry()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            super().tearDownClass()
        finally:
            cls._restore_registry()

    @classmethod
    def _restore_registry(cls) -> None:
        registry._registry.clear()
        registry._registry.update(cls._saved_registry)

    @classmethod
    def _fork_server(cls) -> None:
        # The forked server opens TEST["NAME"], else "test_" + NAME; but NAME is already the
        # test database's name by now ("test_test_..." on PostgreSQL: django/channels#2176).
        test_settings = settings.DATABASES["default"]["TEST"]
        configured = test_settings.get("NAME")
        test_settings["NAME"] = configured or settings.DATABASES["default"]["NAME"]
        # Channels' consumers reach the ORM through asgiref's one global sync thread. A test
        # that ran before may have started it, and a forked server would inherit the executor
        # without its thread, so every database_sync_to_async call would hang there.
        SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
        # The runtime's I/O threads keep their connection for IO_LINGER_SECONDS after a call.
        # A child forked meanwhile closes its copy of such an SQLite connection as it drops the
        # dead threads' state; SQLite's locks are per process, so it takes itself for the last
        # user of the database and tidies its WAL under the parent (seen: the forked server
        # read none of the test's later writes, and the next class's logins failed). Give them
        # back before forking.
        io_workers().run_everywhere(connections.close_all)
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
        settle_runs()

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
