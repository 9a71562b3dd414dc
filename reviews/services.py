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
* N approvers and four eyes: a workflow registered with ``approvals=N`` resumes only after N
  distinct reviewers approved (each an ``Approval`` row; the N-th writes the ``Decision``); a
  rejection by anyone decides at once (Windmill's rule: an approval step resumes on its
  required number of approvals, or on one cancel). ``self_approval=False``: the user who
  started the run (``Thread.created_by``) may not approve it.
* ``assign`` / ``reassign``: whose queue an interrupt is in (``Assignment``: users and Django
  groups); the assignees are told after commit (``reviews.signals.review_assigned``, which
  emails them). ``assign_from_workflow`` applies a workflow's ``assignees=`` to a new interrupt.

Correctness under concurrency comes from the database: the interrupt's row is locked first
(``select_for_update`` on PostgreSQL; SQLite's ``IMMEDIATE`` transactions serialize writers),
claims change with conditional updates, and the one-to-one on ``Claim.interrupt`` refuses a
second claim outright.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
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
from .models import Approval, Assignment, Claim, Comment, Decision, DecisionAction, Escalation
from .permissions import missing_answer_permissions
from .signals import review_assigned
from .templatetags.reviews_tags import question_summary

logger = logging.getLogger("reviews.services")
GROUP_PREFIX = "group:"

__all__ = [
    "AlreadyApproved",
    "ClaimNotHeld",
    "ClaimedByOther",
    "NotAllowed",
    "PlainApprovalNeeded",
    "SelfApproval",
    "UnknownAssignee",
    "add_comment",
    "answer_interrupt",
    "apply_deadlines",
    "assign",
    "assign_from_workflow",
    "claim_interrupt",
    "escalate",
    "reassign",
    "release_claim",
]

deadline_logger = logging.getLogger("reviews.deadlines")
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


def _check_can_answer(interrupt: Interrupt, user: Any) -> None:
    missing = missing_answer_permissions(user, interrupt.thread.workflow)
    if missing:
        who = user.get_username() if getattr(user, "is_authenticated", False) else "Anonymous"
        raise NotAllowed(
            f"{who} may not answer interrupts of {interrupt.thread.workflow or 'this workflow'}"
            f" (missing {', '.join(missing)})",
            missing=missing,
        )


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


def _check_policy(interrupt: Interrupt, user: Any, decision: str, approvals: int) -> None:
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


def _approve(interrupt: Interrupt, user: Any, value: Any, approvals: int) -> bool:
    """Record ``user``'s approval (the interrupt's row is locked); whether it is the last one
    needed. The unique constraint refuses a second approval by the same user."""
    try:
        with transaction.atomic():  # a savepoint: the constraint may say no
            Approval.objects.create(interrupt=interrupt, user=user, value=value)
    except IntegrityError:
        raise AlreadyApproved(
            "You already approved this; it waits for another reviewer's approval"
        ) from None
    return Approval.objects.filter(interrupt=interrupt).count() >= approvals


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
        _check_can_answer(interrupt, user)
    try:
        with transaction.atomic():
            _lock_pending(interrupt)
            holder = _other_holder(interrupt, user, timezone.now()) if user else None
            if holder is not None:
                raise ClaimedByOther(holder)
            approvals, _self = review_policy(interrupt.thread.workflow)
            # the system's default answer (a deadline ran out) decides at once
            if user is not None:
                _check_policy(interrupt, user, decision, approvals)
            if user is not None and approvals > 1 and decision == Decision.Kind.APPROVE:
                if not _approve(interrupt, user, value, approvals):
                    # one approval more; the next approver may need the item: release a claim
                    Claim.objects.filter(interrupt=interrupt).delete()
                    transaction.on_commit(_inbox_changed)
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
    workflow says ``Escalate(group=...)``): the ``Escalation`` row records it (the sweep's
    "already escalated" mark) and the group is assigned the item through :func:`assign`, so its
    members are told (``review_assigned``, email); the interrupt stays pending. Escalating it
    again returns the first row. A group that does not exist is logged, the escalation still
    recorded. Raises ``InterruptNotPending`` when it was answered or cancelled meanwhile."""
    with transaction.atomic():
        _lock_pending(interrupt)
        row, created = Escalation.objects.get_or_create(
            interrupt=interrupt, defaults={"group": group}
        )
        if created:
            try:
                with transaction.atomic():  # a savepoint: an unknown group loses only this
                    assign(interrupt=interrupt, groups=[group], reason="deadline escalation")
            except UnknownAssignee as exc:
                deadline_logger.error("escalation of interrupt %s: %s", interrupt.pk, exc)
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
            deadline_logger.error("deadline of interrupt %s: the default answer was refused: %s",
                         interrupt.pk, exc)
            continue
        handled += 1
    return handled


def on_sweep(sender: Any = None, *, now: datetime | None = None, **kwargs: Any) -> None:
    """Receiver of the periodic sweep (``workflows.signals.sweep``): apply due deadlines."""
    apply_deadlines(now=now)


def _inbox_changed() -> None:
    publishing.group_send(INBOX_GROUP, {"type": "inbox.changed"})


# -- assignment ------------------------------------------------------------------------------------
def _resolve(users: Iterable[Any], groups: Iterable[Any]) -> tuple[list[Any], list[Group]]:
    """``User`` objects for ``users`` (users or usernames; active ones only) and ``Group``
    objects for ``groups`` (groups or names), in the order given, without repeats. Raises
    ``UnknownAssignee`` naming what does not exist."""
    User = get_user_model()
    user_objects = [u for u in users if not isinstance(u, str)]
    names = [u for u in users if isinstance(u, str)]
    group_objects = [g for g in groups if not isinstance(g, str)]
    group_names = [g for g in groups if isinstance(g, str)]
    found = {
        u.get_username(): u
        for u in User.objects.filter(**{f"{User.USERNAME_FIELD}__in": names, "is_active": True})
    }
    found_groups = {g.name: g for g in Group.objects.filter(name__in=group_names)}
    unknown = [n for n in names if n not in found]
    unknown += [f"{GROUP_PREFIX}{n}" for n in group_names if n not in found_groups]
    inactive = [u.get_username() for u in user_objects if not u.is_active]
    if unknown or inactive:
        raise UnknownAssignee(unknown + inactive)
    resolved_users = list({u.pk: u for u in [*user_objects, *(found[n] for n in names)]}.values())
    resolved_groups = list(
        {g.pk: g for g in [*group_objects, *(found_groups[n] for n in group_names)]}.values()
    )
    return resolved_users, resolved_groups


def assign(
    *,
    interrupt: Interrupt,
    users: Iterable[Any] = (),
    groups: Iterable[Any] = (),
    by: Any = None,
    reason: str = "",
    replace: bool = False,
) -> list[Assignment]:
    """Assign the pending ``interrupt`` to ``users`` (``User`` objects or usernames) and
    ``groups`` (``auth.Group`` objects or names), and return the new ``Assignment`` rows.

    Adds to its current assignees (an assignee it already has is left as it is: no new row, no
    new notice); ``replace=True`` removes the current assignees not listed (their rows get
    ``removed_at``/``removed_by``: the audit keeps them). ``by`` is the user who assigns
    (``None``: the system, e.g. a workflow's ``assignees`` or a deadline's escalation);
    ``reason`` a short text kept on the rows (at most 200 characters).

    One transaction, under the interrupt's row lock. After commit,
    ``reviews.signals.review_assigned`` is sent for the newly assigned users and groups (Flowsite
    emails them a signed link to the item; see ``reviews.notifications``) and open inboxes are
    told to refresh. Raises ``UnknownAssignee`` (a name that is no active user or no group) and
    ``workflows.services.InterruptNotPending`` (answered or cancelled); nothing is written then.
    """
    user_list, group_list = _resolve(list(users), list(groups))
    reason = reason[:200]
    actor = by if getattr(by, "is_authenticated", False) else None
    with transaction.atomic():
        _lock_pending(interrupt)
        now = timezone.now()
        current = Assignment.objects.current().filter(interrupt=interrupt)
        if replace:
            current.exclude(user__in=user_list).exclude(group__in=group_list).update(
                removed_at=now, removed_by=actor
            )
        have_users = set(current.filter(user__isnull=False).values_list("user_id", flat=True))
        have_groups = set(current.filter(group__isnull=False).values_list("group_id", flat=True))
        row = {"interrupt": interrupt, "assigned_by": actor, "reason": reason, "created_at": now}
        new = [Assignment(user=u, **row) for u in user_list if u.pk not in have_users] + [
            Assignment(group=g, **row) for g in group_list if g.pk not in have_groups
        ]
        Assignment.objects.bulk_create(new)
        if new or replace:
            transaction.on_commit(_inbox_changed)
        if new:
            notice = {
                "interrupt": interrupt,
                "users": [a.user for a in new if a.user_id is not None],
                "groups": [a.group for a in new if a.group_id is not None],
                "by": actor,
                "reason": reason,
            }
            transaction.on_commit(lambda: _send_assigned(notice))
    return new


def reassign(
    *, interrupt: Interrupt, users: Iterable[Any] = (), groups: Iterable[Any] = (), by: Any,
    reason: str = "",
) -> list[Assignment]:
    """Staff only: make ``users`` and ``groups`` the pending ``interrupt``'s assignees instead of
    the current ones (none: unassigned). ``assign(..., replace=True)`` with ``by``'s staff
    status checked first; raises ``NotAllowed`` for a user who is not staff, and what
    ``assign`` raises. The new and the removed rows keep who did it, when and ``reason``."""
    if not (getattr(by, "is_authenticated", False) and by.is_staff):
        raise NotAllowed("Only staff may reassign reviews.", missing=["is_staff"])
    return assign(
        interrupt=interrupt, users=users, groups=groups, by=by, reason=reason or "reassigned",
        replace=True,
    )


def current_assignees(interrupt: Interrupt) -> list[Assignment]:
    """``interrupt``'s current assignments, users' and groups', oldest first."""
    return list(
        Assignment.objects.current().filter(interrupt=interrupt).select_related("user", "group")
    )


