"""The inbox WebSocket: the pending count everywhere, the list on the inbox page."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from flowsite.asgi import application
from tests.sockets import fresh_layer, headers_for  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]




async def test_anonymous_is_refused():
    comm = WebsocketCommunicator(
        application, "/ws/inbox/", headers=[(b"origin", b"http://localhost")]
    )
    connected, _ = await comm.connect()
    assert not connected
    await comm.disconnect()


async def test_inbox_changes_are_pushed(user_factory, interrupt_factory, fresh_layer):
    user = await sync_to_async(user_factory)()
    nav = WebsocketCommunicator(application, "/ws/inbox/", headers=await headers_for(user))
    page = WebsocketCommunicator(application, "/ws/inbox/?list=1", headers=await headers_for(user))
    assert (await nav.connect())[0] and (await page.connect())[0]
    nav_html, page_html = await nav.receive_from(), await page.receive_from()
    assert 'id="nav-pending-count"' in nav_html and 'id="inbox-list"' not in nav_html
    assert "Nothing waiting for review" in page_html

    interrupt = await sync_to_async(interrupt_factory)(value={"essay": "New <essay>"})
    await fresh_layer.group_send("inbox", {"type": "inbox.changed"})
    nav_html, page_html = await nav.receive_from(), await page.receive_from()
    assert ">1</span>" in nav_html
    assert f"/interrupts/{interrupt.pk}/" in page_html and "New &lt;essay&gt;" in page_html
    await nav.disconnect()
    await page.disconnect()


async def test_list_socket_renders_that_users_page_with_its_filters(
    user_factory, interrupt_factory, thread_factory, fresh_layer
):
    from reviews import services

    user = await sync_to_async(user_factory)()
    other = await sync_to_async(user_factory)("alice")
    essay = await sync_to_async(interrupt_factory)(value={"essay": "About otters"})
    section = await sync_to_async(interrupt_factory)(
        thread=await sync_to_async(thread_factory)(workflow="parallel-review"),
        value={"section": "Risks", "text": "About badgers"},
    )
    page = WebsocketCommunicator(
        application, "/ws/inbox/?list=1&workflow=essay-review", headers=await headers_for(user)
    )
    assert (await page.connect())[0]
    html = await page.receive_from()
    assert html.lstrip().startswith('<div id="inbox-results">')  # the results, not the socket
    assert f"/interrupts/{essay.pk}/" in html and f"/interrupts/{section.pk}/" not in html

    # Alice claims the essay: the page learns who reviews it, still filtered.
    await sync_to_async(services.claim_interrupt)(interrupt=essay, user=other)
    await fresh_layer.group_send("inbox", {"type": "inbox.changed"})
    html = await page.receive_from()
    assert "alice is reviewing (until" in html and "About badgers" not in html
    await page.disconnect()
