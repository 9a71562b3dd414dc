"""Size limits that protect everyone (issue 9, item 5): a value too large to push is pushed
shortened, with a link to the page of the whole value; live text is sent in bounded pieces;
start forms refuse inputs over the limit, on the field, naming the limit.

Real parts: the ASGI application over ``WebsocketCommunicator``, the in-memory channel layer,
the executor running ``parallel-review`` with a 1 MB section, the test client for pages."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.urls import reverse

from tests.workflows.test_consumers import communicator
from workflows import live, services, truncation
from workflows.execution import running
from workflows.models import Interrupt, Run, Thread

MiB = 1024 * 1024
BIG = "The beginning. " + "x" * MiB + " The end."


def size(text: str) -> int:
    return len(text.encode())


# -- shrink ---------------------------------------------------------------------------------------
def test_a_value_that_fits_is_left_alone():
    value = {"section": "Goals", "text": "ship it", "n": [1, 2, 3]}
    assert truncation.shrink(value, 1000, url="/full/") is value


def test_a_large_value_keeps_its_keys_and_small_values_and_cuts_the_large_one():
    value = {"section": "Goals", "text": BIG, "action": "Approve"}
    shrunk = truncation.shrink(value, 4096, url="/full/")
    assert truncation.json_size(shrunk) <= 4096
    assert shrunk["section"] == "Goals" and shrunk["action"] == "Approve"
    marker = shrunk["text"]
    assert truncation.is_truncated(marker)
    assert marker["v"].startswith("The beginning. xxx") and BIG.startswith(marker["v"])
    assert marker["bytes"] == truncation.json_size(BIG) and marker["url"] == "/full/"


@pytest.mark.parametrize(
    "value",
    [
        BIG,
        list(range(200_000)),
        {f"key{i}": "v" * 50 for i in range(20_000)},
        [{"nested": [{"deeper": BIG}]}],
        "é" * MiB,
    ],
    ids=["text", "long list", "many keys", "nested", "multibyte"],
)
def test_anything_large_ends_under_the_limit(value):
    for limit in (512, 4096, 65536):
        assert truncation.json_size(truncation.shrink(value, limit)) <= limit


def test_a_value_nested_beyond_recursion_is_cut_not_an_error():
    deep: dict = {}
    inner = deep
    for _ in range(5000):
        inner["a"] = {}
        inner = inner["a"]
    shrunk = truncation.shrink(deep, 2048)
    assert truncation.json_size(shrunk) <= 2048
    assert "truncated" in json.dumps(shrunk)


def test_markers_already_inside_a_value_get_its_link():
    message = truncation.bounded_message({"type": "thread.chunk", "chunk": {"t": BIG}}, 4096)
    assert message["chunk"]["t"]["url"] == ""
    linked = truncation.shrink(message["chunk"], url="/full/")
    assert linked["t"]["url"] == "/full/"


def test_bounded_message_shortens_every_field_but_its_type():
    message = {"type": "thread.status", "run_id": "r", "result": {"essay": BIG}, "error": BIG}
    bounded = truncation.bounded_message(message, 4096)
    assert bounded["type"] == "thread.status" and bounded["run_id"] == "r"
    assert truncation.json_size(bounded["result"]) <= 4096
    assert truncation.is_truncated(bounded["error"])
    small = {"type": "thread.status", "result": 1}
    assert truncation.bounded_message(small) is small


def test_text_is_split_and_tailed_by_its_json_size():
    text = "\x01" * 10_000 + "end"
    pieces = truncation.split_text(text, 4096)
    assert "".join(pieces) == text
    assert all(truncation.json_size(p) <= 4096 for p in pieces)
    skipped, tail = truncation.text_tail(text, 4096)
    assert text.endswith(tail) and skipped + len(tail) == len(text)
    assert truncation.json_size(tail) <= 4096


# -- live text ------------------------------------------------------------------------------------
async def test_a_huge_live_text_write_goes_as_bounded_messages(settings):
    settings.FLOWSITE_MAX_PUSH_BYTES = 4096
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def offload(fn, *args):
        return None  # the cache is not what this test is about

    text = live.LiveText(thread_pk=1, run_id="r", entrypoint="e", send=send, offload=offload)
    text.feed("custom", BIG)
    await text.flush()
    pieces = [m for m in sent if m["type"] == "thread.text"]
    assert len(pieces) > 1 and "".join(m["text"] for m in pieces) == BIG
    assert all(truncation.json_size(m) <= 4096 + 200 for m in pieces)
    offsets = [m["offset"] for m in pieces]
    assert offsets == [sum(len(m["text"]) for m in pieces[:i]) for i in range(len(pieces))]


@pytest.mark.django_db(transaction=True)
async def test_a_huge_live_block_shows_its_end_and_keeps_growing(
    thread_factory, user_factory, fresh_layer
):
    thread = await sync_to_async(thread_factory)(status=Thread.Status.RUNNING)
    await sync_to_async(live.store_blocks)(thread.pk, [{"id": "b1", "task": "write", "text": BIG}])
    comm = await communicator(f"/ws/threads/{thread.pk}/", await sync_to_async(user_factory)())
    assert (await comm.connect())[0]
    state = await receive_frame(comm)
    assert 'id="live-text-b1"' in state and "The end." in state and "The beginning" not in state
    assert "characters before this" in state
    # the browser has the whole block as far as offsets go: the next text is appended
    await fresh_layer.group_send(thread.group_name, {
        "type": "thread.text", "run_id": "r", "block": "b1", "task": "write",
        "offset": len(BIG), "text": " More.",
    })
    html = await receive_frame(comm)
    assert 'hx-swap-oob="beforeend:#live-text-b1"' in html and " More." in html
    await comm.disconnect()
    await sync_to_async(live.store_blocks)(thread.pk, None)


# -- pages and sockets with a 1 MB interrupt value -----------------------------------------------
@pytest.fixture
def huge_interrupt(interrupt_factory, thread_factory):
    def make(**fields):
        thread = thread_factory(workflow="parallel-review", input={"title": "Plan"})
        return interrupt_factory(
            thread=thread, value={"section": "Goals", "text": BIG, "action": "Approve"}, **fields
        )

    return make


def value_url(interrupt):
    key = f"interrupt-{interrupt.interrupt_id}"
    return reverse("workflows:value", args=[interrupt.thread_id, key])


@pytest.mark.django_db
def test_the_inbox_shows_a_summary_of_a_huge_value_and_links_to_it(reviewer_client, huge_interrupt):
    interrupt = huge_interrupt()
    response = reviewer_client().get(reverse("reviews:inbox"))
    page = response.content.decode()
    assert response.status_code == 200
    assert size(page) < 100_000
    assert "Goals" in page and "The beginning. xxx" in page and "The end." not in page
    assert value_url(interrupt) in page and f"/interrupts/{interrupt.pk}/" in page


@pytest.mark.django_db
def test_the_thread_page_shows_a_huge_value_shortened_with_a_link(reviewer_client, huge_interrupt):
    interrupt = huge_interrupt()
    response = reviewer_client().get(reverse("workflows:thread", args=[interrupt.thread_id]))
    page = response.content.decode()
    assert response.status_code == 200
    assert size(page) < truncation.max_push_bytes() + 50_000
    assert "Shortened from 1.0" in page and value_url(interrupt) in page
    assert "The end." not in page


@pytest.mark.django_db
def test_the_value_page_shows_the_whole_value(reviewer_client, huge_interrupt):
    interrupt = huge_interrupt()
    client = reviewer_client()
    page = client.get(value_url(interrupt))
    assert page.status_code == 200 and "The end." in page.content.decode()
    raw = client.get(value_url(interrupt), {"format": "json"})
    assert raw.status_code == 200 and json.loads(raw.content) == interrupt.value
    thread = interrupt.thread
    assert client.get(reverse("workflows:value", args=[thread.pk, "input"])).status_code == 200
    assert client.get(reverse("workflows:value", args=[thread.pk, "write-999"])).status_code == 404
    unanswered = reverse("workflows:value", args=[thread.pk, "resume-" + interrupt.interrupt_id])
    assert client.get(unanswered).status_code == 404


@pytest.mark.django_db
def test_the_value_page_needs_a_login(huge_interrupt):
    """Its permission is the thread page's: tests/reviews/test_view_permission.py."""
    from django.test import Client

    response = Client().get(value_url(huge_interrupt()))
    assert response.status_code == 302 and "/login/" in response["Location"]


