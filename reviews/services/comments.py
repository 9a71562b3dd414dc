"""``add_comment``: a reviewer's note on an interrupt before it is decided (``Comment``), shown
on the item's open pages after commit (``reviews.presence``) and in the audit."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from workflows import validation
from workflows.models import Interrupt

from .. import presence
from ..models import Comment
from .common import check_can_answer, lock_pending

__all__ = ["add_comment"]


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
    check_can_answer(interrupt, user)
    with transaction.atomic():
        lock_pending(interrupt)
        comment = Comment.objects.create(interrupt=interrupt, author=user, body=body)
        presence.review_changed(interrupt.pk, "comments")
    return comment
