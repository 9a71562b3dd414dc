"""DjangoSaver: storage shapes, and a run interrupted in one process resumed in another."""

import json
import os
import subprocess
import sys

import pytest

from tests.servers import ROOT, database_url
from tests.workflows.crossproc_workflow import crossproc_essay
from workflows import Command, DjangoSaver, entrypoint, interrupt, task
from workflows.models import Checkpoint, Interrupt, PendingWrite, Thread


@pytest.mark.django_db(transaction=True)
def test_interrupt_in_one_process_resume_in_another(tmp_path):
    log = tmp_path / "calls.log"
    config = {"configurable": {"thread_id": "cross-1"}}
    first = crossproc_essay.invoke({"topic": "cat", "log": str(log)}, config)
    assert [i.value["essay"] for i in first["__interrupt__"]] == ["An essay about topic: cat"]
    assert Interrupt.objects.pending().filter(thread__thread_id="cross-1").count() == 1

    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)}
    child = subprocess.run(
        [sys.executable, "-m", "tests.workflows.resume_child", "cross-1", "true"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.strip().splitlines()[-1]) == {
        "essay": "An essay about topic: cat",
        "is_approved": True,
    }
    # the task ran once, in the first process; the second replayed its stored result
    assert log.read_text().splitlines() == ["write_essay"]
    # and the second process's completion is visible here, from the database
    state = crossproc_essay.get_state(config)
    assert state.values == {"essay": "An essay about topic: cat", "is_approved": True}
    assert state.next == ()
    assert [s.metadata["source"] for s in crossproc_essay.get_state_history(config)] == ["loop", "input"]
    assert Interrupt.objects.pending().filter(thread__thread_id="cross-1").count() == 0


@pytest.mark.django_db(transaction=True)
def test_rows_written_for_an_interrupted_run(tmp_path):
    config = {"configurable": {"thread_id": "rows-1"}}
    crossproc_essay.invoke({"topic": "dog", "log": str(tmp_path / "log")}, config)
    thread = Thread.objects.get(thread_id="rows-1")
    (ckpt,) = Checkpoint.objects.filter(thread=thread)
    assert (ckpt.source, ckpt.step, ckpt.parent_checkpoint_id) == ("input", -1, None)
    channels = sorted(PendingWrite.objects.filter(thread=thread).values_list("channel", flat=True))
    assert channels == ["__call__", "__interrupt__", "__return__"]
    task_write = PendingWrite.objects.get(thread=thread, channel="__return__")
    assert task_write.task_path.endswith(", write_essay")
    assert task_write.checkpoint_id == ckpt.checkpoint_id
    (intr,) = Interrupt.objects.filter(thread=thread)
    assert intr.status == Interrupt.Status.PENDING
    assert intr.value == {"essay": "An essay about topic: dog", "action": "Please approve/reject the essay"}

    crossproc_essay.invoke(Command(resume=False), config)
    intr.refresh_from_db()
    assert intr.status == Interrupt.Status.RESOLVED
    loop = Checkpoint.objects.get(thread=thread, source="loop")
    assert (loop.step, loop.parent_checkpoint_id) == (0, ckpt.checkpoint_id)


@pytest.mark.django_db(transaction=True)
def test_non_serializable_input_writes_nothing():
    @entrypoint(checkpointer=DjangoSaver())
    def wf(value):
        return value

    with pytest.raises(TypeError, match="not serializable: builtins.object"):
        wf.invoke(object(), {"configurable": {"thread_id": "bad-input"}})
    assert not Checkpoint.objects.filter(thread__thread_id="bad-input").exists()


@pytest.mark.django_db(transaction=True)
def test_missing_thread_id_is_a_clear_error_and_writes_nothing():
    with pytest.raises(ValueError, match="thread_id"):
        crossproc_essay.invoke({"topic": "cat", "log": "/dev/null"}, {"configurable": {}})
    assert not Thread.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_values_round_trip_through_the_database():
    import datetime as dt
    import uuid
    from decimal import Decimal

    value = {
        "when": dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC),
        "id": uuid.UUID(int=7),
        "amount": Decimal("1.10"),
        "raw": b"\x00\x01",
        "tags": {"a"},
        "pair": (1, 2),
    }

    @task
    def echo(v):
        return v

    @entrypoint(checkpointer=DjangoSaver())
    def wf(v):
        first = echo(v).result()
        interrupt("wait")
        return first

    config = {"configurable": {"thread_id": "round-trip"}}
    wf.invoke(value, config)
    result = wf.invoke(Command(resume=True), config)
    assert result == {**value, "pair": [1, 2]}  # tuples come back as lists, as in LangGraph


