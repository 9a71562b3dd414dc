"""The inbox's live updates, re-rendered from the database whenever the group ``inbox`` hears
``inbox.changed`` (an answer, a claim, a run pausing or finishing):

* ``ws/inbox/`` (every page's nav): the pending count;
* ``ws/inbox/?list=1&<filters>`` (the inbox list): that user's page of the list, with the same
  filters, order and page number as the page that opened it (``#inbox-results``). Changing the
  filters swaps the list's element, and with it the socket.

The message carries nothing but its type: the database is the source of truth, so a missed or
duplicated message costs at most one stale or one extra render.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import QueryDict
from django.template.loader import render_to_string

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
