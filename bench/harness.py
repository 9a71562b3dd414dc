"""Start and stop a served Flowsite for the served benchmarks, as an operator runs it.

Two deployments, each a context manager yielding a :class:`Deployment`:

* :func:`embedded`: the embedded default: one Daphne process, SQLite, the in-memory channel
  layer, the worker consumer hosted in the server process (``FLOWSITE_EXECUTOR=inprocess``);
* :func:`production`: the README's "Production": PostgreSQL (a bench database of its own,
  ``bench_bench_<label>``, dropped, created and migrated), the Redis channel layer (Redis db
  ``BENCH_REDIS_DB``, a key prefix of its own, removed afterwards), ``web`` Daphne processes and
  ``workers`` ``manage.py runworker flowsite.runs`` processes (``FLOWSITE_EXECUTOR=external``).

Both run with ``DEBUG=0`` and a bench ``SECRET_KEY``, static files collected (WhiteNoise), and
``bench.settings`` (Flowsite's settings plus the ``counted-essay`` and ``ticker`` workflows of
``bench.app``). TLS would end at a proxy; here clients speak plain HTTP to loopback, so the
secure-cookie and SSL-redirect settings are off. A reviewer (``bench`` / ``REVIEWER_PASSWORD``,
a superuser) is seeded; :func:`login` gives an ``httpx.AsyncClient`` logged in as it.

Processes are launched by ``tests.servers.launched`` (the tests' own launcher). Used by
``bench/load.py``, ``bench/roundtrip.py``; run directly for a smoke test::

    .venv/bin/python bench/harness.py [--pg postgres://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import Server, daphne_command, free_port, launched  # noqa: E402

VAR = ROOT / "var" / "bench"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_HOST_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
BENCH_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "13"))
REVIEWER, REVIEWER_PASSWORD = "bench", "bench-reviewer-password"
WEBSOCKET_TIMEOUT = "120"  # seconds Daphne waits for a socket's handshake on a loaded machine


@dataclass
class Deployment:
    """A running site: its Daphne processes (``web``, each a ``tests.servers.Server`` with
    ``url``/``ws_url``), its workers, its environment and var directory (where
    ``bench-effects.log`` is)."""

    name: str
    env: dict[str, str]
    var_dir: Path
    web: list[Server] = field(default_factory=list)
    workers: list[Server] = field(default_factory=list)

    @property
    def effects_log(self) -> Path:
        return self.var_dir / "bench-effects.log"

    def manage(self, *args: str) -> str:
        """``manage.py <args>`` in this deployment's environment; returns its stdout."""
        return manage(self.env, *args)

    def pids(self) -> list[int]:
        return [s.process.pid for s in (*self.web, *self.workers)]


