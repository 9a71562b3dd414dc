"""Email notices to the assignees of a review, with a signed, expiring link to the item.

``email_assignees`` receives ``reviews.signals.review_assigned`` (after the assignment
commits) and sends one email per recipient through Django's email framework
(``EMAIL_BACKEND``: the console in development, locmem in tests, SMTP in production). The
recipients are the newly assigned users and the active members of the newly assigned groups,
with an email address, except the user who assigned it.

The link is ``FLOWSITE_SITE_URL`` + ``/r/<token>/``: the token is ``django.core.signing.dumps``
of the interrupt's pk (a ``TimestampSigner`` underneath, salt ``"reviews.link"``), valid
``FLOWSITE_REVIEW_LINK_MAX_AGE`` seconds. The link view (``reviews.views.review_link``) checks
signature and age and redirects to the item, whose page still requires login: the link grants
nothing by itself; it keeps email links from being forged or used forever.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from workflows.views import workflow_title

__all__ = ["LINK_SALT", "email_assignees", "interrupt_of_link", "review_link"]

LINK_SALT = "reviews.link"
logger = logging.getLogger("reviews.notifications")


def review_link(interrupt: Any) -> str:
    """The absolute, signed link to ``interrupt``'s page that emails carry."""
    token = signing.dumps({"i": interrupt.pk}, salt=LINK_SALT, compress=True)
    return settings.FLOWSITE_SITE_URL + reverse("reviews:link", args=[token])


def interrupt_of_link(token: str) -> int:
    """The interrupt pk a link's token names. Raises ``signing.SignatureExpired`` (older than
    ``FLOWSITE_REVIEW_LINK_MAX_AGE`` seconds) or ``signing.BadSignature`` (forged, altered)."""
    data = signing.loads(token, salt=LINK_SALT, max_age=settings.FLOWSITE_REVIEW_LINK_MAX_AGE)
    if not isinstance(data, dict) or not isinstance(data.get("i"), int):
        raise signing.BadSignature("A review link names an interrupt")
    return data["i"]


def recipients(users: list, groups: list, by: Any = None) -> list:
    """Users to notify: ``users`` and the active members of ``groups``, each once, with an
    email address, except ``by``."""
    User = get_user_model()
    members = User.objects.filter(groups__in=groups, is_active=True) if groups else []
    found = {u.pk: u for u in [*users, *members] if u.is_active and u.email}
    if by is not None:
        found.pop(by.pk, None)
    return list(found.values())


def email_assignees(
    sender: Any, *, interrupt: Any, users: list, groups: list, by: Any = None, reason: str = "",
    **kwargs: Any,
) -> int:
    """Email each recipient a notice of the assignment with a signed link to the item; returns
    how many were sent. Subject and body: ``reviews/email/assigned_subject.txt`` and
    ``reviews/email/assigned.txt``."""
    people = recipients(users, groups, by)
    if not people:
        return 0
    context = {
        "interrupt": interrupt,
        "workflow_title": workflow_title(interrupt.thread.workflow),
        "link": review_link(interrupt),
        "by": by,
        "reason": reason,
        "groups": groups,
        "max_age_days": settings.FLOWSITE_REVIEW_LINK_MAX_AGE // 86400,
    }
    messages = []
    for person in people:
        personal = {**context, "recipient": person}
        subject = render_to_string("reviews/email/assigned_subject.txt", personal).strip()
        body = render_to_string("reviews/email/assigned.txt", personal)
        messages.append(EmailMessage(" ".join(subject.split()), body, to=[person.email]))
    return get_connection().send_messages(messages) or 0
