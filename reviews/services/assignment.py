"""``assign`` / ``reassign``: whose queue an interrupt is in (``Assignment``: users and Django
groups); the assignees are told after commit (``reviews.signals.review_assigned``, which emails
them). ``assign_from_workflow`` applies a workflow's ``assignees=`` to a new interrupt."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from workflows import registry
from workflows import services as workflow_services
from workflows.models import Interrupt

from ..models import Assignment
from ..signals import review_assigned
from .common import NotAllowed, UnknownAssignee, inbox_changed, lock_pending

__all__ = [
    "assign", "assign_from_workflow", "assignees_of", "assigns", "current_assignees", "reassign",
]

logger = logging.getLogger(__name__)
GROUP_PREFIX = "group:"


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
        lock_pending(interrupt)
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
            transaction.on_commit(inbox_changed)
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


def _assigning(workflow: str) -> registry.RegisteredWorkflow | None:
    """The registered workflow ``workflow`` if it names ``assignees=``, else ``None``."""
    try:
        registered = registry.get(workflow)
    except registry.UnknownWorkflow:
        return None
    return registered if registered.assignees is not None else None


def assigns(workflow: str) -> bool:
    """Whether the registered workflow ``workflow`` names ``assignees=`` (``False`` for an
    unknown name): only then does :func:`assign_from_workflow` assign anything."""
    return _assigning(workflow) is not None


def assign_from_workflow(*, interrupt: Interrupt) -> list[Assignment]:
    """Assign a new pending ``interrupt`` as its workflow's ``assignees=`` say, once: an
    interrupt that has ever had an assignment (e.g. one reassigned to nobody) is left alone.

    A failing ``assignees`` callable or a name that is no user or group is logged (logger
    ``reviews.services.assignment``) and skipped: the item stays in everyone's inbox rather than
    being lost. Returns the new rows. Called for every interrupt a run pauses on
    (``workflows.signals.run_interrupted``, see ``reviews.receivers``).
    """
    workflow = _assigning(interrupt.thread.workflow)
    if workflow is None or Assignment.objects.filter(interrupt=interrupt).exists():
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
