"""``claim_interrupt`` / ``release_claim``: a reviewer's lease on an interrupt (``Claim``), so
two people do not review the same item. While the lease lasts only its holder may answer; it
ends when they answer, release it, or it runs out (``Claim.LEASE``, ten minutes). Every change
is told after commit to the open inboxes and to the item's open pages (``reviews.presence``)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from workflows.models import Interrupt

from .. import presence
from ..models import Claim
from .common import (
    ClaimedByOther,
    ClaimNotHeld,
    check_can_answer,
    inbox_changed,
    lock,
    lock_pending,
    other_holder,
)

__all__ = ["claim_interrupt", "release_claim"]


def claim_interrupt(*, interrupt: Interrupt, user: Any) -> Claim:
    """Claim ``interrupt`` for ``user`` for ``Claim.LEASE`` from now, and return the claim.

    Claiming again renews one's own lease; a lease that ran out is taken over. Raises
    ``NotAllowed`` (the user may not answer this workflow), ``InterruptNotPending`` (answered
    or cancelled) and ``ClaimedByOther`` (someone else's lease lasts); nothing is written then.
    Every open inbox is told after commit.
    """
    check_can_answer(interrupt, user)
    with transaction.atomic():
        lock_pending(interrupt)
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
                holder = other_holder(interrupt, user, now)
                if holder is None:
                    raise
                raise ClaimedByOther(holder) from None
        transaction.on_commit(inbox_changed)
        presence.review_changed(interrupt.pk)
        return Claim.objects.select_related("user").get(interrupt=interrupt)  # as committed


def release_claim(*, interrupt: Interrupt, user: Any) -> None:
    """End ``user``'s claim on ``interrupt`` (lapsed or not), so others can answer it.

    Raises ``ClaimNotHeld`` when ``user`` holds no claim on it; nothing is written then.
    """
    with transaction.atomic():
        lock(interrupt)
        deleted, _ = Claim.objects.filter(interrupt=interrupt, user=user).delete()
        if not deleted:
            raise ClaimNotHeld(f"{user.get_username()} holds no claim on this interrupt")
        transaction.on_commit(inbox_changed)
        presence.review_changed(interrupt.pk)
