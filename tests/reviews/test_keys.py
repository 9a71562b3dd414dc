"""The keyboard's server side: an answer posted with ``then=next`` opens the next waiting item
the reviewer may answer (``selectors.next_waiting``), and an item's page says where ``j`` and
``k`` go. The keys themselves are in ``test_keys_browser.py``."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews import selectors
from reviews.models import Claim, Decision

pytestmark = pytest.mark.django_db


def queue(interrupt_factory, thread_factory, count, **thread_fields):
    start = timezone.now() - timedelta(hours=1)
    return [
        interrupt_factory(
            thread=thread_factory(**thread_fields), created_at=start + timedelta(minutes=n)
        )
        for n in range(count)
    ]


def test_then_next_redirects_to_the_next_waiting_item(reviewer_client, interrupt_factory, thread_factory):
    first, second, third = queue(interrupt_factory, thread_factory, 3)
    client = reviewer_client()
    response = client.post(
        reverse("reviews:answer", args=[second.pk]), {"decision": "approve", "then": "next"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("reviews:interrupt", args=[third.pk])
    decision = Decision.objects.get(interrupt=second)  # the same answer as a click writes
    assert (decision.kind, decision.value, decision.user) == ("approve", True, client.user)
    page = client.get(response["Location"]).content.decode()
    assert "Approved: Essay review. Here is the next one." in page

    # After the last one it wraps round to the oldest still waiting; over htmx, HX-Redirect.
    response = client.post(
        reverse("reviews:answer", args=[third.pk]),
        {"decision": "reject", "then": "next"},
        headers={"HX-Request": "true"},
    )
    assert response["HX-Redirect"] == reverse("reviews:interrupt", args=[first.pk])


def test_then_next_with_nothing_left_goes_to_the_inbox(reviewer_client, interrupt_factory):
    only = interrupt_factory()
    client = reviewer_client()
    response = client.post(
        reverse("reviews:answer", args=[only.pk]), {"decision": "reject", "then": "next"}
    )
    assert response["Location"] == reverse("reviews:inbox")
    page = client.get(reverse("reviews:inbox")).content.decode()
    assert "Rejected: Essay review. Nothing else is waiting for you." in page


def test_without_then_the_answer_still_goes_to_the_thread(reviewer_client, interrupt_factory):
    one, _other = interrupt_factory(), interrupt_factory()
    response = reviewer_client().post(reverse("reviews:answer", args=[one.pk]), {"decision": "approve"})
    assert response["Location"] == reverse("workflows:thread", args=[one.thread_id])


def test_next_waiting_skips_what_the_reviewer_cannot_answer(
    user_factory, interrupt_factory, thread_factory, register_workflow, permission_factory
):
    perm, _ = permission_factory("answer_secret")
    register_workflow("secret-review", review_permission=perm)
    alice, bob = user_factory("alice"), user_factory("bob")
    answered, claimed, secret, free = queue(interrupt_factory, thread_factory, 4)
    secret.thread.workflow = "secret-review"
    secret.thread.save()
    now = timezone.now()
    Claim.objects.create(interrupt=claimed, user=bob, expires_at=now + Claim.LEASE)
    assert selectors.next_waiting(user=alice, after=answered) == free
    # One's own claim does not hide an item; a lapsed claim of someone else neither.
    assert selectors.next_waiting(user=bob, after=answered) == claimed
    Claim.objects.filter(interrupt=claimed).update(expires_at=now - timedelta(seconds=1))
    assert selectors.next_waiting(user=alice, after=answered) == claimed
    assert selectors.next_waiting(user=user_factory("carol", reviewer=False), after=answered) is None


def test_item_page_links_its_neighbours_for_j_and_k(reviewer_client, interrupt_factory, thread_factory):
    first, second, third = queue(interrupt_factory, thread_factory, 3)
    client = reviewer_client()
    html = client.get(reverse("reviews:interrupt", args=[second.pk])).content.decode()
    assert f'data-next-url="{reverse("reviews:interrupt", args=[third.pk])}"' in html
    assert f'data-previous-url="{reverse("reviews:interrupt", args=[first.pk])}"' in html
    assert 'data-key="a"' in html and 'data-key="r"' in html  # the buttons the keys press
    html = client.get(reverse("reviews:interrupt", args=[first.pk])).content.decode()
    assert "data-previous-url" not in html


def test_neighbours_of_items_created_at_the_same_moment_go_by_id(reviewer_client, interrupt_factory):
    at = timezone.now()
    first, second, third = (interrupt_factory(created_at=at) for _ in range(3))
    user = reviewer_client().user
    assert selectors.neighbours(user=user, interrupt=second) == (first, third)
    assert selectors.neighbours(user=user, interrupt=first) == (None, second)
    assert selectors.neighbours(user=user, interrupt=third) == (second, None)
    assert selectors.next_waiting(user=user, after=second) == third
