"""The reviewer's round trip over real HTTP: Flowsite served, and LangGraph's Agent Server.

One client, ``-n`` essay runs one after another (the seed's ``essay-review``), each in two halves:

* **start → interrupt**: Flowsite: the start form's POST (not following its redirect), then the
  thread's WebSocket opened as the thread page opens it, until the state it pushes shows the
  pending interrupt's Review link. Agent Server: ``threads.create`` and ``runs.wait`` (to the
  interrupt);
* **answer → done**: Flowsite: the Approve POST on the interrupt, until the same socket shows
  the thread done. Agent Server: ``runs.wait`` with ``command={"resume": True}``.

Sites: ``embedded`` (one Daphne, SQLite, in-process consumer), ``production`` (PostgreSQL +
Redis, one Daphne, ``--workers`` runworkers; ``bench/harness.py``), ``agent-server``
(``langgraph dev --no-reload`` on ``bench/agent_server/``, langgraph-api's in-memory runtime,
driven through ``langgraph_sdk``). Prints median / p95 ms per half and the whole, the Flowsite
server processes' CPU per half (median ms, every thread, ``/proc`` schedstat), and the ratio to
the Agent Server's whole.

Usage::

    .venv/bin/python bench/roundtrip.py [-n 30] [--sites embedded,production,agent-server]
        [--workers 2] [--warmup 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from bench.load import REVIEW, Socket, percentile  # noqa: E402
from tests.servers import free_port, launched  # noqa: E402

TIMEOUT = 120.0


async def flowsite_runs(
    deployment: harness.Deployment, n: int, warmup: int
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """``(halves, cpu)``: each timed run's two halves (s) and the server processes' CPU (s) in
    each."""
    web = deployment.web[0]
    client = await harness.login(web.url)
    halves, cpu = [], []
    pids = deployment.pids()
    for i in range(n + warmup):
        c0 = harness.cpu_ns(pids)
        t0 = time.perf_counter()
        response = await client.post(
            "/workflows/essay-review/start/", data={"essay-review-topic": "cat"},
            headers=harness.csrf_headers(client),
        )
        assert response.status_code == 302, response.text[:300]
        pk = int(re.search(r"/threads/(\d+)/", response.headers["location"]).group(1))
        socket = Socket(f"{web.ws_url}/ws/threads/{pk}/", harness.cookie_header(client))
        await socket.open()
        match, seen = await asyncio.wait_for(socket.wait_for(REVIEW), TIMEOUT)
        t1 = time.perf_counter()
        c1 = harness.cpu_ns(pids)
        response = await client.post(
            f"/interrupts/{match.group(1)}/answer/", data={"decision": "approve"},
            headers=harness.csrf_headers(client),
        )
        assert response.status_code == 302, response.text[:300]
        await asyncio.wait_for(socket.wait_for("status-done", seen), TIMEOUT)
        t2 = time.perf_counter()
        c2 = harness.cpu_ns(pids)
        await socket.close()
        if i >= warmup:
            halves.append((t1 - t0, t2 - t1))
            cpu.append(((c1 - c0) / 1e9, (c2 - c1) / 1e9))
    await client.aclose()
    return halves, cpu


async def agent_server_runs(url: str, n: int, warmup: int) -> list[tuple[float, float]]:
    from langgraph_sdk import get_client

    client = get_client(url=url)
    halves = []
    for i in range(n + warmup):
        t0 = time.perf_counter()
        thread = await client.threads.create()
        state = await client.runs.wait(thread["thread_id"], "essay", input="cat")
        assert "__interrupt__" in state, state
        t1 = time.perf_counter()
        state = await client.runs.wait(thread["thread_id"], "essay", command={"resume": True})
        assert state.get("is_approved") is True, state
        t2 = time.perf_counter()
        if i >= warmup:
            halves.append((t1 - t0, t2 - t1))
    return halves


def agent_server(var: Path):
    port = free_port()
    env = {**os.environ, "LANGSMITH_TRACING": "false", "LANGCHAIN_TRACING_V2": "false",
           "LANGGRAPH_CLI_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1"}
    langgraph = Path(sys.executable).with_name("langgraph")
    command = [str(langgraph), "dev", "--no-reload", "--no-browser", "--host", "127.0.0.1",
               "--port", str(port)]
    var.mkdir(parents=True, exist_ok=True)
    return launched(command, env, var / "agent-server.log", port=port,
                    cwd=ROOT / "bench" / "agent_server"), f"http://127.0.0.1:{port}"


def summary(halves: list[tuple[float, float]], cpu: list[tuple[float, float]] | None = None
            ) -> dict[str, str]:
    """Median / p95 ms of each half and the whole; with ``cpu`` (the server processes' CPU
    seconds in each half), its median ms per half."""
    first, second = [h[0] for h in halves], [h[1] for h in halves]
    whole = [a + b for a, b in halves]
    fmt = lambda v: f"{statistics.median(v) * 1000:.1f} / {percentile(v, 95) * 1000:.1f}"  # noqa: E731
    server = "–"
    if cpu:
        server = " / ".join(f"{statistics.median(c[i] for c in cpu) * 1000:.1f}" for i in (0, 1))
    return {"start→interrupt": fmt(first), "answer→done": fmt(second), "whole": fmt(whole),
            "_whole_median": statistics.median(whole), "n": len(halves), "cpu": server}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sites", default="embedded,production,agent-server")
    args = parser.parse_args()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.split("load average:")[-1].strip()
    results: dict[str, dict] = {}
    for site in args.sites.split(","):
        if site == "embedded":
            with harness.embedded("roundtrip-embedded") as d:
                results["Flowsite embedded (SQLite)"] = summary(
                    *asyncio.run(flowsite_runs(d, args.n, args.warmup)))
        elif site == "production":
            with harness.production("roundtrip", web=1, workers=args.workers) as d:
                results[f"Flowsite PG+Redis+{args.workers} workers"] = summary(
                    *asyncio.run(flowsite_runs(d, args.n, args.warmup)))
        elif site == "agent-server":
            server, url = agent_server(harness.VAR / "agent-server")
            with server:
                results["Agent Server (langgraph dev)"] = summary(
                    asyncio.run(agent_server_runs(url, args.n, args.warmup)))
        else:
            raise SystemExit(f"unknown site {site!r}")
    reference = results.get("Agent Server (langgraph dev)", {}).get("_whole_median")
    print(f"\n{'site':34}{'start→interrupt ms':22}{'answer→done ms':22}{'whole ms':22}"
          f"{'× Agent Server':16}{'server CPU ms':16}n")
    print(f"{'':34}{'median / p95':22}{'median / p95':22}{'median / p95':22}{'':16}"
          f"{'per half':16}")
    for name, r in results.items():
        ratio = f"{r['_whole_median'] / reference:.3f}×" if reference else "–"
        print(f"{name:34}{r['start→interrupt']:22}{r['answer→done']:22}{r['whole']:22}{ratio:16}"
              f"{r['cpu']:16}{r['n']}")
    after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.split("load average:")[-1].strip()
    print(f"\nload average before: {uptime}; after: {after}")


if __name__ == "__main__":
    main()
