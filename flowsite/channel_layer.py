"""The Redis channel layer of the scale-out setup: channels-redis with a bounded, waiting pool.

``RedisChannelLayer`` is ``channels_redis.core.RedisChannelLayer`` (same ``CONFIG``: ``hosts``,
``prefix``, ``capacity``, ``expiry``, ``group_expiry``, ...) with two differences, both about
redis-py (8.x) under many WebSockets:

* Its connection pools are ``redis.asyncio.BlockingConnectionPool``: at most
  ``max_connections`` per host and event loop, and a command that finds them all busy waits up
  to the host's ``timeout`` (seconds) for one. redis-py's default pool raises
  ``MaxConnectionsError`` at once instead (its limit is 100 since redis-py 8.0), which is what
  200 WebSockets leaving one thread at once (200 ``group_discard`` calls) met.
* A host's ``socket_timeout`` (seconds; redis-py's default is 5) must be longer than
  channels-redis' blocking read (``BZPOPMIN`` for ``brpop_timeout`` = 5 s), or ``None``: with
  5 s both end together, redis-py raises ``TimeoutError`` in the receive loop, and Daphne
  closes idle WebSockets with 1011. A shorter or equal one raises ``ImproperlyConfigured``.

``flowsite/settings.py`` builds the ``CONFIG`` from the environment (``REDIS_URL`` and the
``FLOWSITE_REDIS_*`` / ``FLOWSITE_CHANNEL_*`` variables).
"""

from __future__ import annotations

from typing import Any

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer
from django.core.exceptions import ImproperlyConfigured
from redis import asyncio as aioredis

__all__ = ["RedisChannelLayer"]


class RedisChannelLayer(_RedisChannelLayer):
    """channels-redis' layer on waiting connection pools; see the module."""

    def __init__(self, hosts: list | None = None, **config: Any) -> None:
        super().__init__(hosts=hosts, **config)
        for host in self.hosts:
            timeout = host.get("socket_timeout", 5)
            if timeout is not None and float(timeout) <= self.brpop_timeout:
                raise ImproperlyConfigured(
                    f"The Redis socket_timeout ({timeout} s) must be longer than channels-redis' "
                    f"blocking read ({self.brpop_timeout} s), or idle WebSockets close with 1011."
                )

    def create_pool(self, index: int) -> aioredis.BlockingConnectionPool:
        host = dict(self.hosts[index])
        if "master_name" in host:  # Redis Sentinel: channels-redis' own pool
            return super().create_pool(index)
        if "address" not in host:  # (host, port) pairs and keyword hosts, as channels-redis
            return aioredis.BlockingConnectionPool(**host)
        return aioredis.BlockingConnectionPool.from_url(host.pop("address"), **host)