def base_env(var_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The processes' environment: the production settings of README "Production" that apply
    on loopback without TLS."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": "http://127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "DATABASE_URL": database_url,
        "FLOWSITE_VAR_DIR": str(var_dir),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("DATABASE_TEST_NAME", None)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def prepare(env: dict[str, str], *, sqlite: bool) -> None:
    """Migrate, collect static files, seed the reviewer (and the cache table on SQLite)."""
    manage(env, "migrate", "--verbosity", "0")
    if sqlite:
        manage(env, "createcachetable")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    manage(env, "create_demo_reviewer", "--username", REVIEWER, "--password", REVIEWER_PASSWORD)


def _fresh_dir(label: str) -> Path:
    """``var/bench/<label>/``, emptied but for its collected static files (collectstatic
    then copies only what changed)."""
    var_dir = VAR / label
    var_dir.mkdir(parents=True, exist_ok=True)
    for child in var_dir.iterdir():
        if child.name != "staticfiles":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    return var_dir


@contextlib.contextmanager
def _web(deployment: Deployment, count: int) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for i in range(count):
            port = free_port()
            command = daphne_command(port, ("--websocket_connect_timeout", WEBSOCKET_TIMEOUT))
            deployment.web.append(stack.enter_context(launched(
                command, deployment.env, deployment.var_dir / f"web{i}.log", port=port
            )))
        yield


@contextlib.contextmanager
def embedded(label: str = "embedded", **extra: str) -> Iterator[Deployment]:
    """The embedded default on a fresh SQLite file in ``var/bench/<label>/``."""
    var_dir = _fresh_dir(label)
    env = base_env(var_dir, f"sqlite:///{var_dir / 'db.sqlite3'}", FLOWSITE_EXECUTOR="inprocess", **extra)
    prepare(env, sqlite=True)
    deployment = Deployment(label, env, var_dir)
    with _web(deployment, 1):
        yield deployment


def _pg_url(database: str) -> str:
    return re.sub(r"/[^/]*$", f"/{database}", PG_ADMIN_URL)


def recreate_database(database: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')


@contextlib.contextmanager
def production(label: str = "production", *, web: int = 2, workers: int = 1, **extra: str) -> Iterator[Deployment]:
    """PostgreSQL (``bench_bench_<label>``) + Redis + ``web`` Daphne + ``workers`` runworkers."""
    import redis

    var_dir = _fresh_dir(label)
    database = f"bench_bench_{label}".replace("-", "_")
    recreate_database(database)
    prefix = f"bench-{uuid.uuid4().hex[:10]}"
    redis_url = f"{REDIS_HOST_URL}/{BENCH_REDIS_DB}"
    env = base_env(
        var_dir, _pg_url(database), REDIS_URL=redis_url, FLOWSITE_CHANNEL_PREFIX=prefix,
        FLOWSITE_EXECUTOR="external", **extra,
    )
    prepare(env, sqlite=False)
    deployment = Deployment(label, env, var_dir)
    store = redis.Redis.from_url(redis_url)
    try:
        with contextlib.ExitStack() as stack:
            for i in range(workers):
                deployment.workers.append(stack.enter_context(launched(
                    [sys.executable, "manage.py", "runworker", "flowsite.runs"], env,
                    var_dir / f"worker{i}.log", ready="listening on flowsite.runs",
                )))
            stack.enter_context(_web(deployment, web))
            yield deployment
    finally:
        for key in store.scan_iter(match=f"{prefix}*"):
            store.delete(key)
        store.close()


async def login(base_url: str, **client_options) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on ``base_url`` logged in as the bench reviewer (its session
    and CSRF cookies set; POST with :func:`csrf_headers`)."""
    client = httpx.AsyncClient(base_url=base_url, timeout=120, **client_options)
    page = await client.get("/accounts/login/")
    page.raise_for_status()
    response = await client.post(
        "/accounts/login/",
        data={"username": REVIEWER, "password": REVIEWER_PASSWORD,
              "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        headers={"Referer": f"{base_url}/accounts/login/"},
    )
    if response.status_code != 302 or "sessionid" not in client.cookies:
        raise RuntimeError(f"login failed: {response.status_code} {response.text[:300]}")
    return client


def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRFToken": client.cookies["csrftoken"], "Referer": str(client.base_url) + "/"}


def cookie_header(client: httpx.AsyncClient) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def rss_kib(pids: list[int]) -> int:
    """The resident set size of these processes, KiB (``/proc/<pid>/status`` VmRSS)."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds these processes used so far (``/proc/<pid>/stat``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def cpu_ns(pids: list[int]) -> int:
    """CPU time (ns) every thread of these processes has run so far (Linux
    ``/proc/<pid>/task/<tid>/schedstat``: nanosecond resolution, where ``/proc/<pid>/stat``
    counts 10 ms ticks). A thread that ended meanwhile is no longer counted."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass  # the thread ended
    return total


def _smoke(pg: bool) -> None:
    import asyncio

    async def check(d: Deployment) -> None:
        client = await login(d.web[0].url)
        page = await client.get("/workflows/")
        print(d.name, "GET /workflows/", page.status_code, len(page.content), "bytes")
        await client.aclose()

    with embedded("smoke-embedded") as d:
        asyncio.run(check(d))
    if pg:
        with production("smoke_production", web=2, workers=1) as d:
            asyncio.run(check(d))


if __name__ == "__main__":
    _smoke("--pg" in sys.argv)
