"""The thread page's live stream: stream chunks and status changes as HTML fragments.

``ThreadConsumer`` (``ws/threads/<pk>/``) pushes only; writes go over HTTP. Each message it sends
is server-rendered HTML from ``workflows/thread.html``'s partials, whose top-level elements
htmx's ws extension swaps out-of-band by id:

* on connect, after joining ``thread.<pk>``, the whole current state from the database
  (status, pending interrupts, outcome, timeline), so a reconnecting browser misses nothing;
* ``thread.chunk`` (``updates``): the chunk as timeline entries appended to ``#timeline``;
  ``custom``: a line in the live activity log and the progress text;
* ``thread.text`` (``workflows.live``): text a model call is writing, appended in place to its
  block (one growing block per call, labelled with its task, a cursor at its end). Each message
  says where its text starts (``offset``): what this browser has is dropped, a gap (a lost
  message) re-sends the block as stored; on connect the blocks come from the ``live`` cache;
* ``thread.text_end``: the blocks of a finished task go (the timeline shows its result);
* ``thread.status``: the state from the database again, which replaces the live entries with
  the durable timeline and shows the Review links or the result; while the thread is still
  running (a run has just started), only its status and pending interrupts (the timeline grows
  by chunks, and the whole state comes again when the run stops).

Chunks are keyed by ``(run_id, seq)``; a duplicate is dropped. A chunk's HTML is the same for
every socket on the thread: each process renders it once (:func:`render_chunk_once`), not once per
socket (200 sockets on a thread, 200 renders of every chunk).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from .consumer_db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string
from django.utils import timezone

from . import live, registry, truncation
from .models import Thread

logger = logging.getLogger("workflows.consumers")
TEMPLATE = "workflows/thread.html"


def chunk_events(
    message: dict[str, Any], entrypoint_name: str | None = None, thread_pk: Any = None
) -> list[dict]:
    """Timeline entries for an ``updates`` chunk, shaped like ``selectors.thread_events``; each
    value at most ``FLOWSITE_MAX_PUSH_BYTES`` (``workflows.truncation``: an interrupt's links to
    its stored value when ``thread_pk`` is given; a task's result is linked from the timeline
    the page gets when the run's status changes)."""
    chunk = truncation.shrink(message.get("chunk"))
    if not isinstance(chunk, dict):
        return []
    base = f"live-{message.get('run_id')}-{message.get('seq')}"
    now = timezone.now()
    if "__interrupt__" in chunk:
        return [
            {
                "id": f"{base}-{i}",
                "kind": "interrupt",
                "name": "Waiting for review",
                "value": _linked(
                    item.get("value") if isinstance(item, dict) else item,
                    thread_pk, f"interrupt-{item.get('id')}" if isinstance(item, dict) else None,
                ),
                "at": now,
            }
            for i, item in enumerate(chunk["__interrupt__"] or [])
        ]
    return [
        {
            "id": f"{base}-{i}",
            "kind": "result" if name == entrypoint_name else "task",
            "name": "Finished" if name == entrypoint_name else str(name),
            "value": value,
            "at": now,
        }
        for i, (name, value) in enumerate(chunk.items())
    ]


def _linked(value: Any, thread_pk: Any, key: str | None) -> Any:
    if thread_pk is None or key is None:
        return value
    return truncation.shrink(value, url=truncation.value_url(thread_pk, key))


def progress_text(chunk: Any) -> str | None:
    """The human message of a custom chunk: ``{"progress": ...}``/``{"message": ...}`` or text."""
    if isinstance(chunk, str):
        return chunk
    if isinstance(chunk, dict) and not truncation.is_truncated(chunk):
        for key in ("progress", "message", "status", "text"):
            if isinstance(chunk.get(key), str):
                return chunk[key]
            if truncation.is_truncated(chunk.get(key)):  # a shortened text
                return chunk[key]["v"] + "…"
    return None


def render_chunk(
    message: dict[str, Any], entrypoint_name: str | None = None, thread_pk: Any = None
) -> str:
    """The HTML fragments for one ``thread.chunk`` message ("" when there is nothing to show);
    its values at most ``FLOWSITE_MAX_PUSH_BYTES`` each (``workflows.truncation``)."""
    if message.get("mode") == "custom":
        chunk = truncation.shrink(message.get("chunk"))  # not stored: no link
        context = {
            "entry_id": f"live-{message.get('run_id')}-{message.get('seq')}",
            "text": progress_text(chunk),
            "value": chunk,
            "at": timezone.now(),
        }
        return render_to_string(f"{TEMPLATE}#live-progress", context)
    events = chunk_events(message, entrypoint_name, thread_pk)
    if not events:
        return ""
    return render_to_string(f"{TEMPLATE}#timeline-append", {"events": events})


RENDERED_CHUNKS = 256  # chunks whose HTML a process keeps for the thread's other sockets
_rendered: OrderedDict[tuple, str] = OrderedDict()


def render_chunk_once(
    message: dict[str, Any], entrypoint_name: str | None = None, thread_pk: Any = None
) -> str:
    """:func:`render_chunk`, rendered once per process for every socket that gets the same
    message (the last ``RENDERED_CHUNKS`` messages, keyed by their content and the thread). Call
    it on the event loop's thread only (the consumers' handlers)."""
    key = (thread_pk, entrypoint_name, repr(message))
    html = _rendered.get(key)
    if html is None:
        html = _rendered[key] = render_chunk(message, entrypoint_name, thread_pk)
        if len(_rendered) > RENDERED_CHUNKS:
            _rendered.popitem(last=False)
    return html


class ThreadConsumer(AsyncWebsocketConsumer):
    group_name: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.thread_pk = int(self.scope["url_route"]["kwargs"]["pk"])
        found = await self.load_thread(user)
        if found is None:
            await self.close()
            return
        self.group_name, self.entrypoint_name = found
        self.seen: set[tuple[Any, Any]] = set()
        self.text_sent: dict[str, int] = {}  # live text block id -> characters this browser has
        # Join first, then read the state: a chunk sent in between arrives after it (at worst
        # twice, never lost).
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        await self.send_state()

    async def disconnect(self, code: int) -> None:
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Browsers only listen; writes go over HTTP (CSRF, validation, services)."""

    # -- channel-layer messages from the executor ---------------------------------------------
    async def thread_chunk(self, message: dict[str, Any]) -> None:
        key = (message.get("run_id"), message.get("seq"))
        if key in self.seen:
            return
        self.seen.add(key)
        html = render_chunk_once(message, self.entrypoint_name, self.thread_pk)
        if html:
            await self.send_html(html)

    async def thread_text(self, message: dict[str, Any]) -> None:
        block, text = str(message.get("block")), str(message.get("text") or "")
        offset = int(message.get("offset") or 0)
        sent = self.text_sent.get(block)
        if sent is None and offset == 0:
            html = render_to_string(f"{TEMPLATE}#live-block-append", {"block": {
                "id": block, "task": message.get("task"), "text": text}})
            self.text_sent[block] = len(text)
        elif sent is not None and offset <= sent:
            tail = text[sent - offset:]
            if not tail:
                return  # this browser has it already (it connected in the middle)
            html = render_to_string(f"{TEMPLATE}#live-text-append", {"block_id": block, "text": tail})
            self.text_sent[block] = sent + len(tail)
        else:  # a message was lost, or this block began before the page's state was read
            stored = next((b for b in await self.load_live_blocks() if b["id"] == block), None)
            if stored is None:
                return  # the block has ended meanwhile
            partial = "live-block-append" if sent is None else "live-block"
            shown = live.shown_blocks([stored])[0]  # its end, if it is long
            html = render_to_string(f"{TEMPLATE}#{partial}", {"block": shown})
            self.text_sent[block] = shown["length"]
        await self.send_html(html)

    async def thread_text_end(self, message: dict[str, Any]) -> None:
        ended = [b for b in message.get("blocks") or () if self.text_sent.pop(str(b), None) is not None]
        if ended:
            await self.send(text_data=render_to_string(f"{TEMPLATE}#live-block-end", {"blocks": ended}))

    async def thread_status(self, message: dict[str, Any]) -> None:
        # The database has the outcome already (the executor announces after commit), and it
        # wins over a message that arrives late.
        await self.send_state(whole=False)

    async def send_state(self, *, whole: bool = True) -> None:
        """The page's state (``whole=False``: only the status and pending interrupts while the
        thread is running); its values shortened to ``FLOWSITE_MAX_PUSH_BYTES`` each, and if it
        is still over ``FLOWSITE_MAX_FRAME_BYTES`` (many large values), to previews
        (``FLOWSITE_PREVIEW_BYTES``); if even that is over, only the status."""
        for limit in (truncation.max_push_bytes(), truncation.preview_bytes(), 0):
            html, blocks = await self.render_state(limit, whole=whole)
            if not html or truncation.fits_frame(html):
                break
            logger.warning("the state of thread %s is over the frame size with values of %s "
                           "bytes", self.thread_pk, limit)
        if html:
            if blocks is not None:  # the live blocks shown were replaced: what this browser has
                self.text_sent = {b["id"]: b["length"] for b in blocks}
            await self.send(text_data=html)

    async def send_html(self, html: str) -> None:
        """Send a fragment, or if it is over ``FLOWSITE_MAX_FRAME_BYTES`` (a message not sent
        through ``workflows.truncation``) the page's state instead, which is bounded."""
        if truncation.fits_frame(html):
            await self.send(text_data=html)
        else:
            logger.warning("a fragment for thread %s is over the frame size", self.thread_pk)
            await self.send_state()

    # -- database --------------------------------------------------------------------------------
    @database_sync_to_async
    def load_thread(self, user: Any) -> tuple[str, str | None] | None:
        """The thread's group and entrypoint name; ``None`` when there is no such thread or
        ``user`` may not see it (its workflow's ``view_permission``): the socket is refused."""
        thread = Thread.objects.filter(pk=self.thread_pk).first()
        if thread is None or not registry.can_view(user, thread.workflow):
            return None
        try:
            entrypoint_name = getattr(registry.get(thread.workflow).entrypoint, "name", None)
        except registry.UnknownWorkflow:
            entrypoint_name = None
        return thread.group_name, entrypoint_name

    @database_sync_to_async
    def render_state(self, limit: int, *, whole: bool = True) -> tuple[str, list[dict] | None]:
        """The page's state partials with values of at most ``limit`` bytes (``0``: the status
        alone), and the live text blocks they show (``None``: the live blocks were not sent, as
        for a running thread's status and pending interrupts alone, ``whole=False``)."""
        from .views import running_state_context, thread_page_context

        thread = Thread.objects.select_related("created_by").filter(pk=self.thread_pk).first()
        if thread is None:
            return "", []
        if not limit:
            return render_to_string(f"{TEMPLATE}#status", {"thread": thread}), None
        if not whole and thread.status == Thread.Status.RUNNING:
            return render_to_string(f"{TEMPLATE}#running-state", running_state_context(thread)), None
        context = thread_page_context(thread, limit=limit)
        return render_to_string(f"{TEMPLATE}#state", context), context["live_blocks"]

    @database_sync_to_async
    def load_live_blocks(self) -> list[dict]:
        return live.live_blocks(self.thread_pk)
