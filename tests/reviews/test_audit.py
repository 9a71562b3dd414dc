"""The audit log: every decision, for staff, filterable by reviewer, workflow and decision."""

import pytest
from django.urls import reverse

from reviews import services

pytestmark = pytest.mark.django_db

AUDIT = reverse("reviews:audit")


@pytest.fixture
def decided(user_factory, interrupt_factory, thread_factory):
    """alice approved an essay, bob rejected one and answered a section review."""
    alice, bob = user_factory("alice"), user_factory("bob")
    section = interrupt_factory(
        thread=thread_factory(workflow="parallel-review"), value={"section": "Risks"}
    )
    answers = [
        (interrupt_factory(), alice, True, "approve"),
        (interrupt_factory(), bob, False, "reject"),
        (section, bob, {"approved": True, "comment": "Fine by me"}, "respond"),
    ]
    for interrupt, user, value, kind in answers:
        services.answer_interrupt(interrupt=interrupt, user=user, value=value, decision=kind)
    return alice, bob


def listed(response):
    return [(d.user.username, d.kind) for d in response.context["decisions"]]


def test_audit_is_for_staff(client, reviewer_client, user_factory):
    response = client.get(AUDIT)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    response = reviewer_client().get(AUDIT)
    assert response.status_code == 403
    assert "The audit log is for staff." in response.content.decode()
    assert f'href="{AUDIT}"' not in reviewer_client().get(reverse("reviews:inbox")).content.decode()


def test_audit_lists_every_decision_newest_first(reviewer_client, user_factory, decided):
    response = reviewer_client(user_factory(is_staff=True)).get(AUDIT)
    assert response.status_code == 200
    assert listed(response) == [("bob", "respond"), ("bob", "reject"), ("alice", "approve")]
    html = response.content.decode()
    assert "Fine by me" in html and "Parallel section review" in html
    assert f'href="{AUDIT}" aria-current="page"' in html  # the nav's Audit link


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"user": "alice"}, [("alice", "approve")]),
        ({"user": "bob", "kind": "reject"}, [("bob", "reject")]),
        ({"workflow": "parallel-review"}, [("bob", "respond")]),
        ({"workflow": "essay-review", "kind": "respond"}, []),
    ],
)
def test_audit_filters(reviewer_client, user_factory, decided, params, expected):
    users = {user.username: str(user.pk) for user in decided}
    if "user" in params:
        params = {**params, "user": users[params["user"]]}
    response = reviewer_client(user_factory(is_staff=True)).get(AUDIT, params)
    assert response.status_code == 200
    assert listed(response) == expected


def test_audit_reviewer_choices_are_those_who_decided(reviewer_client, user_factory, decided):
    staff = reviewer_client(user_factory("zed", is_staff=True))
    choices = dict(staff.get(AUDIT).context["filter_form"].fields["user"].choices)
    assert sorted(choices.values()) == ["Every reviewer", "alice", "bob"]


def test_audit_bad_filter_is_400_and_reported(reviewer_client, user_factory, decided):
    response = reviewer_client(user_factory(is_staff=True)).get(AUDIT, {"kind": "maybe"})
    assert response.status_code == 400
    assert "Some filters were ignored" in response.content.decode()
    assert len(listed(response)) == 3
