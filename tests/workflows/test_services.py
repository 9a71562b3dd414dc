"""Services: starting, resuming and retrying runs; bad input is refused and writes nothing.

Runs are executed explicitly with ``running.execute_run`` (``FLOWSITE_EXECUTOR="external"``),
so each step is deterministic.
"""

import os
import socket

import pytest

from workflows import entrypoint, registry, services, task
from workflows.execution import recovery, running
from workflows.models import Checkpoint, Interrupt, PendingWrite, Run, Thread

pytestmark = pytest.mark.django_db(transaction=True)

attempts: list[str] = []


@task
def flaky(name: str) -> str:
    attempts.append(name)
    if len(attempts) == 1:
        raise ConnectionError("the service is down")
    return f"hello {name}"


@entrypoint()
def greet(name: str) -> str:
    return flaky(name).result()


registry.register("test-greet", greet, title="Greeting (flaky)")


@pytest.fixture(autouse=True)
def external_executor(settings):
    settings.FLOWSITE_EXECUTOR = "external"


def start(workflow="essay-review", value="cat"):
    run = services.start_run(workflow=workflow, input=value)
    assert running.execute_run(run.pk) is not None
    return Thread.objects.get(pk=run.thread_id)


def test_essay_start_interrupt_resume():
    thread = start()
    assert thread.status == Thread.Status.INTERRUPTED
    intr = Interrupt.objects.pending().get(thread=thread)
    assert intr.value == {"essay": "An essay about topic: cat", "action": "Please approve/reject the essay"}

    run = services.resume_run(interrupt=intr, value=True)
    assert running.execute_run(run.pk) == Run.Status.SUCCESS
    thread.refresh_from_db()
    assert thread.status == Thread.Status.DONE
    assert thread.result == {"essay": "An essay about topic: cat", "is_approved": True}
    # write_essay ran once: one stored result, replayed on resume
    assert PendingWrite.objects.filter(thread=thread, channel="__return__").count() == 1


def test_unknown_workflow_is_refused_and_writes_nothing():
    with pytest.raises(registry.UnknownWorkflow, match="'nope'.*essay-review"):
        services.start_run(workflow="nope", input="cat")
    assert not Thread.objects.exists() and not Run.objects.exists()


def test_non_serializable_input_is_refused_and_writes_nothing():
    with pytest.raises(TypeError, match="builtins.object"):
        services.start_run(workflow="essay-review", input=object())
    assert not Thread.objects.exists()


def test_double_submission_resumes_once():
    intr = Interrupt.objects.pending().get(thread=start())
    services.resume_run(interrupt=intr, value=True)
    with pytest.raises(services.InterruptNotPending):
        services.resume_run(interrupt=intr, value=False)
    assert Run.objects.filter(kind=Run.Kind.RESUME).count() == 1
    intr.refresh_from_db()
    assert intr.resume_value is True


SECTIONS = {"title": "T", "sections": [{"title": "A", "text": "a"}]}


@pytest.mark.parametrize(
    "workflow, input, value, message",
    [
        ("essay-review", "cat", None, "None is not a valid resume value"),
        ("essay-review", "cat", object(), "not serializable: builtins.object"),
        ("parallel-review", SECTIONS, {"approved": "yes"}, "'yes' is not of type 'boolean'"),
        ("parallel-review", SECTIONS, {"comment": "hm"}, "'approved' is a required property"),
    ],
)
def test_malformed_resume_values_are_refused_and_write_nothing(workflow, input, value, message):
    intr = Interrupt.objects.pending().get(thread=start(workflow, input))
    with pytest.raises(services.InvalidResumeValue, match=message):
        services.resume_run(interrupt=intr, value=value)
    intr.refresh_from_db()
    assert intr.status == Interrupt.Status.PENDING
    assert not Run.objects.filter(kind=Run.Kind.RESUME).exists()


def test_resuming_a_finished_thread_is_refused():
    thread = start()
    intr = Interrupt.objects.pending().get(thread=thread)
    running.execute_run(services.resume_run(interrupt=intr, value=False).pk)
    with pytest.raises(services.InterruptNotPending):
        services.resume_run(interrupt=intr, value=True)


