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
