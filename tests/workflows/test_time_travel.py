"""Time travel for staff from the checkpoint history: replay from a checkpoint, fork with edited
state (``update_state``), each audited; staff only, POST with CSRF, bad JSON a form error.
Runs are executed explicitly (``running.execute_run``)."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from reviews import services as review_services
from workflows import services, time_travel
from workflows.execution import running
from workflows.models import Checkpoint, Interrupt, Run, Thread, TimeTravel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def external_executor(settings):
    settings.FLOWSITE_EXECUTOR = "external"


@pytest.fixture
def staff(reviewer_client, user_factory):
    from django.contrib.auth.models import Permission

    user = user_factory("root", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="answer_interrupt"))
    return reviewer_client(user)


def _done_essay(user, topic="otters"):
    """An essay thread approved and finished: input checkpoint, then the final one."""
    run = services.start_run(workflow="essay-review", input=topic, user=user)
    running.execute_run(run.pk)
    interrupt = Interrupt.objects.pending().get(thread_id=run.thread_id)
    answer = review_services.answer_interrupt(
        interrupt=interrupt, user=user, value=True, decision="approve"
    )
    running.execute_run(answer.pk)
    return Thread.objects.get(pk=run.thread_id)


def _input_checkpoint(thread):
    return Checkpoint.objects.filter(thread=thread, source="input").order_by("checkpoint_id").first()


def test_replay_runs_again_from_the_input_checkpoint_and_pauses_anew(staff):
    thread = _done_essay(staff.user)
    first = _input_checkpoint(thread)
    page = staff.get(reverse("workflows:history", args=[thread.pk])).content.decode()
    assert "Replay from here" in page and "Fork with this state" in page

    response = staff.post(
        reverse("workflows:replay", args=[thread.pk]), {"checkpoint_id": first.checkpoint_id}
    )
    assert response["Location"] == reverse("workflows:thread", args=[thread.pk])
    run = Run.objects.get(kind=Run.Kind.REPLAY)
    assert run.requested_by == staff.user
    assert running.execute_run(run.pk) == Run.Status.INTERRUPTED
    # a new review is waiting on the new branch; the old answer stays audited
    pending = Interrupt.objects.pending().get(thread=thread)
    assert pending.value["essay"] == "An essay about topic: otters"
    assert Interrupt.objects.filter(thread=thread).count() == 2
    travel = TimeTravel.objects.get()
    assert (travel.kind, travel.checkpoint_id, travel.requested_by, travel.run) == (
        "replay", first.checkpoint_id, staff.user, run,
    )
    history = staff.get(reverse("workflows:history", args=[thread.pk])).content.decode()
    assert 'id="time-travel-' in history and "Replay</span>" in history


def test_fork_with_an_edited_input_runs_on_it_and_audits_the_edit(staff):
    thread = _done_essay(staff.user)
    first = _input_checkpoint(thread)
    response = staff.post(
        reverse("workflows:fork", args=[thread.pk]),
        {"checkpoint_id": first.checkpoint_id, "values": json.dumps("badgers")},
    )
    assert response.status_code == 302
    run = Run.objects.get(kind=Run.Kind.FORK)
    assert running.execute_run(run.pk) == Run.Status.INTERRUPTED
    pending = Interrupt.objects.pending().get(thread=thread)
    assert pending.value["essay"] == "An essay about topic: badgers"
    answer = review_services.answer_interrupt(
        interrupt=pending, user=staff.user, value=False, decision="reject"
    )
    assert running.execute_run(answer.pk) == Run.Status.SUCCESS
    thread.refresh_from_db()
    assert thread.result == {"essay": "An essay about topic: badgers", "is_approved": False}

    travel = TimeTravel.objects.get()
    assert travel.kind == "fork" and travel.values == "badgers"
    assert travel.changes == [{"path": "", "kind": "changed", "old": "otters", "new": "badgers"}]
    fork = Checkpoint.objects.get(thread=thread, checkpoint_id=travel.new_checkpoint_id)
    assert fork.parent_checkpoint_id == first.checkpoint_id


def test_bad_json_is_a_form_error_and_writes_nothing(staff):
    thread = _done_essay(staff.user)
    first = _input_checkpoint(thread)
    before = Checkpoint.objects.count()
    response = staff.post(
        reverse("workflows:fork", args=[thread.pk]),
        {"checkpoint_id": first.checkpoint_id, "values": "{not json"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "This is not valid JSON" in page and "{not json" in page and 'aria-invalid="true"' in page
    assert Checkpoint.objects.count() == before
    assert not Run.objects.filter(kind__in=["replay", "fork"]).exists()
    assert not TimeTravel.objects.exists()


def test_a_thread_with_a_run_waiting_is_not_replayed(staff):
    run = services.start_run(workflow="essay-review", input="otters", user=staff.user)
    running.execute_run(run.pk)
    thread = Thread.objects.get()
    first = _input_checkpoint(thread)
    services.resume_run(interrupt=Interrupt.objects.pending().get(), value=True)  # queued
    response = staff.post(
        reverse("workflows:replay", args=[thread.pk]), {"checkpoint_id": first.checkpoint_id}
    )
    assert response.status_code == 409
    assert "already has a run waiting" in response.content.decode()
    with pytest.raises(time_travel.CannotTimeTravel):
        time_travel.replay_run(thread=thread, checkpoint_id="nope")
    assert not TimeTravel.objects.exists()


def test_only_an_input_checkpoint_of_an_entrypoint_is_forked(staff):
    thread = _done_essay(staff.user)
    last = Checkpoint.objects.filter(thread=thread).order_by("-checkpoint_id").first()
    response = staff.post(
        reverse("workflows:fork", args=[thread.pk]),
        {"checkpoint_id": last.checkpoint_id, "values": '"x"'},
    )
    assert response.status_code == 409


def test_staff_only_and_csrf(reviewer_client, staff):
    thread = _done_essay(staff.user)
    first = _input_checkpoint(thread)
    data = {"checkpoint_id": first.checkpoint_id, "values": '"x"'}
    reviewer = reviewer_client()
    for name in ("workflows:replay", "workflows:fork"):
        assert reviewer.post(reverse(name, args=[thread.pk]), data).status_code == 403
        assert staff.get(reverse(name, args=[thread.pk])).status_code == 405
        checked = Client(enforce_csrf_checks=True)
        checked.force_login(staff.user)
        assert checked.post(reverse(name, args=[thread.pk]), data).status_code == 403
    assert not TimeTravel.objects.exists()
