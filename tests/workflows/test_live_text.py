"""Live text on the thread page's WebSocket: an ``async def`` workflow whose task streams a chat
model's tokens runs on the executor loop, and browsers see one growing block of text, coalesced,
also when they connect in the middle. Real parts: the executor, the in-memory channel layer, the
``live`` cache, ``WebsocketCommunicator`` over the ASGI application."""

import asyncio
import html as html_lib
import re

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from flowsite import chat_models
from tests.workflows.test_consumers import communicator
from workflows import live, services
from workflows.execution import running
from workflows.models import Run, Thread

pytestmark = pytest.mark.django_db(transaction=True)

APPEND = re.compile(r'<div hx-swap-oob="beforeend:#live-text-(\w+)">(.*?)</div>', re.S)
BLOCK = re.compile(
    r'<li id="live-(\w+)" class="event event-live">.*?<span id="live-text-\1">(.*?)</span>', re.S
)


@pytest.fixture(autouse=True)
async def setup(settings, monkeypatch):
    settings.FLOWSITE_EXECUTOR = "external"  # runs stay queued until the test executes them
    monkeypatch.setattr(chat_models, "TOKEN_DELAY", 0.004)
    layer = get_channel_layer()
    await layer.flush()
    yield
    await layer.flush()


def texts(messages: list[str]) -> dict[str, str]:
    """Each block's text as a browser that received ``messages`` has it (blocks then appends)."""
    found: dict[str, str] = {}
    for message in messages:
        for block, text in BLOCK.findall(message):
            found[block] = html_lib.unescape(text)
        for block, text in APPEND.findall(message):
            found[block] = found.get(block, "") + html_lib.unescape(text)
    return found


async def receive_until(comm, needle: str, into: list[str]) -> None:
    while True:
        message = await comm.receive_from(timeout=20)
        into.append(message)
        if needle in message:
            return


async def test_async_workflow_streams_one_coalesced_block_and_a_late_browser_sees_it_all(
    user_factory,
):
    run = await sync_to_async(services.start_run)(workflow="streaming-essay-review", input="otters")
    thread = await sync_to_async(Thread.objects.get)(pk=run.thread_id)
    user = await sync_to_async(user_factory)()
    early = await communicator(f"/ws/threads/{thread.pk}/", user)
    assert (await early.connect())[0]
    early_messages = [await early.receive_from()]

    execution = asyncio.ensure_future(running.aexecute_run(run.pk))
    # the late browser connects once some text has been written
    await receive_until(early, "live-text-", early_messages)
    await receive_until(early, "live-text-", early_messages)
    late = await communicator(f"/ws/threads/{thread.pk}/", user)
    assert (await late.connect())[0]
    late_messages: list[str] = []
    await receive_until(late, 'id="thread-status"', late_messages)
    so_far = texts(late_messages)
    assert len(so_far) == 1 and next(iter(so_far.values())), "the text so far, from the cache"

    assert await execution == Run.Status.INTERRUPTED
    await receive_until(early, "badge-interrupted", early_messages)
    await receive_until(late, "badge-interrupted", late_messages)

    essay = chat_models.fake_essay("otters")
    for messages in (early_messages, late_messages):
        (block, text), = texts(messages).items()
        assert text == essay  # every token once, in order, whenever the browser came
        # labelled with its task, ended when the task finished; its result is in the timeline
        assert any("write_essay_with_model" in m and f'id="live-{block}"' in m for m in messages)
        assert any(f'<div id="live-{block}" hx-swap-oob="delete">' in m for m in messages)
    tokens = len(re.split(r"(\s)", essay))
    appends = sum(len(APPEND.findall(m)) for m in early_messages)
    assert 1 < appends < tokens / 3, f"{appends} messages for {tokens} tokens: not coalesced"
    final = early_messages[-1]
    assert "write_essay_with_model" in final and html_lib.escape(essay[:60]) in final
    assert 'class="event event-live"' not in final  # the live block is gone, the timeline stays
    assert await sync_to_async(live.live_blocks)(thread.pk) == []
    await early.disconnect()
    await late.disconnect()


async def test_a_lost_text_message_is_repaired_from_the_cache(thread_factory, user_factory):
    thread = await sync_to_async(thread_factory)(status=Thread.Status.RUNNING)
    comm = await communicator(f"/ws/threads/{thread.pk}/", await sync_to_async(user_factory)())
    assert (await comm.connect())[0]
    await comm.receive_from()
    layer = get_channel_layer()
    block = {"type": "thread.text", "run_id": "r1", "block": "b1", "task": "write"}
    await sync_to_async(live.store_blocks)(thread.pk, [{"id": "b1", "task": "write", "text": "One"}])
    await layer.group_send(thread.group_name, {**block, "offset": 0, "text": "One"})
    assert texts([await comm.receive_from()]) == {"b1": "One"}
    # " two" (offset 3) never arrives; " three" (offset 7) shows the gap: the block comes whole
    await sync_to_async(live.store_blocks)(
        thread.pk, [{"id": "b1", "task": "write", "text": "One two three"}]
    )
    await layer.group_send(thread.group_name, {**block, "offset": 7, "text": " three"})
    repaired = await comm.receive_from()
    assert 'hx-swap-oob' not in repaired.split(">", 1)[0]  # replaces the block by its id
    assert texts([repaired]) == {"b1": "One two three"}
    # a duplicate is dropped, an overlap sends only what is new
    await layer.group_send(thread.group_name, {**block, "offset": 3, "text": " two"})
    await layer.group_send(thread.group_name, {**block, "offset": 7, "text": " three four"})
    assert APPEND.findall(await comm.receive_from()) == [("b1", " four")]
    assert await comm.receive_nothing(timeout=0.2)
    await sync_to_async(live.store_blocks)(thread.pk, None)
    await comm.disconnect()


