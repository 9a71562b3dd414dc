"""Thread leases on PostgreSQL are advisory locks (``workflows.advisory``): holding a thread
writes nothing, another session is refused, and the thread is free the moment the holding
session drops (a killed process), as the performance issue proposes."""

import time

import pytest
from django.db import connection, connections

from tests.races import other_session
from workflows import DjangoSaver, advisory
from workflows.models import Thread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite's are record locks (test_file_leases)")


@pytest.fixture(params=[True, False], ids=["prepared", "as-text"])
def statements(request, settings):
    """Both ways of sending the hot path's statements (``workflows.prepared``): prepared in a
    pipeline, and joined in one simple query (``WORKFLOWS_PREPARED_STATEMENTS = False``)."""
    settings.WORKFLOWS_PREPARED_STATEMENTS = request.param
    return request.param


def _prepared(conn) -> list[str]:
    """The statements prepared on the psycopg connection ``conn`` (its server session)."""
    return [row[0] for row in conn.execute("SELECT statement FROM pg_prepared_statements")]


def test_holding_a_thread_writes_nothing_and_a_second_holder_is_refused():
    saver = DjangoSaver()
    assert saver.acquire_thread("adv-new", "run-a")
    assert not Thread.objects.filter(thread_id="adv-new").exists()  # no row written to hold it
    assert saver.acquire_thread("adv-new", "run-a")  # the heartbeat's renewal
    assert not saver.acquire_thread("adv-new", "run-b")  # a second run in this process
    with other_session() as other:  # and in another process
        (held,) = other.execute("SELECT pg_try_advisory_lock(hashtextextended('adv-new', 0))").fetchone()
        assert held is False
    saver.release_thread("adv-new", "run-b")  # not its holder: nothing happens
    assert not saver.acquire_thread("adv-new", "run-c")
    saver.release_thread("adv-new", "run-a")
    assert saver.acquire_thread("adv-new", "run-c")
    saver.release_thread("adv-new", "run-c")


def test_a_thread_held_by_a_session_that_drops_is_free_at_once():
    saver = DjangoSaver()
    holder = other_session()
    holder.execute("SELECT pg_advisory_lock(hashtextextended('adv-crash', 0))")
    assert not saver.acquire_thread("adv-crash", "run-a")
    holder.close()  # the process holding it was killed: the server drops its locks
    deadline = time.monotonic() + 5  # as soon as the server has ended that session
    while not saver.acquire_thread("adv-crash", "run-a"):
        assert time.monotonic() < deadline, "the lock outlived its session"
        time.sleep(0.01)
    saver.release_thread("adv-crash", "run-a")


def test_a_run_holds_its_thread_while_it_streams_and_gives_it_back_with_its_last_writes():
    from workflows import entrypoint, interrupt

    seen = {}

    @entrypoint(checkpointer=DjangoSaver())
    def review(topic: str) -> str:
        with other_session() as other:  # during the run: held
            seen["while running"] = other.execute(
                "SELECT pg_try_advisory_lock(hashtextextended('adv-run', 0))").fetchone()[0]
        return interrupt({"topic": topic})

    config = {"configurable": {"thread_id": "adv-run"}}
    list(review.stream("otters", config))
    assert seen["while running"] is False
    assert Thread.objects.filter(thread_id="adv-run").exists()  # made by the run's one batch
    assert "adv-run" not in advisory.leases(connection.alias).held  # given back after commit
    with other_session() as other:
        (held,) = other.execute("SELECT pg_try_advisory_lock(hashtextextended('adv-run', 0))").fetchone()
        assert held is True


def test_a_pool_without_room_for_the_lock_connection_and_a_run_is_a_clear_error(monkeypatch):
    import copy

    from django.core.exceptions import ImproperlyConfigured

    settings = copy.deepcopy(connection.settings_dict)
    settings["OPTIONS"]["pool"] = {**settings["OPTIONS"]["pool"], "min_size": 1, "max_size": 1}
    small = type(connections["default"])(settings, alias="small-pool")  # FLOWSITE_DB_POOL_MAX_SIZE=1
    monkeypatch.setattr(advisory, "connections", {"small-pool": small})
    leases = advisory.Leases("small-pool")
    started = time.monotonic()
    try:
        with pytest.raises(ImproperlyConfigured, match="FLOWSITE_DB_POOL_MAX_SIZE"):
            leases.acquire("adv-small-pool", "run-a", Thread._meta.db_table)
        assert time.monotonic() - started < small.pool.timeout  # at once, not after the pool's wait
        assert leases.conn is None and not leases.held
    finally:
        small.close_pool()



