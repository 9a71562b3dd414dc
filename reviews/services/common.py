"""What the review services share: their errors, the answer-permission check, the interrupt's
row lock and the inbox's after-commit notice.

Correctness under concurrency comes from the database: the interrupt's row is locked first
(``select_for_update`` on PostgreSQL; SQLite's ``IMMEDIATE`` transactions serialize writers),
claims change with conditional updates, and the one-to-one on ``Claim.interrupt`` refuses a
second claim outright.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from workflows import services as workflow_services
from workflows.execution import publishing
from workflows.models import Interrupt

from ..consumers import GROUP as INBOX_GROUP
from ..models import Claim
from ..permissions import missing_answer_permissions

__all__ = [
    "AlreadyApproved",
    "ClaimNotHeld",
    "ClaimedByOther",
    "NotAllowed",
    "PlainApprovalNeeded",
    "SelfApproval",
    "UnknownAssignee",
]


class NotAllowed(PermissionDenied):
    """The user lacks a permission the action needs; nothing was written. ``missing`` names
    the permissions."""

    def __init__(self, message: str, *, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


class ClaimedByOther(workflow_services.ResumeError):
    """Someone else holds an unexpired claim on the interrupt; nothing was written.
    ``claim`` is their claim (with its ``user``)."""

    def __init__(self, claim: Claim) -> None:
        local = timezone.localtime(claim.expires_at)
        super().__init__(f"{claim.user.get_username()} is reviewing this until {local:%H:%M}")
        self.claim = claim


class ClaimNotHeld(ValueError):
    """``release_claim`` by a user who holds no claim on the interrupt; nothing was written."""


class SelfApproval(NotAllowed):
    """The workflow forbids self-approval (``self_approval=False``) and ``user`` started the
    run; nothing was written. Rejecting stays possible."""


class AlreadyApproved(workflow_services.ResumeError):
    """``user`` already approved this interrupt, which waits for other approvers; nothing was
    written."""


class PlainApprovalNeeded(workflow_services.ResumeError):
    """A decision other than approve or reject (an edit, a response, an answer) on an item
    that needs several approvals: they approve the same thing, so it is refused; nothing was
    written."""


class UnknownAssignee(ValueError):
    """A username or group name that does not exist (or an inactive user); nothing was
    written. ``names`` lists them."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"No such active user or group: {', '.join(names)}")
        self.names = names


def check_can_answer(interrupt: Interrupt, user: Any) -> None:
    """Raise ``NotAllowed`` when ``user`` may not answer interrupts of ``interrupt``'s workflow
    (``reviews.permissions.missing_answer_permissions``)."""
    missing = missing_answer_permissions(user, interrupt.thread.workflow)
    if missing:
        who = user.get_username() if getattr(user, "is_authenticated", False) else "Anonymous"
        raise NotAllowed(
            f"{who} may not answer interrupts of {interrupt.thread.workflow or 'this workflow'}"
            f" (missing {', '.join(missing)})",
            missing=missing,
        )


def lock(interrupt: Interrupt) -> str | None:
    """Lock ``interrupt``'s row for this transaction and return its status. Every change of a
    claim takes this lock first, so they happen one at a time per interrupt (PostgreSQL; SQLite's
    IMMEDIATE transactions already exclude other writers)."""
    rows = Interrupt.objects.select_for_update().filter(pk=interrupt.pk)
    return rows.values_list("status", flat=True).first()


def lock_pending(interrupt: Interrupt) -> None:
    """``lock`` and check that ``interrupt`` still waits for an answer; raises
    ``workflows.services.InterruptNotPending`` when it does not."""
    if lock(interrupt) != Interrupt.Status.PENDING:
        raise workflow_services.InterruptNotPending(
            f"Interrupt {interrupt.interrupt_id} is no longer pending"
        )


def other_holder(interrupt: Interrupt, user: Any, now: Any) -> Claim | None:
    """Someone else's unexpired claim on ``interrupt`` at ``now``, with its user; or ``None``."""
    return (
        Claim.objects.active(now)
        .filter(interrupt=interrupt)
        .exclude(user=user)
        .select_related("user")
        .first()
    )


def inbox_changed() -> None:
    """Tell every open inbox to refresh (an ``on_commit`` callback)."""
    publishing.group_send(INBOX_GROUP, {"type": "inbox.changed"})
