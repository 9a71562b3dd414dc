"""State changes of the review product. One keyword-only function each.

* ``answer_interrupt``: resume a paused run and record who decided what, in one transaction.
* ``claim_interrupt`` / ``release_claim``: a reviewer's lease on an interrupt (``Claim``), so
  two people do not review the same item. While the lease lasts only its holder may answer;
  it ends when they answer, release it, or it runs out (``Claim.LEASE``, ten minutes).

Correctness under concurrency comes from the database: the interrupt's row is locked first
(``select_for_update`` on PostgreSQL; SQLite's ``IMMEDIATE`` transactions serialize writers),
claims change with conditional updates, and the one-to-one on ``Claim.interrupt`` refuses a
second claim outright.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from workflows import services as workflow_services
from workflows.execution import publishing
from workflows.models import Interrupt, Run

from .consumers import GROUP as INBOX_GROUP
from .models import Claim, Decision, DecisionAction
from .permissions import missing_answer_permissions

__all__ = [
    "ClaimNotHeld",
    "ClaimedByOther",
    "NotAllowed",
    "answer_interrupt",
    "claim_interrupt",
    "release_claim",
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


def _check_can_answer(interrupt: Interrupt, user: Any) -> None:
    missing = missing_answer_permissions(user, interrupt.thread.workflow)
    if missing:
        who = user.get_username() if getattr(user, "is_authenticated", False) else "Anonymous"
        raise NotAllowed(
            f"{who} may not answer interrupts of {interrupt.thread.workflow or 'this workflow'}"
            f" (missing {', '.join(missing)})",
            missing=missing,
        )


def _lock(interrupt: Interrupt) -> str | None:
    """Lock ``interrupt``'s row for this transaction and return its status. Every change of a
    claim takes this lock first, so they happen one at a time per interrupt (PostgreSQL; SQLite's
    IMMEDIATE transactions already exclude other writers)."""
    rows = Interrupt.objects.select_for_update().filter(pk=interrupt.pk)
    return rows.values_list("status", flat=True).first()


def _lock_pending(interrupt: Interrupt) -> None:
    """``_lock`` and check that ``interrupt`` still waits for an answer."""
    if _lock(interrupt) != Interrupt.Status.PENDING:
        raise workflow_services.InterruptNotPending(
            f"Interrupt {interrupt.interrupt_id} is no longer pending"
        )


def _other_holder(interrupt: Interrupt, user: Any, now: Any) -> Claim | None:
    return (
        Claim.objects.active(now)
        .filter(interrupt=interrupt)
        .exclude(user=user)
        .select_related("user")
        .first()
    )


def answer_interrupt(
    *,
    interrupt: Interrupt,
    user: Any,
    value: Any,
    decision: str,
    diff: dict | None = None,
    actions: Sequence[Mapping[str, Any]] = (),
) -> Run:
    """Resume ``interrupt``'s thread with ``value`` and record ``user``'s decision.

    ``decision`` is a ``Decision.Kind`` value; ``diff`` an edit's changes per argument
    (``{"name": {"old": ..., "new": ...}}``); ``actions`` the decision on each action of an
    agent request, in order: mappings with ``name``, ``kind`` and optionally ``message`` and
    ``diff`` (one ``DecisionAction`` row each).

    One transaction: the interrupt is resolved, the resume run queued, the ``Decision`` (and
    its actions) written and any claim on the interrupt released together, or nothing is. After
    commit the run's executor wakes and every open inbox is told to refresh.

    Raises ``ValueError`` for an unknown ``decision`` or action kind; ``NotAllowed`` when
    ``user`` lacks ``reviews.answer_interrupt`` or the workflow's ``review_permission``;
    ``ClaimedByOther`` while another reviewer's claim lasts; and what
    ``workflows.services.resume_run`` raises: ``InterruptNotPending`` (already answered, e.g. a
    double submission) and ``InvalidResumeValue``.
    """
    for kind in [decision, *(action["kind"] for action in actions)]:
        if kind not in Decision.Kind.values:
            raise ValueError(f"Unknown decision {kind!r}; expected one of {Decision.Kind.values}")
    _check_can_answer(interrupt, user)
    try:
        with transaction.atomic():
            _lock_pending(interrupt)
            holder = _other_holder(interrupt, user, timezone.now())
            if holder is not None:
                raise ClaimedByOther(holder)
            run = workflow_services.resume_run(interrupt=interrupt, value=value, user=user)
            row = Decision.objects.create(
                interrupt=interrupt, user=user, kind=decision, value=value, diff=diff, run=run
            )
            DecisionAction.objects.bulk_create(
                DecisionAction(
                    decision=row,
                    position=position,
                    name=action["name"],
                    kind=action["kind"],
                    message=action.get("message") or "",
                    diff=action.get("diff"),
                )
                for position, action in enumerate(actions)
            )
            Claim.objects.filter(interrupt=interrupt).delete()
            transaction.on_commit(_inbox_changed)
    except IntegrityError as exc:  # a concurrent answer won the unique constraint
        raise workflow_services.InterruptNotPending(
            f"Interrupt {interrupt.interrupt_id} was answered concurrently"
        ) from exc
    return run


def claim_interrupt(*, interrupt: Interrupt, user: Any) -> Claim:
    """Claim ``interrupt`` for ``user`` for ``Claim.LEASE`` from now, and return the claim.

    Claiming again renews one's own lease; a lease that ran out is taken over. Raises
    ``NotAllowed`` (the user may not answer this workflow), ``InterruptNotPending`` (answered
    or cancelled) and ``ClaimedByOther`` (someone else's lease lasts); nothing is written then.
    Every open inbox is told after commit.
    """
    _check_can_answer(interrupt, user)
    with transaction.atomic():
        _lock_pending(interrupt)
        now = timezone.now()
        expires_at = now + Claim.LEASE
        mine = Claim.objects.filter(interrupt=interrupt, user=user)
        lapsed = Claim.objects.filter(interrupt=interrupt, expires_at__lte=now)
        if not (
            mine.update(expires_at=expires_at)
            or lapsed.update(user=user, claimed_at=now, expires_at=expires_at)
        ):
            try:
                with transaction.atomic():  # a savepoint: the constraint may say no
                    Claim.objects.create(
                        interrupt=interrupt, user=user, claimed_at=now, expires_at=expires_at
                    )
            except IntegrityError:
                # Someone else's lease lasts (with the interrupt's row locked, no other claim
                # can have come or gone since the updates above).
                holder = _other_holder(interrupt, user, now)
                if holder is None:
                    raise
                raise ClaimedByOther(holder) from None
        transaction.on_commit(_inbox_changed)
        return Claim.objects.select_related("user").get(interrupt=interrupt)  # as committed


def release_claim(*, interrupt: Interrupt, user: Any) -> None:
    """End ``user``'s claim on ``interrupt`` (lapsed or not), so others can answer it.

    Raises ``ClaimNotHeld`` when ``user`` holds no claim on it; nothing is written then.
    """
    with transaction.atomic():
        _lock(interrupt)
        deleted, _ = Claim.objects.filter(interrupt=interrupt, user=user).delete()
        if not deleted:
            raise ClaimNotHeld(f"{user.get_username()} holds no claim on this interrupt")
        transaction.on_commit(_inbox_changed)


def _inbox_changed() -> None:
    publishing.group_send(INBOX_GROUP, {"type": "inbox.changed"})