def test_parallel_interrupts_are_all_pending_and_answered_in_any_order():
    doc = {"title": "T", "sections": [{"title": "A", "text": "a"}, {"title": "B", "text": "b"}]}
    thread = start("parallel-review", doc)
    first, second = Interrupt.objects.pending().filter(thread=thread).order_by("value__section")
    assert [first.value["section"], second.value["section"]] == ["A", "B"]

    run_b = services.resume_run(interrupt=second, value={"approved": False, "comment": "too vague"})
    run_a = services.resume_run(interrupt=first, value={"approved": True})
    # one run per thread at a time: the second answer waits until the first has finished
    assert services.claim_run(run_id=run_b.pk)
    assert not services.claim_run(run_id=run_a.pk)
    # the first run to execute takes every answer recorded so far: both sections
    assert running.execute_claimed(run_b.pk) == Run.Status.SUCCESS
    assert running.execute_run(run_a.pk) == Run.Status.SUCCESS  # nothing left: the result stays
    thread.refresh_from_db()
    assert thread.result["summary"] == "1 of 2 sections approved"
    assert [r["section"] for r in thread.result["reviews"]] == ["A", "B"]


def test_two_workers_claiming_two_runs_of_one_thread_at_once_one_wins():
    """The database refuses a second running run of a thread (one_running_run_per_thread), so a
    race of claims on two answers of one thread never runs both."""
    from tests.races import at_once

    doc = {"title": "T", "sections": [{"title": "A", "text": "a"}, {"title": "B", "text": "b"}]}
    for attempt in range(10):
        thread = start("parallel-review", doc)
        first, second = Interrupt.objects.pending().filter(thread=thread)
        runs = [services.resume_run(interrupt=i, value={"approved": True}) for i in (first, second)]
        won = at_once(lambda run: services.claim_run(run_id=run.pk, worker=f"worker-{run.pk}"), runs)
        assert sorted(won) == [False, True], (attempt, won)
        assert Run.objects.filter(thread=thread, status=Run.Status.RUNNING).count() == 1


def test_failed_run_can_be_retried_and_replays_finished_work():
    attempts.clear()
    thread = start("test-greet", "ada")
    assert thread.status == Thread.Status.ERROR
    assert "ConnectionError: the service is down" in thread.error
    with pytest.raises(services.ThreadNotRetryable):
        services.retry_run(thread=Thread.objects.get(pk=start().pk))

    run = services.retry_run(thread=thread)
    assert running.execute_run(run.pk) == Run.Status.SUCCESS
    thread.refresh_from_db()
    assert (thread.status, thread.result) == (Thread.Status.DONE, "hello ada")
    assert attempts == ["ada", "ada"]


def test_a_run_is_claimed_once():
    run = services.start_run(workflow="essay-review", input="cat")
    assert services.claim_run(run_id=run.pk)
    assert not services.claim_run(run_id=run.pk)
    assert running.execute_run(run.pk) is None  # already running elsewhere


def test_the_next_claim_is_the_oldest_queued_run_of_a_thread_without_a_running_run():
    busy = services.start_run(workflow="essay-review", input="busy")
    assert services.claim_run(run_id=busy.pk, worker="w1")
    waiting = Run.objects.create(thread_id=busy.thread_id, kind=Run.Kind.RESUME, input=busy.input)
    older = services.start_run(workflow="essay-review", input="older")
    newer = services.start_run(workflow="essay-review", input="newer")
    claimed = services.claim_next_run(worker="w2")
    assert claimed == older.pk and isinstance(claimed, type(older.pk))  # the ORM's UUID
    assert services.claim_next_run(worker="w2") == newer.pk
    assert services.claim_next_run(worker="w2") is None  # `waiting`: its thread runs `busy`
    assert Run.objects.get(pk=waiting.pk).status == Run.Status.QUEUED
    assert services.finish_run(run_id=busy.pk, status=Run.Status.ERROR, error="x", worker="w2") is None
    assert Run.objects.get(pk=busy.pk).status == Run.Status.RUNNING  # not w2's: nothing written
    assert services.finish_run(run_id=busy.pk, status=Run.Status.ERROR, error="x", worker="w1")
    assert services.claim_next_run(worker="w2") == waiting.pk


def test_recover_requeues_runs_of_dead_workers():
    run = services.start_run(workflow="essay-review", input="cat")
    assert services.claim_run(run_id=run.pk)
    Run.objects.filter(pk=run.pk).update(worker=f"{socket.gethostname()}:999999:0ld")
    assert recovery.recover() == 1
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED
    assert running.execute_run(run.pk) == Run.Status.INTERRUPTED


