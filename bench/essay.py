"""Benchmark: the seed's essay workflow on Flowsite and on LangGraph, in the same process.

Each run is the seed's essay workflow: ``stream("cat")`` (task, then interrupt), then
``stream(Command(resume=True))`` on a new thread. Prints per-run medians (ms), the ratio
Flowsite / LangGraph, the process CPU time per run (all threads; unlike wall time it does not
grow when other processes load the machine), and for the databases the writing transactions per run
and bytes stored per run. Writing transactions on PostgreSQL: the delta of
``pg_current_xact_id()`` over 50 runs, the least of three such blocks (every table included; a
transaction that writes nothing gets no id; other sessions' transactions meanwhile would count); on SQLite: the statements each connection runs (``sqlite3`` trace callback), a
writing transaction being a ``BEGIN``..``COMMIT`` that ran an ``INSERT``/``UPDATE``/``DELETE``
or such a statement run alone (autocommit).

Usage::

    .venv/bin/python bench/essay.py [-n 200] [--pg postgres://postgres@127.0.0.1:5432/bench]
        [--pg-wal /var/lib/postgresql/15/main/pg_wal]

``--pg`` runs migrations and LangGraph's ``setup()`` on that database: give it one of its own.
Transaction ids are cluster-wide, so other sessions' transactions meanwhile (other databases
included) inflate the ``pg_current_xact_id()`` delta; with ``--pg-wal`` (the server's WAL
directory, readable by this user; ``pg_waldump`` on PATH or in ``pg_config --bindir``) the count
is exact instead: the distinct transaction ids of the WAL records that touch this database.

Savers compared: InMemorySaver vs InMemorySaver; DjangoSaver on SQLite vs LangGraph's
SqliteSaver; DjangoSaver on PostgreSQL vs PostgresSaver (when ``--pg`` is given).
"""

from __future__ import annotations

import argparse
import gc
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(api):
    """The seed's essay workflow, written once for either API."""

    @api.task
    def write_essay(topic: str) -> str:
        return f"An essay about topic: {topic}"

    def workflow(topic: str) -> dict:
        essay = write_essay("cat").result()
        is_approved = api.interrupt({"essay": essay, "action": "Please approve/reject the essay"})
        return {"essay": essay, "is_approved": is_approved}

    return lambda saver: api.entrypoint(checkpointer=saver)(workflow)


def lg_api():
    import langgraph.func
    import langgraph.types

    return argparse.Namespace(
        entrypoint=langgraph.func.entrypoint, task=langgraph.func.task,
        interrupt=langgraph.types.interrupt, Command=langgraph.types.Command,
    )


def fs_api():
    import workflows

    return argparse.Namespace(
        entrypoint=workflows.entrypoint, task=workflows.task,
        interrupt=workflows.interrupt, Command=workflows.Command,
    )


def one_run(wf, api, thread_id: str) -> None:
    cfg = {"configurable": {"thread_id": thread_id}}
    chunks = list(wf.stream("cat", cfg))
    assert "__interrupt__" in chunks[-1], chunks
    (final,) = list(wf.stream(api.Command(resume=True), cfg))
    assert next(iter(final.values()))["is_approved"] is True, final


def peak_kib(wf, api, thread_id: str) -> float:
    """Peak KiB allocated (tracemalloc) during one run."""
    tracemalloc.start()
    one_run(wf, api, thread_id)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def compare(fs_wf, fs, lg_wf, lg, n: int, prefix: str) -> tuple[tuple, tuple]:
    """``((fs median ms, fs peak KiB, fs CPU ms), (lg ...))``. The timed runs alternate, so
    that whatever else loads the machine weighs on both alike; CPU is measured in a block per
    library (``cpu_ms``)."""
    for i in range(min(20, n)):  # warm-up
        one_run(fs_wf, fs, f"{prefix}-fw{i}")
        one_run(lg_wf, lg, f"{prefix}-lw{i}")
    times: dict[str, list[float]] = {"fs": [], "lg": []}
    for i in range(n):
        for key, wf, api in (("fs", fs_wf, fs), ("lg", lg_wf, lg)):
            gc.collect()  # neither side pays for the other's garbage
            start = time.perf_counter()
            one_run(wf, api, f"{prefix}-{key}{i}")
            times[key].append(time.perf_counter() - start)
    return (
        (statistics.median(times["fs"]) * 1e3, peak_kib(fs_wf, fs, f"{prefix}-fmem"),
         cpu_ms(fs_wf, fs, n, f"{prefix}-fcpu")),
        (statistics.median(times["lg"]) * 1e3, peak_kib(lg_wf, lg, f"{prefix}-lmem"),
         cpu_ms(lg_wf, lg, n, f"{prefix}-lcpu")),
    )


