"""An item page's live socket (``ws/reviews/<id>/``, ``reviews.consumers.ReviewConsumer``) over
the real URLRouter and channel layer: who views the item, who claims it, new comments."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from flowsite.asgi import application
from reviews import presence, services
from reviews.models import Presence
from tests.sockets import fresh_layer, headers_for  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]


async def receive_until(comm, text, timeout=10):
    """The first message that contains ``text`` (earlier ones are states already replaced)."""
    async with asyncio.timeout(timeout):
        while True:
            html = await comm.receive_from(timeout=timeout)
            if text in html:
                return html


async def page_of(user, interrupt):
    comm = WebsocketCommunicator(
        application, f"/ws/reviews/{interrupt.pk}/", headers=await headers_for(user)
    )
    connected, _ = await comm.connect()
    assert connected
    return comm


async def test_a_second_reviewer_sees_who_views_and_who_claims(user_factory, interrupt_factory):
    alice, bob = await sync_to_async(user_factory)("alice"), await sync_to_async(user_factory)("bob")
    interrupt = await sync_to_async(interrupt_factory)()
    alices = await page_of(alice, interrupt)
    html = await receive_until(alices, 'id="presence"')
    assert "Nobody else is viewing this." in html and "claimed this" not in html

    bobs = await page_of(bob, interrupt)
    html = await receive_until(alices, "Also viewing: <strong>bob</strong>")
    assert 'id="presence"' in html
    await receive_until(bobs, "Also viewing: <strong>alice</strong>")

    await sync_to_async(services.claim_interrupt)(interrupt=interrupt, user=bob)
    html = await receive_until(alices, "bob claimed this</strong>")
    assert 'data-held-by="bob"' in html
    html = await receive_until(bobs, "Also viewing")  # bob's own page: no notice for himself
    assert "claimed this" not in html and "data-held-by" not in html

    await sync_to_async(services.release_claim)(interrupt=interrupt, user=bob)
    html = await receive_until(alices, 'id="presence"')
    assert "claimed this" not in html

    await bobs.disconnect()
    await receive_until(alices, "Nobody else is viewing this.")
    assert await sync_to_async(Presence.objects.count)() == 1

    await sync_to_async(services.answer_interrupt)(
        interrupt=interrupt, user=bob, value=True, decision="approve"
    )
    html = await receive_until(alices, "bob answered this.")
    assert "data-decided" in html
    await alices.disconnect()
    assert not await sync_to_async(Presence.objects.exists)()


async def test_comments_are_pushed_escaped(user_factory, interrupt_factory):
    alice, bob = await sync_to_async(user_factory)("alice"), await sync_to_async(user_factory)("bob")
    interrupt = await sync_to_async(interrupt_factory)()
    alices = await page_of(alice, interrupt)
    await sync_to_async(services.add_comment)(
        interrupt=interrupt, user=bob, body="Looks <script>alert(1)</script> fine\nto me"
    )
    html = await receive_until(alices, 'id="comment-list"')
    assert "Looks &lt;script&gt;alert(1)&lt;/script&gt; fine<br>to me" in html
    assert "<strong>bob</strong>" in html
    await alices.disconnect()


async def test_refused_without_login_or_view_permission_or_item(
    user_factory, interrupt_factory, thread_factory, register_workflow, permission_factory
):
    perm, _ = await sync_to_async(permission_factory)("see_hidden")
    register_workflow("hidden-review", view_permission=perm)
    alice = await sync_to_async(user_factory)("alice")
    hidden = await sync_to_async(interrupt_factory)(
        thread=await sync_to_async(thread_factory)(workflow="hidden-review")
    )
    for path, headers in [
        (f"/ws/reviews/{hidden.pk}/", [(b"origin", b"http://localhost")]),
        (f"/ws/reviews/{hidden.pk}/", await headers_for(alice)),
        ("/ws/reviews/999999/", await headers_for(alice)),
    ]:
        comm = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await comm.connect()
        assert not connected
        await comm.disconnect()
    assert not await sync_to_async(Presence.objects.exists)()


def test_viewers_are_live_rows_only(user_factory, interrupt_factory):
    alice, bob = user_factory("alice"), user_factory("bob")
    interrupt = interrupt_factory()
    presence.join(interrupt_id=interrupt.pk, user=alice, channel_name="a1")
    presence.join(interrupt_id=interrupt.pk, user=alice, channel_name="a2")  # two tabs
    presence.join(interrupt_id=interrupt.pk, user=bob, channel_name="b1")
    assert presence.viewers(interrupt.pk) == [alice, bob]
    # A server that died leaves its rows: they stop counting after Presence.TTL.
    Presence.objects.filter(channel_name="b1").update(
        seen_at=timezone.now() - Presence.TTL - timedelta(seconds=1)
    )
    assert presence.viewers(interrupt.pk) == [alice]
    presence.renew(channel_name="b1")
    assert presence.viewers(interrupt.pk) == [alice, bob]
    presence.leave(interrupt_id=interrupt.pk, channel_name="b1")
    assert presence.viewers(interrupt.pk) == [alice]
