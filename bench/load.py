"""Served load: runs/s, chunk latency, dropped WebSockets, lost or duplicated runs.

On loopback, bounded: for each worker count in ``--workers`` (default ``1,2``) a production-like
site (``bench/harness.py``: PostgreSQL, Redis, ``--web`` Daphne processes, that many
``runworker flowsite.runs`` processes, DEBUG off) is started, and then:

1. a ``ticker`` run streams ``tick <n> <unix time>`` every ``--interval`` seconds (the time the
   runtime's stream writer was called, in the chunk itself);
2. ``--listeners`` WebSocket clients (200) connect to that thread's live stream, spread over
   the Daphne processes, as the thread page does (session cookie, Origin);
3. for ``--seconds`` seconds, ``--clients`` HTTP clients (20) each loop over an essay run as a
   reviewer does it: POST the start form of ``counted-essay`` (a unique topic), open the
   thread's WebSocket and wait for the pending interrupt's Review link, POST Approve, wait for
   the thread to be done;
4. it waits for every started run to finish, then checks: each started run's thread is done,
   and each of its two tasks' side effects (a line per execution in ``bench-effects.log``)
   happened exactly once.

Printed per worker count: runs/s (runs done in the window / window), HTTP errors, chunk latency
(receipt by a WebSocket client − the writer's time, over every tick every listener got in the
window) p50/p95/max ms, ticks missed, listeners dropped (closed by the server before the
end), lost runs (started, not done) and duplicated side effects; with ``--paused N`` also the
memory of N paused threads (RSS of all site processes and PostgreSQL database size, after − before,
per thread). ``--listeners 0`` measures throughput alone (``bench/README``: issue 10 item 4).

Usage::

    .venv/bin/python bench/load.py [--workers 1,2] [--web 2] [--listeners 200]
        [--clients 20] [--seconds 30] [--interval 0.2] [--paused 100] [--embedded]
        [--profile DIR]

``--profile DIR`` samples the site's processes with py-spy during the window (collapsed stacks
in ``DIR``) and prints each group's top frames (``bench/profiles.py``). ``--embedded`` measures the embedded default (one Daphne, SQLite, in-process consumer)
instead. Each configuration takes about a minute to start (migrations, static files) plus
the connection of the listeners and the window.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from bench import harness, profiles  # noqa: E402

TICK = re.compile(r"tick (\d+) (\d+\.\d+)")
REVIEW = re.compile(r'href="/interrupts/(\d+)/"')
TIMEOUT = 120.0  # seconds anything may take on a loaded machine


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Socket:
    """One WebSocket client on a thread's stream: what it received, and how it ended."""

    def __init__(self, url: str, cookie: str, on_message=None) -> None:
        self.url, self.cookie, self.on_message = url, cookie, on_message
        self.messages: list[str] = []
        self.changed = asyncio.Event()
        self.closed_by_server: int | None = None
        self.ws = None
        self.leaving = False

    async def open(self) -> None:
        self.ws = await connect(
            self.url, origin="http://127.0.0.1", additional_headers={"Cookie": self.cookie},
            open_timeout=TIMEOUT, close_timeout=10, max_size=None,
        )
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if self.on_message is not None:
                    self.on_message(message, time.time())
                else:
                    self.messages.append(message)
                self.changed.set()
        except ConnectionClosed:
            pass
        if not self.leaving:
            self.closed_by_server = self.ws.close_code
        self.changed.set()

    async def wait_for(self, pattern: re.Pattern | str, start: int = 0) -> tuple[re.Match | str, int]:
        """The first match of ``pattern`` in the messages from index ``start``, and the index
        after its message; ``RuntimeError`` if the socket closes first."""
        while True:
            for i in range(start, len(self.messages)):
                found = pattern.search(self.messages[i]) if isinstance(pattern, re.Pattern) else (
                    pattern if pattern in self.messages[i] else None)
                if found:
                    return found, i + 1
            start = len(self.messages)
            if self.reader.done():
                raise RuntimeError(f"socket closed ({self.ws.close_code}) while waiting for {pattern}")
            self.changed.clear()
            await self.changed.wait()

    async def close(self) -> None:
        self.leaving = True
        await self.ws.close()


