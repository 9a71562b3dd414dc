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
        (section, bob, {"approved": True, "comment": "Fine by me"}, "answer"),
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
    assert listed(response) == [("bob", "answer"), ("bob", "reject"), ("alice", "approve")]
    html = response.content.decode()
    assert "Fine by me" in html and "Parallel section review" in html
    assert f'href="{AUDIT}" aria-current="page"' in html  # the nav's Audit link


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"user": "alice"}, [("alice", "approve")]),
        ({"user": "bob", "kind": "reject"}, [("bob", "reject")]),
        ({"workflow": "parallel-review"}, [("bob", "answer")]),
        ({"workflow": "essay-review", "kind": "answer"}, []),
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


@pytest.fixture
def agent_decisions(user_factory, interrupt_factory, decided):
    """carol answered a batched agent request (edit one call, reject the other) and ignored an
    Agent Inbox request."""
    from tests.reviews.agent_payloads import BATCHED, EMAIL_ARGS, INBOX, fresh

    carol = user_factory("carol")
    edited = {**EMAIL_ARGS, "subject": "Monthly report"}
    services.answer_interrupt(
        interrupt=interrupt_factory(value=fresh(BATCHED)),
        user=carol,
        value={
            "decisions": [
                {"type": "edit", "edited_action": {"name": "send_email", "args": edited}},
                {"type": "reject", "message": "Keep the report."},
            ]
        },
        decision="mixed",
        actions=[
            {
                "name": "send_email",
                "kind": "edit",
                "diff": {"subject": {"old": "Report", "new": "Monthly report"}},
            },
            {"name": "delete_file", "kind": "reject", "message": "Keep the report."},
        ],
    )
    services.answer_interrupt(
        interrupt=interrupt_factory(value=fresh(INBOX)),
        user=carol,
        value=[{"type": "ignore", "args": None}],
        decision="ignore",
        actions=[{"name": "send_email", "kind": "ignore"}],
    )
    return carol


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("edit", [("carol", "mixed")]),  # a batch in which one call was edited
        ("reject", [("carol", "mixed"), ("bob", "reject")]),
        ("ignore", [("carol", "ignore")]),
        ("mixed", [("carol", "mixed")]),
        ("answer", [("bob", "answer")]),
        ("respond", []),
    ],
)
def test_audit_filters_by_kind_of_each_action(
    reviewer_client, user_factory, agent_decisions, kind, expected
):
    response = reviewer_client(user_factory(is_staff=True)).get(AUDIT, {"kind": kind})
    assert response.status_code == 200
    assert listed(response) == expected


def test_audit_shows_kinds_and_diffs_readably(reviewer_client, user_factory, agent_decisions):
    html = (
        reviewer_client(user_factory(is_staff=True)).get(AUDIT, {"kind": "edit"}).content.decode()
    )
    assert '<span class="decision decision-mixed">Mixed</span>' in html
    assert '<code>send_email</code> <span class="decision decision-edit">Edited</span>' in html
    assert '<span class="diff-where">subject</span>' in html
    assert "<del>Report</del>" in html and "<ins>Monthly report</ins>" in html
    assert '<code>delete_file</code> <span class="decision decision-reject">Rejected</span>' in html
    assert "“Keep the report.”" in html
    kinds = dict(
        reviewer_client(user_factory(is_staff=True))
        .get(AUDIT)
        .context["filter_form"]
        .fields["kind"]
        .choices
    )
    assert {"approve", "edit", "reject", "respond", "ignore", "answer"} <= set(kinds)


def test_unknown_action_kind_is_refused(user_factory, interrupt_factory):
    with pytest.raises(ValueError, match="Unknown decision 'maybe'"):
        services.answer_interrupt(
            interrupt=interrupt_factory(),
            user=user_factory(),
            value=True,
            decision="approve",
            actions=[{"name": "x", "kind": "maybe"}],
        )
