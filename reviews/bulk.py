"""Bulk answers: one decision (approve or reject) given to several pending interrupts of one
workflow at once.

Each interrupt is answered on its own, exactly as its page would answer it: its answer form is
built and validated with the decision (``reviews.forms``), then ``services.answer_interrupt``
checks the permissions, the claim and that it still waits, in its own transaction, with its
own ``Decision`` and resume run. One item that fails does not stop the others; each outcome
says why. Only the forms with a single decision to give can be answered in bulk: Approve/Reject
buttons (``ApproveRejectForm``, a boolean schema) and agent requests (the same decision on
every tool call); the others need their own answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from workflows import registry
from workflows import services as workflow_services
from workflows.agent_requests import InvalidDecision
from workflows.models import Interrupt

from . import services
from .agent_forms import AgentAnswerFormSet
from .forms import (
    answer_form_class,
    audit_of,
    build_answer_form,
    decision_kind_of,
    resume_value_of,
)

__all__ = ["DECISIONS", "BulkOutcome", "MixedWorkflows", "answer_in_bulk"]

DECISIONS = ("approve", "reject")
MAX_ITEMS = 100  # at most a few inbox pages at once


class MixedWorkflows(ValueError):
    """The selection holds interrupts of more than one workflow; nothing was answered.
    ``workflows`` names them."""

    def __init__(self, workflows: list[str]) -> None:
        super().__init__(
            "Choose items of one workflow: a bulk answer gives them all the same decision, "
            f"and these are of {len(workflows)} workflows ({', '.join(workflows)})."
        )
        self.workflows = workflows


@dataclass(frozen=True)
class BulkOutcome:
    """What became of one selected interrupt: ``ok`` and, when not, ``reason`` (for people)."""

    interrupt_id: int
    label: str
    ok: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain data (the session keeps it between the POST and the inbox it redirects to)."""
        return {"interrupt_id": self.interrupt_id, "label": self.label, "ok": self.ok, "reason": self.reason}


def _decision_data(form_class: type, interrupt: Interrupt, decision: str) -> dict[str, Any] | None:
    """The POST data of the interrupt's own form for ``decision``, or ``None`` when that form
    has no single decision to give."""
    if "decision" in getattr(form_class, "button_fields", ()):
        return {"decision": decision}
    if isinstance(form_class, type) and issubclass(form_class, AgentAnswerFormSet):
        count = len(build_answer_form(form_class, interrupt).agent_request.actions)
        data: dict[str, Any] = {"action-TOTAL_FORMS": count, "action-INITIAL_FORMS": count}
        data.update({f"action-{n}-decision": decision for n in range(count)})
        return data
    return None


def _form_errors(form: Any) -> str:
    errors = getattr(form, "error_list", None)
    if errors is not None:  # an agent request's formset: (where, message, field id)
        return "; ".join(f"{where}: {message}" if where else message for where, message, _ in errors)
    return "; ".join(str(message) for messages in form.errors.values() for message in messages)


def _answer_one(interrupt: Interrupt, user: Any, decision: str) -> str:
    """Answer ``interrupt``; return ``""`` when it was answered, else why not."""
    form_class = answer_form_class(interrupt)
    data = _decision_data(form_class, interrupt, decision)
    if data is None:
        return "Its answer is a form of its own: answer it on its page."
    form = build_answer_form(form_class, interrupt, data)
    if not form.is_valid():
        return f"It cannot be answered “{decision}”: {_form_errors(form)}"
    try:
        services.answer_interrupt(
            interrupt=interrupt,
            user=user,
            value=resume_value_of(form),
            decision=decision_kind_of(form),
            **audit_of(form),
        )
    except services.NotAllowed as exc:
        missing = ", ".join(exc.missing)
        return f"You are not allowed to answer it (missing {missing})." if missing else str(exc)
    except services.ClaimedByOther as exc:
        return f"{exc}."
    except workflow_services.InterruptNotPending:
        interrupt.refresh_from_db()
        if interrupt.status == Interrupt.Status.CANCELLED:
            return "It was cancelled: the run no longer waits for it."
        who = interrupt.resolved_by.get_username() if interrupt.resolved_by else "someone else"
        return f"Already answered by {who}."
    except (workflow_services.InvalidResumeValue, InvalidDecision) as exc:
        return str(exc)
    return ""


def _selected(ids: Iterable[int]) -> QuerySet[Interrupt]:
    return Interrupt.objects.filter(pk__in=list(ids)).select_related(
        "thread", "thread__created_by", "resolved_by"
    )


def answer_in_bulk(
    *, interrupt_ids: Iterable[int], user: Any, decision: str, label: Any = str
) -> list[BulkOutcome]:
    """Give ``decision`` (``"approve"`` or ``"reject"``) to each interrupt of
    ``interrupt_ids`` (primary keys; duplicates count once) on behalf of ``user``, one at a
    time, each in its own transaction through ``services.answer_interrupt``. Returns one
    ``BulkOutcome`` per interrupt, in the inbox's order (oldest first); ``label(interrupt)``
    names each for people.

    An id that does not exist, or of a thread ``user`` may not see (the workflow's
    ``view_permission``), is reported as not found, its workflow not revealed. Raises
    ``ValueError`` for another ``decision``, for no ids or more than ``MAX_ITEMS``, and
    ``MixedWorkflows`` when the interrupts are of several workflows; nothing is answered then.
    """
    if decision not in DECISIONS:
        raise ValueError(f"Unknown bulk decision {decision!r}; expected one of {DECISIONS}")
    wanted = list(dict.fromkeys(int(pk) for pk in interrupt_ids))
    if not wanted:
        raise ValueError("Choose at least one item.")
    if len(wanted) > MAX_ITEMS:
        raise ValueError(f"Choose at most {MAX_ITEMS} items at once.")
    found = {i.pk: i for i in _selected(wanted) if registry.can_view(user, i.thread.workflow)}
    workflows = sorted({i.thread.workflow for i in found.values()})
    if len(workflows) > 1:
        raise MixedWorkflows(workflows)
    outcomes = [
        BulkOutcome(pk, f"Item #{pk}", ok=False, reason="Not found: it may have been deleted.")
        for pk in wanted
        if pk not in found
    ]
    for interrupt in sorted(found.values(), key=lambda i: (i.created_at, i.pk)):
        reason = _answer_one(interrupt, user, decision)
        outcomes.append(BulkOutcome(interrupt.pk, label(interrupt), ok=not reason, reason=reason))
    return outcomes