async def receive_frame(comm) -> str:
    """The next message, asserting it is a text frame (not a close) under the limit."""
    output = await comm.receive_output(timeout=10)
    assert output["type"] == "websocket.send", output
    assert size(output["text"]) < truncation.max_frame_bytes() < MiB
    return output["text"]


@pytest.fixture
async def fresh_layer(settings):
    settings.FLOWSITE_EXECUTOR = "external"
    layer = get_channel_layer()
    await layer.flush()
    yield layer
    await layer.flush()


@pytest.mark.django_db(transaction=True)
async def test_inbox_updates_with_a_huge_value_are_small_frames_and_the_socket_stays_open(
    huge_interrupt, user_factory, fresh_layer
):
    user = await sync_to_async(user_factory)()
    page = await communicator("/ws/inbox/?list=1", user)
    assert (await page.connect())[0]
    assert "Nothing waiting" in await receive_frame(page)
    interrupt = await sync_to_async(huge_interrupt)()
    for _ in range(2):  # the socket stays open: every update arrives
        await fresh_layer.group_send("inbox", {"type": "inbox.changed"})
        html = await receive_frame(page)
        assert size(html) < 100_000 and value_url(interrupt) in html
    await page.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_thread_socket_pushes_huge_values_shortened(
    huge_interrupt, user_factory, fresh_layer
):
    interrupt = await sync_to_async(huge_interrupt)()
    thread = await sync_to_async(Thread.objects.get)(pk=interrupt.thread_id)
    comm = await communicator(f"/ws/threads/{thread.pk}/", await sync_to_async(user_factory)())
    assert (await comm.connect())[0]
    state = await receive_frame(comm)
    assert value_url(interrupt) in state and "The end." not in state

    # chunks sent whole (not through the executor's bounded sends) are shortened when rendered
    item = {"id": interrupt.interrupt_id, "value": interrupt.value}
    messages = [
        {"type": "thread.chunk", "run_id": "r", "seq": 1, "mode": "updates",
         "chunk": {"__interrupt__": [item]}},
        {"type": "thread.chunk", "run_id": "r", "seq": 2, "mode": "updates",
         "chunk": {"review_section": {"text": BIG}}},
        {"type": "thread.chunk", "run_id": "r", "seq": 3, "mode": "custom",
         "chunk": {"progress": BIG}},
    ]
    pushed = []
    for message in messages:
        await fresh_layer.group_send(thread.group_name, message)
        pushed.append(await receive_frame(comm))
        assert "The beginning. xxx" in pushed[-1] and "The end." not in pushed[-1]
    assert value_url(interrupt) in pushed[0]  # an interrupt links to its stored value
    await sync_to_async(Thread.objects.filter(pk=thread.pk).update)(
        status=Thread.Status.DONE, result={"essay": BIG}
    )
    await fresh_layer.group_send(thread.group_name, {"type": "thread.status", "result": BIG})
    html = await receive_frame(comm)
    assert "outcome-done" in html
    assert reverse("workflows:value", args=[thread.pk, "result"]) in html
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_state_of_many_large_values_falls_back_to_previews(
    huge_interrupt, user_factory, fresh_layer, settings
):
    settings.FLOWSITE_MAX_FRAME_BYTES = 100_000  # four 64 KiB values do not fit
    interrupt = await sync_to_async(huge_interrupt)()
    for _ in range(3):
        await sync_to_async(Interrupt.objects.create)(
            thread_id=interrupt.thread_id, interrupt_id=f"i{_}", checkpoint_id="c", task_id=f"t{_}",
            value={"text": BIG},
        )
    user = await sync_to_async(user_factory)()
    comm = await communicator(f"/ws/threads/{interrupt.thread_id}/", user)
    assert (await comm.connect())[0]
    state = await receive_frame(comm)
    assert size(state) < 100_000 and value_url(interrupt) in state
    await comm.disconnect()


