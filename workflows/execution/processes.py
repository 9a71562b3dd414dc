"""Who this process is, as a run's ``worker`` and a thread's ``run_owner`` name it, and whether
the process another token names still runs (on this host)."""

from __future__ import annotations

import os
import socket
import uuid

from ..runtime.pool import PerProcess

__all__ = ["is_gone", "worker_name"]

_BOOT = PerProcess(lambda: uuid.uuid4().hex[:8])


def worker_name() -> str:
    """``host:pid:boot``; the boot id tells a restarted process (same pid) from its ghost."""
    return f"{socket.gethostname()}:{os.getpid()}:{_BOOT.get()}"


def is_gone(token: str, *, boot: bool) -> bool:
    """Whether ``token`` (``host:pid[:boot...]``: a worker name, or the runtime's thread owner)
    names a process of this host that no longer runs. With ``boot``, a token of this very pid
    but another boot id is a previous process that had the same pid. A token of another host
    is never gone by this test (its lease tells)."""
    host, pid, rest = (token.split(":", 2) + ["", ""])[:3]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return boot and rest != _BOOT.get()
    return not _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
