"""Shared set-up of the WebSocket tests: Channels' ``WebsocketCommunicator`` over the real ASGI
application (origin check, session auth, URL routing) needs an ``Origin`` header
(``AllowedHostsOriginValidator``) and the session cookie of a logged-in user."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import Client

ORIGIN = b"http://localhost"


@sync_to_async
def session_cookie(user: Any) -> str:
    """``"<SESSION_COOKIE_NAME>=<key>"`` of a new session logged in as ``user``."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


async def headers_for(user: Any) -> list[tuple[bytes, bytes]]:
    """A communicator's headers for ``user``: an allowed origin and their session cookie."""
    return [(b"origin", ORIGIN), (b"cookie", (await session_cookie(user)).encode())]


@pytest.fixture
async def fresh_layer():
    """The channel layer, flushed before and after the test (no message of another test)."""
    layer = get_channel_layer()
    await layer.flush()
    yield layer
    await layer.flush()
