"""Review deadlines: registration, the deadline stored on each interrupt when its run pauses,
and the sweep's default answer (the system's decision) or escalation. Time is moved with
``apply_deadlines(now=...)``, never slept."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews import services
from reviews.models import Claim, Decision, Escalation
from workflows import registry
from workflows.execution import recovery, running
from workflows import services as workflow_services
from workflows.deadlines import Default, Escalate
from workflows.models import Interrupt, Run, Thread

HOUR = timedelta(hours=1)


# -- registration ----------------------------------------------------------------------------
def test_a_value_is_the_default_answer(register_workflow):
    item = register_workflow("timed", review_deadline=HOUR, on_deadline=True)
    assert (item.review_deadline, item.on_deadline) == (HOUR, Default(True))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"review_deadline": 3600}, TypeError, "timedelta"),
        ({"review_deadline": -HOUR}, ValueError, "positive"),
        ({"on_deadline": Default(True)}, ValueError, "needs a review_deadline"),
        ({"review_deadline": HOUR, "on_deadline": Escalate}, TypeError, "instance"),
        ({"review_deadline": HOUR, "deadline": HOUR}, TypeError, "deadline"),
    ],
)
def test_bad_deadline_arguments_are_refused(register_workflow, kwargs, error, match):
    with pytest.raises(error, match=match):
        register_workflow("timed", **kwargs)
    with pytest.raises(registry.UnknownWorkflow):
        registry.get("timed")


def test_default_none_and_an_empty_group_are_refused():
    with pytest.raises(ValueError, match="None"):
        Default(None)
    with pytest.raises(ValueError, match="group"):
        Escalate(group=" ")


# -- a real run pausing, its deadline, the default answer --------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_deadline_reached_gives_the_default_answer(register_workflow, client, user_factory):
    staff_client = client
    staff_client.force_login(user_factory(is_staff=True, is_superuser=True))
    register_workflow(
        "timed", review_deadline=HOUR, on_deadline=Default(False, decision="reject")
    )
    run = workflow_services.start_run(workflow="timed", input="otters")
    running.execute_run(run.pk)
    interrupt = Interrupt.objects.pending().get()
    assert interrupt.deadline_at == interrupt.created_at + HOUR

    assert services.apply_deadlines(now=interrupt.deadline_at - timedelta(seconds=1)) == 0
    assert not Decision.objects.exists()

    assert services.apply_deadlines(now=interrupt.deadline_at) == 1
    decision = Decision.objects.get()
    assert (decision.user, decision.by, decision.kind, decision.value) == (
        None, Decision.By.DEADLINE, "reject", False,
    )
    assert decision.decided_by == "System (deadline)"
    interrupt.refresh_from_db()
    assert (interrupt.status, interrupt.resolved_by) == (Interrupt.Status.RESOLVED, None)

    assert running.execute_run(decision.run_id) == Run.Status.SUCCESS
    thread = Thread.objects.get()
    assert thread.result == {"essay": "An essay about topic: otters", "is_approved": False}
    # the thread's timeline names the system, not "someone"
    page = staff_client.get(reverse("workflows:thread", args=[thread.pk])).content.decode()
    assert "Answered by System (deadline)" in page and "Answered by someone" not in page
    # and so does its checkpoint history
    history = staff_client.get(reverse("workflows:history", args=[thread.pk])).content.decode()
    assert "answered by System (deadline)" in history and "answered by someone" not in history
    # answered once: the next sweep finds nothing
    assert services.apply_deadlines(now=interrupt.deadline_at + HOUR) == 0


@pytest.mark.django_db(transaction=True)
def test_the_sweep_applies_a_deadline_passed_by_the_clock(register_workflow):
    """As the periodic sweep calls it: no ``now``, the current time decides."""
    register_workflow("timed", review_deadline=HOUR, on_deadline=Default(False, decision="reject"))
    run = workflow_services.start_run(workflow="timed", input="otters")
    running.execute_run(run.pk)
    interrupt = Interrupt.objects.pending().get()
    assert services.apply_deadlines() == 0
    Interrupt.objects.filter(pk=interrupt.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    assert services.apply_deadlines() == 1
    assert Decision.objects.get().by == Decision.By.DEADLINE


@pytest.mark.django_db(transaction=True)
def test_workflows_without_a_deadline_get_none(register_workflow):
    run = workflow_services.start_run(workflow="essay-review", input="otters")
    running.execute_run(run.pk)
    assert Interrupt.objects.pending().get().deadline_at is None
    assert services.apply_deadlines(now=timezone.now() + 1000 * HOUR) == 0


@pytest.mark.django_db(transaction=True)
def test_the_recovery_sweep_applies_deadlines(register_workflow, thread_factory, interrupt_factory):
    register_workflow("timed", review_deadline=HOUR, on_deadline=Default(True, decision="approve"))
    due = interrupt_factory(
        thread=thread_factory(workflow="timed"), deadline_at=timezone.now() - timedelta(minutes=1)
    )
    later = interrupt_factory(
        thread=thread_factory(workflow="timed"), deadline_at=timezone.now() + HOUR
    )
    recovery.recover()
    assert Decision.objects.get().interrupt == due
    later.refresh_from_db()
    assert later.status == Interrupt.Status.PENDING


# -- the service's edges ----------------------------------------------------------------------
pytestmark_db = pytest.mark.django_db


@pytestmark_db
def test_a_deadline_overrides_a_reviewers_claim(register_workflow, user_factory, interrupt_factory, thread_factory):
    register_workflow("timed", review_deadline=HOUR, on_deadline=Default(True, decision="approve"))
    now = timezone.now()
    interrupt = interrupt_factory(thread=thread_factory(workflow="timed"), deadline_at=now)
    reviewer = user_factory()
    services.claim_interrupt(interrupt=interrupt, user=reviewer)
    assert services.apply_deadlines(now=now) == 1
    assert not Claim.objects.exists()
    with pytest.raises(workflow_services.InterruptNotPending):
        services.answer_interrupt(interrupt=interrupt, user=reviewer, value=False, decision="reject")


@pytestmark_db
def test_a_refused_default_is_logged_and_left_pending(register_workflow, interrupt_factory, thread_factory, caplog):
    register_workflow("timed", review_deadline=HOUR, on_deadline=Default("yes"))
    now = timezone.now()
    interrupt = interrupt_factory(
        thread=thread_factory(workflow="timed"), deadline_at=now,
        response_schema={"type": "boolean"},
    )
    assert services.apply_deadlines(now=now) == 0
    assert "refused" in caplog.text
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING and not Decision.objects.exists()


@pytestmark_db
def test_escalation_records_the_group_once(register_workflow, interrupt_factory, thread_factory, reviewer_client, user_factory):
    register_workflow("timed", review_deadline=HOUR, on_deadline=Escalate(group="leads"))
    now = timezone.now()
    interrupt = interrupt_factory(thread=thread_factory(workflow="timed"), deadline_at=now)
    assert services.apply_deadlines(now=now) == 1
    assert services.apply_deadlines(now=now + HOUR) == 0
    assert Escalation.objects.get().group == "leads"
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING and not Decision.objects.exists()
    page = reviewer_client().get(reverse("reviews:inbox")).content.decode()
    assert "Escalated to leads" in page and "overdue by" in page


@pytestmark_db
def test_escalation_assigns_the_group_and_emails_its_members(
    register_workflow, interrupt_factory, thread_factory, user_factory,
    django_capture_on_commit_callbacks, mailoutbox,
):
    from django.contrib.auth.models import Group

    from reviews.models import Assignment

    leads = Group.objects.create(name="leads")
    lead = user_factory(username="lena", email="lena@example.com")
    lead.groups.add(leads)
    register_workflow("timed", review_deadline=HOUR, on_deadline=Escalate(group="leads"))
    now = timezone.now()
    interrupt = interrupt_factory(thread=thread_factory(workflow="timed"), deadline_at=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.apply_deadlines(now=now) == 1
    assignment = Assignment.objects.get(interrupt=interrupt)
    assert assignment.group == leads and assignment.assigned_by is None
    assert [m.to for m in mailoutbox] == [["lena@example.com"]]


@pytestmark_db
def test_default_answer_decides_at_once_on_an_item_needing_two_approvals(
    register_workflow, interrupt_factory, thread_factory
):
    register_workflow(
        "timed", review_deadline=HOUR, on_deadline=Default(True, decision="approve"), approvals=2
    )
    now = timezone.now()
    interrupt = interrupt_factory(thread=thread_factory(workflow="timed"), deadline_at=now)
    assert services.apply_deadlines(now=now) == 1
    decision = Decision.objects.get(interrupt=interrupt)
    assert decision.user is None and decision.by == Decision.By.DEADLINE
    interrupt.refresh_from_db()
    assert interrupt.status != Interrupt.Status.PENDING


@pytestmark_db
def test_escalation_to_a_missing_group_is_still_recorded(
    register_workflow, interrupt_factory, thread_factory
):
    from reviews.models import Assignment

    register_workflow("timed", review_deadline=HOUR, on_deadline=Escalate(group="nobody"))
    now = timezone.now()
    interrupt = interrupt_factory(thread=thread_factory(workflow="timed"), deadline_at=now)
    assert services.apply_deadlines(now=now) == 1
    assert Escalation.objects.get(interrupt=interrupt).group == "nobody"
    assert not Assignment.objects.exists()


@pytestmark_db
def test_system_and_reviewer_arguments_must_agree(interrupt_factory, user_factory):
    interrupt = interrupt_factory()
    with pytest.raises(ValueError, match="needs its user"):
        services.answer_interrupt(interrupt=interrupt, user=None, value=True, decision="approve")
    with pytest.raises(ValueError, match="needs its user"):
        services.answer_interrupt(
            interrupt=interrupt, user=user_factory(), value=True, decision="approve",
            by=Decision.By.DEADLINE,
        )
    assert not Decision.objects.exists()


# -- the inbox: time left, sorted by it --------------------------------------------------------
@pytestmark_db
def test_inbox_sorts_by_deadline_and_shows_time_left(reviewer_client, interrupt_factory):
    now = timezone.now()
    late = interrupt_factory(deadline_at=now + 5 * HOUR)
    none = interrupt_factory()
    soon = interrupt_factory(deadline_at=now + HOUR + timedelta(minutes=1))
    client = reviewer_client()
    response = client.get(reverse("reviews:inbox"), {"sort": "due"})
    assert [i.pk for i in response.context["interrupts"]] == [soon.pk, late.pk, none.pk]
    page = response.content.decode()
    assert "1\xa0hour left" in page and "due first" in page
    oldest = client.get(reverse("reviews:inbox")).context["interrupts"]
    assert [i.pk for i in oldest] == [late.pk, none.pk, soon.pk]


@pytestmark_db
def test_audit_shows_and_filters_the_systems_decisions(
    register_workflow, interrupt_factory, thread_factory, user_factory, reviewer_client
):
    register_workflow("timed", review_deadline=HOUR, on_deadline=Default(True, decision="approve"))
    now = timezone.now()
    interrupt_factory(thread=thread_factory(workflow="timed"), deadline_at=now)
    reviewer = user_factory("alice")
    services.answer_interrupt(
        interrupt=interrupt_factory(), user=reviewer, value=False, decision="reject"
    )
    services.apply_deadlines(now=now)
    staff = reviewer_client(user_factory("zed", is_staff=True))
    page = staff.get(reverse("reviews:audit")).content.decode()
    assert "System (deadline)" in page
    system = staff.get(reverse("reviews:audit"), {"user": "system"}).context["decisions"]
    assert [d.by for d in system] == [Decision.By.DEADLINE]
