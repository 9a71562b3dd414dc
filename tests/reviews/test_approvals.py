"""N approvers and four eyes: ``approvals=N`` resumes after N distinct approvals (each its own
row), a rejection decides at once, ``self_approval=False`` bars the run's starter."""


import pytest
from django.db import connection
from django.urls import reverse

from reviews import services
from reviews.models import Approval, Claim, Decision
from workflows.execution import running
from workflows import services as workflow_services
from tests.races import at_once
from workflows.models import Interrupt, Run, Thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(register_workflow, thread_factory, interrupt_factory, user_factory):
    """``item(approvals=2, self_approval=True, starter=None)``: a pending interrupt of a
    workflow registered with that policy, its thread started by ``starter``."""

    def make(*, approvals=2, self_approval=True, starter=None):
        register_workflow("four-eyes", approvals=approvals, self_approval=self_approval)
        thread = thread_factory(workflow="four-eyes", created_by=starter)
        return interrupt_factory(thread=thread)

    return make


def approve(interrupt, user, decision="approve", value=True):
    return services.answer_interrupt(interrupt=interrupt, user=user, value=value, decision=decision)


def test_the_run_resumes_only_at_the_second_distinct_approval(item, user_factory):
    alice, bob, interrupt = user_factory("alice"), user_factory("bob"), item()
    assert approve(interrupt, alice) is None
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING
    assert not Run.objects.exists() and not Decision.objects.exists()
    with pytest.raises(services.AlreadyApproved):
        approve(interrupt, alice)
    assert Approval.objects.count() == 1
    run = approve(interrupt, bob)
    assert run.kind == Run.Kind.RESUME
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.RESOLVED and interrupt.resolved_by == bob
    decision = Decision.objects.get()
    assert (decision.user, decision.kind, decision.run) == (bob, "approve", run)
    assert [a.user for a in Approval.objects.all()] == [alice, bob]
    with pytest.raises(workflow_services.InterruptNotPending):
        approve(interrupt, user_factory("carol"))
    assert Approval.objects.count() == 2


def test_a_rejection_by_anyone_decides_at_once(item, user_factory):
    alice, bob, interrupt = user_factory("alice"), user_factory("bob"), item(approvals=3)
    approve(interrupt, alice)
    run = approve(interrupt, bob, decision="reject", value=False)
    assert run is not None
    decision = Decision.objects.get()
    assert (decision.user, decision.kind, decision.value) == (bob, "reject", False)
    assert Interrupt.objects.get().status == Interrupt.Status.RESOLVED


def test_an_edit_is_refused_where_several_approvals_are_needed(item, user_factory):
    interrupt = item()
    with pytest.raises(services.PlainApprovalNeeded, match="needs 2 approvals"):
        approve(interrupt, user_factory(), decision="edit", value={"essay": "mine"})
    assert not Approval.objects.exists() and not Decision.objects.exists()


def test_an_approval_releases_the_approvers_claim(item, user_factory):
    alice, interrupt = user_factory("alice"), item()
    services.claim_interrupt(interrupt=interrupt, user=alice)
    approve(interrupt, alice)
    assert not Claim.objects.exists()


def test_one_approval_is_the_default(item, user_factory):
    interrupt = item(approvals=1)
    assert approve(interrupt, user_factory()) is not None
    assert not Approval.objects.exists() and Decision.objects.count() == 1


@pytest.mark.parametrize("approvals", [1, 2])
def test_the_starter_may_not_approve_but_may_reject(item, user_factory, approvals):
    starter = user_factory("starter")
    interrupt = item(approvals=approvals, self_approval=False, starter=starter)
    for decision in ("approve", "edit"):
        with pytest.raises(services.SelfApproval, match="You started this run"):
            approve(interrupt, starter, decision=decision)
    assert not Approval.objects.exists() and not Decision.objects.exists()
    assert approve(interrupt, starter, decision="reject", value=False) is not None


def test_self_approval_is_allowed_by_default(item, user_factory):
    starter = user_factory("starter")
    interrupt = item(approvals=1, starter=starter)
    assert approve(interrupt, starter) is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_resume_once(item, user_factory):
    """Two last approvals at once (each its own connection): the row lock and the conditional
    update let exactly one resume the run; the other finds the item no longer pending."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers (IMMEDIATE): nothing runs at once to race")
    users = [user_factory(f"u{n}") for n in range(3)]
    interrupt = item(approvals=2)
    approve(interrupt, users[0])
    outcomes = at_once(lambda user: approve(Interrupt.objects.get(pk=interrupt.pk), user), users[1:])
    assert not [o for o in outcomes if isinstance(o, BaseException)
                and not isinstance(o, workflow_services.InterruptNotPending)], outcomes
    runs = [o for o in outcomes if isinstance(o, Run)]
    assert len(outcomes) == 2 and len(runs) == 1
    assert Run.objects.count() == 1 and Decision.objects.count() == 1
    assert Approval.objects.count() == 2  # the loser's approval rolled back with it


# -- the item page --------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_two_approvers_over_http(register_workflow, user_factory, reviewer_client):
    register_workflow("four-eyes", approvals=2, self_approval=False)
    starter, alice, bob = user_factory("starter"), user_factory("alice"), user_factory("bob")
    run = workflow_services.start_run(workflow="four-eyes", input="otters", user=starter)
    running.execute_run(run.pk)
    interrupt = Interrupt.objects.pending().get()
    page = reverse("reviews:interrupt", args=[interrupt.pk])
    answer = reverse("reviews:answer", args=[interrupt.pk])

    own = reviewer_client(starter)
    body = own.get(page).content.decode()
    assert "0 of 2 approvals" in body and "You started this run, so someone else must approve it" in body
    response = own.post(answer, {"decision": "approve"})
    assert response.status_code == 403
    assert "You started this run, and this workflow needs someone else to approve it" in response.content.decode()

    first = reviewer_client(alice)
    response = first.post(answer, {"decision": "approve"}, follow=True)
    body = response.content.decode()
    assert response.request["PATH_INFO"] == page
    assert "Your approval is recorded: 1 of 2 approvals." in body
    assert "1 of 2 approvals</strong>: you" in body and "You approved this." in body
    assert 'name="decision"' not in body  # no second approval from alice
    assert first.post(answer, {"decision": "approve"}).status_code == 409
    assert "1 of 2 approvals" in first.get(reverse("reviews:inbox")).content.decode()
    assert Thread.objects.get().status == Thread.Status.INTERRUPTED

    second = reviewer_client(bob)
    assert "1 of 2 approvals</strong>: alice" in second.get(page).content.decode()
    response = second.post(answer, {"decision": "approve"})
    assert response["Location"] == reverse("workflows:thread", args=[interrupt.thread_id])
    running.execute_run(Decision.objects.get().run_id)
    thread = Thread.objects.get()
    assert thread.status == Thread.Status.DONE and thread.result["is_approved"] is True
    body = second.get(page).content.decode()
    assert "Approved by <strong>alice</strong>" in body and "<strong>bob</strong>" in body


def test_the_audit_log_lists_each_approval(item, user_factory, reviewer_client):
    alice, bob, interrupt = user_factory("alice"), user_factory("bob"), item()
    approve(interrupt, alice)
    approve(interrupt, bob)
    staff = reviewer_client(user_factory("sam", is_staff=True))
    body = staff.get(reverse("reviews:audit")).content.decode()
    assert '<span class="audit-approvals">approved by alice <time' in body
    assert ", bob <time" in body