async def test_langgraph_messages_chunks_become_one_block_per_model_call(thread_factory):
    """LangGraph's own ``messages`` stream mode (the reference): ``(AIMessageChunk, metadata)``
    per token, two model calls in two tasks; each call is one block named after its task,
    ended when its task finishes."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langgraph.func import entrypoint, task

    @task
    def draft(topic: str) -> str:
        model = GenericFakeChatModel(messages=iter([f"A first draft about {topic}."]))
        return model.invoke(topic).content

    @task
    def polish(text: str) -> str:
        model = GenericFakeChatModel(messages=iter([f"{text} Polished."]))
        return model.invoke(text).content

    @entrypoint()
    def essay(topic: str) -> str:
        return polish(draft(topic).result()).result()

    thread = await sync_to_async(thread_factory)(status=Thread.Status.RUNNING)
    sent: list[dict] = []
    stored: list[list] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def offload(fn, *args):
        if fn is live.store_blocks:
            stored.append(args[1])
        return await sync_to_async(fn, thread_sensitive=False)(*args)

    others = []
    async with live.LiveText(
        thread_pk=thread.pk, run_id="r1", entrypoint="essay", send=send, offload=offload
    ) as text:
        modes = ["updates", "messages", "tasks"]
        async for mode, chunk in essay.astream("tides", stream_mode=modes):
            if not text.feed(mode, chunk):
                others.append((mode, chunk))
            await asyncio.sleep(0.002)  # a model's pace: the flusher runs in between

    blocks: dict[str, dict] = {}
    for message in sent:
        if message["type"] == "thread.text":
            block = blocks.setdefault(message["block"], {"task": message["task"], "text": ""})
            assert message["offset"] == len(block["text"])
            block["text"] += message["text"]
    assert [(b["task"], b["text"]) for b in blocks.values()] == [
        ("draft", "A first draft about tides."),
        ("polish", "A first draft about tides. Polished."),
    ]
    ends = [m["blocks"] for m in sent if m["type"] == "thread.text_end"]
    assert sorted(b for end in ends for b in end) == sorted(blocks)
    assert others == [
        ("updates", {"draft": "A first draft about tides."}),
        ("updates", {"polish": "A first draft about tides. Polished."}),
        ("updates", {"essay": "A first draft about tides. Polished."}),
    ]
    assert any(stored) and stored[-1] is None  # kept while written, forgotten at the end
    assert await sync_to_async(live.live_blocks)(thread.pk) == []


def test_message_text_takes_ai_text_only():
    from langchain_core.messages import AIMessageChunk, ToolMessage

    meta = {"langgraph_node": "write", "langgraph_checkpoint_ns": "wf:1|write:t-9"}
    blocks = [
        {"type": "text", "text": "Hello"}, {"type": "tool_use", "id": "x"}, {"type": "text", "text": "!"}
    ]
    assert live.message_text((AIMessageChunk(content=blocks, id="m1"), meta)) == {
        "id": "m1", "text": "Hello!", "task": "write", "task_id": "t-9"
    }
    assert live.message_text((AIMessageChunk(content="", id="m1"), meta)) is None  # a tool call
    assert live.message_text((ToolMessage(content="42", tool_call_id="c"), meta)) is None
    assert live.message_text("not a messages chunk") is None


async def test_custom_strings_join_per_task_and_other_custom_chunks_stay_rows(thread_factory):
    """``get_stream_writer()`` strings from a Flowsite task join into one block named after the
    task (LangGraph's custom chunks do not name it: the ``tasks`` mode tells); a dict stays a
    chunk of its own."""
    from workflows import InMemorySaver, entrypoint, get_stream_writer, task

    @task
    def spell(word: str) -> str:
        writer = get_stream_writer()
        writer({"progress": "spelling"})
        for letter in word:
            writer(letter)
        return word

    @entrypoint(checkpointer=InMemorySaver())
    def speller(word: str) -> str:
        return spell(word).result()

    thread = await sync_to_async(thread_factory)(status=Thread.Status.RUNNING)
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def offload(fn, *args):
        return await sync_to_async(fn, thread_sensitive=False)(*args)

    others = []
    config = {"configurable": {"thread_id": "t-custom"}}
    async with live.LiveText(
        thread_pk=thread.pk, run_id="r2", entrypoint="speller", send=send, offload=offload
    ) as text:
        async for mode, chunk in speller.astream("otter", config, stream_mode=running.STREAM_MODES):
            if not text.feed(mode, chunk):
                others.append((mode, chunk))
    pieces = [m for m in sent if m["type"] == "thread.text"]
    assert {m["task"] for m in pieces} == {"spell"} and len({m["block"] for m in pieces}) == 1
    assert "".join(m["text"] for m in pieces) == "otter"
    assert [m["blocks"] for m in sent if m["type"] == "thread.text_end"] == [[pieces[0]["block"]]]
    assert others == [
        ("custom", {"progress": "spelling"}), ("updates", {"spell": "otter"}),
        ("updates", {"speller": "otter"}),
    ]
