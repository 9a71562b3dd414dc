"""Live text of a running run: what its model calls are writing, as one growing block per call.

The executor feeds every stream chunk to :class:`LiveText` first (``feed``). It takes:

* ``messages`` chunks, ``(message_chunk, metadata)`` as in LangGraph: the text of AI messages,
  one block per message id, labelled with the task in ``metadata["langgraph_node"]``;
* ``custom`` chunks that are strings (token-like, written with ``get_stream_writer()``): one
  block per task, joined the same way (LangGraph's ``custom`` chunks do not name their task: the
  most recently started task that has not finished, from the ``tasks`` stream mode, is taken);
* ``tasks`` chunks, to know which task runs and when one finishes.

Other chunks (``updates``, other ``custom`` values) are left to the caller. Text is coalesced:
every ``FLUSH_SECONDS`` (50 ms) each block's new text is stored, then sent to the thread's group
as one ``thread.text`` message ``{"run_id", "block", "task", "offset", "text"}`` (``offset``: the
block's length before this text, in code points, so a consumer can drop what it has and spot a
gap); text written faster than that goes as several messages, each at most
``FLOWSITE_MAX_PUSH_BYTES``, and a block shown whole shows its end (:func:`shown_blocks`). When
a task finishes, its blocks end (``thread.text_end`` ``{"run_id", "blocks"}``): the durable
timeline shows the task's result instead.

Where the text so far is kept: Django's cache alias ``"live"`` (``live_blocks(thread_pk)`` reads
it), so a browser that connects or reconnects mid-stream sees it whichever server process serves
it. Not in the database's own tables (20 writes a second per stream, for text that only matters
while it is written) and not a per-process memory cache (another Daphne process or a
``runworker`` process would see nothing): settings give ``"live"`` Redis with ``REDIS_URL``
(where the channel layer is), else a database cache table (``createcachetable``), both shared by
every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.core.cache import caches

from . import truncation

logger = logging.getLogger("workflows.executor")

CACHE_ALIAS = "live"
FLUSH_SECONDS = 0.05
TTL = 6 * 3600  # seconds: a crashed executor's text does not stay for ever


def cache_key(thread_pk: Any) -> str:
    return f"flowsite:live:{thread_pk}"


def live_blocks(thread_pk: Any) -> list[dict[str, Any]]:
    """The blocks being written on a thread now: ``[{"id", "task", "text"}]``, oldest first
    (``[]`` when nothing is streaming). Sync: the cache may be the database."""
    try:
        state = caches[CACHE_ALIAS].get(cache_key(thread_pk))
    except Exception:
        logger.exception("could not read the live text of thread %s", thread_pk)
        return []
    return list(state["blocks"]) if state else []


def store_blocks(thread_pk: Any, blocks: list[dict[str, Any]] | None) -> None:
    """Store the blocks being written on a thread (``None``: nothing streams any more)."""
    cache = caches[CACHE_ALIAS]
    if blocks is None:
        cache.delete(cache_key(thread_pk))
    else:
        cache.set(cache_key(thread_pk), {"blocks": blocks}, TTL)


def shown_blocks(blocks: list[dict[str, Any]], limit: int | None = None) -> list[dict[str, Any]]:
    """``blocks`` as a page shows them whole: each block's text at most its last ``limit`` bytes'
    worth (``workflows.truncation.text_tail``), with ``skipped`` (the characters before it) and
    ``length`` (the whole text's, what a consumer counts its appends from)."""
    shown = []
    for block in blocks:
        skipped, tail = truncation.text_tail(block["text"], limit)
        shown.append({**block, "text": tail, "skipped": skipped, "length": len(block["text"])})
    return shown


def block_id(key: str) -> str:
    """A short id safe in HTML ids and CSS selectors, stable for one source of text."""
    return "b" + hashlib.blake2s(key.encode(), digest_size=6).hexdigest()


def message_text(chunk: Any) -> dict[str, Any] | None:
    """Primitives of one ``messages`` chunk: ``{"id", "text", "task", "task_id"}``, or ``None``
    for anything but an AI message (tool results, echoed inputs) or an empty text.

    ``chunk`` is ``(message_chunk, metadata)`` as LangGraph streams it; ``task_id`` comes from
    ``metadata["langgraph_checkpoint_ns"]`` (``"...|write_essay:<task id>"``). Works on any
    object with LangChain's message attributes (``type``, ``content``, ``id``): langchain is
    not imported.
    """
    if not (isinstance(chunk, tuple | list) and len(chunk) == 2):
        return None
    message, metadata = chunk
    if getattr(message, "type", None) not in ("ai", "AIMessageChunk"):
        return None
    text = _content_text(getattr(message, "content", ""))
    if not text:
        return None
    metadata = metadata if isinstance(metadata, dict) else {}
    ns = str(metadata.get("langgraph_checkpoint_ns") or metadata.get("checkpoint_ns") or "")
    task_id = ns.rsplit("|", 1)[-1].rpartition(":")[2] or None
    task = str(metadata.get("langgraph_node") or "model")
    return {"id": str(getattr(message, "id", None) or f"{task_id}:{task}"), "text": text,
            "task": task, "task_id": task_id}


def _content_text(content: Any) -> str:
    """A message's text: its ``content`` string, or the ``text`` of its text content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text") or "")
            for part in content
            if isinstance(part, str) or (isinstance(part, dict) and part.get("type") == "text")
        )
    return ""


class LiveText:
    """The live text of one run, coalesced into ``FLUSH_SECONDS`` batches.

    ``send(message)`` is a coroutine function sending to the thread's group; ``offload(fn,
    *args)`` runs blocking code (the cache) off the event loop. Use as ``async with``: it
    flushes in the background while the run streams, and forgets the text at the end.
    """

    def __init__(
        self,
        *,
        thread_pk: Any,
        run_id: str,
        entrypoint: str,
        send: Callable[[dict], Awaitable[None]],
        offload: Callable[..., Awaitable[Any]],
    ) -> None:
        self.thread_pk = thread_pk
        self.run_id = run_id
        self.entrypoint = entrypoint
        self.send = send
        self.offload = offload
        # block id -> {"id", "task", "task_id", "text", "sent"}
        self.blocks: dict[str, dict[str, Any]] = {}
        self.running: dict[str, str] = {}  # task id -> task name, in start order
        self.ended: list[str] = []  # blocks to end at the next flush
        self.lock = asyncio.Lock()
        self.wakeup = asyncio.Event()
        self.flusher: asyncio.Task | None = None

    async def __aenter__(self) -> LiveText:
        self.flusher = asyncio.create_task(self._flush_periodically())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.flusher is not None:
            async with self.lock:  # never cut a flush in two (its text would be lost)
                self.flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.flusher
        try:
            await self.flush()  # the last text, and the end of finished tasks' blocks
        except Exception:
            logger.exception("could not stream the live text of run %s", self.run_id)
        had_text = bool(self.blocks)
        self.blocks.clear()
        if had_text:
            await self._store(None)

    # -- feeding ------------------------------------------------------------------------------
    def feed(self, mode: str, chunk: Any) -> bool:
        """Take ``chunk`` if it is live text or a ``tasks`` event; returns whether it was taken."""
        if mode == "tasks":
            self._task_event(chunk)
            return True
        if mode == "messages":
            part = message_text(chunk)
            if part is None:
                return True  # a message that is not text being written: nothing to show
            self._add(part["id"], part["task"], part["task_id"], part["text"])
            return True
        if mode == "custom" and isinstance(chunk, str):
            task_id, task = next(reversed(self.running.items()), (None, self.entrypoint))
            self._add(f"custom:{task_id}", task, task_id, chunk)
            return True
        return False

    def _task_event(self, chunk: Any) -> None:
        if not isinstance(chunk, dict) or "id" not in chunk:
            return
        task_id = str(chunk["id"])
        if "input" in chunk:
            self.running[task_id] = str(chunk.get("name") or "task")
            return
        self.running.pop(task_id, None)  # a result, an error or an interrupt: the task stopped
        for bid, block in self.blocks.items():
            if block["task_id"] == task_id and bid not in self.ended:
                self.ended.append(bid)
        self.wakeup.set()

    def _add(self, key: str, task: str, task_id: str | None, text: str) -> None:
        bid = block_id(f"{self.run_id}:{key}")
        block = self.blocks.get(bid)
        if block is None:
            block = self.blocks[bid] = {
                "id": bid, "task": task, "task_id": task_id, "text": "", "sent": 0,
            }
        block["text"] += text
        self.wakeup.set()

    # -- flushing -----------------------------------------------------------------------------
    async def _flush_periodically(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            try:
                await self.flush()
            except Exception:
                logger.exception("could not stream the live text of run %s", self.run_id)
            await asyncio.sleep(FLUSH_SECONDS)

    async def flush(self) -> None:
        """Store and send the text written since the last flush, then end finished blocks."""
        async with self.lock:
            fresh = [
                (b, b["text"][b["sent"]:]) for b in self.blocks.values() if len(b["text"]) > b["sent"]
            ]
            ended, self.ended = self.ended, []
            for bid in ended:
                self.blocks.pop(bid, None)
            if not fresh and not ended:
                return
            for block, text in fresh:
                block["sent"] += len(text)
            # stored before it is sent: whoever receives a message can read at least its text
            await self._store(self.public_blocks())
            for block, text in fresh:
                offset = block["sent"] - len(text)
                # a huge write goes as several messages, each under FLOWSITE_MAX_PUSH_BYTES
                for piece in truncation.split_text(text):
                    await self.send({
                        "type": "thread.text", "run_id": self.run_id, "block": block["id"],
                        "task": block["task"], "offset": offset, "text": piece,
                    })
                    offset += len(piece)
            if ended:
                await self.send({"type": "thread.text_end", "run_id": self.run_id, "blocks": ended})

    def public_blocks(self) -> list[dict[str, Any]]:
        return [
            {"id": b["id"], "task": b["task"], "text": b["text"][: b["sent"]]}
            for b in self.blocks.values()
        ]

    async def _store(self, blocks: list[dict[str, Any]] | None) -> None:
        try:
            await self.offload(store_blocks, self.thread_pk, blocks or None)
        except Exception:
            logger.exception("could not store the live text of run %s", self.run_id)