def assignees_of(workflow: registry.RegisteredWorkflow, value: Any) -> tuple[list[str], list[str]]:
    """The usernames and group names a workflow's ``assignees`` give for an interrupt whose
    value is ``value`` (a callable is called with it). Raises what the callable raises, and
    ``TypeError`` when it returns something else than a list of strings."""
    spec = workflow.assignees
    if spec is None:
        return [], []
    names = spec(value) if callable(spec) else spec
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise TypeError(f"assignees of {workflow.name} must give a list of strings, got {names!r}")
    groups = [n.removeprefix(GROUP_PREFIX) for n in names if n.startswith(GROUP_PREFIX)]
    return [n for n in names if not n.startswith(GROUP_PREFIX)], groups


def assign_from_workflow(*, interrupt: Interrupt) -> list[Assignment]:
    """Assign a new pending ``interrupt`` as its workflow's ``assignees=`` say, once: an
    interrupt that has ever had an assignment (e.g. one reassigned to nobody) is left alone.

    A failing ``assignees`` callable or a name that is no user or group is logged (logger
    ``reviews.services``) and skipped: the item stays in everyone's inbox rather than being lost.
    Returns the new rows. Called for every interrupt a run pauses on
    (``workflows.signals.run_interrupted``, see ``reviews.receivers``).
    """
    try:
        workflow = registry.get(interrupt.thread.workflow)
    except registry.UnknownWorkflow:
        return []
    if workflow.assignees is None or Assignment.objects.filter(interrupt=interrupt).exists():
        return []
    try:
        users, groups = assignees_of(workflow, interrupt.value)
    except Exception:
        logger.exception("assignees of %s failed for interrupt %s", workflow.name, interrupt.pk)
        return []
    try:
        _resolve(users, groups)
    except UnknownAssignee as exc:
        logger.warning("%s: %s (assignees of %s)", interrupt, exc, workflow.name)
        known_users = [u for u in users if u not in exc.names]
        known_groups = [g for g in groups if f"{GROUP_PREFIX}{g}" not in exc.names]
        users, groups = known_users, known_groups
    try:
        return assign(interrupt=interrupt, users=users, groups=groups, reason="workflow assignees")
    except workflow_services.InterruptNotPending:
        return []


def _send_assigned(notice: dict[str, Any]) -> None:
    for receiver, response in review_assigned.send_robust(sender=Interrupt, **notice):
        if isinstance(response, Exception):
            logger.error(
                "review_assigned receiver %r failed for %s",
                receiver, notice["interrupt"], exc_info=response,
            )