def cpu_ms(wf, api, n: int, prefix: str) -> float:
    """Process CPU ms (every thread of this process) per run, over a block of ``n`` runs of one
    library: in a block, work a run leaves to background threads is charged to its own
    library. The database server's CPU (PostgreSQL) is not included."""
    gc.collect()
    start = time.process_time()
    for i in range(n):
        one_run(wf, api, f"{prefix}{i}")
    return (time.process_time() - start) / n * 1e3


def pg_xact(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return int(conn.execute("select pg_current_xact_id()::text::bigint").fetchone()[0])


def pg_lsn(url: str) -> tuple[str, int]:
    """``(current WAL insert location, this database's oid)``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "select pg_current_wal_insert_lsn()::text, oid from pg_database "
            "where datname = current_database()"
        ).fetchone()


def wal_writers(wal_dir: str, start: str, end: str, db_oid: int) -> int:
    """How many transactions wrote to database ``db_oid`` between two WAL locations
    (``pg_waldump``: distinct ``tx`` of the records whose block references are in it)."""
    import re
    import shutil
    import subprocess

    tool = shutil.which("pg_waldump")
    if tool is None:
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        tool = str(Path(bindir) / "pg_waldump")
    out = subprocess.run([tool, "-p", wal_dir, "-s", start, "-e", end],
                         capture_output=True, text=True).stdout
    ours = re.compile(rf"rel \d+/{db_oid}/\d+")
    return len({m.group(1) for line in out.splitlines() if ours.search(line)
                for m in [re.search(r"tx:\s+(\d+)", line)] if m and m.group(1) != "0"})


def pg_bytes(url: str, tables: list[str]) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        total = 0
        for table in tables:
            row = conn.execute("select to_regclass(%s)", (table,)).fetchone()
            if row[0]:
                total += conn.execute(f"select coalesce(sum(pg_column_size(t.*)), 0) from {table} t").fetchone()[0]
        return total


class SqliteWrites:
    """Counts the writing transactions committed on the ``sqlite3`` connections it traces
    (``trace(conn)``; each connection used by one thread at a time, as sqlite3 requires)."""

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

    def __init__(self) -> None:
        import threading

        self.count = 0
        self.lock = threading.Lock()

    def trace(self, conn: sqlite3.Connection) -> None:
        state = {"in_tx": False, "wrote": False}

        def statement(sql: str) -> None:
            word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
            if word == "BEGIN":
                state.update(in_tx=True, wrote=False)
            elif word in ("COMMIT", "END"):
                if state["in_tx"] and state["wrote"]:
                    self.add()
                state.update(in_tx=False, wrote=False)
            elif word == "ROLLBACK" and not sql.upper().lstrip().startswith("ROLLBACK TO"):
                state.update(in_tx=False, wrote=False)
            elif word in self.WRITES or (word == "WITH" and any(w in sql.upper() for w in self.WRITES)):
                if state["in_tx"]:
                    state["wrote"] = True
                else:
                    self.add()

        conn.set_trace_callback(statement)

    def add(self) -> None:
        with self.lock:
            self.count += 1


def sqlite_writes_per_run(wf, api, writes: SqliteWrites, prefix: str, k: int = 50) -> float:
    before = writes.count
    for i in range(k):
        one_run(wf, api, f"{prefix}{i}")
    return (writes.count - before) / k


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "0"  # DEBUG records every query: not what production pays
    os.environ.setdefault("SECRET_KEY", "flowsite-bench-key-not-a-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
    import django
    from django.core.management import call_command

    django.setup()
    if database_url.startswith("sqlite"):
        from django.db.backends.signals import connection_created

        connection_created.connect(
            lambda sender, connection, **kw: DJANGO_SQLITE_WRITES.trace(connection.connection),
            weak=False,
        )
    call_command("migrate", verbosity=0)


DJANGO_SQLITE_WRITES = SqliteWrites()


DJANGO_TABLES = ["workflows_thread", "workflows_checkpoint", "workflows_pendingwrite",
                 "workflows_interrupt", "workflows_run", "reviews_decision"]
LG_PG_TABLES = ["checkpoints", "checkpoint_blobs", "checkpoint_writes"]


def row(label: str, fs: tuple, lg: tuple, extra: str = "") -> None:
    print(f"{label:<34} {fs[0]:>9.3f} {lg[0]:>9.3f} {fs[0] / lg[0]:>7.2f}x "
          f"{fs[2]:>8.3f} {lg[2]:>8.3f} {fs[2] / lg[2]:>6.2f}x "
          f"{fs[1]:>7.0f} {lg[1]:>7.0f}  {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="runs per saver (default 200)")
    parser.add_argument("--pg", help="PostgreSQL URL: also compare DjangoSaver and PostgresSaver there")
    parser.add_argument("--pg-wal", help="the PostgreSQL server's WAL directory: count writing "
                        "transactions exactly, with pg_waldump")
    args = parser.parse_args()
    fs, lg = fs_api(), lg_api()
    tag = f"{os.getpid()}-{int(time.time())}"

    from importlib.metadata import version

    print(f"Essay workflow, N={args.n} runs each (stream to interrupt + stream resume); "
          f"langgraph {version('langgraph')}, Python {sys.version.split()[0]}")
    print(f"{'saver':<34} {'flowsite':>9} {'langgraph':>9} {'ratio':>8} {'fs CPU':>8} "
          f"{'lg CPU':>8} {'ratio':>7} {'fs KiB':>7} {'lg KiB':>7}  per run")
    print(f"{'':<34} {'ms/run':>9} {'ms/run':>9} {'':>8} {'ms/run':>8} {'ms/run':>8}")

    from langgraph.checkpoint.memory import InMemorySaver as LgMemory

    import workflows

    row("in memory", *compare(build(fs)(workflows.InMemorySaver()), fs,
                              build(lg)(LgMemory()), lg, args.n, f"m{tag}"))

    if args.pg:
        database_url = args.pg
    else:
        database_url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    setup_django(database_url)
    from workflows import DjangoSaver

    if not args.pg:
        from langgraph.checkpoint.sqlite import SqliteSaver

        path = Path(tempfile.mkdtemp()) / "lg.sqlite3"
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.execute("pragma journal_mode=wal")
        lg_saver = SqliteSaver(conn)
        lg_saver.setup()
        lg_writes = SqliteWrites()
        lg_writes.trace(conn)
        fs_wf, lg_wf = build(fs)(DjangoSaver()), build(lg)(lg_saver)
        fs_t, lg_t = compare(fs_wf, fs, lg_wf, lg, args.n, f"s{tag}")
        db = Path(database_url.removeprefix("sqlite:///"))
        runs = 2 * args.n + min(20, args.n) + 1  # timed, CPU, warm-up and the memory run
        size = lambda p: sum(f.stat().st_size for f in p.parent.glob(p.name + "*"))  # noqa: E731
        file_bytes = f"file bytes/run: flowsite {size(db) / runs:.0f}, langgraph {size(path) / runs:.0f}"
        fs_x = sqlite_writes_per_run(fs_wf, fs, DJANGO_SQLITE_WRITES, f"sx{tag}-")
        lg_x = sqlite_writes_per_run(lg_wf, lg, lg_writes, f"lx{tag}-")
        row("SQLite: DjangoSaver vs SqliteSaver", fs_t, lg_t,
            f"writing transactions/run: flowsite {fs_x:.1f}, langgraph {lg_x:.1f}; {file_bytes}")
        return

    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(args.pg) as lg_saver:
        lg_saver.setup()
        fs_wf, lg_wf = build(fs)(DjangoSaver()), build(lg)(lg_saver)
        fs_t, lg_t = compare(fs_wf, fs, lg_wf, lg, args.n, f"p{tag}")
        counts = {}
        for name, wf, api, tables in (("fs", fs_wf, fs, DJANGO_TABLES), ("lg", lg_wf, lg, LG_PG_TABLES)):
            # transaction ids are cluster-wide: other sessions' writes meanwhile count too, so
            # the least of three blocks of k runs is kept
            k, xacts = 50, []
            before_b = pg_bytes(args.pg, tables)
            for block in range(3):
                before_x, (start, db_oid) = pg_xact(args.pg), pg_lsn(args.pg)
                for i in range(k):
                    one_run(wf, api, f"x{name}{tag}-{block}-{i}")
                if args.pg_wal:
                    xacts.append(wal_writers(args.pg_wal, start, pg_lsn(args.pg)[0], db_oid) / k)
                else:
                    xacts.append((pg_xact(args.pg) - before_x - 1) / k)
            after_b = pg_bytes(args.pg, tables)
            counts[name] = (min(xacts), (after_b - before_b) / (3 * k))
        row("PostgreSQL: DjangoSaver vs PostgresSaver", fs_t, lg_t,
            f"writing transactions/run{' (WAL)' if args.pg_wal else ''}: flowsite {counts['fs'][0]:.1f}, langgraph {counts['lg'][0]:.1f}; "
            f"row bytes/run: flowsite {counts['fs'][1]:.0f}, langgraph {counts['lg'][1]:.0f}")


if __name__ == "__main__":
    main()
