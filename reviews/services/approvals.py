"""N approvers and four eyes: a workflow registered with ``approvals=N`` resumes only after N
distinct reviewers approved (each an ``Approval`` row; the N-th writes the ``Decision``); a
rejection by anyone decides at once (Windmill's rule: an approval step resumes on its required
number of approvals, or on one cancel). ``self_approval=False``: the user who started the run
(``Thread.created_by``) may not approve it. ``reviews.services.answers`` applies these.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from workflows import registry
from workflows.models import Interrupt

from ..models import Approval, Decision
from .common import AlreadyApproved, PlainApprovalNeeded, SelfApproval

__all__ = ["is_self_approval", "review_policy"]

# Decisions that let the run go ahead; the others (reject, ignore) turn the proposal down.
NO_DECISIONS = frozenset({Decision.Kind.REJECT, Decision.Kind.IGNORE})


def review_policy(workflow: str) -> tuple[int, bool]:
    """``(approvals, self_approval)`` of the workflow named ``workflow`` (``(1, True)`` for a
    name no longer registered)."""
    try:
        item = registry.get(workflow)
    except registry.UnknownWorkflow:
        return 1, True
    return item.approvals, item.self_approval


def is_self_approval(interrupt: Interrupt, user: Any) -> bool:
    """Whether ``user`` started ``interrupt``'s run and its workflow forbids self-approval."""
    _approvals, self_approval = review_policy(interrupt.thread.workflow)
    started_by = interrupt.thread.created_by_id
    return not self_approval and started_by is not None and started_by == user.pk


def check_policy(interrupt: Interrupt, user: Any, decision: str, approvals: int) -> None:
    """Raise ``SelfApproval`` (the run's starter approving under ``self_approval=False``) or
    ``PlainApprovalNeeded`` (an answer other than approve/reject where ``approvals`` > 1) for
    ``user``'s ``decision``; a rejection always passes."""
    if decision in NO_DECISIONS:
        return
    if is_self_approval(interrupt, user):
        raise SelfApproval(
            "You started this run, and this workflow needs someone else to approve it"
            " (four eyes). You can still reject it.",
            missing=[],
        )
    if approvals > 1 and decision != Decision.Kind.APPROVE:
        raise PlainApprovalNeeded(
            f"This item needs {approvals} approvals of the same request: approve it as it is,"
            " or reject it"
        )


def record_approval(interrupt: Interrupt, user: Any, value: Any, approvals: int) -> bool:
    """Record ``user``'s approval (the interrupt's row is locked); whether it is the last one
    needed. The unique constraint refuses a second approval by the same user
    (``AlreadyApproved``)."""
    try:
        with transaction.atomic():  # a savepoint: the constraint may say no
            Approval.objects.create(interrupt=interrupt, user=user, value=value)
    except IntegrityError:
        raise AlreadyApproved(
            "You already approved this; it waits for another reviewer's approval"
        ) from None
    return Approval.objects.filter(interrupt=interrupt).count() >= approvals
