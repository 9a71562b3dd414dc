"""answer_interrupt: resume and audit row in one transaction, or nothing."""

import pytest

from reviews import services
from reviews.models import Decision
from workflows import services as workflow_services
from workflows.models import Interrupt, Run

pytestmark = pytest.mark.django_db


def test_answer_writes_decision_and_run(user_factory, interrupt_factory):
    user, interrupt = user_factory(), interrupt_factory()
    run = services.answer_interrupt(interrupt=interrupt, user=user, value=True, decision="approve")
    decision = Decision.objects.get()
    assert (decision.run, decision.user, decision.kind, decision.value) == (
        run,
        user,
        "approve",
        True,
    )


def test_unknown_decision_writes_nothing(user_factory, interrupt_factory):
    with pytest.raises(ValueError, match="Unknown decision"):
        services.answer_interrupt(
            interrupt=interrupt_factory(), user=user_factory(), value=True, decision="maybe"
        )
    assert not Run.objects.exists() and not Decision.objects.exists()


def test_failure_writing_the_decision_rolls_back_the_resume(
    user_factory, interrupt_factory, monkeypatch
):
    interrupt = interrupt_factory()

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Decision.objects, "create", broken)
    with pytest.raises(RuntimeError):
        services.answer_interrupt(
            interrupt=interrupt, user=user_factory(), value=True, decision="approve"
        )
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING
    assert not Run.objects.exists()


def test_unique_decision_per_interrupt_is_reported_as_not_pending(
    user_factory, interrupt_factory, monkeypatch
):
    """Belt and braces: if two answers got past the conditional update, the constraint refuses."""
    user, interrupt = user_factory(), interrupt_factory()
    Decision.objects.create(interrupt=interrupt, user=user, kind="approve", value=True)
    with pytest.raises(workflow_services.InterruptNotPending):
        services.answer_interrupt(interrupt=interrupt, user=user, value=False, decision="reject")
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING
    assert not Run.objects.exists()


def test_inbox_is_told_after_commit(
    user_factory, interrupt_factory, monkeypatch, django_capture_on_commit_callbacks
):
    from workflows.execution import publishing, waking

    sent = []
    monkeypatch.setattr(
        publishing, "group_send", lambda group, message: sent.append((group, message))
    )
    monkeypatch.setattr(waking, "wake", lambda run_id: None)
    interrupt = interrupt_factory()
    with django_capture_on_commit_callbacks(execute=True):
        services.answer_interrupt(
            interrupt=interrupt, user=user_factory(), value=True, decision="approve"
        )
        assert sent == []
    assert sent == [
        ("inbox", {"type": "inbox.changed"}),
        (f"review.{interrupt.pk}", {"type": "review.changed", "what": "presence"}),
    ]
