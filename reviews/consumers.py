"""Live pages of the review product, re-rendered from the database when their group hears of a
change. ``ReviewConsumer`` (``ws/reviews/<interrupt id>/``, group ``review.<id>``) is an item
page's: who holds its claim and who else views it (``#presence``), and its comments
(``#comment-list``); see ``reviews.presence``. ``InboxConsumer`` is the inbox's, re-rendered
whenever the group ``inbox`` hears ``inbox.changed`` (an answer, a claim, a run pausing or
finishing):

* ``ws/inbox/`` (every page's nav): the pending count;
* ``ws/inbox/?list=1&<filters>`` (the inbox list): that user's page of the list, with the same
  filters, order and page number as the page that opened it (``#inbox-results``). Changing the
  filters swaps the list's element, and with it the socket.

The message carries nothing but its type: the database is the source of truth, so a missed or
duplicated message costs at most one stale or one extra render.
"""

from __future__ import annotations

import asyncio
import contextlib

from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import QueryDict
from django.template.loader import render_to_string

from workflows.consumer_db import database_sync_to_async

from . import presence
from .models import Presence

GROUP = "inbox"


class InboxConsumer(AsyncWebsocketConsumer):
    joined = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.params = QueryDict(self.scope.get("query_string", b"").decode())
        self.with_list = self.params.get("list") == "1"
        await self.channel_layer.group_add(GROUP, self.channel_name)
        self.joined = True
        await self.accept()
        await self.send(text_data=await self.render())

    async def disconnect(self, code: int) -> None:
        if self.joined:
            await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Browsers only listen."""

    async def inbox_changed(self, message: dict) -> None:
        await self.send(text_data=await self.render())

    @database_sync_to_async
    def render(self) -> str:
        from workflows.pagination import capped_count

        from .selectors import visible_pending
        from .views import inbox_context

        if self.with_list:
            context = inbox_context(self.scope["user"], self.params)
            return render_to_string("reviews/inbox.html#inbox-results", context)
        count = capped_count(visible_pending(self.scope["user"]))
        return render_to_string("includes/nav_count.html", {"pending_count": count})


class ReviewConsumer(AsyncWebsocketConsumer):
    """An item page's socket. On connect (a logged-in user who may see the item's thread) its
    ``Presence`` row is written, which tells the item's other pages, and the current
    ``#presence`` is sent; every ``review.changed`` re-sends the part that changed
    (``what``: ``presence`` or ``comments``). A heartbeat renews the row every
    ``Presence.BEAT``; disconnecting deletes it. Browsers only listen."""

    group_name: str | None = None
    heartbeat: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.interrupt_id = self.scope["url_route"]["kwargs"]["pk"]
        if user is None or not user.is_authenticated or not await self.may_view():
            await self.close()
            return
        self.group_name = presence.group_name(self.interrupt_id)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        await database_sync_to_async(presence.join)(
            interrupt_id=self.interrupt_id, user=user, channel_name=self.channel_name
        )
        self.heartbeat = asyncio.ensure_future(self.beat())
        await self.send(text_data=await self.render("presence"))

    async def disconnect(self, code: int) -> None:
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.heartbeat
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)
            await database_sync_to_async(presence.leave)(
                interrupt_id=self.interrupt_id, channel_name=self.channel_name
            )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Browsers only listen."""

    async def review_changed(self, message: dict) -> None:
        what = "comments" if message.get("what") == "comments" else "presence"
        await self.send(text_data=await self.render(what))

    async def beat(self) -> None:
        while True:
            await asyncio.sleep(Presence.BEAT.total_seconds())
            await database_sync_to_async(presence.renew)(channel_name=self.channel_name)

    @database_sync_to_async
    def may_view(self) -> bool:
        from workflows import registry
        from workflows.models import Interrupt

        workflow = (
            Interrupt.objects.filter(pk=self.interrupt_id)
            .values_list("thread__workflow", flat=True)
            .first()
        )
        return workflow is not None and registry.can_view(self.scope["user"], workflow)

    @database_sync_to_async
    def render(self, what: str) -> str:
        from workflows.models import Interrupt

        from .views import comments_context, presence_context

        interrupt = Interrupt.objects.select_related("thread", "resolved_by").get(
            pk=self.interrupt_id
        )
        if what == "comments":
            context = comments_context(interrupt, self.scope["user"])
            return render_to_string("reviews/interrupt.html#comment-list", context)
        context = presence_context(interrupt, self.scope["user"])
        return render_to_string("reviews/interrupt.html#presence", context)
