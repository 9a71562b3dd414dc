"""Review deadlines: what a workflow's ``review_deadline`` / ``on_deadline`` say, and the
stamping of a deadline on each interrupt when its run pauses.

``registry.register(..., review_deadline=timedelta(hours=4), on_deadline=Default(False))``:
an interrupt of that workflow left unanswered four hours after it was raised gets the answer
``False``, recorded as the system's decision (``reviews.services.apply_deadlines``, run by the
periodic sweep). ``on_deadline=Escalate(group="leads")`` hands it to a group instead;
``on_deadline=None`` only shows the deadline (a due date, as Camunda's). A value that is neither
is the default answer itself: ``on_deadline=True`` is ``Default(True)``.

The deadline is stored on the ``Interrupt`` (``deadline_at``, indexed with its status) when the
run is recorded as interrupted, so the inbox sorts by it and the sweep finds what is due with
one index range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import F

__all__ = ["Default", "Escalate", "deadline_action", "stamp_deadlines"]


@dataclass(frozen=True)
class Default:
    """Answer an interrupt whose deadline passed with ``value`` (the resume value, as a
    reviewer's form would send it: ``True`` for an approval on an approve/reject form).
    ``decision`` is the ``reviews.Decision.Kind`` value the audit records: ``"answer"``, or
    ``"approve"``/``"reject"``... Prefect's pause timeouts and Windmill's approval timeouts
    continue the same way."""

    value: Any
    decision: str = "answer"

    def __post_init__(self) -> None:
        if self.value is None:
            raise ValueError("Default(None): None is not a valid resume value")


@dataclass(frozen=True)
class Escalate:
    """Escalate an interrupt whose deadline passed to the Django group named ``group``: it is
    assigned to that group and stays pending (Camunda's escalation of a user task)."""

    group: str

    def __post_init__(self) -> None:
        if not isinstance(self.group, str) or not self.group.strip():
            raise ValueError(f"Escalate(group=...) needs a group name, got {self.group!r}")


def deadline_action(on_deadline: Any) -> Default | Escalate | None:
    """``on_deadline`` as registered: a ``Default``, an ``Escalate``, ``None``, or a value that
    becomes ``Default(value)``. Raises ``ValueError`` as ``Default`` does."""
    if on_deadline is None or isinstance(on_deadline, Default | Escalate):
        return on_deadline
    if isinstance(on_deadline, type) and issubclass(on_deadline, Default | Escalate):
        raise TypeError(f"on_deadline takes an instance, e.g. {on_deadline.__name__}(...)")
    return Default(on_deadline)


def check_deadline(review_deadline: Any, on_deadline: Any) -> None:
    """Registration's checks: ``TypeError`` for a ``review_deadline`` that is not a
    ``timedelta``, ``ValueError`` for one that is not positive or an ``on_deadline`` without
    one."""
    if review_deadline is None:
        if on_deadline is not None:
            raise ValueError("on_deadline needs a review_deadline")
        return
    if not isinstance(review_deadline, timedelta):
        raise TypeError(
            f"review_deadline must be a datetime.timedelta, got {type(review_deadline).__name__}"
        )
    if review_deadline <= timedelta(0):
        raise ValueError(f"review_deadline must be positive, got {review_deadline}")


def stamp_deadlines(thread_pk: int, workflow: str) -> int:
    """Give the pending interrupts of thread ``thread_pk`` that have none the deadline of
    ``workflow`` (``created_at + review_deadline``); returns how many rows changed. A workflow
    without a deadline (or no longer registered) changes nothing. Called in the transaction
    that records a run as interrupted."""
    from . import registry
    from .models import Interrupt

    try:
        review_deadline = registry.get(workflow).review_deadline
    except registry.UnknownWorkflow:
        return 0
    if review_deadline is None:
        return 0
    return (
        Interrupt.objects.pending()
        .filter(thread_id=thread_pk, deadline_at__isnull=True)
        .update(deadline_at=F("created_at") + review_deadline)
    )
