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
def daphne(
    tmp_path: Path, env: dict[str, str], *, name: str = "server", args: tuple[str, ...] = ()
) -> Iterator[Server]:
    """Run ``daphne flowsite.asgi:application`` on a free loopback port with the test run's
    environment, the test database and ``env`` (``args``: more Daphne options); wait until it answers HTTP; stop it (SIGTERM,
    then SIGKILL) on exit."""
    port = free_port()
    log_path = tmp_path / f"{name}.log"
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PYTHONPATH": str(ROOT),
        "FLOWSITE_VAR_DIR": str(tmp_path / f"{name}-var"),
        "ALLOWED_HOSTS": "127.0.0.1",
        **env,
    }
    full_env.pop("DATABASE_TEST_NAME", None)  # DATABASE_URL names the test database already
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), *args,
             "flowsite.asgi:application"],
            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
    server = Server(process, port, log_path)
    try:
        _wait_until_listening(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _wait_until_listening(server: Server) -> None:
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited ({server.process.returncode}):\n{server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not listen within {STARTUP} s:\n{server.log()}")
