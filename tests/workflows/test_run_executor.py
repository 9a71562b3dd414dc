"""``manage.py run_executor``: an external worker executes queued runs from the database."""

import pytest
from django.core.management import call_command

from workflows import services
from workflows.models import Run, Thread

pytestmark = pytest.mark.django_db(transaction=True)


def test_run_executor_executes_queued_runs_and_exits_with_once(settings):
    settings.FLOWSITE_EXECUTOR = "external"  # the web process leaves runs queued
    for topic in ("cat", "dog"):
        services.start_run(workflow="essay-review", input=topic)
    assert set(Run.objects.values_list("status", flat=True)) == {Run.Status.QUEUED}
    call_command("run_executor", "--once", "--poll", "0.01", "--concurrency", "2")
    assert set(Run.objects.values_list("status", flat=True)) == {Run.Status.INTERRUPTED}
    assert sorted(Thread.objects.values_list("input", flat=True)) == ["cat", "dog"]
    assert set(Thread.objects.values_list("status", flat=True)) == {Thread.Status.INTERRUPTED}


def test_run_executor_runs_async_workflows_several_at_once(settings, monkeypatch):
    """``async def`` entrypoints with async tasks (the streaming essay) on the worker's event
    loop, two at once: each run started before the other finished."""
    from flowsite import chat_models

    monkeypatch.setattr(chat_models, "TOKEN_DELAY", 0.004)
    settings.FLOWSITE_EXECUTOR = "external"
    for topic in ("otters", "herons"):
        services.start_run(workflow="streaming-essay-review", input=topic)
    call_command("run_executor", "--once", "--poll", "0.01", "--concurrency", "2")
    assert set(Run.objects.values_list("status", flat=True)) == {Run.Status.INTERRUPTED}
    for thread in Thread.objects.all():
        assert thread.status == Thread.Status.INTERRUPTED
        essay = thread.interrupts.get().value["essay"]
        assert essay == chat_models.fake_essay(thread.input)
    first, second = Run.objects.order_by("started_at")
    assert second.started_at < first.finished_at, "the runs did not overlap"
