"""``registry.register(..., view_permission=...)`` (issue 9, item 7): without it a user sees
nothing of the workflow's threads: the thread, interrupt and history pages answer 403, the
thread's WebSocket is refused, the inbox, its counts and the recent threads leave them out."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from flowsite.asgi import application
from reviews.models import Claim, Decision
from tests.sockets import headers_for
from workflows.models import Interrupt, Run


@pytest.fixture
def secret(register_workflow, permission_factory, thread_factory, interrupt_factory):
    """A workflow only holders of ``reviews.view_contracts`` see, with a pending interrupt; and
    ``grant(user)`` giving a user that permission."""
    name, permission = permission_factory("view_contracts")
    register_workflow("contracts", title="Contract review", view_permission=name)
    thread = thread_factory(workflow="contracts", input="the secret contract")
    interrupt = interrupt_factory(thread=thread, value={"essay": "Clause 7: secret terms"})

    def grant(user):
        user.user_permissions.add(permission)
        return type(user).objects.get(pk=user.pk)  # a fresh permission cache

    return thread, interrupt, grant


def pages(thread, interrupt):
    return [
        reverse("workflows:thread", args=[thread.pk]),
        reverse("workflows:history", args=[thread.pk]),
        reverse("reviews:interrupt", args=[interrupt.pk]),
        reverse("workflows:value", args=[thread.pk, f"interrupt-{interrupt.interrupt_id}"]),
    ]


@pytest.mark.django_db
def test_pages_of_a_hidden_workflow_answer_403(secret, user_factory, reviewer_client):
    thread, interrupt, grant = secret
    outsider = reviewer_client(user_factory(is_staff=True))
    for url in pages(thread, interrupt):
        response = outsider.get(url)
        assert response.status_code == 403, url
        assert b"Clause 7" not in response.content and b"secret contract" not in response.content
    insider = reviewer_client(grant(user_factory(is_staff=True)))
    for url in pages(thread, interrupt):
        assert insider.get(url).status_code == 200, url
    superuser = reviewer_client(user_factory(is_staff=True, is_superuser=True))
    assert superuser.get(pages(thread, interrupt)[0]).status_code == 200


@pytest.mark.django_db
def test_an_outsider_can_neither_answer_nor_claim_nor_retry(secret, user_factory, reviewer_client):
    thread, interrupt, _ = secret
    outsider = reviewer_client(user_factory())
    answer = outsider.post(reverse("reviews:answer", args=[interrupt.pk]), {"decision": "approve"})
    assert answer.status_code == 403
    assert outsider.post(reverse("reviews:claim", args=[interrupt.pk])).status_code == 403
    assert outsider.post(reverse("workflows:retry", args=[thread.pk])).status_code == 403
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING
    assert not Decision.objects.exists() and not Run.objects.exists()
    assert not Claim.objects.filter(interrupt=interrupt).exists()


@pytest.mark.django_db
def test_the_inbox_and_the_lists_leave_hidden_threads_out(
    secret, user_factory, reviewer_client, interrupt_factory
):
    thread, hidden, grant = secret
    visible = interrupt_factory(value={"essay": "An open essay"})
    outsider = reviewer_client(user_factory())
    inbox = outsider.get(reverse("reviews:inbox"))
    assert list(inbox.context["interrupts"]) == [visible]
    assert inbox.context["waiting_count"] == 1
    assert "Clause 7" not in inbox.content.decode()
    recent = outsider.get(reverse("workflows:list")).context["threads"]
    assert thread not in list(recent) and visible.thread in list(recent)

    insider = reviewer_client(grant(user_factory()))
    inbox = insider.get(reverse("reviews:inbox"))
    assert set(inbox.context["interrupts"]) == {visible, hidden}
    assert inbox.context["waiting_count"] == 2
    assert thread in list(insider.get(reverse("workflows:list")).context["threads"])


@pytest.mark.django_db
def test_the_workflow_filters_offer_only_workflows_the_user_may_see(
    secret, user_factory, reviewer_client
):
    _thread, _hidden, grant = secret
    outsider = reviewer_client(user_factory())
    for name in ("reviews:inbox", "reviews:archive"):
        page = outsider.get(reverse(name))
        choices = dict(page.context["filter_form"].fields["workflow"].choices)
        assert "contracts" not in choices and "essay-review" in choices, name
        assert "Contract review" not in page.content.decode(), name
    # a hidden workflow typed into the URL is refused like any unknown one
    filtered = outsider.get(reverse("reviews:inbox"), {"workflow": "contracts"})
    assert "workflow" in filtered.context["filter_form"].errors

    insider = reviewer_client(grant(user_factory()))
    for name in ("reviews:inbox", "reviews:archive"):
        page = insider.get(reverse(name))
        assert "contracts" in dict(page.context["filter_form"].fields["workflow"].choices), name
        assert "Contract review" in page.content.decode(), name


# -- the thread's WebSocket -----------------------------------------------------------------------
async def connects(path, user) -> tuple[bool, str]:
    comm = WebsocketCommunicator(application, path, headers=await headers_for(user))
    connected, _ = await comm.connect()
    first = await comm.receive_from(timeout=5) if connected else ""
    await comm.disconnect()
    return connected, first


@pytest.mark.django_db(transaction=True)
async def test_the_thread_socket_is_refused_without_the_view_permission(secret, user_factory):
    thread, _, grant = secret
    path = f"/ws/threads/{thread.pk}/"
    outsider = await sync_to_async(user_factory)()
    assert await connects(path, outsider) == (False, "")
    insider = await sync_to_async(lambda: grant(user_factory()))()
    connected, state = await connects(path, insider)
    assert connected and "Clause 7" in state


@pytest.mark.django_db(transaction=True)
async def test_the_inbox_socket_leaves_hidden_interrupts_out(secret, user_factory):
    _, _, grant = secret
    outsider = await sync_to_async(user_factory)()
    connected, html = await connects("/ws/inbox/?list=1", outsider)
    assert connected and "Clause 7" not in html
    insider = await sync_to_async(lambda: grant(user_factory()))()
    connected, html = await connects("/ws/inbox/?list=1", insider)
    assert connected and "Clause 7" in html