def test_a_runs_last_batch_commits_then_frees_the_thread_or_on_an_error_frees_it_writing_nothing(
    statements,
):
    """A batch that gives the thread back runs on the lock's connection, the unlock after its
    COMMIT in the same round trip; when the server refuses one of its statements, nothing of it
    is written, the thread is free all the same, and the connection serves the next lease."""
    from django.db import DataError

    from workflows.models import Checkpoint, Interrupt
    from workflows.runtime.checkpoint import PutCheckpoint, PutWrites, ReleaseThread
    from workflows.runtime.types import Interrupt as RuntimeInterrupt

    saver = DjangoSaver()
    config = {"configurable": {"thread_id": "adv-last", "checkpoint_ns": ""}}
    checkpoint = {"v": 1, "id": "1f0-last", "ts": "2026-12-04T00:00:00+00:00",
                  "channel_values": {}, "channel_versions": {}, "versions_seen": {}}
    at = {"configurable": {**config["configurable"], "checkpoint_id": checkpoint["id"]}}

    def last_batch(value, owner):
        return [PutCheckpoint(config, checkpoint, {"source": "input", "step": -1}, {}),
                PutWrites(at, [("__interrupt__", [RuntimeInterrupt(value, "i-1")])], "task-1"),
                ReleaseThread(config, owner)]

    def free_elsewhere():  # another session can take it (and gives it back before closing)
        with other_session() as other:
            held = other.execute("SELECT pg_try_advisory_lock(hashtextextended('adv-last', 0))").fetchone()[0]
            other.execute("SELECT pg_advisory_unlock_all()")
            return held

    assert saver.acquire_thread("adv-last", "run-a")
    with pytest.raises(DataError):  # jsonb refuses \u0000: the last statement of the batch
        saver.put_batch(last_batch({"essay": "nul \x00"}, "run-a"))
    assert "adv-last" not in advisory.leases(connection.alias).held
    assert free_elsewhere()
    assert not Thread.objects.filter(thread_id="adv-last").exists()

    assert saver.acquire_thread("adv-last", "run-b")
    saver.put_batch(last_batch({"essay": "fine"}, "run-b"))
    assert "adv-last" not in advisory.leases(connection.alias).held
    assert free_elsewhere()
    assert Checkpoint.objects.filter(thread__thread_id="adv-last").count() == 1
    assert Interrupt.objects.get(thread__thread_id="adv-last").value == {"essay": "fine"}


def test_a_runs_last_batch_lands_when_the_lock_connection_broke_meanwhile(caplog, statements):
    """The server ended the lock's connection while the run executed (a restart, an idle
    timeout): the run's locks are gone with it, so its last batch is written on Django's
    connection instead, not lost, and the next lease opens a new lock connection."""
    from workflows.models import Checkpoint
    from workflows.runtime.checkpoint import PutCheckpoint, ReleaseThread

    saver = DjangoSaver()
    config = {"configurable": {"thread_id": "adv-broken", "checkpoint_ns": ""}}
    checkpoint = {"v": 1, "id": "1f0-broken", "ts": "2026-12-04T00:00:00+00:00",
                  "channel_values": {}, "channel_versions": {}, "versions_seen": {}}
    assert saver.acquire_thread("adv-broken", "run-a")
    leases = advisory.leases(connection.alias)
    with other_session() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [leases.conn.info.backend_pid])
    saver.put_batch([PutCheckpoint(config, checkpoint, {"source": "input", "step": -1}, {}),
                     ReleaseThread(config, "run-a")])
    assert Checkpoint.objects.filter(thread__thread_id="adv-broken", checkpoint_id="1f0-broken").exists()
    assert "adv-broken" not in leases.held
    assert "the advisory-lock connection broke" in caplog.text
    assert saver.acquire_thread("adv-broken", "run-b")  # on a new connection
    saver.release_thread("adv-broken", "run-b")


