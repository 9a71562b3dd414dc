"""The thread page's WebSocket over the real ASGI application (origin check, session auth,
URL routing): who may connect, what it sends on connect, and how chunks and statuses arrive."""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from flowsite.asgi import application
from tests.sockets import session_cookie
from workflows.models import Thread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def fresh_layer(settings):
    settings.FLOWSITE_EXECUTOR = "external"
    layer = get_channel_layer()
    await layer.flush()
    yield layer
    await layer.flush()


async def communicator(path, user=None, origin=b"http://localhost"):
    headers = [(b"origin", origin)] if origin else []
    if user is not None:
        headers.append((b"cookie", (await session_cookie(user)).encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def chunk(thread, seq, data, *, mode="updates", run_id="run-1"):
    return {"type": "thread.chunk", "run_id": run_id, "seq": seq, "mode": mode, "chunk": data}


async def test_anonymous_is_refused(thread_factory):
    thread = await sync_to_async(thread_factory)()
    comm = await communicator(f"/ws/threads/{thread.pk}/")
    connected, _ = await comm.connect()
    assert not connected
    await comm.disconnect()


async def test_foreign_origin_is_refused(thread_factory, user_factory):
    thread = await sync_to_async(thread_factory)()
    user = await sync_to_async(user_factory)()
    comm = await communicator(f"/ws/threads/{thread.pk}/", user, origin=b"http://evil.example")
    connected, _ = await comm.connect()
    assert not connected
    await comm.disconnect()


async def test_unknown_thread_is_refused(user_factory):
    user = await sync_to_async(user_factory)()
    comm = await communicator("/ws/threads/424242/", user)
    connected, _ = await comm.connect()
    assert not connected
    await comm.disconnect()


async def test_connect_sends_the_current_state(thread_factory, interrupt_factory, user_factory):
    thread = await sync_to_async(thread_factory)()
    pending = await sync_to_async(interrupt_factory)(
        thread=thread, value={"essay": "<i>otters</i>"}
    )
    comm = await communicator(f"/ws/threads/{thread.pk}/", await sync_to_async(user_factory)())
    connected, _ = await comm.connect()
    assert connected
    html = await comm.receive_from()
    for element_id in ["thread-status", "thread-pending", "thread-outcome", "timeline"]:
        assert f'id="{element_id}"' in html
    assert f"/interrupts/{pending.pk}/" in html  # the Review link
    assert "&lt;i&gt;otters&lt;/i&gt;" in html and "<i>otters" not in html
    await comm.disconnect()


async def test_chunks_of_its_own_thread_only_in_order_without_duplicates(
    thread_factory, user_factory, fresh_layer
):
    mine = await sync_to_async(thread_factory)(status=Thread.Status.RUNNING)
    other = await sync_to_async(thread_factory)(status=Thread.Status.RUNNING)
    user = await sync_to_async(user_factory)()
    comm = await communicator(f"/ws/threads/{mine.pk}/", user)
    other_comm = await communicator(f"/ws/threads/{other.pk}/", user)
    assert (await comm.connect())[0] and (await other_comm.connect())[0]
    await comm.receive_from()
    await other_comm.receive_from()

    for seq in (1, 2, 3):
        await fresh_layer.group_send(
            mine.group_name, chunk(mine, seq, {f"step_{seq}": f"value {seq}"})
        )
    await fresh_layer.group_send(other.group_name, chunk(other, 1, {"elsewhere": "not yours"}))
    await fresh_layer.group_send(
        mine.group_name, chunk(mine, 2, {"step_2": "value 2"})
    )  # duplicate

    received = [await comm.receive_from() for _ in range(3)]
    for seq, html in enumerate(received, start=1):
        assert 'hx-swap-oob="beforeend:#timeline"' in html
        assert f"step_{seq}" in html and f"value {seq}" in html
        assert f'id="event-live-run-1-{seq}-0"' in html
    assert await comm.receive_nothing(timeout=0.2)
    assert all("not yours" not in html for html in received)

    other_html = await other_comm.receive_from()
    assert "not yours" in other_html and "step_" not in other_html
    await comm.disconnect()
    await other_comm.disconnect()


async def test_interrupt_and_custom_chunks(thread_factory, user_factory, fresh_layer):
    thread = await sync_to_async(thread_factory)(status=Thread.Status.RUNNING)
    comm = await communicator(f"/ws/threads/{thread.pk}/", await sync_to_async(user_factory)())
    await comm.connect()
    await comm.receive_from()

    await fresh_layer.group_send(
        thread.group_name, chunk(thread, 1, {"progress": "Writing <an> essay…"}, mode="custom")
    )
    html = await comm.receive_from()
    assert 'id="progress-text"' in html and 'hx-swap-oob="afterbegin:#live-log"' in html
    assert "Writing &lt;an&gt; essay…" in html

    payload = {"__interrupt__": [{"id": "abc", "value": {"essay": "Otters", "action": "Approve?"}}]}
    await fresh_layer.group_send(thread.group_name, chunk(thread, 2, payload))
    html = await comm.receive_from()
    assert "Waiting for review" in html and "Otters" in html
    await comm.disconnect()


async def test_status_change_pushes_the_state_from_the_database(
    thread_factory, interrupt_factory, user_factory, fresh_layer
):
    thread = await sync_to_async(thread_factory)(status=Thread.Status.RUNNING)
    comm = await communicator(f"/ws/threads/{thread.pk}/", await sync_to_async(user_factory)())
    await comm.connect()
    assert "<progress" in await comm.receive_from()

    # The executor commits the pause, then announces it.
    pending = await sync_to_async(interrupt_factory)(thread=thread)
    await sync_to_async(Thread.objects.filter(pk=thread.pk).update)(
        status=Thread.Status.INTERRUPTED
    )
    await fresh_layer.group_send(
        thread.group_name,
        {
            "type": "thread.status",
            "run_id": "run-1",
            "status": "interrupted",
            "result": None,
            "error": "",
        },
    )
    html = await comm.receive_from()
    assert "badge-interrupted" in html and "<progress" not in html
    assert f"/interrupts/{pending.pk}/" in html

    await sync_to_async(Thread.objects.filter(pk=thread.pk).update)(
        status=Thread.Status.DONE, result={"essay": "Otters", "is_approved": True}
    )
    await fresh_layer.group_send(
        thread.group_name,
        {
            "type": "thread.status",
            "run_id": "run-2",
            "status": "done",
            "result": {"essay": "Otters", "is_approved": True},
            "error": "",
        },
    )
    html = await comm.receive_from()
    assert "badge-done" in html and "outcome-done" in html and "Otters" in html
    await comm.disconnect()


async def test_a_run_starting_pushes_its_status_and_pending_and_a_run_stopping_the_whole_state(
    thread_factory, interrupt_factory, user_factory, fresh_layer
):
    from django.utils import timezone

    from workflows.models import Interrupt

    thread = await sync_to_async(thread_factory)(status=Thread.Status.INTERRUPTED)
    answered, waiting = [await sync_to_async(interrupt_factory)(thread=thread) for _ in range(2)]
    comm = await communicator(f"/ws/threads/{thread.pk}/", await sync_to_async(user_factory)())
    await comm.connect()
    html = await comm.receive_from()
    assert 'id="timeline"' in html and f"/interrupts/{answered.pk}/" in html

    # one answer recorded, its run started: the Review link goes, the other stays
    await sync_to_async(Interrupt.objects.filter(pk=answered.pk).update)(
        status=Interrupt.Status.RESOLVED, resolved_at=timezone.now())
    await sync_to_async(Thread.objects.filter(pk=thread.pk).update)(status=Thread.Status.RUNNING)
    status = {"type": "thread.status", "run_id": "run-2", "result": None, "error": ""}
    await fresh_layer.group_send(thread.group_name, {**status, "status": "running"})
    html = await comm.receive_from()
    assert "badge-running" in html and 'id="thread-pending"' in html
    assert f"/interrupts/{waiting.pk}/" in html and f"/interrupts/{answered.pk}/" not in html
    assert 'id="timeline"' not in html and 'id="thread-outcome"' not in html  # not re-rendered

    # a message announcing "running" that arrives after the run stopped gets the whole state
    await sync_to_async(Thread.objects.filter(pk=thread.pk).update)(
        status=Thread.Status.DONE, result={"essay": "Otters"})
    await fresh_layer.group_send(thread.group_name, {**status, "status": "running"})
    html = await comm.receive_from()
    assert "badge-done" in html and 'id="timeline"' in html and "Otters" in html
    await comm.disconnect()


async def test_browser_messages_are_ignored(thread_factory, user_factory):
    thread = await sync_to_async(thread_factory)()
    comm = await communicator(f"/ws/threads/{thread.pk}/", await sync_to_async(user_factory)())
    await comm.connect()
    await comm.receive_from()
    await comm.send_to(text_data='{"HEADERS": {}, "anything": 1}')
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


async def test_sockets_on_one_thread_get_a_chunk_rendered_once(
    thread_factory, user_factory, fresh_layer, monkeypatch
):
    from workflows import consumers

    renders = []
    real_render = consumers.render_chunk
    monkeypatch.setattr(consumers, "render_chunk", lambda *a: renders.append(a) or real_render(*a))
    thread = await sync_to_async(thread_factory)(status=Thread.Status.RUNNING)
    user = await sync_to_async(user_factory)()
    comms = [await communicator(f"/ws/threads/{thread.pk}/", user) for _ in range(3)]
    for comm in comms:
        assert (await comm.connect())[0]
        await comm.receive_from()

    await fresh_layer.group_send(thread.group_name, chunk(thread, 1, {"progress": "tick 1"}, mode="custom"))
    await fresh_layer.group_send(thread.group_name, chunk(thread, 2, {"progress": "tick 2"}, mode="custom"))
    received = [[await comm.receive_from() for _ in range(2)] for comm in comms]
    assert all("tick 1" in got[0] and "tick 2" in got[1] for got in received)
    assert received[0] == received[1] == received[2]
    assert len(renders) == 2  # once per chunk, not once per socket
    for comm in comms:
        await comm.disconnect()
