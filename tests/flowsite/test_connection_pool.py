"""Bounded database connections: on PostgreSQL each process holds at most
``FLOWSITE_DB_POOL_MAX_SIZE`` connections (Django's psycopg pool), whatever its threads do."""

from __future__ import annotations

import ast
import asyncio
import threading
import time

import httpx
import psycopg
import pytest
from django.db import connection
from django.test import Client

from tests.flowsite.test_production_settings import settings_value
from tests.servers import daphne
from workflows.models import Thread

MAX_SIZE = 3
APP = "flowsite-pool-test"  # the server's application_name in pg_stat_activity


def test_postgresql_settings_use_a_bounded_pool_and_no_persistent_connections(tmp_path):
    env = {
        "DEBUG": "1",
        "DATABASE_URL": "postgres://flowsite@db.internal:5432/flowsite",
        "FLOWSITE_DB_POOL_MIN_SIZE": "1",
        "FLOWSITE_DB_POOL_MAX_SIZE": "7",
        "FLOWSITE_DB_POOL_TIMEOUT": "2.5",
    }
    database = ast.literal_eval(settings_value("DATABASES['default']", env, tmp_path))
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 7, "timeout": 2.5}
    assert database["CONN_HEALTH_CHECKS"] is True  # the pool checks each connection it hands out
    unchecked = {**env, "FLOWSITE_DB_POOL_CHECK": "0"}
    assert settings_value("DATABASES['default']['CONN_HEALTH_CHECKS']", unchecked, tmp_path) == "False"
    sqlite = settings_value("DATABASES['default']['OPTIONS']", {"DEBUG": "1"}, tmp_path)
    assert "pool" not in ast.literal_eval(sqlite)


class Sampler(threading.Thread):
    """Counts the server's connections in ``pg_stat_activity`` until stopped; ``peak``."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn, self.peak, self.samples = dsn, 0, 0
        self.stopping = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stopping.is_set():
                (count,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP]
                ).fetchone()
                self.peak, self.samples = max(self.peak, count), self.samples + 1
                time.sleep(0.01)

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.join(timeout=30)


async def burst(server_url: str, cookies: dict, pages: list[str], starts: int) -> list[int]:
    """40 GETs of ``pages`` and ``starts`` essay-review starts, all at once; their statuses."""
    async with httpx.AsyncClient(base_url=server_url, cookies=cookies, timeout=120) as client:
        token = (await client.get("/workflows/")).cookies.get("csrftoken") or client.cookies["csrftoken"]
        gets = [client.get(pages[i % len(pages)]) for i in range(40)]
        posts = [
            client.post("/workflows/essay-review/start/", data={"essay-review-topic": f"burst {i}"},
                        headers={"X-CSRFToken": token})
            for i in range(starts)
        ]
        return [r.status_code for r in await asyncio.gather(*gets, *posts)]


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_requests_and_runs_never_holds_more_connections_than_the_pool(
    tmp_path, user_factory, thread_factory, interrupt_factory
):
    if connection.vendor != "postgresql":
        pytest.skip("the connection pool is PostgreSQL's (Django's psycopg pool)")
    user = user_factory(is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(user)
    thread = thread_factory()
    interrupt = interrupt_factory(thread=thread)
    pages = ["/", f"/threads/{thread.pk}/", f"/interrupts/{interrupt.pk}/", "/workflows/", "/archive/"]
    env = {
        "DEBUG": "1",
        "PGAPPNAME": APP,  # libpq names the server's connections
        "FLOWSITE_DB_POOL_MIN_SIZE": "1",
        "FLOWSITE_DB_POOL_MAX_SIZE": str(MAX_SIZE),
        "FLOWSITE_DB_POOL_TIMEOUT": "120",  # a loaded machine waits, never fails
        "FLOWSITE_EXECUTOR": "inprocess",
    }
    s = connection.settings_dict
    dsn = f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} user={s['USER'] or 'postgres'} dbname=postgres"
    if s.get("PASSWORD"):
        dsn += f" password={s['PASSWORD']}"
    with daphne(tmp_path, env) as server, Sampler(dsn) as sampler:
        statuses = asyncio.run(burst(server.url, {"sessionid": client.cookies["sessionid"].value},
                                     pages, starts=8))
        assert statuses.count(200) == 40 and statuses.count(302) == 8, statuses
        started = Thread.objects.exclude(pk=thread.pk)
        assert started.count() == 8
        deadline = time.monotonic() + 180
        while started.filter(status=Thread.Status.INTERRUPTED).count() < 8:
            assert time.monotonic() < deadline, list(started.values_list("status", flat=True))
            assert not started.filter(status=Thread.Status.ERROR).exists(), server.log()
            time.sleep(0.1)
        # and again, once the first burst's threads are idle
        statuses = asyncio.run(burst(server.url, {"sessionid": client.cookies["sessionid"].value},
                                     pages, starts=0))
        assert statuses.count(200) == 40, statuses
    assert sampler.samples > 10 and sampler.peak >= 1  # it saw the server's connections
    assert sampler.peak <= MAX_SIZE, f"{sampler.peak} connections at once, the pool has {MAX_SIZE}"


@pytest.mark.django_db(transaction=True)
def test_a_thread_about_to_wait_on_the_io_threads_gives_its_pooled_connection_back():
    """``LangGraphDjangoSaver`` calls from a thread holding a connection release it first
    (outside a transaction), so waiters on the I/O threads never hold the whole pool."""
    from django.db import transaction

    from workflows.langgraph_saver import release_pooled_connections

    connection.ensure_connection()
    with transaction.atomic():
        release_pooled_connections()
        assert connection.connection is not None  # a transaction keeps its connection
    release_pooled_connections()
    if connection.vendor == "postgresql":
        assert connection.connection is None
        assert Thread.objects.count() == 0  # the next query takes one again
    else:
        assert connection.connection is not None  # no pool: nothing to give back
