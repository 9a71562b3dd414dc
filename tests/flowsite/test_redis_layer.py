"""The Redis channel layer under many WebSockets: two Daphne processes on Redis, 200 clients on
one thread, idle past channels-redis' 5 s blocking read, then a broadcast.

Needs Redis on 127.0.0.1:6379 (DB 7, a key prefix of its own per test); skipped only when it
is unreachable.
"""

from __future__ import annotations

import ast
import asyncio
import uuid

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from flowsite.channel_layer import RedisChannelLayer
from tests.flowsite.test_production_settings import settings_value
from tests.servers import daphne

REDIS_URL = "redis://127.0.0.1:6379/7"
CLIENTS = 200
IDLE = 12.0  # seconds: longer than channels-redis' blocking read (5 s), twice over
LIVE = 90.0  # seconds to wait for anything a loaded machine does


def redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis is unreachable at {REDIS_URL}")
    return client


def test_settings_configure_the_redis_layer_from_the_environment(tmp_path):
    env = {
        "DEBUG": "1", "REDIS_URL": "redis://redis.internal:6379/3",
        "FLOWSITE_REDIS_SOCKET_TIMEOUT": "20", "FLOWSITE_REDIS_CONNECT_TIMEOUT": "3",
        "FLOWSITE_REDIS_MAX_CONNECTIONS": "40", "FLOWSITE_REDIS_POOL_TIMEOUT": "8",
        "FLOWSITE_CHANNEL_CAPACITY": "500", "FLOWSITE_CHANNEL_EXPIRY": "30",
        "FLOWSITE_CHANNEL_GROUP_EXPIRY": "3600", "FLOWSITE_CHANNEL_PREFIX": "site-a",
    }
    layer = ast.literal_eval(settings_value("CHANNEL_LAYERS['default']", env, tmp_path))
    assert layer["BACKEND"] == "flowsite.channel_layer.RedisChannelLayer"
    assert layer["CONFIG"] == {
        "hosts": [{
            "address": "redis://redis.internal:6379/3", "socket_timeout": 20.0,
            "socket_connect_timeout": 3.0, "max_connections": 40, "timeout": 8.0,
            "health_check_interval": 15,
        }],
        "prefix": "site-a", "capacity": 500, "expiry": 30, "group_expiry": 3600,
    }
    cache = ast.literal_eval(settings_value("CACHES['live']['OPTIONS']", env, tmp_path))
    assert cache["pool_class"] == "redis.BlockingConnectionPool" and cache["socket_timeout"] == 20.0


def test_a_socket_timeout_within_the_blocking_read_is_refused():
    for timeout in (5, 2.5):
        with pytest.raises(ImproperlyConfigured, match="blocking read"):
            RedisChannelLayer(hosts=[{"address": REDIS_URL, "socket_timeout": timeout}])
    RedisChannelLayer(hosts=[{"address": REDIS_URL, "socket_timeout": None}])  # no timeout: fine


class Listener:
    """One WebSocket client: every message it gets, and how its connection ended."""

    def __init__(self, url: str, cookie: str) -> None:
        self.url, self.cookie = url, cookie
        self.messages: list[str] = []
        self.got = asyncio.Event()  # a new message
        self.closed: ConnectionClosed | None = None
        self.ws = None

    async def open(self) -> None:
        self.ws = await connect(
            self.url, origin="http://127.0.0.1", additional_headers={"Cookie": self.cookie},
            open_timeout=LIVE, close_timeout=LIVE,
        )
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        try:
            async for message in self.ws:
                self.messages.append(message)
                self.got.set()
        except ConnectionClosed as exc:
            self.closed = exc

    async def wait_for(self, text: str) -> None:
        while not any(text in m for m in self.messages):
            if self.reader.done():
                raise AssertionError(f"closed before {text!r}: {self.ws.close_code}")
            self.got.clear()
            await self.got.wait()


async def clients_on_two_servers(servers, path, cookie, layer, group):
    listeners = [Listener(f"{servers[i % 2].ws_url}{path}", cookie) for i in range(CLIENTS)]
    opening = asyncio.Semaphore(10)

    async def open_one(listener: Listener) -> None:
        async with opening:
            await listener.open()
            await asyncio.wait_for(listener.wait_for('id="thread-status"'), LIVE)  # its state

    await asyncio.gather(*(open_one(lis) for lis in listeners))
    await asyncio.sleep(IDLE)  # idle, past the blocking read: nothing may close
    assert [lis.ws.close_code for lis in listeners if lis.reader.done()] == []

    marker = f"broadcast {uuid.uuid4().hex}"
    await layer.group_send(group, {
        "type": "thread.chunk", "run_id": "broadcast", "seq": 1, "mode": "custom",
        "chunk": {"progress": marker},
    })
    await asyncio.wait_for(asyncio.gather(*(lis.wait_for(marker) for lis in listeners)), LIVE)

    await asyncio.gather(*(lis.ws.close() for lis in listeners))  # everyone leaves at once
    await asyncio.gather(*(lis.reader for lis in listeners))
    await layer.close_pools()
    return listeners


@pytest.mark.django_db(transaction=True)
def test_200_websockets_on_one_thread_across_two_servers_idle_then_all_get_a_broadcast(
    tmp_path, user_factory, thread_factory
):
    store = redis_or_skip()
    prefix = f"flowsite-test-{uuid.uuid4().hex[:12]}"
    client = Client()
    client.force_login(user_factory())
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    thread = thread_factory()
    env = {"DEBUG": "1", "REDIS_URL": REDIS_URL, "FLOWSITE_CHANNEL_PREFIX": prefix,
           "FLOWSITE_EXECUTOR": "external"}
    layer = RedisChannelLayer(hosts=[{"address": REDIS_URL, "socket_timeout": 30}], prefix=prefix)
    try:
        # a loaded machine may take longer than Daphne's 5 s to accept a socket
        args = ("--websocket_connect_timeout", str(int(LIVE)))
        with daphne(tmp_path, env, name="a", args=args) as a, daphne(tmp_path, env, name="b", args=args) as b:
            listeners = asyncio.run(
                clients_on_two_servers((a, b), f"/ws/threads/{thread.pk}/", cookie, layer, thread.group_name)
            )
            # every client left (1000, ours), none was dropped by a server (1011)
            assert {lis.ws.close_code for lis in listeners} == {1000}
            # the servers took every client out of the group, without an error
            group_key = f"{prefix}:group:{thread.group_name}"
            asyncio.run(_until(lambda: store.zcard(group_key) == 0))
            for server in (a, b):
                log = server.log()
                assert "MaxConnectionsError" not in log and "Traceback" not in log, log
    finally:
        for key in store.scan_iter(match=f"{prefix}*"):
            store.delete(key)
        store.close()


async def _until(condition) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.1)

    await asyncio.wait_for(poll(), LIVE)
