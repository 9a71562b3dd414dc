"""Benchmark: server time of the reviewer's pages at 1,000 and 100,000 pending interrupts.

Seeds a PostgreSQL database of its own (dropped and created again: ``bench_pages`` by
default) through the app's own code paths (``start_run``, the executor, ``answer_interrupt``:
an essay-review thread waiting, one answered, a parallel-review thread waiting), then clones
those rows with SQL (``INSERT ... SELECT generate_series``) up to N pending interrupts, N
answered ones (with their decisions; 90% by the measuring reviewer) and 3N threads in all (the
rest done, without interrupts). 1% of the pending interrupts mention "needle" (the search
that matches 1%); 10% are of the parallel-review workflow (the workflow filter). One thread
has 1,000 checkpoints (the history page).

Each page is requested through Django's test ``Client`` (DEBUG off, in process, so the
figure is server time: URL routing, middleware, queries and template rendering, no network)
by a logged-in staff reviewer; prints per page the median and p95 in ms of the wall time and
of the CPU time (this process's plus its PostgreSQL backend's, from ``/proc``: on a loaded
machine the wall time stretches with the run queue, the CPU time much less), and the number
of queries, for each size. ``--explain`` prints ``EXPLAIN ANALYZE`` of every query of every page
at the largest size.

Usage::

    .venv/bin/python bench/pages.py [--sizes 1000,100000] [-n 30] [--explain]
        [--pg postgres://postgres@127.0.0.1:5432/bench_pages] [--reuse] [--only inbox]

``--reuse``: one database per size, named after ``--pg`` with ``_<size>`` appended
(``bench_pages_100000``), seeded on the first run and reused by the next ones without
reseeding (seeding 100,000 takes minutes); a reused database is migrated (the change's new
indexes) and analyzed first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NEEDLE = "needle"
NOTHING = "zqxjkvw"
HISTORY_CHECKPOINTS = 1000
SECOND_WORKFLOW_EVERY = 10  # every 10th cloned pending interrupt is a parallel-review one


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(url: str) -> bool:
    """Whether the database of ``url`` exists and holds a finished seed (``bench_seed``)."""
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [parts.path.lstrip("/")]
        ).fetchone()
    if not found:
        return False
    with psycopg.connect(url, autocommit=True) as conn:
        return bool(conn.execute("SELECT to_regclass('bench_seed')").fetchone()[0])


def sized_url(url: str, size: int) -> str:
    """``url`` with ``_<size>`` after its database name: ``--reuse`` keeps one per size."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_{size}"))


def use_database(url: str) -> None:
    """Point Django's default connection at ``url``'s database (closing the current one)."""
    from django.db import connections

    conn = connections["default"]
    conn.close()
    conn.close_pool()  # the pool's connections are to the previous database
    conn.settings_dict["NAME"] = urlsplit(url).path.lstrip("/")


def pool_max_size(size: int) -> None:
    """Reopen Django's pool with room for ``size`` connections: 2 while seeding (a run needs its
    I/O connection and the one holding its thread's advisory lock), 1 while measuring."""
    from django.db import connections

    from workflows import advisory

    advisory.close_all()
    conn = connections["default"]
    conn.close()
    conn.close_pool()
    conn.settings_dict["OPTIONS"]["pool"]["max_size"] = size


def setup_django(url: str) -> None:
    os.environ.update(
        DATABASE_URL=url, DEBUG="0", SECRET_KEY="bench-pages-" + "x" * 40,
        SECURE_SSL_REDIRECT="0", FLOWSITE_EXECUTOR="external",
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        # one pooled connection: every request runs on the backend whose CPU time is read
        FLOWSITE_DB_POOL_MIN_SIZE="1", FLOWSITE_DB_POOL_MAX_SIZE="1",
    )
    os.environ.setdefault("FLOWSITE_VAR_DIR", "/tmp/flowsite-bench-pages")  # its collected static
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
    import django

    django.setup()


