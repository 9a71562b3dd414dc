"""Thread leases on SQLite are record locks on a file beside the database
(``workflows.file_leases``): holding a thread writes nothing, another process is refused, and
the thread is free the moment the holding process is gone (``kill -9``), as on PostgreSQL."""

import os
import signal
import subprocess
import sys

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from tests.races import hold_record_lock, lease_held_elsewhere
from workflows import DjangoSaver, file_leases
from workflows.models import Thread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sqlite_only():
    if not file_leases.uses_file_leases(connection.alias):
        pytest.skip("record-lock leases are SQLite's (on POSIX); PostgreSQL's are advisory locks")


def free_elsewhere(thread_id: str) -> bool:
    """Whether another process can take ``thread_id``'s record lock now (it lets it go)."""
    probe = subprocess.run(
        [sys.executable, "-c", "import fcntl, os, sys\n"
         "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)\n"
         "try:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, int(sys.argv[2]))\n"
         "except OSError:\n    print('held')\nelse:\n    print('free')",
         file_leases.leases(connection.alias).path, str(file_leases.offset(thread_id))],
        capture_output=True, text=True, timeout=30, check=True,
    )
    return probe.stdout.strip() == "free"


def test_holding_a_thread_writes_nothing_and_a_second_holder_is_refused():
    saver = DjangoSaver()
    with CaptureQueriesContext(connection) as queries:
        assert saver.acquire_thread("rec-new", "run-a")
        assert saver.acquire_thread("rec-new", "run-a")  # the heartbeat's renewal
        assert not saver.acquire_thread("rec-new", "run-b")  # a second run in this process
    assert len(queries) == 0 and not Thread.objects.filter(thread_id="rec-new").exists()
    assert not free_elsewhere("rec-new")  # and in another process
    saver.release_thread("rec-new", "run-b")  # not its holder: nothing happens
    assert not saver.acquire_thread("rec-new", "run-c")
    saver.release_thread("rec-new", "run-a")
    assert free_elsewhere("rec-new")
    assert saver.acquire_thread("rec-new", "run-c")
    saver.release_thread("rec-new", "run-c")


def test_a_thread_held_by_another_process_is_refused_until_it_lets_go():
    saver = DjangoSaver()
    with lease_held_elsewhere("rec-other"):
        assert not saver.acquire_thread("rec-other", "run-a")
    assert saver.acquire_thread("rec-other", "run-a")  # its process ended: free at once
    saver.release_thread("rec-other", "run-a")


def test_a_thread_held_by_a_killed_process_is_free_at_once():
    holder = hold_record_lock("rec-crash")
    saver = DjangoSaver()
    assert not saver.acquire_thread("rec-crash", "run-a")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    holder.stdin.close()
    assert saver.acquire_thread("rec-crash", "run-a")  # no lease to wait out
    saver.release_thread("rec-crash", "run-a")


def test_a_run_holds_its_thread_while_it_streams_and_gives_it_back_with_its_last_writes():
    from workflows import Command, entrypoint, interrupt

    seen = {}

    @entrypoint(checkpointer=DjangoSaver())
    def review(topic: str) -> str:
        seen["free while running"] = free_elsewhere("rec-run")
        return interrupt({"topic": topic})

    config = {"configurable": {"thread_id": "rec-run"}}
    list(review.stream("otters", config))
    assert seen["free while running"] is False
    thread = Thread.objects.get(thread_id="rec-run")  # made by the run's one batch
    assert thread.run_owner == ""  # nothing written to hold it
    assert "rec-run" not in file_leases.leases(connection.alias).held  # given back after commit
    assert free_elsewhere("rec-run")
    (final,) = list(review.stream(Command(resume="ok"), config))
    assert final == {"review": "ok"}
    assert free_elsewhere("rec-run")


def test_thread_ids_sharing_a_byte_keep_it_locked_until_the_last_is_given_back(monkeypatch):
    monkeypatch.setattr(file_leases, "offset", lambda thread_id: 12345)
    leases = file_leases.leases(connection.alias)
    assert leases.acquire("rec-x", "run-x") and leases.acquire("rec-y", "run-y")
    leases.release("rec-x", "run-x")
    assert not free_elsewhere("rec-y")  # rec-y's run still holds the byte
    leases.release("rec-y", "run-y")
    assert free_elsewhere("rec-y")


def test_an_in_memory_database_is_leased_within_its_process():
    leases = file_leases.FileLeases(None)
    assert leases.acquire("mem", "run-a") and not leases.acquire("mem", "run-b")
    leases.release("mem", "run-a")
    assert leases.acquire("mem", "run-b")


def test_a_lock_file_that_cannot_be_opened_is_an_error_not_a_busy_thread(tmp_path, monkeypatch):
    unopenable = file_leases.FileLeases(str(tmp_path / "gone" / "db.sqlite3.leases"))
    with pytest.raises(FileNotFoundError):
        unopenable.acquire("rec-err", "run-a")
    assert unopenable.held == {}
    monkeypatch.setattr(file_leases, "leases", lambda alias: unopenable)
    with pytest.raises(OperationalError, match="could not lease thread 'rec-err'"):
        DjangoSaver().acquire_thread("rec-err", "run-a")


def test_every_name_of_one_database_file_locks_the_same_lock_file(tmp_path):
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "db.sqlite3"
    (tmp_path / "link").symlink_to(tmp_path / "data")
    expected = str(real.resolve()) + ".leases"
    assert file_leases.lock_file(str(real)) == expected
    assert file_leases.lock_file(str(tmp_path / "link" / "db.sqlite3")) == expected
    assert file_leases.lock_file(f"file:{tmp_path}/link/db.sqlite3?mode=rwc") == expected
