"""Channel-layer group sends from the executor: a thread's live chunks and statuses, and other
apps' broadcasts (``reviews``' inbox), from any thread or event loop.

The in-memory channel layer is plain asyncio queues and not thread-safe: when the server's
event loop is bound in this process (:func:`bind_loop`, by ``flowsite.asgi``), sends are handed
to it. Sends are best effort (at-most-once): a failure is logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import os

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from .. import truncation

__all__ = ["SEND_TIMEOUT", "agroup_send", "bind_loop", "group_send", "send", "serving"]

logger = logging.getLogger("workflows.executor")

SEND_TIMEOUT = 10.0  # seconds

_loop: tuple[int, asyncio.AbstractEventLoop] | None = None


def bind_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Remember the server's event loop (called by the ASGI app on each request), so that
    executor threads hand channel-layer sends to it. Returns whether it was newly bound."""
    global _loop
    if _loop is not None and _loop[0] == os.getpid() and _loop[1] is loop:
        return False
    _loop = (os.getpid(), loop)
    return True


def _bound() -> asyncio.AbstractEventLoop | None:
    bound = _loop
    if bound and bound[0] == os.getpid() and bound[1].is_running():
        return bound[1]
    return None


def serving() -> bool:
    """Whether this process serves ASGI requests on a running event loop (a server)."""
    return _bound() is not None


def send(channel: str, message: dict) -> None:
    """Send ``message`` (primitives only) to one channel (a worker consumer's) from any
    non-loop thread."""
    _send_from_thread("send", channel, message)


def group_send(group: str, message: dict) -> None:
    """Send ``message`` (primitives only) to a channel-layer group from any non-loop thread;
    each value in it at most ``FLOWSITE_MAX_PUSH_BYTES`` (``workflows.truncation``)."""
    _send_from_thread("group_send", group, truncation.bounded_message(message))


def _send_from_thread(method: str, to: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        call = getattr(layer, method)
        loop = _bound()
        if loop is not None:
            asyncio.run_coroutine_threadsafe(call(to, message), loop).result(timeout=SEND_TIMEOUT)
        else:
            async_to_sync(call)(to, message)
    except Exception:
        logger.exception("could not send %s to %s", message.get("type"), to)


async def agroup_send(group: str, message: dict) -> None:
    """:func:`group_send` for coroutines: on the server's loop when one is bound in this process
    (the in-memory layer lives there), else on the running loop. Values shortened as
    :func:`group_send`'s."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = truncation.bounded_message(message)
    try:
        loop = _bound()
        if loop is not None and loop is not asyncio.get_running_loop():
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            await asyncio.wait_for(asyncio.wrap_future(future), SEND_TIMEOUT)
        else:
            await asyncio.wait_for(layer.group_send(group, message), SEND_TIMEOUT)
    except Exception:
        logger.exception("could not send %s to %s", message.get("type"), group)
