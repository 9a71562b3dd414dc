"""The sweep: requeue runs left ``running`` by a dead worker (a process of this host that is
gone, or an expired lease), free threads held by dead processes of this host, wake every queued
run, and tell other apps (``workflows.signals.sweep``)."""

from __future__ import annotations

import functools
import logging

from django.db import connections
from django.utils import timezone

from .. import services, signals
from ..models import Run
from . import processes, waking

__all__ = ["recover"]

logger = logging.getLogger("workflows.executor")


def recover() -> int:
    """One sweep (blocking ORM code: call it from a sync thread). Returns how many queued runs
    were woken."""
    try:
        services.requeue_stale_runs(is_gone=functools.partial(processes.is_gone, boot=True))
        services.free_thread_owners(is_gone=functools.partial(processes.is_gone, boot=False))
        queued = list(Run.objects.filter(status=Run.Status.QUEUED).values_list("id", flat=True))
        for receiver, response in signals.sweep.send_robust(sender=None, now=timezone.now()):
            if isinstance(response, Exception):
                logger.error("sweep receiver %r failed", receiver, exc_info=response)
    finally:
        connections.close_all()
    for run_id in queued:
        waking.wake(run_id)
    return len(queued)
