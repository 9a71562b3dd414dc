"""Who is on an item's page right now, and the live messages of that page.

Each open item page holds a WebSocket (``reviews.consumers.ReviewConsumer``) that is one
``Presence`` row while it lasts; the consumer joins the channel-layer group
``review.<interrupt id>``. Whatever changes what the page shows about others (someone opens or
leaves it, claims or releases it, answers it, comments on it) is told to that group with
``review_changed`` after commit, and each consumer re-renders its part from the database.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from workflows.execution import publishing

from .models import Presence

__all__ = ["group_name", "join", "leave", "renew", "review_changed", "viewers"]


def group_name(interrupt_id: int) -> str:
    """The channel-layer group of one item's pages (``review.<id>``)."""
    return f"review.{int(interrupt_id)}"


def review_changed(interrupt_id: int, what: str = "presence") -> None:
    """After commit, tell the pages of ``interrupt_id`` that ``what`` changed: ``presence``
    (viewers or claim) or ``comments``."""
    message = {"type": "review.changed", "what": what}
    transaction.on_commit(lambda: publishing.group_send(group_name(interrupt_id), message))


def join(*, interrupt_id: int, user: Any, channel_name: str) -> None:
    """``user``'s page of ``interrupt_id`` is open on ``channel_name``."""
    Presence.objects.update_or_create(
        channel_name=channel_name,
        defaults={"interrupt_id": interrupt_id, "user": user, "seen_at": timezone.now()},
    )
    review_changed(interrupt_id)


def renew(*, channel_name: str) -> None:
    """The page on ``channel_name`` is still open (its consumer's heartbeat)."""
    Presence.objects.filter(channel_name=channel_name).update(seen_at=timezone.now())


def leave(*, interrupt_id: int, channel_name: str) -> None:
    """The page on ``channel_name`` closed."""
    Presence.objects.filter(channel_name=channel_name).delete()
    review_changed(interrupt_id)


def viewers(interrupt_id: int) -> list[Any]:
    """The users with the item's page open (a live row: seen within ``Presence.TTL``), by
    name; each once however many tabs they have."""
    from django.contrib.auth import get_user_model

    live = Presence.objects.filter(
        interrupt_id=interrupt_id, seen_at__gt=timezone.now() - Presence.TTL
    )
    users = get_user_model().objects.filter(pk__in=live.values("user_id"))
    return sorted(users, key=lambda user: user.get_username())
