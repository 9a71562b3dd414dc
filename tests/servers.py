"""Flowsite server processes for tests: Daphne subprocesses (fresh interpreters, as an operator
runs them) on loopback, on the test database."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
STARTUP = 90.0  # seconds a loaded machine may take to start a server


def database_url() -> str:
    """A URL naming the database this test runs on (the test database)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A running Daphne process: ``url`` (``http://127.0.0.1:<port>``), ``ws_url``, and
    ``log()``, what it wrote to stderr so far."""

    def __init__(self, process: subprocess.Popen, port: int, log_path: Path) -> None:
        self.process, self.port, self.log_path = process, port, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def launched(
    command: list[str], env: dict[str, str], log_path: Path, *, port: int | None = None,
    ready: str | None = None, cwd: Path = ROOT,
) -> Iterator[Server]:
    """Run ``command`` from ``cwd`` (the project root) with exactly ``env`` (its output to ``log_path``);
    wait until it listens on ``port`` (when given) or writes ``ready`` to its log (when given),
    within ``STARTUP`` seconds (``RuntimeError`` if it exits or does not); stop it (SIGTERM,
    then SIGKILL after 30 s) on exit. Shared by the tests and ``bench/harness.py``."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, port or 0, log_path)
    try:
        _wait_until_ready(server, ready)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def daphne_command(port: int, args: tuple[str, ...] = ()) -> list[str]:
    """``daphne flowsite.asgi:application`` on ``127.0.0.1:<port>`` in this interpreter."""
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), *args,
            "flowsite.asgi:application"]


@contextlib.contextmanager
def daphne(
    tmp_path: Path, env: dict[str, str], *, name: str = "server", args: tuple[str, ...] = ()
) -> Iterator[Server]:
    """Run ``daphne flowsite.asgi:application`` on a free loopback port with the test run's
    environment, the test database and ``env`` (``args``: more Daphne options); wait until it answers HTTP; stop it (SIGTERM,
    then SIGKILL) on exit."""
    port = free_port()
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PYTHONPATH": str(ROOT),
        "FLOWSITE_VAR_DIR": str(tmp_path / f"{name}-var"),
        "ALLOWED_HOSTS": "127.0.0.1",
        **env,
    }
    full_env.pop("DATABASE_TEST_NAME", None)  # DATABASE_URL names the test database already
    with launched(daphne_command(port, args), full_env, tmp_path / f"{name}.log", port=port) as server:
        yield server


def _wait_until_ready(server: Server, ready: str | None) -> None:
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the process exited ({server.process.returncode}):\n{server.log()}")
        if ready is not None:
            if ready in server.log():
                return
            time.sleep(0.1)
            continue
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the process was not ready within {STARTUP} s:\n{server.log()}")
