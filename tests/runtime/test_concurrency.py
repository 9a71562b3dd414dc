"""One run per thread at a time (beyond LangGraph).

Flowsite's ``Run.run`` takes the thread from the checkpointer (``acquire_thread``) before it loads
or writes anything, and gives it back with the run's last writes (or when it fails). A second run
started on the same thread while the first executes raises ``ThreadBusyError`` at once and writes
nothing; once the first has finished, the next run proceeds.

LangGraph (the library) has no such guard: two runs on one thread at once both execute and both
write checkpoints on the thread, interleaved (LangGraph Server serialises runs per thread, with
its own queue). Deliberate difference, shown by each test's LangGraph branch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

from workflows import ThreadBusyError

from .lg import API_IDS, APIS, FLOWSITE, LANGGRAPH, attempt, cfg

BUSY = (
    "raises",
    "ThreadBusyError",
    "Thread 't' is busy: another run is executing on it; try again when it has finished",
)


def build(api, saver, started: threading.Event, release: threading.Event):
    """``wf(x)`` returns ``x`` from a task; the call with ``"first"`` blocks until ``release``."""

    @api.task
    def step(x: str) -> str:
        if x == "first":
            started.set()
            assert release.wait(5)
        return x

    @api.entrypoint(checkpointer=saver)
    def wf(x: str) -> str:
        return step(x).result()

    return wf


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_second_run_on_a_busy_thread(api, saver_factory):
    """While a run executes on thread ``t``, a second ``invoke`` on ``t`` raises
    ``ThreadBusyError`` in Flowsite (and writes nothing); after the first finished, a new run
    proceeds. LangGraph (the library) has no such guard: the second run executes alongside the
    first and both write checkpoints on the thread."""
    started, release = threading.Event(), threading.Event()
    wf = build(api, saver_factory(api), started, release)
    c = cfg("t")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(wf.invoke, "first", c)
        assert started.wait(5)  # the first run is executing its task
        second = attempt(lambda: wf.invoke("second", c))
        release.set()
        assert first.result(5) == "first"
    # the thread is free again: a new run proceeds
    assert wf.invoke("third", c) == "third"
    sources = [s.metadata["source"] for s in wf.get_state_history(c)]
    if api is LANGGRAPH:
        assert second == "second"  # no guard: it ran alongside the first
        assert len(sources) == 6  # three runs of two checkpoints each
    else:
        assert second == BUSY
        assert sources == ["loop", "input", "loop", "input"]  # the refused run wrote nothing
        assert wf.get_state(c).values == "third"


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
async def test_concurrent_async_runs_on_one_thread(api, saver_factory):
    """``ainvoke`` twice at once on one thread: Flowsite refuses the one that comes second;
    LangGraph runs both."""
    started, release = threading.Event(), threading.Event()
    wf = build(api, saver_factory(api), started, release)
    c = cfg("t")
    first = asyncio.ensure_future(wf.ainvoke("first", c))
    assert await asyncio.to_thread(started.wait, 5)
    if api is LANGGRAPH:
        second = await wf.ainvoke("second", c)
        assert second == "second"
    else:
        with pytest.raises(ThreadBusyError):
            await wf.ainvoke("second", c)
    release.set()
    assert await first == "first"
    assert await wf.ainvoke("third", c) == "third"


def test_other_threads_are_not_blocked(saver_factory):
    """The guard is per thread: a run on another thread proceeds while the first executes."""
    started, release = threading.Event(), threading.Event()
    wf = build(FLOWSITE, saver_factory(FLOWSITE), started, release)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(wf.invoke, "first", cfg("t"))
        assert started.wait(5)
        assert wf.invoke("other", cfg("u")) == "other"
        release.set()
        assert first.result(5) == "first"


def test_a_long_run_keeps_renewing_its_hold_on_the_thread(monkeypatch):
    """Flowsite only: while a run executes, its lease on the thread is renewed (here every 10 ms
    instead of every minute), so a long run is not taken for a dead one."""
    import threading
    import time

    from workflows import InMemorySaver, entrypoint
    from workflows.runtime import pool

    monkeypatch.setattr(pool, "_beats", pool.PerProcess(lambda: pool._Beats(0.01)))
    renewals = []
    saver = InMemorySaver()
    acquire = saver.acquire_thread
    saver.acquire_thread = lambda thread_id, owner: renewals.append(owner) or acquire(thread_id, owner)
    release = threading.Event()

    @entrypoint(checkpointer=saver)
    def slow(x):
        release.wait(5)
        return x

    worker = threading.Thread(target=lambda: slow.invoke(1, {"configurable": {"thread_id": "long"}}))
    worker.start()
    deadline = time.monotonic() + 5
    while len(renewals) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    worker.join(5)
    assert len(renewals) >= 4 and len(set(renewals)) == 1  # the first hold, then renewals
    count = len(renewals)
    time.sleep(0.05)
    assert len(renewals) == count  # no renewal after the run ended


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
@pytest.mark.parametrize("method", ["astream", "ainvoke"])
async def test_async_entrypoints_run_on_the_callers_event_loop(api, method, saver_factory):
    """As LangGraph: an ``async def`` entrypoint's body and async tasks run on the loop that
    called ``astream`` / ``ainvoke`` (so one loop carries many runs, without a thread or a
    private loop each): twenty runs at once wait on one ``asyncio.Event`` of the caller's loop."""
    loops, waiting, all_waiting, gate = set(), [], asyncio.Event(), asyncio.Event()

    @api.task
    async def wait_for_gate(i: int) -> int:
        loops.add(asyncio.get_running_loop())
        waiting.append(i)
        if len(waiting) == 20:
            all_waiting.set()
        await gate.wait()
        return i

    @api.entrypoint(checkpointer=saver_factory(api))
    async def wf(i: int) -> int:
        loops.add(asyncio.get_running_loop())
        return await wait_for_gate(i)

    async def one(i: int) -> int:
        if method == "ainvoke":
            return await wf.ainvoke(i, cfg(f"loop-{i}"))
        return [c async for c in wf.astream(i, cfg(f"loop-{i}"), stream_mode="values")][-1]

    runs = [asyncio.ensure_future(one(i)) for i in range(20)]
    await asyncio.wait([asyncio.ensure_future(all_waiting.wait()), *runs], timeout=10,
                       return_when=asyncio.FIRST_COMPLETED)
    gate.set()  # an asyncio.Event of this loop: a task on another loop could not be woken
    assert await asyncio.wait_for(asyncio.gather(*runs), 10) == list(range(20))
    assert loops == {asyncio.get_running_loop()}


