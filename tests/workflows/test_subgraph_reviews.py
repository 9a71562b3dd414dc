"""A child entrypoint's interrupt is answered from the dashboard like any other: one pending
``Interrupt`` row for it, answered with ``services.resume_run`` on the parent's thread, and the
child's finished task is not run again."""

import pytest

from workflows import entrypoint, interrupt, registry, services, task
from workflows.execution import running
from workflows.models import Interrupt, Thread

pytestmark = pytest.mark.django_db(transaction=True)

drafts: list[str] = []


@task
def draft(topic: str) -> str:
    drafts.append(topic)
    return f"a draft about {topic}"


@task
def review(text: str) -> bool:
    return interrupt({"draft": text, "action": "approve?"})


@entrypoint()
def write(topic: str) -> dict:
    text = draft(topic).result()
    return {"text": text, "approved": review(text).result()}


@task
def publish(topic: str) -> dict:
    return write.invoke(topic)


@entrypoint()
def newsroom(topic: str) -> dict:
    return {"published": publish(topic).result()}


registry.register("test-newsroom", newsroom, title="Newsroom (a child entrypoint asks)")


@pytest.fixture(autouse=True)
def external_executor(settings):
    settings.FLOWSITE_EXECUTOR = "external"


def test_child_interrupt_is_one_pending_review_answered_through_the_parent():
    drafts.clear()
    run = services.start_run(workflow="test-newsroom", input="owls")
    running.execute_run(run.pk)
    thread = Thread.objects.get(pk=run.thread_id)
    assert thread.status == Thread.Status.INTERRUPTED
    pending = Interrupt.objects.pending().get(thread=thread)
    assert pending.value == {"draft": "a draft about owls", "action": "approve?"}

    running.execute_run(services.resume_run(interrupt=pending, value=True).pk)
    thread.refresh_from_db()
    assert thread.status == Thread.Status.DONE
    assert thread.result == {"published": {"text": "a draft about owls", "approved": True}}
    assert not Interrupt.objects.pending().filter(thread=thread).exists()
    assert drafts == ["owls"]  # the child's finished task was replayed on resume