def test_a_runs_statements_are_prepared_on_both_its_connections_unless_turned_off(settings):
    """The lease, the batch and the checkpoint read go as prepared statements (planned once per
    connection): on the lock's connection and on Django's; with the setting off, as text."""
    from workflows import Command, entrypoint, interrupt

    @entrypoint(checkpointer=DjangoSaver())
    def review(topic: str) -> dict:
        return {"approved": interrupt({"topic": topic})}

    leases = advisory.leases(connection.alias)
    for on, thread_id in ((True, "adv-prep-on"), (False, "adv-prep-off")):
        settings.WORKFLOWS_PREPARED_STATEMENTS = on
        if leases.conn is not None:
            leases.conn.execute("DEALLOCATE ALL")  # psycopg forgets them too
        config = {"configurable": {"thread_id": thread_id}}
        list(review.stream("otters", config))
        assert review.get_state(config).next == ("review",)
        (final,) = review.stream(Command(resume=True), config)
        assert final == {"review": {"approved": True}}
        on_lock_connection = " ".join(_prepared(leases.conn))
        on_django = " ".join(_prepared(connection.connection)) if connection.connection else ""
        if on:
            assert "pg_try_advisory_lock" in on_lock_connection
            assert 'INSERT INTO "workflows_checkpoint"' in on_lock_connection
            assert 'FROM "workflows_checkpoint" c JOIN' in on_lock_connection + on_django
        else:
            assert on_lock_connection == ""


def test_a_batch_the_server_refuses_on_djangos_connection_writes_nothing_and_leaves_it_usable(
    statements,
):
    """A batch that gives no thread back goes on Django's connection (in one round trip too):
    refused, none of it is written and the connection is idle again, not in a failed
    transaction."""
    from django.db import DataError

    from workflows.models import Checkpoint
    from workflows.runtime.checkpoint import PutCheckpoint, PutWrites

    saver = DjangoSaver()
    config = {"configurable": {"thread_id": "adv-django", "checkpoint_ns": ""}}
    checkpoint = {"v": 1, "id": "1f0-django", "ts": "2026-12-08T00:00:00+00:00",
                  "channel_values": {}, "channel_versions": {}, "versions_seen": {}}
    at = {"configurable": {**config["configurable"], "checkpoint_id": checkpoint["id"]}}
    from workflows.runtime.types import Interrupt as RuntimeInterrupt

    with pytest.raises(DataError):  # jsonb refuses \u0000
        saver.put_batch([
            PutCheckpoint(config, checkpoint, {"source": "input", "step": -1}, {}),
            PutWrites(at, [("__interrupt__", [RuntimeInterrupt({"essay": "nul \x00"}, "i-1")])],
                      "task-1"),
        ])
    assert not Thread.objects.filter(thread_id="adv-django").exists()
    saver.put_batch([PutCheckpoint(config, checkpoint, {"source": "input", "step": -1}, {})])
    assert Checkpoint.objects.filter(thread__thread_id="adv-django").count() == 1


def test_a_run_reads_its_checkpoint_with_its_lease_in_one_round_trip_on_the_lock_connection(
    statements,
):
    """``acquire_thread_and_get_tuple``: the lock, the thread's row and its latest checkpoint
    in one round trip on the advisory locks' connection, none on Django's; the same tuple as
    ``get_tuple``; a thread held elsewhere is refused and nothing is read."""
    from django.test.utils import CaptureQueriesContext

    from workflows import entrypoint, interrupt

    saver = DjangoSaver()

    @entrypoint(checkpointer=saver)
    def review(topic: str) -> dict:
        return {"approved": interrupt({"topic": topic})}

    config = {"configurable": {"thread_id": "adv-read"}}
    list(review.stream("otters", config))  # a checkpoint with its pending writes
    expected = saver.get_tuple(config)
    with CaptureQueriesContext(connection) as on_django:
        held, saved = saver.acquire_thread_and_get_tuple("adv-read", "run-r", config)
    assert held and len(on_django.captured_queries) == 0
    assert saved.checkpoint == expected.checkpoint and saved.config == expected.config
    assert saved.pending_writes == expected.pending_writes and saved.pending_writes
    assert saver.acquire_thread_and_get_tuple("adv-read", "run-other", config) == (False, None)
    saver.release_thread("adv-read", "run-r")

    with other_session() as other:  # held by another process: refused, nothing read
        other.execute("SELECT pg_advisory_lock(hashtextextended('adv-read', 0))")
        assert saver.acquire_thread_and_get_tuple("adv-read", "run-s", config) == (False, None)
        other.execute("SELECT pg_advisory_unlock_all()")
    held, saved = saver.acquire_thread_and_get_tuple("adv-read-new", "run-n", {
        "configurable": {"thread_id": "adv-read-new"}})
    assert held and saved is None  # a new thread: no row, no checkpoint
    saver.release_thread("adv-read-new", "run-n")


