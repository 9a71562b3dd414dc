"""State changes of the review product. One keyword-only function each."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from workflows import executor
from workflows import services as workflow_services
from workflows.models import Interrupt, Run

from .models import Decision
from .permissions import missing_answer_permissions

__all__ = ["NotAllowed", "answer_interrupt"]


class NotAllowed(PermissionDenied):
    """The user lacks a permission the action needs; nothing was written. ``missing`` names
    the permissions."""

    def __init__(self, message: str, *, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


def _check_can_answer(interrupt: Interrupt, user: Any) -> None:
    missing = missing_answer_permissions(user, interrupt.thread.workflow)
    if missing:
        who = user.get_username() if getattr(user, "is_authenticated", False) else "Anonymous"
        raise NotAllowed(
            f"{who} may not answer interrupts of {interrupt.thread.workflow or 'this workflow'}"
            f" (missing {', '.join(missing)})",
            missing=missing,
        )


def answer_interrupt(*, interrupt: Interrupt, user: Any, value: Any, decision: str) -> Run:
    """Resume ``interrupt``'s thread with ``value`` and record ``user``'s decision.

    One transaction: the interrupt is resolved, the resume run queued and the ``Decision`` written
    together, or nothing is. After commit the run's executor wakes and every open inbox is told to
    refresh. Raises ``ValueError`` for an unknown ``decision``, ``NotAllowed`` when ``user``
    lacks ``reviews.answer_interrupt`` or the workflow's ``review_permission``, and what
    ``workflows.services.resume_run`` raises: ``InterruptNotPending`` (already answered, e.g. a
    double submission) and ``InvalidResumeValue``.
    """
    if decision not in Decision.Kind.values:
        raise ValueError(f"Unknown decision {decision!r}; expected one of {Decision.Kind.values}")
    _check_can_answer(interrupt, user)
    try:
        with transaction.atomic():
            run = workflow_services.resume_run(interrupt=interrupt, value=value, user=user)
            Decision.objects.create(
                interrupt=interrupt, user=user, kind=decision, value=value, run=run
            )
            transaction.on_commit(_inbox_changed)
    except IntegrityError as exc:  # a concurrent answer won the unique constraint
        raise workflow_services.InterruptNotPending(
            f"Interrupt {interrupt.interrupt_id} was answered concurrently"
        ) from exc
    return run


def _inbox_changed() -> None:
    executor.group_send(executor.INBOX_GROUP, {"type": "inbox.changed"})