@dataclass
class Tally:
    started: list[str] = field(default_factory=list)
    done_at: list[float] = field(default_factory=list)
    errors: collections.Counter = field(default_factory=collections.Counter)
    start_to_interrupt: list[float] = field(default_factory=list)
    approve_to_done: list[float] = field(default_factory=list)


async def essay_run(client, ws_url: str, tally: Tally, *, approve: bool = True) -> None:
    """One reviewer's essay run over HTTP and the thread's WebSocket (see the module doc)."""
    topic = f"t{uuid.uuid4().hex}"
    t0 = time.perf_counter()
    response = await client.post(
        "/workflows/counted-essay/start/", data={"counted-essay-topic": topic},
        headers=harness.csrf_headers(client),
    )
    if response.status_code != 302:
        tally.errors[f"start {response.status_code}"] += 1
        return
    tally.started.append(topic)
    thread_pk = int(re.search(r"/threads/(\d+)/", response.headers["location"]).group(1))
    socket = Socket(f"{ws_url}/ws/threads/{thread_pk}/", harness.cookie_header(client))
    await socket.open()
    try:
        match, seen = await asyncio.wait_for(socket.wait_for(REVIEW), TIMEOUT)
        tally.start_to_interrupt.append(time.perf_counter() - t0)
        if not approve:
            return
        t1 = time.perf_counter()
        response = await client.post(
            f"/interrupts/{match.group(1)}/answer/", data={"decision": "approve"},
            headers=harness.csrf_headers(client),
        )
        if response.status_code != 302:
            tally.errors[f"answer {response.status_code}"] += 1
            return
        await asyncio.wait_for(socket.wait_for("status-done", seen), TIMEOUT)
        tally.approve_to_done.append(time.perf_counter() - t1)
        tally.done_at.append(time.perf_counter())
    finally:
        await socket.close()


async def logged_in(deployment: harness.Deployment, count: int) -> list:
    """``count`` reviewer clients, logged in over the site's web processes in turn (before the
    window: a login hashes a password, about 0.2 s of a web process's CPU)."""
    return [await harness.login(deployment.web[i % len(deployment.web)].url) for i in range(count)]


async def reviewers(deployment: harness.Deployment, clients: list, seconds: float, tally: Tally) -> float:
    """The ``clients`` looping over essay runs for ``seconds``; returns the window's start."""
    count = len(clients)
    start = time.perf_counter()
    end = start + seconds

    async def loop(i: int) -> None:
        ws_url = deployment.web[i % len(deployment.web)].ws_url
        while time.perf_counter() < end:
            try:
                await essay_run(clients[i], ws_url, tally)
            except Exception as exc:  # counted, the loop goes on
                tally.errors[type(exc).__name__] += 1

    await asyncio.gather(*(loop(i) for i in range(count)))
    for client in clients:
        await client.aclose()
    return start


def check_runs(deployment: harness.Deployment, topics: list[str]) -> dict[str, int]:
    """Lost runs (started, thread not done) and duplicated side effects, from the database and
    the effects log."""
    effects = collections.Counter(deployment.effects_log.read_text().splitlines()
                                  if deployment.effects_log.exists() else [])
    script = (
        "from workflows.models import Thread; import collections, json; "
        "print(json.dumps(collections.Counter(Thread.objects.filter(workflow='counted-essay')"
        ".values_list('status', flat=True))))"
    )
    statuses = json.loads(deployment.manage("shell", "-c", script).strip().splitlines()[-1])
    return {
        "threads done": statuses.get("done", 0),
        "lost": len(topics) - statuses.get("done", 0),
        "essay task ran ≠ once": sum(effects[f"essay {t}"] != 1 for t in topics),
        "publish task ran ≠ once": sum(effects[f"publish {t}"] != 1 for t in topics),
    }


