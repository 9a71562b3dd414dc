"""``answer_interrupt``: resume a paused run and record who decided what, in one transaction
(or, where N approvals are needed, record one approval; ``reviews.services.approvals``). Every
change is told after commit to the open inboxes and to the item's open pages
(``reviews.presence``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from workflows import services as workflow_services
from workflows.models import Interrupt, Run

from .. import presence
from ..models import Claim, Decision, DecisionAction
from ..templatetags.reviews_tags import question_summary
from .approvals import check_policy, record_approval, review_policy
from .common import ClaimedByOther, check_can_answer, inbox_changed, lock_pending, other_holder

__all__ = ["answer_interrupt"]


def answer_interrupt(
    *,
    interrupt: Interrupt,
    user: Any,
    value: Any,
    decision: str,
    diff: dict | None = None,
    actions: Sequence[Mapping[str, Any]] = (),
    by: str = Decision.By.REVIEWER,
) -> Run | None:
    """Resume ``interrupt``'s thread with ``value`` and record ``user``'s decision; or, on an
    item whose workflow needs ``approvals=N`` (N > 1), record ``user``'s approval and return
    ``None`` until the N-th distinct approver, whose approval resumes the run as above. A
    rejection (``reject``/``ignore``) decides at once.

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
    double submission) and ``InvalidResumeValue``. With a review policy: ``SelfApproval`` (a
    ``NotAllowed``: the run's starter approving under ``self_approval=False``),
    ``AlreadyApproved`` (a second approval by the same user) and ``PlainApprovalNeeded`` (an
    edit or other answer where N approvals are needed). Nothing is written when it raises.
    """
    for kind in [decision, *(action["kind"] for action in actions)]:
        if kind not in Decision.Kind.values:
            raise ValueError(f"Unknown decision {kind!r}; expected one of {Decision.Kind.values}")
    if by not in Decision.By.values:
        raise ValueError(f"Unknown decider {by!r}; expected one of {Decision.By.values}")
    if (by == Decision.By.REVIEWER) != (user is not None):
        raise ValueError("A reviewer's decision needs its user; the system's has none")
    if by == Decision.By.REVIEWER:
        check_can_answer(interrupt, user)
    try:
        with transaction.atomic():
            lock_pending(interrupt)
            holder = other_holder(interrupt, user, timezone.now()) if user else None
            if holder is not None:
                raise ClaimedByOther(holder)
            approvals, _self = review_policy(interrupt.thread.workflow)
            # the system's default answer (a deadline ran out) decides at once
            if user is not None:
                check_policy(interrupt, user, decision, approvals)
            if user is not None and approvals > 1 and decision == Decision.Kind.APPROVE:
                if not record_approval(interrupt, user, value, approvals):
                    # one approval more; the next approver may need the item: release a claim
                    Claim.objects.filter(interrupt=interrupt).delete()
                    transaction.on_commit(inbox_changed)
                    presence.review_changed(interrupt.pk)
                    return None
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
            transaction.on_commit(inbox_changed)
            presence.review_changed(interrupt.pk)
    except IntegrityError as exc:  # a concurrent answer won the unique constraint
        raise workflow_services.InterruptNotPending(
            f"Interrupt {interrupt.interrupt_id} was answered concurrently"
        ) from exc
    return run
