"""Fixtures shared by the whole suite."""

import pytest


def pytest_configure(config):
    """No persistent connections in tests: a connection kept by a worker thread (asgiref's,
    Channels') would stop PostgreSQL from dropping the test database."""
    if config.pluginmanager.hasplugin("django"):
        from django.conf import settings

        settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
        # No periodic sweep in the test process (and the live servers it forks): a test's runs
        # stay as it left them; tests of the sweep call it, or turn it on.
        settings.FLOWSITE_SWEEP_SECONDS = 0


@pytest.fixture(scope="session", autouse=True)
def _close_workflow_connections(request):
    """Close the database connections of the runtime's I/O threads, and of asgiref's thread
    that runs an async test's ``sync_to_async`` calls, before the test database is dropped
    (PostgreSQL refuses to drop a database that other sessions use)."""
    if request.config.pluginmanager.hasplugin("django"):
        request.getfixturevalue("django_db_setup")
    yield
    if request.config.pluginmanager.hasplugin("django"):
        import asyncio

        from asgiref.sync import sync_to_async
        from django.db import connections

        from workflows.runtime.pool import io_workers

        io_workers().run_everywhere(connections.close_all)
        from workflows import advisory

        advisory.close_all()  # the thread leases' own connection (PostgreSQL)
        # outside any async_to_sync, a thread-sensitive sync_to_async runs on asgiref's one
        # executor thread: the same thread the async tests' ORM calls used
        asyncio.run(sync_to_async(connections.close_all)())


# -- factories for the dashboard's tests (users, logged-in clients, threads, interrupts) ----------
@pytest.fixture
def user_factory(django_user_model):
    """``user_factory(username=None, **fields)``: a user with the password ``"password"``."""
    import itertools

    numbers = itertools.count(1)

    def make(username=None, **fields):
        username = username or f"reviewer{next(numbers)}"
        return django_user_model.objects.create_user(username=username, password="password", **fields)

    return make


@pytest.fixture
def reviewer_client(user_factory):
    """``reviewer_client(user=None)``: a test ``Client`` logged in as ``user`` (a new one by
    default), with the user on ``client.user``."""
    from django.test import Client

    def make(user=None):
        client = Client()
        client.user = user or user_factory()
        client.force_login(client.user)
        return client

    return make


@pytest.fixture
def thread_factory():
    """``thread_factory(workflow="essay-review", status="interrupted", **fields)``: a Thread row
    made directly, without running anything."""
    import uuid

    from workflows.models import Thread

    def make(*, workflow="essay-review", status=Thread.Status.INTERRUPTED, **fields):
        fields.setdefault("thread_id", str(uuid.uuid4()))
        fields.setdefault("input", "cats")
        return Thread.objects.create(workflow=workflow, status=status, **fields)

    return make


@pytest.fixture
def interrupt_factory(thread_factory):
    """``interrupt_factory(thread=None, value=..., response_schema=None, **fields)``: a pending
    Interrupt row (on a new essay-review thread by default)."""
    import uuid

    from workflows.models import Interrupt

    def make(*, thread=None, value=None, response_schema=None, **fields):
        if value is None:
            value = {"essay": "An essay about topic: cats", "action": "Please approve/reject the essay"}
        return Interrupt.objects.create(
            thread=thread or thread_factory(),
            interrupt_id=uuid.uuid4().hex,
            checkpoint_id=str(uuid.uuid4()),
            task_id=str(uuid.uuid4()),
            value=value,
            response_schema=response_schema,
            **fields,
        )

    return make
