"""Receivers of other apps' signals (connected in ``ReviewsConfig.ready``).

* ``workflows.signals.run_status_changed``: a run paused or finished, so pending interrupts may
  have come or gone: every open inbox is told to refresh (group ``inbox``).
* ``workflows.signals.run_interrupted``: each new pending interrupt is assigned as its
  workflow's ``assignees=`` say (``reviews.services.assign_from_workflow``).

``review_assigned`` (defined here): an interrupt was assigned (when it appeared, by a staff
reassignment, or an escalation). Sent after the assignment's transaction commits, with
``send_robust``, ``sender=Interrupt`` and ``interrupt``, ``users`` (the ``User`` objects newly
assigned), ``groups`` (the ``auth.Group`` objects newly assigned), ``by`` (the ``User`` who
assigned it, or ``None`` for the system) and ``reason``. Flowsite's own receiver emails the
assignees (``reviews.notifications.email_assignees``, ``dispatch_uid="reviews.email_assignees"``;
disconnect it with that uid to stop the emails).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.dispatch import Signal, receiver

from workflows import signals as workflow_signals
from workflows.execution import publishing
from workflows.models import Run

from .consumers import GROUP as INBOX_GROUP

__all__ = ["assign_new_interrupts", "inbox_changed_on_run_status", "review_assigned"]

review_assigned = Signal()

_OUTCOMES = {Run.Status.INTERRUPTED, Run.Status.SUCCESS, Run.Status.ERROR}


@receiver(workflow_signals.run_status_changed, dispatch_uid="reviews.inbox_changed_on_run_status")
async def inbox_changed_on_run_status(sender: Any, *, status: str, **kwargs: Any) -> None:
    if status in _OUTCOMES:
        await publishing.agroup_send(INBOX_GROUP, {"type": "inbox.changed"})


@receiver(workflow_signals.run_interrupted, sender=Run, dispatch_uid="reviews.assign_new_interrupts")
def assign_new_interrupts(
    sender: Any, *, interrupts: Iterable, workflow: str, **kwargs: Any
) -> None:
    from . import services

    if not services.assigns(workflow):
        return  # not read: most workflows name no assignees
    for interrupt in interrupts:
        services.assign_from_workflow(interrupt=interrupt)