# -- the repro: a 1 MB section on the parallel-review start form --------------------------
def start_form(client, sections):
    data = {"parallel-review-title": "Plan", "parallel-review-sections": sections}
    return client.post(reverse("workflows:start", args=["parallel-review"]), data)


@pytest.mark.django_db
def test_a_1mb_section_is_a_form_error_naming_the_limit(reviewer_client):
    response = start_form(reviewer_client(), "Goals: " + "x" * MiB)
    assert response.status_code == 400
    entries = response.context["entries"]
    (form,) = [e["form"] for e in entries if e["workflow"].name == "parallel-review"]
    assert "sections" in form.errors
    assert "at most 262,144 bytes (256.0\xa0KB)" in form.errors["sections"][0]
    assert "at most 262,144 bytes" in response.content.decode()
    assert not Thread.objects.exists() and not Run.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_a_workflow_that_makes_a_huge_interrupt_keeps_every_page_working(
    settings, user_factory, fresh_layer
):
    """Allowed in (a raised input limit), the section becomes a 1 MB interrupt value: every
    frame pushed while the run goes is small, and the inbox stays small."""
    settings.FLOWSITE_MAX_INPUT_BYTES = 4 * MiB
    document = {"title": "Plan", "sections": [{"title": "Goals", "text": BIG}]}
    run = await sync_to_async(services.start_run)(workflow="parallel-review", input=document)
    user = await sync_to_async(user_factory)()
    thread_socket = await communicator(f"/ws/threads/{run.thread_id}/", user)
    inbox_socket = await communicator("/ws/inbox/?list=1", user)
    assert (await thread_socket.connect())[0] and (await inbox_socket.connect())[0]
    await receive_frame(thread_socket)
    await receive_frame(inbox_socket)

    assert await running.aexecute_run(run.pk) == Run.Status.INTERRUPTED
    frames = []
    while "badge-interrupted" not in (frames[-1] if frames else ""):
        frames.append(await receive_frame(thread_socket))
    interrupt = await sync_to_async(Interrupt.objects.get)(thread_id=run.thread_id)
    assert value_url(interrupt) in frames[-1]
    inbox = await receive_frame(inbox_socket)
    assert size(inbox) < 100_000 and value_url(interrupt) in inbox
    await thread_socket.disconnect()
    await inbox_socket.disconnect()
