"""Worker processes (``manage.py runworker flowsite.runs`` on Redis) against the test database:
a worker killed with ``kill -9`` mid-task has its runs reclaimed by another, each task whose
result was committed ran once; SIGTERM drains a worker (in-flight runs reach a checkpoint,
queued ones stay queued).

Real parts: two worker processes, Redis (``REDIS_URL=redis://127.0.0.1:6379/11``), the test
database (SQLite or PostgreSQL). The reclaim time is printed (``-s``), not asserted.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from tests.workflows.test_checkpointer import ROOT, database_url
from workflows import registry, services
from workflows.models import PendingWrite, Run, Thread

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = os.environ.get("FLOWSITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
TIMEOUT = 120.0  # seconds: generous, the machine may be loaded


def _redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")


@pytest.fixture(autouse=True)
def counted_steps(monkeypatch, settings):
    settings.FLOWSITE_EXECUTOR = "external"
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    from tests.workflows.worker_app import workflows as worker_workflows

    registry.register("counted-steps", worker_workflows.counted_steps, title="Counted steps")


class WorkerProcess:
    """``manage.py runworker flowsite.runs`` in a subprocess; its output goes to a file."""

    def __init__(self, tmp_path: Path, name: str, host: str | None = None, **env: str) -> None:
        self.output = tmp_path / f"{name}.log"
        environ = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.workflows.worker_settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": REDIS_URL,
            "FLOWSITE_EXECUTOR": "external",
            "DEBUG": "1",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        environ.pop("DATABASE_TEST_NAME", None)
        command = [sys.executable, "manage.py", "runworker", "flowsite.runs"]
        if host is not None:  # a machine of its own: a UTS namespace with that host name
            command = ["unshare", "--uts", "sh", "-c", f'hostname {host} && exec "$0" "$@"', *command]
        with self.output.open("w") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT
            )
        self.name_prefix = f"{host or socket.gethostname()}:{self.process.pid}:"

    def log(self) -> str:
        return self.output.read_text()

    def wait_listening(self) -> None:
        wait_for(lambda: "listening on flowsite.runs" in self.log(), what="the worker to start",
                 worker=self)

    def runs(self) -> set[str]:
        return {
            str(pk) for pk in Run.objects.filter(
                status=Run.Status.RUNNING, worker__startswith=self.name_prefix
            ).values_list("pk", flat=True)
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


def wait_for(predicate, timeout: float = TIMEOUT, what: str = "the condition", worker=None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if worker is not None and worker.process.poll() is not None:
            pytest.fail(f"the worker exited ({worker.process.returncode}):\n{worker.log()}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def wake(run_ids) -> None:
    """Wake messages over Redis, as a web process with ``REDIS_URL`` sends them."""
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[REDIS_URL])

    async def send():
        for run_id in run_ids:
            await layer.send("flowsite.runs", {"type": "run.wake", "run_id": str(run_id)})
        await layer.close_pools()

    async_to_sync(send)()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _other_host_or_skip() -> str:
    """A host name for a worker on "another machine" (its own UTS namespace), if this one lets
    us make one (root, ``unshare``)."""
    try:
        done = subprocess.run(["unshare", "--uts", "hostname", "gone-machine"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot run a worker under another host name: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot run a worker under another host name: {done.stderr.decode()}")
    return "gone-machine"


def test_a_killed_workers_runs_are_reclaimed_by_another_and_committed_tasks_ran_once(tmp_path):
    """The killed worker ran on this host: the survivor's next sweep sees its pid gone."""
    _kill_and_reclaim(tmp_path, first_host=None)


def test_the_runs_of_a_worker_on_a_machine_gone_are_reclaimed_when_their_lease_expires(tmp_path):
    """The killed worker ran under another host name: nothing tells the survivor it is gone but
    its lease, no longer renewed (20 s), and the sweep (every 5 s)."""
    _kill_and_reclaim(tmp_path, first_host=_other_host_or_skip())