def seed_templates():
    """Rows made by the app itself: returns ``(me, pending essay interrupt, answered essay
    interrupt, pending parallel-review interrupt)``."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from reviews.services import answer_interrupt
    from workflows import services
    from workflows.execution import running as executor
    from workflows.models import Interrupt

    migrate()
    pool_max_size(2)
    users = get_user_model().objects
    me = users.create_superuser("bench", password="bench")
    other = users.create_superuser("other", password="other")

    def execute(run_id):
        connection.close()  # the pool's one connection: the executor's thread takes it
        executor.execute_run(run_id)

    def started(workflow, value):
        run = services.start_run(workflow=workflow, input=value, user=me)
        execute(run.pk)
        return Interrupt.objects.pending().filter(thread_id=run.thread_id).first()

    waiting = started("essay-review", "cats")
    answered = started("essay-review", "dogs")
    run = answer_interrupt(interrupt=answered, user=other, value=True, decision="approve")
    execute(run.pk)
    answered.refresh_from_db()
    parallel = started("parallel-review", {"title": "Doc", "sections": [{"title": "A", "text": "a"}]})
    pool_max_size(1)
    return me, other, waiting, answered, parallel


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)


def mark_seeded() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_seed (seeded_at timestamptz DEFAULT now())")
        cur.execute("INSERT INTO bench_seed DEFAULT VALUES")


def templates_from_db():
    """What :func:`seed_templates` returned, read back from a seeded database (``--reuse``)."""
    from django.contrib.auth import get_user_model

    from workflows.models import Interrupt

    users = get_user_model().objects
    made = Interrupt.objects.exclude(thread__thread_id__startswith="bench-").order_by("id")
    return (
        users.get(username="bench"),
        users.get(username="other"),
        made.filter(status="pending", thread__workflow="essay-review").first(),
        made.filter(status="resolved", thread__workflow="essay-review").first(),
        made.filter(status="pending", thread__workflow="parallel-review").first(),
    )


def grow(n: int, me, other, waiting, answered, parallel) -> None:
    """Clone rows with SQL until there are ``n`` pending and ``n`` answered interrupts and
    ``3n`` threads."""
    from django.db import connection

    from workflows.models import Interrupt

    with connection.cursor() as cur:
        have = Interrupt.objects.pending().count()
        start, stop = have + 1, n
        if stop >= start:
            # pending: one thread each; 1% mention the needle, every 10th is parallel-review
            cur.execute(
                """
                WITH t AS (
                  INSERT INTO workflows_thread (thread_id, workflow, status, title, input, result,
                    error, created_by_id, created_at, updated_at, run_owner)
                  SELECT 'bench-p-' || g,
                         CASE WHEN g %% %(every)s = 0 THEN 'parallel-review' ELSE 'essay-review' END,
                         'interrupted', '', to_jsonb('topic ' || md5(g::text)), NULL, '', %(me)s,
                         now() - interval '1 second' * (1000000 - g), now(), ''
                  FROM generate_series(%(start)s, %(stop)s) g
                  RETURNING id, thread_id, created_at
                )
                INSERT INTO workflows_interrupt (interrupt_id, thread_id, checkpoint_id, task_id,
                  value, response_schema, status, created_at)
                SELECT md5(t.thread_id), t.id, i.checkpoint_id, i.task_id,
                       jsonb_build_object('essay', 'An essay about topic: ' ||
                         CASE WHEN split_part(t.thread_id, '-', 3)::int %% 100 = 7
                              THEN %(needle)s ELSE md5(t.thread_id) END,
                         'action', 'Please approve/reject the essay'),
                       i.response_schema, 'pending', t.created_at
                FROM t, workflows_interrupt i WHERE i.id = %(template)s
                """,
                {"every": SECOND_WORKFLOW_EVERY, "me": me.pk, "start": start, "stop": stop,
                 "needle": NEEDLE, "template": waiting.pk},
            )
            # answered: a done thread, a resolved interrupt and its decision (90% mine)
            cur.execute(
                """
                WITH t AS (
                  INSERT INTO workflows_thread (thread_id, workflow, status, title, input, result,
                    error, created_by_id, created_at, updated_at, run_owner)
                  SELECT 'bench-a-' || g, 'essay-review', 'done', '', to_jsonb('topic ' || md5(g::text)),
                         '{"is_approved": true}'::jsonb, '', %(me)s,
                         now() - interval '1 second' * (2000000 - g), now(), ''
                  FROM generate_series(%(start)s, %(stop)s) g
                  RETURNING id, thread_id, created_at
                ), i AS (
                  INSERT INTO workflows_interrupt (interrupt_id, thread_id, checkpoint_id, task_id,
                    value, response_schema, status, resume_value, resolved_by_id, created_at, resolved_at)
                  SELECT md5(t.thread_id), t.id, i.checkpoint_id, i.task_id, i.value, i.response_schema,
                         'resolved', 'true'::jsonb,
                         CASE WHEN split_part(t.thread_id, '-', 3)::int %% 10 = 0 THEN %(other)s ELSE %(me)s END,
                         t.created_at, t.created_at + interval '1 minute'
                  FROM t, workflows_interrupt i WHERE i.id = %(template)s
                  RETURNING id, thread_id, interrupt_id, resolved_by_id, resolved_at
                )
                INSERT INTO reviews_decision (interrupt_id, user_id, kind, value, created_at, by,
                  interrupt_key, question, thread_key, workflow)
                SELECT i.id, i.resolved_by_id, d.kind, d.value, i.resolved_at, d.by,
                       i.interrupt_id, d.question, t.thread_id, d.workflow
                FROM i JOIN t ON t.id = i.thread_id, reviews_decision d
                WHERE d.interrupt_id = %(template)s
                """,
                {"me": me.pk, "other": other.pk, "start": start, "stop": stop,
                 "template": answered.pk},
            )
            # more threads, done, without interrupts: 3n threads in all (the recent list)
            cur.execute(
                """
                INSERT INTO workflows_thread (thread_id, workflow, status, title, input, result,
                  error, created_by_id, created_at, updated_at, run_owner)
                SELECT 'bench-d-' || g, 'essay-review', 'done', '', to_jsonb('topic ' || g),
                       '{"is_approved": true}'::jsonb, '', %(me)s,
                       now() - interval '1 second' * (3000000 - g), now(), ''
                FROM generate_series(%(start)s, %(stop)s) g
                """,
                {"me": me.pk, "start": start, "stop": stop},
            )
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


def seed_history(thread_id: int) -> None:
    """``HISTORY_CHECKPOINTS`` checkpoints on the thread ``thread_id``, a chain, cloned from
    its first one."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO workflows_checkpoint (thread_id, checkpoint_ns, checkpoint_id,
              parent_checkpoint_id, step, source, data, metadata, serde_type, blob, created_at)
            SELECT c.thread_id, '', 'ffffffff-bench-' || lpad(g::text, 6, '0'),
                   'ffffffff-bench-' || lpad((g - 1)::text, 6, '0'), g, 'loop', c.data, c.metadata,
                   c.serde_type, c.blob, now()
            FROM generate_series(1, %s) g,
                 (SELECT * FROM workflows_checkpoint WHERE thread_id = %s
                  ORDER BY checkpoint_id DESC LIMIT 1) c
            """,
            [HISTORY_CHECKPOINTS, thread_id],
        )


def pages(waiting, history_thread) -> list[tuple[str, str]]:
    from workflows.models import Interrupt

    middle = Interrupt.objects.pending().order_by("created_at", "id")[
        Interrupt.objects.pending().count() // 2
    ]
    return [
        ("inbox, first page", "/"),
        ("inbox, page 100", "/?page=100"),
        ("inbox, one workflow", "/?workflow=parallel-review"),
        ("inbox, search matching 1%", f"/?q={NEEDLE}"),
        ("inbox, search matching nothing", f"/?q={NOTHING}"),
        ("answered by me", "/archive/"),
        ("audit", "/audit/"),
        ("one item", f"/interrupts/{middle.pk}/"),
        ("one thread", f"/threads/{middle.thread_id}/"),
        (f"history, {HISTORY_CHECKPOINTS} checkpoints", f"/threads/{history_thread}/history/"),
        ("/workflows/ (recent threads)", "/workflows/"),
    ]


def backend_cpu_ns(pid: int) -> int:
    """CPU time (ns) the PostgreSQL backend ``pid`` has run (Linux ``/proc/<pid>/schedstat``)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def summary(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


def measure(client, url: str, repeat: int) -> tuple[float, float, float, float, int]:
    """``(wall median, wall p95, CPU median, CPU p95, queries)`` of ``url``, in ms. CPU is
    this process's plus its PostgreSQL backend's: what the request costs the machine, which
    other processes' load does not stretch as it stretches wall time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        (backend,) = cur.fetchone()
    walls, cpus = [], []
    for _ in range(repeat):
        c0, b0, t0 = time.process_time_ns(), backend_cpu_ns(backend), time.perf_counter_ns()
        client.get(url)
        walls.append((time.perf_counter_ns() - t0) / 1e6)
        cpus.append((time.process_time_ns() - c0 + backend_cpu_ns(backend) - b0) / 1e6)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return (*summary(walls), *summary(cpus), len(queries))


def explain(client, name: str, url: str) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    print(f"\n=== {name}: {url}")
    for query in queries.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT") or "django_session" in sql:
            continue
        with connection.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = [row[0] for row in cur.fetchall()]
        print(f"--- {sql[:300]}{'…' if len(sql) > 300 else ''}")
        print("\n".join(plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/bench_pages")
    parser.add_argument("--sizes", default="1000,100000", help="pending interrupts, ascending")
    parser.add_argument("-n", "--repeat", type=int, default=30, help="requests per page and size")
    parser.add_argument(
        "--reuse", action="store_true",
        help="one database per size (the --pg name + '_<size>'), seeded once and reused",
    )
    parser.add_argument(
        "--only", default="", help="measure only the pages whose name contains this (e.g. inbox)"
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE at the largest size")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))

    setup_django(args.pg)
    import django
    import psycopg
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG off: hashed names
    load_before = f"{os.getloadavg()[0]:.1f}"
    results: dict[str, list[tuple[float, float, float, float, int]]] = {}
    templates = None
    for size in sizes:
        url = sized_url(args.pg, size) if args.reuse else args.pg
        t0 = time.perf_counter()
        if args.reuse and database_exists(url):
            use_database(url)
            migrate()
            with connection.cursor() as cur:
                cur.execute("ANALYZE")  # a migration may have added indexes
            templates = templates_from_db()
            print(f"reused {url} ({size} pending)", file=sys.stderr)
        else:
            if templates is None or args.reuse:
                recreate_database(url)
                use_database(url)
                templates = seed_templates()
                seed_history(templates[3].thread_id)
            grow(size, *templates)
            mark_seeded()
            print(f"seeded {size} pending in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        me, other, waiting, answered, parallel = templates
        client = Client()
        client.force_login(me)
        for name, url in pages(waiting, answered.thread_id):
            if args.only in name:
                results.setdefault(name, []).append(measure(client, url, args.repeat))
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        (pg_version,) = cur.fetchone()

    print(f"Django {django.get_version()}, psycopg {psycopg.__version__}, PostgreSQL {pg_version}; "
          f"{args.repeat} requests per page, test Client, DEBUG off")
    print(f"load average before / after: {load_before} / {os.getloadavg()[0]:.1f}")
    head = " | ".join(
        f"{size:,}: wall median / p95 | CPU median / p95 | queries" for size in sizes
    )
    print(f"| page (ms) | {head} |")
    print("|---|" + "---|---|---|" * len(sizes))
    for name, figures in results.items():
        cells = " | ".join(
            f"{wm:.1f} / {wp:.1f} | {cm:.1f} / {cp:.1f} | {count}"
            for wm, wp, cm, cp, count in figures
        )
        print(f"| {name} | {cells} |")
    if args.explain:
        for name, url in pages(waiting, answered.thread_id):
            if args.only in name:
                explain(client, name, url)


if __name__ == "__main__":
    main()