async def wait_all_done(deployment: harness.Deployment, topics: list[str], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = deployment.effects_log.read_text().splitlines() if deployment.effects_log.exists() else []
        if len({line for line in lines if line.startswith("publish ")}) >= len(topics):
            return
        await asyncio.sleep(0.5)


def db_size(deployment: harness.Deployment) -> int:
    out = deployment.manage("shell", "-c", (
        "from django.db import connection; c = connection.cursor(); "
        "c.execute('SELECT pg_database_size(current_database())') "
        "if connection.vendor == 'postgresql' else c.execute("
        "'SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()'); "
        "print(c.fetchone()[0])"))
    return int(out.strip().splitlines()[-1])


async def paused_memory(deployment: harness.Deployment, count: int) -> dict[str, float]:
    """Start ``count`` essay runs to their interrupt (paused); RSS and database growth per run."""
    rss0, db0 = harness.rss_kib(deployment.pids()), db_size(deployment)
    tally = Tally()
    clients = [await harness.login(w.url) for w in deployment.web]
    sem = asyncio.Semaphore(20)

    async def one(i: int) -> None:
        async with sem:
            await essay_run(clients[i % len(clients)], deployment.web[i % len(clients)].ws_url,
                            tally, approve=False)

    await asyncio.gather(*(one(i) for i in range(count)))
    for client in clients:
        await client.aclose()
    rss1, db1 = harness.rss_kib(deployment.pids()), db_size(deployment)
    paused = len(tally.start_to_interrupt)
    return {"paused": paused, "RSS KiB/thread": (rss1 - rss0) / max(paused, 1),
            "DB bytes/thread": (db1 - db0) / max(paused, 1)}


async def measure(deployment: harness.Deployment, args) -> dict:
    result: dict = {}
    listeners: list[Socket] = []
    window: list[float] = [float("inf"), float("inf")]  # unix times of the window
    latencies: list[float] = []
    ticks: dict[int, set[int]] = collections.defaultdict(set)
    if args.listeners:
        client = await harness.login(deployment.web[0].url)
        seconds = args.seconds + 60 + args.listeners * 0.2  # outlasts connecting and the window
        response = await client.post(
            "/workflows/ticker/start/",
            data={"ticker-seconds": str(seconds), "ticker-interval": str(args.interval)},
            headers=harness.csrf_headers(client),
        )
        assert response.status_code == 302, response.text[:500]
        thread_pk = int(re.search(r"/threads/(\d+)/", response.headers["location"]).group(1))
        cookie = harness.cookie_header(client)
        await client.aclose()

        def receiver(index: int):
            def on_message(message: str, now: float) -> None:
                for match in TICK.finditer(message):
                    sent = float(match.group(2))
                    if window[0] <= sent <= window[1]:
                        latencies.append(now - sent)
                        ticks[index].add(int(match.group(1)))
            return on_message

        opening = asyncio.Semaphore(10)

        async def open_one(i: int) -> None:
            server = deployment.web[i % len(deployment.web)]
            sock = Socket(f"{server.ws_url}/ws/threads/{thread_pk}/", cookie, receiver(i))
            async with opening:
                await sock.open()
            listeners.append(sock)

        t = time.perf_counter()
        await asyncio.gather(*(open_one(i) for i in range(args.listeners)))
        result["listeners connected in s"] = round(time.perf_counter() - t, 1)
    tally = Tally()
    clients = await logged_in(deployment, args.clients)
    groups = {"web": [s.process.pid for s in deployment.web],
              "workers": [s.process.pid for s in deployment.workers], "bench client": [os.getpid()]}
    cpu0 = {name: harness.cpu_seconds(pids) for name, pids in groups.items()}
    site = {name: pids for name, pids in groups.items() if name != "bench client" and pids}
    spies = profiles.record(site, args.seconds, Path(args.profile)) if args.profile else []
    window[0] = time.time()
    start = await reviewers(deployment, clients, args.seconds, tally) if clients else time.perf_counter()
    if not args.clients:
        await asyncio.sleep(args.seconds)
    window[1] = time.time()
    for spy in spies:
        spy.wait(timeout=60)
    if spies:
        result["profile"] = {
            f"{name} ({by})": profiles.summary(sorted(Path(args.profile).glob(f"{name}-*.txt")), by=by)
            for name in site for by in ("inclusive", "self")
        }
    end = start + args.seconds
    in_window = [t for t in tally.done_at if t <= end]
    result["runs/s"] = round(len(in_window) / args.seconds, 2)
    runs = max(len(tally.done_at), 1)
    for name, pids in groups.items():
        if pids:
            result[f"CPU ms/run: {name}"] = round((harness.cpu_seconds(pids) - cpu0[name]) * 1000 / runs, 1)
    result["runs done (all)"] = len(tally.done_at)
    result["errors"] = dict(tally.errors) or 0
    for name, values in (("start→interrupt", tally.start_to_interrupt), ("approve→done", tally.approve_to_done)):
        result[f"{name} p50/p95 ms"] = f"{percentile(values, 50) * 1000:.0f} / {percentile(values, 95) * 1000:.0f}"
    if listeners:
        result["chunk latency p50/p95/max ms"] = (
            f"{percentile(latencies, 50) * 1000:.1f} / {percentile(latencies, 95) * 1000:.1f} / "
            f"{max(latencies, default=float('nan')) * 1000:.1f}")
        result["chunk samples"] = len(latencies)
        expected = max((max(s) - min(s) + 1 for s in ticks.values() if s), default=0)
        result["ticks missed (listener with most)"] = max(
            (expected - len(ticks.get(i, ())) for i in range(len(listeners))), default=0)
        result["listeners dropped"] = sum(s.closed_by_server is not None for s in listeners)
        await asyncio.gather(*(s.close() for s in listeners))
    await wait_all_done(deployment, tally.started)
    result.update(check_runs(deployment, tally.started))
    result["runs started"] = len(tally.started)
    if args.paused:
        result.update(await paused_memory(deployment, args.paused))
    return result


def print_table(rows: dict[str, dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows.values() for k in r if k != "profile"))
    names = list(rows)
    width = max(len(k) for k in keys) + 2
    print("\n" + "".ljust(width) + "".join(n.ljust(28) for n in names))
    for key in keys:
        print(key.ljust(width) + "".join(str(rows[n].get(key, "")).ljust(28) for n in names))
    for name, row in rows.items():
        for group, frames in (row.get("profile") or {}).items():
            print(f"\n{name}, {group} processes: share of CPU samples with the frame on the stack")
            for share, frame in frames:
                print(f"  {share * 100:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--paused", type=int, default=0)
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("--extra-env", default="", help="KEY=VALUE,... for the site's processes")
    parser.add_argument("--profile", default="", help="a directory: py-spy the site's processes "
                        "during the window, print their top frames (bench/profiles.py)")
    args = parser.parse_args()
    extra = dict(kv.split("=", 1) for kv in args.extra_env.split(",") if kv)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"load before: {uptime}")
    rows: dict[str, dict] = {}
    if args.embedded:
        with harness.embedded("load-embedded", **extra) as deployment:
            rows["embedded (1 Daphne, SQLite)"] = asyncio.run(measure(deployment, args))
    else:
        for workers in (int(w) for w in args.workers.split(",")):
            with harness.production(f"load_{workers}", web=args.web, workers=workers, **extra) as deployment:
                rows[f"PG+Redis, {args.web} web, {workers} worker(s)"] = asyncio.run(measure(deployment, args))
                rows[f"PG+Redis, {args.web} web, {workers} worker(s)"]["load after"] = subprocess.run(
                    ["uptime"], capture_output=True, text=True).stdout.split("load average:")[-1].strip()
            print_table(rows)  # so far: a configuration's figures stand on their own
    print_table(rows)
    print(f"\nlisteners {args.listeners}, clients {args.clients}, window {args.seconds:g} s, "
          f"tick every {args.interval:g} s; load before: {uptime.split('load average:')[-1].strip()}")


if __name__ == "__main__":
    main()