def test_a_lease_whose_read_fails_gives_the_lock_back_and_says_so(statements):
    from django.db import OperationalError

    leases = advisory.leases(connection.alias)
    table = connection.ops.quote_name(Thread._meta.db_table)
    with pytest.raises(OperationalError, match="could not lease thread 'adv-failed-read'"):
        leases.acquire_and_read("adv-failed-read", "run-a", table, ("SELECT 1 / 0", []))
    assert "adv-failed-read" not in leases.held
    with other_session() as other:  # the lock the round trip took is free again
        assert other.execute(
            "SELECT pg_try_advisory_lock(hashtextextended('adv-failed-read', 0))").fetchone()[0]
        other.execute("SELECT pg_advisory_unlock_all()")
    assert leases.acquire("adv-failed-read", "run-b", table) == (True, None)  # the connection serves on
    leases.release("adv-failed-read", "run-b")


def test_a_checkpoint_that_does_not_decode_fails_its_run_and_leaves_the_thread_free():
    """Read with the lease but not decodable (a damaged row): the lease says the read failed
    (``UNREAD``), so the run reads again inside its hold, fails with the error and gives the
    thread back, instead of leaving it held until the lock connection closes."""
    from workflows import entrypoint, interrupt
    from workflows.models import Checkpoint
    from workflows.runtime.checkpoint import UNREAD

    saver = DjangoSaver()

    @entrypoint(checkpointer=saver)
    def review(topic: str) -> dict:
        return {"approved": interrupt({"topic": topic})}

    config = {"configurable": {"thread_id": "adv-damaged"}}
    list(review.stream("otters", config))
    Checkpoint.objects.filter(thread__thread_id="adv-damaged").update(data="{not json")
    assert saver.acquire_thread_and_get_tuple("adv-damaged", "run-a", config) == (True, UNREAD)
    saver.release_thread("adv-damaged", "run-a")
    with pytest.raises(ValueError):
        list(review.stream("again", config))
    assert "adv-damaged" not in advisory.leases(connection.alias).held
    with other_session() as other:
        assert other.execute(
            "SELECT pg_try_advisory_lock(hashtextextended('adv-damaged', 0))").fetchone()[0]
        other.execute("SELECT pg_advisory_unlock_all()")


def test_a_statement_timeout_on_the_lock_connection_keeps_the_other_threads_leases():
    """A lease's read cancelled by the server (``statement_timeout``) is that lease's error:
    the connection is alive, so the process's other threads stay held."""
    from django.db import OperationalError

    leases = advisory.leases(connection.alias)
    table = connection.ops.quote_name(Thread._meta.db_table)
    assert leases.acquire("adv-kept", "run-k", table)[0]
    leases.conn.execute("SET statement_timeout = 50")
    try:
        with pytest.raises(OperationalError, match="could not lease thread 'adv-slow'"):
            leases.acquire_and_read("adv-slow", "run-s", table, ("SELECT pg_sleep(1)", []))
    finally:
        leases.conn.execute("SET statement_timeout = 0")
    assert "adv-kept" in leases.held and "adv-slow" not in leases.held
    with other_session() as other:
        (kept,) = other.execute(
            "SELECT pg_try_advisory_lock(hashtextextended('adv-kept', 0))").fetchone()
        assert kept is False  # still this process's
    leases.release("adv-kept", "run-k")
