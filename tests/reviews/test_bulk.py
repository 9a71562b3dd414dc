"""Bulk answers over HTTP (``reviews.bulk``): one decision for several items of one workflow,
each checked on its own (permission, claim, still pending) and answered in its own
transaction with its own Decision and run, reported item by item on the inbox."""

import pytest
from django.urls import reverse

from reviews import bulk
from reviews.models import Claim, Decision
from tests.reviews.agent_payloads import BATCHED, WORKFLOW, fresh
from workflows.models import Interrupt, Run

pytestmark = pytest.mark.django_db

BULK = reverse("reviews:bulk")


def post(client, interrupts, decision="approve", **extra):
    return client.post(
        BULK, {"interrupt": [str(i.pk) for i in interrupts], "decision": decision, **extra}
    )


def test_each_item_gets_its_own_decision_and_run_and_the_inbox_reports_them(
    reviewer_client, interrupt_factory
):
    items = [interrupt_factory() for _ in range(3)]
    client = reviewer_client()
    response = post(client, items, next="/?q=cats")
    assert response.status_code == 302 and response["Location"] == "/?q=cats"
    decisions = Decision.objects.filter(interrupt__in=items)
    assert sorted(d.interrupt_id for d in decisions) == [i.pk for i in items]
    assert {(d.kind, d.value, d.user_id) for d in decisions} == {("approve", True, client.user.pk)}
    assert len({d.run_id for d in decisions}) == 3 and Run.objects.count() == 3
    html = client.get(response["Location"]).content.decode()
    assert "Approved 3 of 3" in html
    assert html.count("approved: its run continues") == 3
    assert "Approved 3 of 3" not in client.get(reverse("reviews:inbox")).content.decode()  # once


def test_an_item_that_fails_a_check_is_reported_and_the_others_answered(
    reviewer_client, user_factory, interrupt_factory
):
    claimed, answered, free = (interrupt_factory() for _ in range(3))
    bob = user_factory("bob")
    from django.utils import timezone

    Claim.objects.create(interrupt=claimed, user=bob, expires_at=timezone.now() + Claim.LEASE)
    Interrupt.objects.filter(pk=answered.pk).update(status=Interrupt.Status.RESOLVED, resolved_by=bob)
    client = reviewer_client()
    html = client.get(post(client, [claimed, answered, free], "reject")["Location"]).content.decode()
    assert "Rejected 1 of 3 · 2 not answered" in html
    assert "not answered: bob is reviewing this until" in html
    assert "not answered: Already answered by bob." in html
    assert list(Decision.objects.values_list("interrupt_id", "kind")) == [(free.pk, "reject")]


def test_without_the_workflows_permission_nothing_is_answered_and_each_says_why(
    user_factory, reviewer_client, interrupt_factory, thread_factory, register_workflow,
    permission_factory,
):
    perm, _ = permission_factory("answer_secret")
    register_workflow("secret-review", review_permission=perm)
    items = [interrupt_factory(thread=thread_factory(workflow="secret-review")) for _ in range(2)]
    client = reviewer_client()
    html = client.get(post(client, items)["Location"]).content.decode()
    assert "Approved 0 of 2 · 2 not answered" in html
    assert html.count("You are not allowed to answer it (missing reviews.answer_secret).") == 2
    assert not Decision.objects.exists()


def test_mixing_workflows_is_refused_with_a_clear_message(
    reviewer_client, interrupt_factory, thread_factory
):
    essay = interrupt_factory()
    other = interrupt_factory(thread=thread_factory(workflow="parallel-review"))
    response = post(reviewer_client(), [essay, other])
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose items of one workflow" in html and "Nothing was answered." in html
    assert html.count("checked") >= 2  # the selection stays ticked
    assert not Decision.objects.exists() and not Run.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"decision": "approve"},  # nothing selected
        {"decision": "maybe", "interrupt": ["1"]},
        {"decision": "approve", "interrupt": ["1; drop"]},
        {"decision": "approve", "interrupt": [str(n) for n in range(1, bulk.MAX_ITEMS + 2)]},
    ],
)
def test_bad_input_is_a_400_and_writes_nothing(reviewer_client, interrupt_factory, data):
    interrupt_factory()
    response = reviewer_client().post(BULK, data)
    assert response.status_code == 400
    assert not Decision.objects.exists()


def test_unknown_and_hidden_items_are_not_found_without_naming_their_workflow(
    reviewer_client, interrupt_factory, thread_factory, register_workflow, permission_factory
):
    perm, _ = permission_factory("see_hidden")
    register_workflow("hidden-review", view_permission=perm)
    hidden = interrupt_factory(thread=thread_factory(workflow="hidden-review"))
    essay = interrupt_factory()
    client = reviewer_client()
    html = client.get(
        client.post(BULK, {"interrupt": [hidden.pk, essay.pk, 99999], "decision": "approve"})[
            "Location"
        ]
    ).content.decode()
    assert "Approved 1 of 3 · 2 not answered" in html
    assert html.count("Not found: it may have been deleted.") == 2
    assert f"Item #{hidden.pk}</a>" in html and "Hidden review: " not in html  # no title
    assert list(Decision.objects.values_list("interrupt_id", flat=True)) == [essay.pk]


def test_an_agent_request_gets_the_decision_on_every_tool_call(
    reviewer_client, interrupt_factory, thread_factory
):
    item = interrupt_factory(thread=thread_factory(workflow=WORKFLOW), value=fresh(BATCHED))
    post(reviewer_client(), [item], "reject")
    decision = Decision.objects.get(interrupt=item)
    assert decision.kind == "reject"
    assert [a.kind for a in decision.actions.all()] == ["reject", "reject"]
    assert [d["type"] for d in decision.value["decisions"]] == ["reject", "reject"]


def test_a_form_of_its_own_is_not_answered_in_bulk(reviewer_client, interrupt_factory, thread_factory):
    item = interrupt_factory(thread=thread_factory(workflow="unregistered"), value={"q": "How many?"})
    client = reviewer_client()
    html = client.get(post(client, [item])["Location"]).content.decode()
    assert "not answered: Its answer is a form of its own: answer it on its page." in html
    assert not Decision.objects.exists()


def test_inbox_ticks_only_what_the_reviewer_may_answer(
    reviewer_client, interrupt_factory, thread_factory, register_workflow, permission_factory
):
    perm, _ = permission_factory("answer_secret")
    register_workflow("secret-review", review_permission=perm)
    essay = interrupt_factory()
    secret = interrupt_factory(thread=thread_factory(workflow="secret-review"))
    html = reviewer_client().get(reverse("reviews:inbox")).content.decode()
    assert f'name="interrupt" value="{essay.pk}" form="bulk-form"' in html
    assert f'value="{secret.pk}" form="bulk-form"' not in html