def test_recover_frees_threads_held_by_dead_processes():
    thread = start()
    Thread.objects.filter(pk=thread.pk).update(run_owner=f"{socket.gethostname()}:999999:abc")
    recovery.recover()
    thread.refresh_from_db()
    assert thread.run_owner == ""


def test_recover_requeues_runs_of_an_earlier_process_with_the_same_pid():
    run = services.start_run(workflow="essay-review", input="cat")
    assert services.claim_run(run_id=run.pk)
    ghost = f"{socket.gethostname()}:{os.getpid()}:earlier"
    Run.objects.filter(pk=run.pk).update(worker=ghost)
    recovery.recover()
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED


def test_an_answer_survives_a_resume_run_that_failed_before_storing_it():
    intr = Interrupt.objects.pending().get(thread=start())
    run = services.resume_run(interrupt=intr, value=True)
    # the resume run dies before the runtime stored the answer (e.g. the database went away)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.ERROR)
    Thread.objects.filter(pk=intr.thread_id).update(status=Thread.Status.ERROR)
    retry = services.retry_run(thread=intr.thread)
    assert running.execute_run(retry.pk) == Run.Status.SUCCESS
    intr.thread.refresh_from_db()
    assert intr.thread.result == {"essay": "An essay about topic: cat", "is_approved": True}


def test_retry_is_refused_while_a_run_waits():
    attempts.clear()
    thread = start("test-greet", "ada")
    services.retry_run(thread=thread)
    Thread.objects.filter(pk=thread.pk).update(status=Thread.Status.ERROR)
    with pytest.raises(services.ThreadNotRetryable, match="already has a run waiting"):
        services.retry_run(thread=thread)


def test_nan_is_refused_and_writes_nothing():
    with pytest.raises(ValueError, match="NaN"):
        services.start_run(workflow="essay-review", input={"x": float("nan")})
    assert not Thread.objects.exists()
    intr = Interrupt.objects.pending().get(thread=start())
    with pytest.raises(services.InvalidResumeValue, match="NaN"):
        services.resume_run(interrupt=intr, value=float("inf"))
    intr.refresh_from_db()
    assert intr.status == Interrupt.Status.PENDING


def test_a_run_whose_thread_another_run_still_holds_goes_back_to_the_queue(monkeypatch):
    """A hung earlier holder (alive, its lease expired and its run requeued) still holds the
    thread: the next worker's run waits its turn in the queue instead of failing."""
    from tests.races import lease_held_elsewhere

    monkeypatch.setattr(running, "BUSY_RETRY_SECONDS", 0.01)
    run = services.start_run(workflow="essay-review", input="cat")

    with lease_held_elsewhere(run.thread.thread_id):
        assert running.execute_run(run.pk) == Run.Status.QUEUED
        run.refresh_from_db()
        assert (run.status, run.worker) == (Run.Status.QUEUED, "")
        assert not Checkpoint.objects.filter(thread=run.thread).exists()  # nothing ran
    assert running.execute_run(run.pk) == Run.Status.INTERRUPTED  # its turn, once let go


def test_run_interrupted_names_the_workflow_and_reads_the_interrupts_only_when_iterated():
    """``run_interrupted`` carries the workflow's name and the pending interrupts as a lazy
    queryset, so a receiver with nothing to do for that workflow (``reviews``' assignment,
    for a workflow without ``assignees=``) costs no query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workflows.services import lifecycle
    from workflows.signals import run_interrupted

    seen = []

    def receiver(sender, *, run_id, workflow, interrupts, **kwargs):
        seen.append((workflow, interrupts))

    run = services.start_run(workflow="essay-review", input="cat")
    assert services.claim_run(run_id=run.pk, worker="w1")
    intr = Interrupt.objects.create(thread_id=run.thread_id, interrupt_id="i1", value={"q": 1})
    run_interrupted.connect(receiver, sender=Run)
    try:
        with CaptureQueriesContext(connection) as queries:
            lifecycle._announce_interrupts(run.pk, run.thread_id, "essay-review")
    finally:
        run_interrupted.disconnect(receiver, sender=Run)
    ((workflow, interrupts),) = seen
    assert workflow == "essay-review"
    assert not any("workflows_interrupt" in q["sql"] for q in queries.captured_queries)
    assert [i.pk for i in interrupts] == [intr.pk]  # read now, when iterated
