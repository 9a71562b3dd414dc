"""Receivers of other apps' signals (connected in ``ReviewsConfig.ready``).

* ``workflows.signals.run_status_changed``: a run paused or finished, so pending interrupts may
  have come or gone: every open inbox is told to refresh (group ``inbox``).
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from workflows import signals as workflow_signals
from workflows.execution import publishing
from workflows.models import Run

from .consumers import GROUP as INBOX_GROUP

__all__ = ["inbox_changed_on_run_status"]

_OUTCOMES = {Run.Status.INTERRUPTED, Run.Status.SUCCESS, Run.Status.ERROR}


@receiver(workflow_signals.run_status_changed, dispatch_uid="reviews.inbox_changed_on_run_status")
async def inbox_changed_on_run_status(sender: Any, *, status: str, **kwargs: Any) -> None:
    if status in _OUTCOMES:
        await publishing.agroup_send(INBOX_GROUP, {"type": "inbox.changed"})