@pytest.mark.django_db(transaction=True)
def test_a_second_run_on_a_busy_thread_is_refused_by_the_database(tmp_path):
    import threading
    import time

    from tests.workflows.crossproc_workflow import slow_run

    started, release = tmp_path / "started", tmp_path / "release"
    request = {"started": str(started), "release": str(release)}
    config = {"configurable": {"thread_id": "busy-1"}}
    results = []
    first = threading.Thread(target=lambda: results.append(slow_run.invoke(request, config)))
    first.start()
    deadline = time.monotonic() + 10
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started.exists()

    # another process, with nothing shared but the database, is refused
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)}
    child = subprocess.run(
        [sys.executable, "-m", "tests.workflows.start_child", "busy-1", json.dumps(request)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert child.stdout.strip().splitlines()[-1].startswith(
        "ThreadBusyError: Thread 'busy-1' is busy"
    ), child.stdout + child.stderr

    release.touch()
    first.join(10)
    assert results == ["released"]
    assert Thread.objects.get(thread_id="busy-1").run_owner == ""
    # free again: the next run goes ahead
    assert slow_run.invoke(request, config) == "released"


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_fails_in_the_database_writes_nothing_and_the_next_one_lands():
    """On PostgreSQL a batch outside an atomic block is one query of several statements, one
    implicit transaction: a statement the server refuses part-way rolls back the statements
    before it (the thread's row included), and the connection serves the next batch."""
    from django.db import DataError, connection

    from workflows.runtime.checkpoint import PutCheckpoint, PutWrites
    from workflows.runtime.types import Interrupt as RuntimeInterrupt

    if connection.vendor != "postgresql":
        pytest.skip("SQLite's JSON accepts a NUL character; PostgreSQL's jsonb refuses it")
    saver = DjangoSaver()
    config = {"configurable": {"thread_id": "refused-batch", "checkpoint_ns": ""}}
    checkpoint = {"v": 1, "id": "1f0-refused", "ts": "2026-12-04T00:00:00+00:00",
                  "channel_values": {}, "channel_versions": {}, "versions_seen": {}}
    at = {"configurable": {**config["configurable"], "checkpoint_id": checkpoint["id"]}}

    def batch(value):
        return [PutCheckpoint(config, checkpoint, {"source": "input", "step": -1}, {}),
                PutWrites(at, [("__interrupt__", [RuntimeInterrupt(value, "i-1")])], "task-1")]

    with pytest.raises(DataError):  # jsonb cannot hold \u0000: the batch's last statement fails
        saver.put_batch(batch({"essay": "nul \x00 here"}))
    assert not Thread.objects.filter(thread_id="refused-batch").exists()  # its first statement
    assert not Checkpoint.objects.filter(checkpoint_id=checkpoint["id"]).exists()

    saver.put_batch(batch({"essay": "fine"}))
    (intr,) = Interrupt.objects.filter(thread__thread_id="refused-batch")
    assert (intr.value, intr.checkpoint_id) == ({"essay": "fine"}, checkpoint["id"])
    assert saver.get_tuple(config).checkpoint["id"] == checkpoint["id"]


@pytest.mark.django_db(transaction=True)
def test_a_new_thread_is_read_by_its_lease_alone_until_its_first_batch():
    """On PostgreSQL the lease's statement tells whether the thread had a row (the lock reads
    it): a thread with none has no checkpoint, so ``get_tuple`` answers ``None`` without a
    query, until the saver's first batch makes the row; from then on (a heartbeat's renewal
    included) it reads the database. On SQLite the lease is a record lock on a file, no
    statement at all, and ``get_tuple`` asks."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workflows.runtime.checkpoint import PutCheckpoint

    saver = DjangoSaver()
    config = {"configurable": {"thread_id": "lease-absent", "checkpoint_ns": ""}}
    with CaptureQueriesContext(connection) as lease:
        assert saver.acquire_thread("lease-absent", "run-a")
    with CaptureQueriesContext(connection) as queries:
        assert saver.get_tuple(config) is None
    if connection.vendor == "sqlite":
        assert (len(lease), len(queries)) == (0, 1)
    else:
        assert len(queries) == 0
    checkpoint = {"v": 1, "id": "1f0-absent", "ts": "2026-12-04T00:00:00+00:00",
                  "channel_values": {}, "channel_versions": {}, "versions_seen": {}}
    saver.put_batch([PutCheckpoint(config, checkpoint, {"source": "input", "step": -1}, {})])
    assert saver.acquire_thread("lease-absent", "run-a")  # the renewal: the row exists now
    assert saver.get_tuple(config).checkpoint["id"] == "1f0-absent"
    saver.release_thread("lease-absent", "run-a")

    Thread.objects.create(thread_id="lease-made-elsewhere")  # e.g. the start view's row
    assert saver.acquire_thread("lease-made-elsewhere", "run-b")
    with CaptureQueriesContext(connection) as queries:
        assert saver.get_tuple({"configurable": {"thread_id": "lease-made-elsewhere"}}) is None
    assert len(queries) == 1  # a row, so it may have checkpoints: asked
    saver.release_thread("lease-made-elsewhere", "run-b")


@pytest.mark.django_db(transaction=True)
def test_a_leased_thread_made_by_a_batch_is_named_by_its_id_in_the_leases_later_batches():
    """A batch in a transaction of its own (SQLite; PostgreSQL's one-query batch names a new
    thread by ``thread_id`` instead) makes a new thread's row with an upsert; the lease's later
    batches know its id and write no thread row again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workflows import advisory
    from workflows.runtime.checkpoint import PutCheckpoint

    if advisory.uses_advisory_locks(connection.alias):
        pytest.skip("PostgreSQL's batch is one query naming a new thread by thread_id")
    saver = DjangoSaver()
    config = {"configurable": {"thread_id": "made-by-batch", "checkpoint_ns": ""}}

    def put(checkpoint_id):
        checkpoint = {"v": 1, "id": checkpoint_id, "ts": "2026-12-08T00:00:00+00:00",
                      "channel_values": {}, "channel_versions": {}, "versions_seen": {}}
        with CaptureQueriesContext(connection) as queries:
            saver.put_batch([PutCheckpoint(config, checkpoint, {"source": "loop", "step": 0}, {})])
        return [q["sql"] for q in queries if "ON CONFLICT (thread_id)" in q["sql"]]

    assert saver.acquire_thread("made-by-batch", "run-a")
    assert saver.get_tuple(config) is None
    assert len(put("1f0-made-1")) == 1  # the thread's row, made
    assert put("1f0-made-2") == []  # named by its id
    assert saver.get_tuple(config).checkpoint["id"] == "1f0-made-2"
    saver.release_thread("made-by-batch", "run-a")
    assert Thread.objects.filter(thread_id="made-by-batch").count() == 1


@pytest.mark.django_db(transaction=True)
def test_without_lock_leases_a_thread_is_leased_by_its_row(monkeypatch):
    """Where neither advisory locks (PostgreSQL) nor record locks (SQLite on POSIX) lease a
    thread, its row does: ``Thread.run_owner`` set by one upsert, taken over once
    ``RUN_LEASE`` has passed (a crashed holder), cleared by the run's last batch."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from workflows import advisory, entrypoint, file_leases, interrupt

    if connection.vendor != "sqlite":
        pytest.skip("the upsert's SQL is written for the vendors tested: SQLite stands in")
    monkeypatch.setattr(advisory, "uses_advisory_locks", lambda alias: False)
    monkeypatch.setattr(file_leases, "uses_file_leases", lambda alias: False)
    saver = DjangoSaver()
    assert saver.acquire_thread("row-lease", "run-a")
    assert Thread.objects.get(thread_id="row-lease").run_owner == "run-a"
    assert not saver.acquire_thread("row-lease", "run-b")
    Thread.objects.filter(thread_id="row-lease").update(
        run_lease_expires_at=timezone.now() - timedelta(seconds=1))  # run-a's process died
    assert saver.acquire_thread("row-lease", "run-b")
    saver.release_thread("row-lease", "run-b")
    assert Thread.objects.get(thread_id="row-lease").run_owner == ""

    @entrypoint(checkpointer=DjangoSaver())
    def review(topic: str) -> str:
        seen.append(Thread.objects.get(thread_id="row-run").run_owner)
        return interrupt({"topic": topic})

    seen = []
    list(review.stream("otters", {"configurable": {"thread_id": "row-run"}}))
    assert seen[0] != "" and Thread.objects.get(thread_id="row-run").run_owner == ""
