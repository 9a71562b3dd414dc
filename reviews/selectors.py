"""Read-side queries of the review pages: the inbox's pending interrupts and a reviewer's
answered ones, filtered as the pages' filter forms ask.

Search is a case-insensitive substring match on the JSON text of the interrupt's value and of
its thread's input (``Cast`` to text): simple, works on SQLite and PostgreSQL, and good enough
for an inbox; PostgreSQL full-text search would be the next step.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from workflows import registry
from workflows.models import Interrupt

from .models import Claim, Decision, DecisionAction

__all__ = ["answered_by", "audit_log", "inbox_interrupts", "search_filter"]

MINE = "mine"
UNCLAIMED = "unclaimed"
OLDEST = "oldest"
NEWEST = "newest"


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


def visible_pending(user: Any) -> QuerySet[Interrupt]:
    """Pending interrupts ``user`` may see: those of workflows whose ``view_permission`` the
    user lacks are left out (the inbox, its counts, the nav's badge)."""
    return Interrupt.objects.pending().exclude(thread__workflow__in=registry.hidden_from(user))


def inbox_interrupts(
    *,
    user: Any,
    workflow: str = "",
    claim: str = "",
    q: str = "",
    sort: str = OLDEST,
    now: datetime | None = None,
) -> QuerySet[Interrupt]:
    """Pending interrupts, longest-waiting first (``sort="newest"``: newest first).

    ``workflow`` keeps one workflow's; ``claim="mine"`` those ``user`` holds an unexpired claim
    on, ``claim="unclaimed"`` those nobody does; ``q`` searches the payload and the thread's
    input. Empty arguments do not filter. Interrupts of workflows whose ``view_permission``
    ``user`` lacks are left out.
    """
    now = now or timezone.now()
    interrupts = visible_pending(user).select_related("thread")
    if workflow:
        interrupts = interrupts.filter(thread__workflow=workflow)
    active = Claim.objects.active(now).filter(interrupt=OuterRef("pk"))
    if claim == MINE:
        interrupts = interrupts.filter(Exists(active.filter(user=user)))
    elif claim == UNCLAIMED:
        interrupts = interrupts.filter(~Exists(active))
    if q:
        interrupts = _with_text(interrupts, value="value", input="thread__input")
        interrupts = interrupts.filter(search_filter(q, "value", "input"))
    order = ["-created_at", "-id"] if sort == NEWEST else ["created_at", "id"]
    return interrupts.order_by(*order)


def answered_by(*, user: Any, workflow: str = "", q: str = "") -> QuerySet[Decision]:
    """``user``'s decisions, newest first, with their interrupts and threads."""
    decisions = (
        Decision.objects.filter(user=user)
        .select_related("interrupt__thread", "run")
        .prefetch_related("actions")
    )
    if workflow:
        decisions = decisions.filter(interrupt__thread__workflow=workflow)
    if q:
        decisions = _with_text(
            decisions, value="interrupt__value", input="interrupt__thread__input"
        )
        decisions = decisions.filter(search_filter(q, "value", "input"))
    return decisions.order_by("-created_at", "-id")


def audit_log(*, user: str = "", workflow: str = "", kind: str = "") -> QuerySet[Decision]:
    """Every decision, newest first; ``user`` (a user's pk), ``workflow`` and ``kind`` filter.
    ``kind`` matches a decision of that kind or with an action decided so (a batch in which
    one tool call was edited is found under "edit")."""
    decisions = Decision.objects.select_related(
        "user", "interrupt__thread", "run"
    ).prefetch_related("actions")
    if user:
        decisions = decisions.filter(user_id=user)
    if workflow:
        decisions = decisions.filter(interrupt__thread__workflow=workflow)
    if kind:
        decided = DecisionAction.objects.filter(decision=OuterRef("pk"), kind=kind)
        decisions = decisions.filter(Q(kind=kind) | Exists(decided))
    return decisions.order_by("-created_at", "-id")
