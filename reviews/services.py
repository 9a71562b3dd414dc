"""State changes of the review product. One keyword-only function each.

* ``answer_interrupt``: resume a paused run and record who decided what, in one transaction.
* ``claim_interrupt`` / ``release_claim``: a reviewer's lease on an interrupt (``Claim``), so
  two people do not review the same item. While the lease lasts only its holder may answer;
  it ends when they answer, release it, or it runs out (``Claim.LEASE``, ten minutes).
* ``apply_deadlines``: what the periodic sweep does with interrupts whose ``deadline_at``
  passed (``workflows.deadlines``): a default answer through ``answer_interrupt`` as the
  system's decision, or an escalation to a group (``escalate``).
* ``add_comment``: a reviewer's note on an interrupt before it is decided (``Comment``).

Every change is told after commit to the open inboxes and to the item's open pages
(``reviews.presence``).

Correctness under concurrency comes from the database: the interrupt's row is locked first
(``select_for_update`` on PostgreSQL; SQLite's ``IMMEDIATE`` transactions serialize writers),
claims change with conditional updates, and the one-to-one on ``Claim.interrupt`` refuses a
second claim outright.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from workflows import registry, validation
from workflows import services as workflow_services
from workflows.deadlines import Default, Escalate
from workflows.execution import publishing
from workflows.models import Interrupt, Run

from . import presence
from .consumers import GROUP as INBOX_GROUP
from .models import Claim, Comment, Decision, DecisionAction, Escalation
from .permissions import missing_answer_permissions
from .templatetags.reviews_tags import question_summary

__all__ = [
    "ClaimNotHeld",
    "ClaimedByOther",
    "NotAllowed",
    "add_comment",
    "answer_interrupt",
    "apply_deadlines",
    "claim_interrupt",
    "escalate",
    "release_claim",
]

logger = logging.getLogger("reviews.deadlines")
DEADLINE_BATCH = 100  # interrupts handled per sweep (the rest wait for the next one)


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
    by: str = Decision.By.REVIEWER,
) -> Run:
    """Resume ``interrupt``'s thread with ``value`` and record ``user``'s decision.

    ``by`` is who decides: a reviewer (``user``), or ``Decision.By.DEADLINE`` with
    ``user=None`` for the system's default answer when a deadline ran out (no permission to
    check, and it overrides a reviewer's claim; ``apply_deadlines``).

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
    if by not in Decision.By.values:
        raise ValueError(f"Unknown decider {by!r}; expected one of {Decision.By.values}")
    if (by == Decision.By.REVIEWER) != (user is not None):
        raise ValueError("A reviewer's decision needs its user; the system's has none")
    if by == Decision.By.REVIEWER:
        _check_can_answer(interrupt, user)
    try:
        with transaction.atomic():
            _lock_pending(interrupt)
            holder = _other_holder(interrupt, user, timezone.now()) if user else None
            if holder is not None:
                raise ClaimedByOther(holder)
            run = workflow_services.resume_run(interrupt=interrupt, value=value, user=user)
            thread = interrupt.thread
            row = Decision.objects.create(
                interrupt=interrupt,
                user=user,
                by=by,
                kind=decision,
                value=value,
                diff=diff,
                run=run,
                workflow=thread.workflow,
                thread_key=thread.thread_id,
                interrupt_key=interrupt.interrupt_id,
                question=question_summary(interrupt, 300),
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
            presence.review_changed(interrupt.pk)
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
        presence.review_changed(interrupt.pk)
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
        presence.review_changed(interrupt.pk)


def add_comment(*, interrupt: Interrupt, user: Any, body: str) -> Comment:
    """Add ``user``'s comment ``body`` (plain text, stripped; at most ``Comment.MAX_LENGTH``
    characters) to ``interrupt`` and return it; the item's open pages show it after commit.

    Raises ``NotAllowed`` when ``user`` may not answer the workflow (commenting is part of
    reviewing), ``InterruptNotPending`` once it is answered or cancelled (comments come before
    the decision), ``ValueError`` for an empty or too long body or one with a NUL character or
    a lone surrogate (``workflows.validation``); nothing is written then.
    """
    body = (body or "").strip()
    if not body:
        raise ValueError("Write a comment first.")
    if len(body) > Comment.MAX_LENGTH:
        raise ValueError(f"A comment has at most {Comment.MAX_LENGTH} characters ({len(body)}).")
    try:
        validation.check_json_value(body)  # no NUL character, no lone surrogate
    except ValidationError as exc:
        raise ValueError(exc.messages[0]) from None
    _check_can_answer(interrupt, user)
    with transaction.atomic():
        _lock_pending(interrupt)
        comment = Comment.objects.create(interrupt=interrupt, author=user, body=body)
        presence.review_changed(interrupt.pk, "comments")
    return comment


def escalate(*, interrupt: Interrupt, group: str) -> Escalation:
    """Hand ``interrupt`` to the Django group named ``group`` (its deadline passed and the
    workflow says ``Escalate(group=...)``): the ``Escalation`` row records it, the interrupt
    stays pending. Escalating it again returns the first row. Raises ``InterruptNotPending``
    when it was answered or cancelled meanwhile."""
    with transaction.atomic():
        _lock_pending(interrupt)
        row, created = Escalation.objects.get_or_create(
            interrupt=interrupt, defaults={"group": group}
        )
        if created:
            transaction.on_commit(_inbox_changed)
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
            logger.error("deadline of interrupt %s: the default answer was refused: %s",
                         interrupt.pk, exc)
            continue
        handled += 1
    return handled


def on_sweep(sender: Any = None, *, now: datetime | None = None, **kwargs: Any) -> None:
    """Receiver of the periodic sweep (``workflows.signals.sweep``): apply due deadlines."""
    apply_deadlines(now=now)


def _inbox_changed() -> None:
    publishing.group_send(INBOX_GROUP, {"type": "inbox.changed"})
