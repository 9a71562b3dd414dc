"""What the periodic sweep does with interrupts whose ``deadline_at`` passed
(``workflows.deadlines``): ``apply_deadlines`` gives a default answer through
``answer_interrupt`` as the system's decision, or escalates to a group (``escalate``)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.db.models import Exists, OuterRef

from workflows import registry
from workflows import services as workflow_services
from workflows.deadlines import Default, Escalate
from workflows.models import Interrupt

from ..models import Decision, Escalation
from .answers import answer_interrupt
from .assignment import assign
from .common import UnknownAssignee, inbox_changed, lock_pending

__all__ = ["apply_deadlines", "escalate", "on_sweep"]

logger = logging.getLogger(__name__)
DEADLINE_BATCH = 100  # interrupts handled per sweep (the rest wait for the next one)


def escalate(*, interrupt: Interrupt, group: str) -> Escalation:
    """Hand ``interrupt`` to the Django group named ``group`` (its deadline passed and the
    workflow says ``Escalate(group=...)``): the ``Escalation`` row records it (the sweep's
    "already escalated" mark) and the group is assigned the item through :func:`assign`, so its
    members are told (``review_assigned``, email); the interrupt stays pending. Escalating it
    again returns the first row. A group that does not exist is logged, the escalation still
    recorded. Raises ``InterruptNotPending`` when it was answered or cancelled meanwhile."""
    with transaction.atomic():
        lock_pending(interrupt)
        row, created = Escalation.objects.get_or_create(
            interrupt=interrupt, defaults={"group": group}
        )
        if created:
            try:
                with transaction.atomic():  # a savepoint: an unknown group loses only this
                    assign(interrupt=interrupt, groups=[group], reason="deadline escalation")
            except UnknownAssignee as exc:
                logger.error("escalation of interrupt %s: %s", interrupt.pk, exc)
            transaction.on_commit(inbox_changed)
    return row


def apply_deadlines(*, now: datetime | None = None) -> int:
    """Carry out ``on_deadline`` for the pending interrupts whose ``deadline_at`` is at or
    before ``now`` (default: ``timezone.now()``), oldest deadline first, at most
    ``DEADLINE_BATCH`` per call; returns how many were answered or escalated.

    A ``Default`` goes through :func:`answer_interrupt` as the system's decision (``by=
    "deadline"``, no user): one ``Decision`` and one resume run, as a reviewer's answer. An
    ``Escalate`` calls :func:`escalate`; an escalated interrupt is not handled again. Each
    interrupt is handled in its own transaction; one answered concurrently is skipped, one whose
    default answer the interrupt refuses (its response schema) is logged and skipped. Safe to
    run in several processes at once (the interrupt's row is locked, one decision per
    interrupt). Called by the periodic sweep (``workflows.signals.sweep``).
    """
    now = now or timezone.now()
    actions = {
        workflow.name: workflow.on_deadline
        for workflow in registry.all_workflows()
        if workflow.on_deadline is not None
    }
    if not actions:
        return 0
    escalated = Escalation.objects.filter(interrupt=OuterRef("pk"))
    due = (
        Interrupt.objects.pending()
        .filter(deadline_at__lte=now, thread__workflow__in=list(actions))
        .filter(~Exists(escalated))
        .select_related("thread")
        .order_by("deadline_at", "id")[:DEADLINE_BATCH]
    )
    handled = 0
    for interrupt in due:
        action = actions[interrupt.thread.workflow]
        try:
            if isinstance(action, Default):
                answer_interrupt(
                    interrupt=interrupt, user=None, value=action.value,
                    decision=action.decision, by=Decision.By.DEADLINE,
                )
            elif isinstance(action, Escalate):
                escalate(interrupt=interrupt, group=action.group)
        except workflow_services.InterruptNotPending:
            continue  # a reviewer answered it meanwhile
        except (workflow_services.InvalidResumeValue, ValueError) as exc:
            logger.error(
                "deadline of interrupt %s: the default answer was refused: %s", interrupt.pk, exc
            )
            continue
        handled += 1
    return handled


def on_sweep(sender: Any = None, *, now: datetime | None = None, **kwargs: Any) -> None:
    """Receiver of the periodic sweep (``workflows.signals.sweep``): apply due deadlines."""
    apply_deadlines(now=now)