def _kill_and_reclaim(tmp_path: Path, *, first_host: str | None) -> None:
    _redis_or_skip()
    first = WorkerProcess(tmp_path, "first", host=first_host)
    second = None
    try:
        first.wait_listening()
        logs = [tmp_path / f"run-{i}.log" for i in range(2)]
        runs = [
            services.start_run(workflow="counted-steps", input={"log": str(log), "hold": 300})
            for log in logs
        ]
        wake(run.pk for run in runs)
        wait_for(lambda: all("slow started" in lines(log) for log in logs),
                 what="both runs to be inside their slow task", worker=first)
        assert first.runs() == {str(run.pk) for run in runs}
        committed = PendingWrite.objects.filter(
            thread__in=[run.thread_id for run in runs], channel="__return__", task_path__endswith="first"
        )
        wait_for(lambda: committed.count() == len(runs), what="the first task's results to be stored",
                 worker=first)
        second = WorkerProcess(tmp_path, "second")
        second.wait_listening()

        os.kill(first.process.pid, signal.SIGKILL)  # mid-task: "slow" has not returned
        killed = time.monotonic()
        first.process.wait(30)
        wait_for(lambda: all(
            Run.objects.get(pk=run.pk).worker.startswith(second.name_prefix) for run in runs
        ), what="the second worker to reclaim the runs", worker=second)
        reclaimed = time.monotonic() - killed
        wait_for(lambda: all(
            Thread.objects.get(pk=run.thread_id).status == Thread.Status.DONE for run in runs
        ), what="the threads to finish", worker=second)
        finished = time.monotonic() - killed
        where = "on another host" if first_host else "on this host"
        print(f"\nkill -9 of a worker {where}, {connection.vendor}: runs reclaimed {reclaimed:.1f} s "
              f"after the kill, threads done after {finished:.1f} s (lease 20 s, sweep every 5 s)")
    finally:
        first.stop()
        if second is not None:
            second.stop()
    for run, log in zip(runs, logs):
        thread = Thread.objects.get(pk=run.thread_id)
        assert thread.result == ["one", "two", "three"]
        # "first" had its result stored before the kill: replayed, not run again; "slow" was
        # cut off before storing one: started twice, its result stored once
        assert lines(log) == ["first", "slow started", "slow started", "slow done", "last"]
        run.refresh_from_db()
        assert run.status == Run.Status.SUCCESS and run.worker.startswith(second.name_prefix)


def test_sigterm_drains_a_worker_in_flight_runs_finish_queued_runs_stay(tmp_path):
    _redis_or_skip()
    worker = WorkerProcess(tmp_path, "draining", FLOWSITE_EXECUTOR_CONCURRENCY="1")
    try:
        worker.wait_listening()
        logs = [tmp_path / f"run-{i}.log" for i in range(2)]
        in_flight = services.start_run(workflow="counted-steps", input={"log": str(logs[0]), "hold": 10})
        wake([in_flight.pk])
        wait_for(lambda: "slow started" in lines(logs[0]), what="the run to start", worker=worker)
        queued = services.start_run(workflow="counted-steps", input={"log": str(logs[1])})
        wake([queued.pk])
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(TIMEOUT) == 0, worker.log()
    finally:
        worker.stop()
    # the run in flight reached its end (its body was executing: it finishes, as in LangGraph)
    assert Thread.objects.get(pk=in_flight.thread_id).status == Thread.Status.DONE
    assert lines(logs[0]) == ["first", "slow started", "slow done", "last"]
    # the one behind it was never started
    assert Run.objects.get(pk=queued.pk).status == Run.Status.QUEUED
    assert lines(logs[1]) == []


def test_sigterm_drains_the_embedded_server_in_flight_runs_finish_queued_runs_stay(tmp_path, settings):
    """The embedded default (the server hosts the worker consumer): a SIGTERM to Daphne drains
    its pool before the reactor stops, as ``runworker`` does."""
    import urllib.request

    from tests.servers import daphne

    settings.FLOWSITE_EXECUTOR = "external"  # this test process executes nothing: the server does
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.workflows.worker_settings",
        "FLOWSITE_EXECUTOR": "inprocess",
        "FLOWSITE_EXECUTOR_CONCURRENCY": "1",
        "FLOWSITE_SWEEP_SECONDS": "0.5",
        "DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
        "REDIS_URL": "",  # the embedded default: the in-memory layer
    }
    logs = [tmp_path / f"run-{i}.log" for i in range(2)]
    with daphne(tmp_path, env, name="embedded") as server:
        urllib.request.urlopen(f"{server.url}/accounts/login/", timeout=30).read()  # first request: serving
        in_flight = services.start_run(workflow="counted-steps", input={"log": str(logs[0]), "hold": 10})
        wait_for(lambda: "slow started" in lines(logs[0]), what="the run to start")
        queued = services.start_run(workflow="counted-steps", input={"log": str(logs[1])})
        time.sleep(1.5)  # a few sweeps: the full pool leaves it queued
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(TIMEOUT) == 0, server.log()
        assert "drained" in server.log()
    # the run in flight reached its end; the one behind it was never started
    assert Thread.objects.get(pk=in_flight.thread_id).status == Thread.Status.DONE
    assert lines(logs[0]) == ["first", "slow started", "slow done", "last"]
    assert Run.objects.get(pk=queued.pk).status == Run.Status.QUEUED
    assert lines(logs[1]) == []

