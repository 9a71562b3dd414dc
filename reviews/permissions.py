"""Who may answer an interrupt: Django permissions, site-wide and per workflow.

Answering any interrupt needs ``reviews.answer_interrupt``; a workflow registered with
``review_permission="app.codename"`` needs that one too. Django's ``ModelBackend`` grants active
superusers every permission, and permissions may come from groups (a "Reviewers" group holding
``reviews.answer_interrupt`` is the usual set-up).
"""

from __future__ import annotations

from typing import Any

from workflows import registry

ANSWER_PERMISSION = "reviews.answer_interrupt"

__all__ = ["ANSWER_PERMISSION", "can_answer", "missing_answer_permissions", "required_permissions"]


def required_permissions(workflow: str) -> list[str]:
    """The permissions needed to answer interrupts of the workflow named ``workflow``."""
    permissions = [ANSWER_PERMISSION]
    try:
        extra = registry.get(workflow).review_permission
    except registry.UnknownWorkflow:
        extra = None
    if extra:
        permissions.append(extra)
    return permissions


def missing_answer_permissions(user: Any, workflow: str) -> list[str]:
    """The permissions ``user`` lacks to answer ``workflow``'s interrupts (empty: none)."""
    if not getattr(user, "is_authenticated", False):
        return required_permissions(workflow)
    return [perm for perm in required_permissions(workflow) if not user.has_perm(perm)]


def can_answer(user: Any, workflow: str) -> bool:
    """Whether ``user`` may answer (and claim) interrupts of the workflow named ``workflow``."""
    return not missing_answer_permissions(user, workflow)
