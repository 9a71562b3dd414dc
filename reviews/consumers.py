"""The inbox's live updates: ``ws/inbox/`` re-renders the pending count (and, with ``?list=1``,
the inbox list) from the database whenever the group ``inbox`` hears ``inbox.changed``.

The message carries nothing but its type: the database is the source of truth, so a missed or
duplicated message costs at most one stale or one extra render.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

GROUP = "inbox"


class InboxConsumer(AsyncWebsocketConsumer):
    joined = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.with_list = query.get("list") == ["1"]
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
        from .views import inbox_context

        context = inbox_context(self.scope["user"])
        html = render_to_string(
            "includes/nav_count.html", {"pending_count": len(context["interrupts"])}
        )
        if self.with_list:
            html += render_to_string("reviews/inbox.html#inbox-list", context)
        return html