def test_taking_a_thread_and_reading_it_is_one_call_that_says_when_the_read_failed():
    """``acquire_thread_and_get_tuple`` (what a run starts with): the thread and its
    checkpoint, or ``(False, None)`` when another run holds it; a read that fails leaves the
    thread held and says so (``UNREAD``), so the run reads again inside its hold (where the
    error is raised and the thread given back), and a failed run leaves the thread free."""
    from workflows import InMemorySaver, entrypoint
    from workflows.runtime.checkpoint import UNREAD

    saver = InMemorySaver()

    @entrypoint(checkpointer=saver)
    def double(x):
        return 2 * x

    config = {"configurable": {"thread_id": "read-once"}}
    assert double.invoke(2, config) == 4
    held, saved = saver.acquire_thread_and_get_tuple("read-once", "run-a", config)
    assert held and saved.checkpoint == saver.get_tuple(config).checkpoint
    assert saver.acquire_thread_and_get_tuple("read-once", "run-b", config) == (False, None)
    saver.release_thread("read-once", "run-a")

    def broken(config):
        raise OSError("disk gone")

    saver.get_tuple = broken
    assert saver.acquire_thread_and_get_tuple("read-once", "run-c", config) == (True, UNREAD)
    saver.release_thread("read-once", "run-c")
    with pytest.raises(OSError, match="disk gone"):
        double.invoke(3, config)
    del saver.get_tuple
    assert saver.acquire_thread("read-once", "run-d")  # the failed run gave the thread back
