"""Keeping this process's run leases alive: one heartbeat thread per process renews the lease of
every run it executes, every ``FLOWSITE_HEARTBEAT_SECONDS`` (5 s), in one UPDATE
(``services.renew_run_leases``), to ``FLOWSITE_RUN_LEASE_SECONDS`` (20 s) from now.

A process that dies (``kill -9``, OOM, machine gone) stops renewing: its runs' leases expire
and any other process's sweep requeues them (``workflows.execution.recovery``). A failing
renewal (the database away for a moment) is logged and tried again at the next beat.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connections

from .. import services
from ..runtime.pool import PerProcess
from .processes import worker_name

__all__ = ["held", "holding"]

logger = logging.getLogger("workflows.executor")


class _Leases:
    def __init__(self) -> None:
        self.runs: dict[Any, int] = {}
        self.lock = threading.Lock()
        self.wakeup = threading.Event()
        threading.Thread(target=self._beat_forever, name="workflows-run-heartbeat", daemon=True).start()

    def _beat_forever(self) -> None:
        while True:
            self.wakeup.wait(getattr(settings, "FLOWSITE_HEARTBEAT_SECONDS", 5))
            self.wakeup.clear()
            with self.lock:
                run_ids = list(self.runs)
            if not run_ids:
                continue
            try:
                services.renew_run_leases(run_ids=run_ids, worker=worker_name())
            except Exception:
                logger.exception("could not renew the leases of %d runs", len(run_ids))
            finally:
                connections.close_all()


_leases = PerProcess(_Leases)


@contextlib.contextmanager
def holding(run_id: Any) -> Iterator[None]:
    """Renew ``run_id``'s lease while the ``with`` block runs (the run was claimed by this
    process). Entering and leaving cost a dict update."""
    leases = _leases.get()
    with leases.lock:
        leases.runs[run_id] = leases.runs.get(run_id, 0) + 1
    try:
        yield
    finally:
        with leases.lock:
            if leases.runs.get(run_id, 0) <= 1:
                leases.runs.pop(run_id, None)
            else:
                leases.runs[run_id] -= 1


def held() -> list[Any]:
    """The runs whose leases this process keeps."""
    leases = _leases.get()
    with leases.lock:
        return list(leases.runs)
