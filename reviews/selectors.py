"""Read-side queries of the review pages: the inbox's pending interrupts and a reviewer's
answered ones, filtered as the pages' filter forms ask.

Search is a case-insensitive substring match on the JSON text of the interrupt's value and of
its thread's input (``Cast`` to text). It is written as the union of two id sets (interrupts
whose value matches, interrupts whose thread's input matches) rather than one ``OR`` across the
join, so that on PostgreSQL each half is a bitmap scan of its ``pg_trgm`` GIN index (migrations
``workflows.0004``, on ``UPPER(value::text)`` and ``UPPER(input::text)``, the expression of
Django's ``icontains``); SQLite scans.

Every list is read in index order: the inbox's pending interrupts by the partial index
``(created_at, id) WHERE status = 'pending'`` (a workflow's through the partial index on
``thread``), decisions by ``created_at`` and ``(user, created_at)``. Counts are capped
(``workflows.pagination``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from workflows import registry
from workflows.models import Interrupt, Thread
from workflows.pagination import CappedCount, capped_counts

from .models import Approval, Assignment, Claim, Comment, Decision, DecisionAction

__all__ = [
    "answerable_pending",
    "answered_by",
    "assigned_count_querysets",
    "assigned_counts",
    "audit_log",
    "inbox_interrupts",
    "matching_interrupts",
    "neighbours",
    "next_waiting",
    "search_filter",
    "visible_pending",
]

MINE = "mine"
UNCLAIMED = "unclaimed"
ASSIGNED_TO_ME = "me"
MY_GROUPS = "groups"
OLDEST = "oldest"
NEWEST = "newest"
DUE = "due"
SYSTEM = "system"


def search_filter(text: str, *fields: str) -> Q:
    """``Q`` matching rows whose JSON ``fields`` contain ``text`` (case-insensitive).

    Every field must be annotated as ``<field>_text`` (see ``_with_text``). SQLite stores JSON
    with non-ASCII characters escaped (``\\u00e9``), so the escaped spelling matches too.
    """
    spellings = {text, json.dumps(text)[1:-1]}
    query = Q()
    for field in fields:
        for spelling in spellings:
            query |= Q(**{f"{field}_text__icontains": spelling})
    return query


def _with_text(queryset: QuerySet, **fields: str) -> QuerySet:
    return queryset.annotate(
        **{f"{name}_text": Cast(path, output_field=TextField()) for name, path in fields.items()}
    )


def matching_interrupts(text: str, among: QuerySet[Interrupt] | None = None) -> QuerySet:
    """Ids (``values("pk")``) of the interrupts of ``among`` (default: all) whose value, or
    whose thread's input, contains ``text`` (case-insensitive, as ``search_filter``): a
    ``UNION`` of the two sets, for ``pk__in=``."""
    among = (Interrupt.objects.all() if among is None else among).order_by()
    by_value = _with_text(among, value="value").filter(search_filter(text, "value"))
    threads = _with_text(Thread.objects.order_by(), input="input").filter(
        search_filter(text, "input")
    )
    by_input = among.filter(thread__in=threads.values("pk"))
    return by_value.values("pk").union(by_input.values("pk"))


def _visible(interrupts: QuerySet[Interrupt], user: Any) -> QuerySet[Interrupt]:
    hidden = registry.hidden_from(user)
    return interrupts.exclude(thread__workflow__in=hidden) if hidden else interrupts


def visible_pending(user: Any) -> QuerySet[Interrupt]:
    """Pending interrupts ``user`` may see: those of workflows whose ``view_permission`` the
    user lacks are left out (the inbox, its counts, the nav's badge)."""
    return _visible(Interrupt.objects.pending(), user)


def _assigned(user: Any, assigned: str) -> QuerySet[Assignment]:
    """Current assignments to ``user`` (``"me"``) or to the groups ``user`` is in
    (``"groups"``)."""
    current = Assignment.objects.current()
    if assigned == ASSIGNED_TO_ME:
        return current.filter(user=user)
    return current.filter(group__in=user.groups.values("pk"))


def assigned_count_querysets(user: Any) -> dict[str, QuerySet]:
    """What ``assigned_counts`` counts, by name (for ``capped_counts`` beside other badges)."""
    hidden = registry.hidden_from(user)

    def rows(assigned: str) -> QuerySet:
        found = _assigned(user, assigned).filter(interrupt__status=Interrupt.Status.PENDING)
        if hidden:
            found = found.exclude(interrupt__thread__workflow__in=hidden)
        return found.values("interrupt_id").distinct()

    return {"assigned_count": rows(ASSIGNED_TO_ME), "group_count": rows(MY_GROUPS)}


def assigned_counts(user: Any) -> dict[str, CappedCount]:
    """How many pending interrupts ``user`` may see are assigned to them (``assigned_count``)
    and to their groups (``group_count``): counted from the assignments' side (their indexes),
    not by scanning every pending interrupt, and capped like the other tabs (``capped_counts``:
    both in one query)."""
    return capped_counts(assigned_count_querysets(user))


def inbox_interrupts(
    *,
    user: Any,
    workflow: str = "",
    claim: str = "",
    assigned: str = "",
    q: str = "",
    sort: str = OLDEST,
    now: datetime | None = None,
) -> QuerySet[Interrupt]:
    """Pending interrupts, longest-waiting first (``sort="newest"``: newest first;
    ``sort="due"``: soonest deadline first, those without one last, on the ``interrupt_pending_due``
    index).

    ``workflow`` keeps one workflow's; ``claim="mine"`` those ``user`` holds an unexpired claim
    on, ``claim="unclaimed"`` those nobody does; ``assigned="me"`` those assigned to ``user``,
    ``assigned="groups"`` those assigned to a group of ``user``'s; ``q`` searches the payload and
    the thread's input. Empty arguments do not filter. Interrupts of workflows whose
    ``view_permission`` ``user`` lacks are left out.
    """
    now = now or timezone.now()
    pending = Interrupt.objects.pending()
    if q:  # the pending matches' ids (from the trigram indexes), then those rows by pk
        pending = Interrupt.objects.filter(pk__in=matching_interrupts(q, pending))
    interrupts = _visible(pending, user).select_related("thread")
    if workflow:
        interrupts = interrupts.filter(thread__workflow=workflow)
    if assigned:
        interrupts = interrupts.filter(pk__in=_assigned(user, assigned).values("interrupt_id"))
    active = Claim.objects.active(now).filter(interrupt=OuterRef("pk"))
    if claim == MINE:
        interrupts = interrupts.filter(Exists(active.filter(user=user)))
    elif claim == UNCLAIMED:
        interrupts = interrupts.filter(~Exists(active))
    if sort == DUE:
        order = [F("deadline_at").asc(nulls_last=True), "id"]
    else:
        order = ["-created_at", "-id"] if sort == NEWEST else ["created_at", "id"]
    return interrupts.select_related("escalation").order_by(*order)


def answerable_pending(user: Any, now: datetime | None = None) -> QuerySet[Interrupt]:
    """Pending interrupts ``user`` may see and answer now, longest-waiting first: of workflows
    whose permissions they hold (``reviews.permissions``) and not claimed by someone else (an
    unexpired ``Claim``). Empty for a user without ``reviews.answer_interrupt``."""
    from .permissions import ANSWER_PERMISSION, can_answer

    if not getattr(user, "is_authenticated", False) or not user.has_perm(ANSWER_PERMISSION):
        return Interrupt.objects.none()
    closed = [w.name for w in registry.all_workflows() if not can_answer(user, w.name)]
    others = Claim.objects.active(now or timezone.now()).filter(interrupt=OuterRef("pk"))
    return (
        visible_pending(user)
        .exclude(thread__workflow__in=closed)
        .filter(~Exists(others.exclude(user=user)))
        .order_by("created_at", "id")
    )


def _after(interrupt: Interrupt) -> Q:
    """Rows after ``interrupt`` in the inbox's oldest-first order (``created_at``, ``id``).

    The leading ``created_at >= ...`` says nothing new, but it is what PostgreSQL can start the
    pending index's scan at (the ``OR`` alone it can only filter by, reading every row before
    ``interrupt``: 50,000 at 100k)."""
    at = interrupt.created_at
    return Q(created_at__gte=at) & (Q(created_at__gt=at) | Q(created_at=at, id__gt=interrupt.pk))


def _before(interrupt: Interrupt) -> Q:
    """Rows before ``interrupt`` in that order (the backward scan's start: ``created_at <=``)."""
    at = interrupt.created_at
    return Q(created_at__lte=at) & (Q(created_at__lt=at) | Q(created_at=at, id__lt=interrupt.pk))


def next_waiting(*, user: Any, after: Interrupt | None = None) -> Interrupt | None:
    """The item a reviewer who just answered ``after`` should see next: the first of
    ``answerable_pending(user)`` after it in the inbox's order, else the first from the start
    (wrapping round), else ``None`` (nothing is left for them)."""
    queue = answerable_pending(user)
    if after is None:
        return queue.first()
    queue = queue.exclude(pk=after.pk)
    return queue.filter(_after(after)).first() or queue.first()


def neighbours(*, user: Any, interrupt: Interrupt) -> tuple[Interrupt | None, Interrupt | None]:
    """The pending interrupts just before and just after ``interrupt`` in the inbox's
    oldest-first order, among those ``user`` may see (``(None, None)`` at the ends): where
    ``k`` and ``j`` go from an item's page."""
    queue = visible_pending(user).exclude(pk=interrupt.pk)
    following = queue.filter(_after(interrupt)).order_by("created_at", "id").first()
    preceding = queue.filter(_before(interrupt)).order_by("-created_at", "-id").first()
    return preceding, following


def answered_by(*, user: Any, workflow: str = "", q: str = "") -> QuerySet[Decision]:
    """``user``'s decisions, newest first, with their interrupts and threads."""
    decisions = (
        Decision.objects.filter(user=user)
        .select_related("interrupt__thread", "run")
        .prefetch_related("actions")
    )
    if workflow:
        decisions = decisions.filter(workflow=workflow)
    if q:
        decisions = decisions.filter(interrupt__in=matching_interrupts(q))
    return decisions.order_by("-created_at", "-id")


def audit_log(*, user: str = "", workflow: str = "", kind: str = "") -> QuerySet[Decision]:
    """Every decision, newest first, those of deleted threads included, with its interrupt's
    comments (prefetched); ``user`` (a user's pk,
    or ``"system"`` for the system's decisions), ``workflow`` and ``kind`` filter. ``kind``
    matches a decision of that kind or with an action decided so (a batch in which one tool
    call was edited is found under "edit")."""
    decisions = Decision.objects.select_related(
        "user", "interrupt__thread", "run"
    ).prefetch_related(  # each with its user joined: one query per relation, not two
        "actions",
        Prefetch("interrupt__comments", queryset=Comment.objects.select_related("author")),
        Prefetch("interrupt__approvals", queryset=Approval.objects.select_related("user")),
    )
    if user == SYSTEM:
        decisions = decisions.filter(user__isnull=True)
    elif user:
        decisions = decisions.filter(user_id=user)
    if workflow:
        decisions = decisions.filter(workflow=workflow)
    if kind:
        decided = DecisionAction.objects.filter(decision=OuterRef("pk"), kind=kind)
        decisions = decisions.filter(Q(kind=kind) | Exists(decided))
    return decisions.order_by("-created_at", "-id")
