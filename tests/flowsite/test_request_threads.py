"""HTTP requests run their synchronous part on kept threads (``flowsite.request_threads``): a
request after another reuses its thread and its database connection, where Django's handler
alone makes a thread, and so a connection, per request."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.test import Client

from flowsite.asgi import django_asgi_app
from flowsite.request_threads import RequestThreads

HEADERS = [(b"host", b"localhost"), (b"x-forwarded-proto", b"https")]


async def get(app, path="/", headers=()):
    """GET ``path`` and wait for the application to return, as Daphne does (a communicator
    dropped before that cancels it)."""
    communicator = HttpCommunicator(app, "GET", path, headers=[*HEADERS, *headers])
    response = await communicator.get_response()
    assert response["status"] == 200, response
    await communicator.wait(5)
    return response


@sync_to_async
def signed_in() -> list[tuple[bytes, bytes]]:
    """The cookie of a signed-in reviewer: their requests read the session and the user."""
    client = Client()
    client.force_login(get_user_model().objects.create_user("ada", password="pw-for-ada-1"))
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


async def connections_opened(app, cookie, requests: int) -> list[int]:
    """The threads that opened a database connection during ``requests`` GETs of the inbox."""
    opened = []

    def record(sender, connection, **kwargs):
        opened.append(threading.get_ident())

    connection_created.connect(record)
    try:
        for _ in range(requests):
            await get(app, "/", cookie)
    finally:
        connection_created.disconnect(record)
    return opened


class Recorder:
    """An ASGI app whose thread-sensitive work records its thread, once ``wait`` (if set) is."""

    def __init__(self):
        self.threads = []
        self.wait = None

    async def __call__(self, scope, receive, send):
        if self.wait is not None:
            await self.wait.wait()
        self.threads.append(await sync_to_async(threading.get_ident)())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.mark.asyncio
async def test_a_request_after_another_runs_on_its_thread_and_concurrent_ones_on_their_own():
    inner = Recorder()
    app = RequestThreads(inner, idle_threads=1)
    await get(app)
    await get(app)
    assert inner.threads[0] == inner.threads[1]

    inner.wait = asyncio.Event()
    both = asyncio.gather(get(app), get(app))
    await asyncio.sleep(0.05)
    inner.wait.set()
    await both
    assert len(set(inner.threads[2:])) == 2  # at once: two threads
    assert len(app.idle) == 1  # one kept, the other ended


@pytest.mark.asyncio
async def test_a_request_cancelled_while_its_thread_works_gives_that_thread_to_no_other():
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(10)

    async def stuck(scope, receive, send):
        await sync_to_async(slow)()

    app = RequestThreads(stuck)
    request = asyncio.create_task(app({"type": "http"}, None, None))
    try:
        assert await asyncio.to_thread(started.wait, 10)
        request.cancel()  # as Daphne does after its application close timeout
        with pytest.raises(asyncio.CancelledError):
            await request
        assert app.idle == []
        app.app = Recorder()
        await asyncio.wait_for(get(app), 5)  # not queued behind slow(), which still runs
    finally:
        release.set()


@pytest.mark.asyncio
async def test_a_failed_request_gives_its_thread_to_no_other():
    async def failing(scope, receive, send):
        await sync_to_async(threading.get_ident)()
        raise ValueError("the view failed")

    app = RequestThreads(failing)
    with pytest.raises(ValueError):
        await app({"type": "http"}, None, None)
    assert app.idle == []


@pytest.mark.asyncio
async def test_other_scopes_pass_through():
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["type"])

    app = RequestThreads(inner)
    await app({"type": "lifespan"}, None, None)
    assert seen == ["lifespan"] and app.idle == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_requests_after_the_first_open_no_database_connection(monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("on PostgreSQL each request takes a connection from Django's pool, either way")
    cookie = await signed_in()
    # the served setting (the tests' settings close connections after use)
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 600)
    app = RequestThreads(django_asgi_app)
    try:
        opened = await connections_opened(app, cookie, 3)
    finally:
        app.close_idle()
    # the first request's, kept for the next ones; Django's handler alone opens one per request
    # (3), each left open on its ended thread until the garbage collector closes it
    assert len(opened) == 1, opened
