"""Background execution: the worker consumer of the runs channel, the bounded pool, leases kept
alive by the heartbeat, the sweep, retried database errors and draining. Real parts: the
in-memory channel layer, Channels' ``Worker``, the executor loop, the database."""

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.worker import Worker
from django.db import OperationalError
from django.utils import timezone

from flowsite import chat_models
from workflows import services, signals
from workflows.execution import leases, pool, publishing, recovery, running, threads, waking, worker
from workflows.execution.processes import worker_name
from workflows.models import Interrupt, Run, Thread

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 60.0  # seconds: generous, the machine may be loaded


@pytest.fixture(autouse=True)
def external_executor(settings):
    settings.FLOWSITE_EXECUTOR = "external"  # nothing executes unless the test makes it


def wait_for(predicate, timeout: float = TIMEOUT, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def statuses() -> set[str]:
    return set(Run.objects.values_list("status", flat=True))


async def test_a_wake_message_on_the_runs_channel_executes_runs_several_at_once(monkeypatch):
    """``run.wake`` messages to Channels' ``Worker`` on the runs channel: the consumer hands
    each run to the pool, which claims and executes them at once (async entrypoints)."""
    monkeypatch.setattr(chat_models, "TOKEN_DELAY", 0.004)
    layer = get_channel_layer()
    layer.channels.pop(waking.runs_channel(), None)
    consumer = asyncio.ensure_future(
        Worker(worker.runs_application(), [waking.runs_channel()], layer).arun()
    )
    try:
        runs = [
            await sync_to_async(services.start_run)(workflow="streaming-essay-review", input=topic)
            for topic in ("otters", "herons")
        ]
        for run in runs:
            await layer.send(waking.runs_channel(), {"type": "run.wake", "run_id": str(run.pk)})
        deadline = time.monotonic() + TIMEOUT
        while await sync_to_async(statuses)() != {Run.Status.INTERRUPTED}:
            assert time.monotonic() < deadline, "the runs did not pause"
            await asyncio.sleep(0.05)
    finally:
        consumer.cancel()
    first, second = await sync_to_async(list)(Run.objects.order_by("started_at"))
    assert second.started_at < first.finished_at, "the runs did not overlap"
    assert {first.worker, second.worker} == {worker_name()}
    for thread in await sync_to_async(list)(Thread.objects.all()):
        assert thread.status == Thread.Status.INTERRUPTED
        value = await sync_to_async(lambda t=thread: t.interrupts.get().value)()
        assert value["essay"] == chat_models.fake_essay(thread.input)


def test_a_full_pool_leaves_runs_queued_and_claims_them_when_a_slot_frees():
    small = pool.RunPool(1)
    first, second = (services.start_run(workflow="essay-review", input=t) for t in ("cat", "dog"))
    loop = threads.executor_loop()
    offered = [
        asyncio.run_coroutine_threadsafe(small.offer(run.pk), loop).result(TIMEOUT)
        for run in (first, second)
    ]
    assert offered == [True, False]  # the second stays queued, for now
    wait_for(lambda: statuses() == {Run.Status.INTERRUPTED}, what="both runs to pause")
    second.refresh_from_db()
    assert second.started_at >= Run.objects.get(pk=first.pk).finished_at  # one at a time


def test_the_sweep_gets_a_queued_run_going_whose_wake_was_lost():
    run = services.start_run(workflow="essay-review", input="cat")  # external: no message heard
    assert recovery.recover(pull=True) == 1
    wait_for(lambda: Run.objects.get(pk=run.pk).status == Run.Status.INTERRUPTED, what="the run")


def test_the_sweep_requeues_a_run_whose_lease_expired_and_frees_its_thread():
    expired = services.start_run(workflow="essay-review", input="cat")
    alive = services.start_run(workflow="essay-review", input="dog")
    now = timezone.now()
    for run, lease in ((expired, now - timedelta(seconds=1)), (alive, now + timedelta(seconds=20))):
        assert services.claim_run(run_id=run.pk, worker="gone.example:4242:b00t")
        Run.objects.filter(pk=run.pk).update(lease_expires_at=lease)
        Thread.objects.filter(pk=run.thread_id).update(run_owner="gone.example:4242:abc")
    recovery.recover()
    expired.refresh_from_db()
    alive.refresh_from_db()
    assert (expired.status, expired.worker, expired.lease_expires_at) == (Run.Status.QUEUED, "", None)
    assert Thread.objects.get(pk=expired.thread_id).run_owner == ""
    assert alive.status == Run.Status.RUNNING  # another host's live lease is left alone
    assert Thread.objects.get(pk=alive.thread_id).run_owner == "gone.example:4242:abc"
    assert running.execute_run(expired.pk) == Run.Status.INTERRUPTED  # the next worker continues


def test_the_heartbeat_keeps_a_lease_alive(settings):
    settings.FLOWSITE_HEARTBEAT_SECONDS = 0.1
    run = services.start_run(workflow="essay-review", input="cat")
    assert services.claim_run(run_id=run.pk, worker=worker_name())
    soon = timezone.now() + timedelta(seconds=1)
    Run.objects.filter(pk=run.pk).update(lease_expires_at=soon)
    with leases.holding(run.pk):
        assert run.pk in leases.held()
        wait_for(
            lambda: Run.objects.get(pk=run.pk).lease_expires_at > soon + timedelta(seconds=5),
            what="the lease to be renewed",
        )
    assert run.pk not in leases.held()


def test_a_passing_database_error_while_claiming_or_finishing_is_retried(monkeypatch):
    failures = {"claim_run": 1, "finish_run": 2}

    def flaky(name, real):
        def call(**kwargs):
            if failures[name]:
                failures[name] -= 1
                raise OperationalError("server closed the connection unexpectedly")
            return real(**kwargs)

        call.__name__ = name
        return call

    for name in failures:
        monkeypatch.setattr(services, name, flaky(name, getattr(services, name)))
    run = services.start_run(workflow="essay-review", input="cat")
    assert running.execute_run(run.pk) == Run.Status.INTERRUPTED
    assert failures == {"claim_run": 0, "finish_run": 0}
    run.refresh_from_db()
    assert run.status == Run.Status.INTERRUPTED
    assert Thread.objects.get(pk=run.thread_id).status == Thread.Status.INTERRUPTED


def test_a_database_error_that_lasts_leaves_the_run_to_its_lease(monkeypatch):
    def down(**kwargs):
        raise OperationalError("the database is down")

    down.__name__ = "finish_run"
    monkeypatch.setitem(running.DB_RETRY, "wait", running.tenacity.wait_none())
    real_finish = services.finish_run
    monkeypatch.setattr(services, "finish_run", down)
    run = services.start_run(workflow="essay-review", input="cat")
    running.execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING and run.pk not in leases.held()  # nobody renews it
    Run.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    recovery.recover()  # the sweep of any process
    assert Run.objects.get(pk=run.pk).status == Run.Status.QUEUED
    monkeypatch.setattr(services, "finish_run", real_finish)
    assert running.execute_run(run.pk) == Run.Status.INTERRUPTED
    assert Thread.objects.get(pk=run.thread_id).interrupts.count() == 1


def test_a_drained_run_goes_back_to_the_queue_and_the_next_worker_continues_it():
    run = services.start_run(workflow="essay-review", input="cat")
    drain = running.Drain()
    drain.request_drain()  # SIGTERM before the run reached its body
    future = asyncio.run_coroutine_threadsafe(
        running.aexecute_run(run.pk, drain=drain), threads.executor_loop()
    )
    assert future.result(TIMEOUT) == Run.Status.QUEUED
    run.refresh_from_db()
    assert (run.status, run.worker) == (Run.Status.QUEUED, "")
    assert Thread.objects.get(pk=run.thread_id).run_owner == ""
    assert running.execute_run(run.pk) == Run.Status.INTERRUPTED
    assert Thread.objects.get(pk=run.thread_id).interrupts.count() == 1


def test_pool_drain_takes_nothing_new():
    drained = pool.RunPool(2)
    loop = threads.executor_loop()
    asyncio.run_coroutine_threadsafe(drained.drain(), loop).result(TIMEOUT)
    run = services.start_run(workflow="essay-review", input="cat")
    assert not asyncio.run_coroutine_threadsafe(drained.offer(run.pk), loop).result(TIMEOUT)
    assert asyncio.run_coroutine_threadsafe(drained.pull(), loop).result(TIMEOUT) == 0
    assert Run.objects.get(pk=run.pk).status == Run.Status.QUEUED


def test_run_status_changes_and_sweeps_are_signals():
    heard, swept = [], []

    def on_status(sender, *, run_id, thread_pk, status, **kwargs):
        heard.append((run_id, thread_pk, status))

    def on_sweep(sender, *, now, **kwargs):
        swept.append(now)

    signals.run_status_changed.connect(on_status)
    signals.sweep.connect(on_sweep)
    try:
        run = services.start_run(workflow="essay-review", input="cat")
        running.execute_run(run.pk)
        before = timezone.now()
        recovery.recover()
    finally:
        signals.run_status_changed.disconnect(on_status)
        signals.sweep.disconnect(on_sweep)
    assert heard == [(str(run.pk), run.thread_id, "running"), (str(run.pk), run.thread_id, "interrupted")]
    assert len(swept) == 1 and swept[0] >= before


def test_the_pages_hear_running_for_a_resume_but_not_for_a_start(monkeypatch):
    """A start run's thread is ``running`` from the moment it is made, so its pages are not sent
    ``running`` (a state render per page for nothing); a resume's thread was paused on the
    pages, which must hear that it runs again."""
    sent = []
    original = publishing.agroup_send

    async def recorded(group, message):
        if message["type"] == "thread.status":
            sent.append(message["status"])
        await original(group, message)

    monkeypatch.setattr(publishing, "agroup_send", recorded)
    run = services.start_run(workflow="essay-review", input="cat")
    running.execute_run(run.pk)
    assert sent == ["interrupted"]
    paused = Interrupt.objects.pending().get(thread_id=run.thread_id)
    resume = services.resume_run(interrupt=paused, value=True)
    running.execute_run(resume.pk)
    assert sent == ["interrupted", "running", "done"]
