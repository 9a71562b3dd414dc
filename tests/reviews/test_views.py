"""The inbox and the interrupt page: what a reviewer sees, and answering writes exactly once."""

import json

import pytest
from django.urls import reverse

from reviews.models import Decision
from workflows.models import Interrupt, Run

pytestmark = pytest.mark.django_db


def answer_url(interrupt):
    return reverse("reviews:answer", args=[interrupt.pk])


# -- login ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["reviews:inbox", "reviews:interrupt"])
def test_pages_require_login(client, interrupt_factory, name):
    interrupt = interrupt_factory()
    url = reverse(name) if name == "reviews:inbox" else reverse(name, args=[interrupt.pk])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_answer_requires_login_and_writes_nothing(client, interrupt_factory):
    interrupt = interrupt_factory()
    response = client.post(answer_url(interrupt), {"decision": "approve"})
    assert response.status_code == 302
    assert not Decision.objects.exists() and not Run.objects.exists()


# -- inbox ---------------------------------------------------------------------------------------
def test_inbox_lists_pending_interrupts_readably(reviewer_client, interrupt_factory):
    pending = interrupt_factory(
        value={"essay": "Cats <b>rule</b>.\n\nSecond paragraph.", "action": "Approve?"}
    )
    interrupt_factory(status=Interrupt.Status.RESOLVED, value={"essay": "an old answered essay"})
    response = reviewer_client().get(reverse("reviews:inbox"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Essay review" in html  # the workflow's title, not its name
    assert reverse("reviews:interrupt", args=[pending.pk]) in html
    assert reverse("workflows:thread", args=[pending.thread_id]) in html
    assert "<dt>Essay</dt>" in html  # a dict is a definition list, not a JSON dump
    assert "Cats &lt;b&gt;rule&lt;/b&gt;." in html  # escaped
    assert "<p>Second paragraph.</p>" in html  # long text as paragraphs
    assert "an old answered essay" not in html
    assert list(response.context["interrupts"]) == [pending]


def test_inbox_empty_state_links_to_workflows(reviewer_client):
    html = reviewer_client().get(reverse("reviews:inbox")).content.decode()
    assert "Nothing waiting for review" in html
    assert f'href="{reverse("workflows:list")}"' in html


def test_inbox_htmx_request_gets_the_list_only(reviewer_client, interrupt_factory):
    interrupt_factory()
    response = reviewer_client().get(reverse("reviews:inbox"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="inbox-list"')
    assert "<html" not in html


def test_nav_shows_pending_count(reviewer_client, interrupt_factory):
    interrupt_factory()
    interrupt_factory()
    html = reviewer_client().get(reverse("workflows:list")).content.decode()
    assert 'id="nav-pending-count"' in html
    assert ">2</span>" in html


# -- interrupt page ------------------------------------------------------------------------------
def test_interrupt_page_shows_payload_and_approve_reject(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory()
    response = reviewer_client().get(reverse("reviews:interrupt", args=[interrupt.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "An essay about topic: cats" in html
    assert 'name="decision" value="approve"' in html
    assert 'name="decision" value="reject"' in html
    assert f'hx-post="{answer_url(interrupt)}"' in html


def test_interrupt_page_404(reviewer_client):
    assert reviewer_client().get(reverse("reviews:interrupt", args=[999])).status_code == 404


def test_approve_resumes_records_decision_and_redirects_to_thread(
    reviewer_client, interrupt_factory
):
    client = reviewer_client()
    interrupt = interrupt_factory()
    response = client.post(answer_url(interrupt), {"decision": "approve"})
    assert response.status_code == 302
    assert response["Location"] == reverse("workflows:thread", args=[interrupt.thread_id])
    decision = Decision.objects.get()
    assert (decision.interrupt, decision.user, decision.kind, decision.value) == (
        interrupt,
        client.user,
        "approve",
        True,
    )
    run = Run.objects.get()
    assert decision.run == run and run.kind == Run.Kind.RESUME and run.requested_by == client.user
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.RESOLVED and interrupt.resume_value is True
    assert interrupt.resolved_by == client.user


def test_reject_resumes_with_false(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory()
    reviewer_client().post(answer_url(interrupt), {"decision": "reject"})
    decision = Decision.objects.get()
    assert (decision.kind, decision.value) == ("reject", False)


def test_htmx_answer_redirects_with_hx_redirect(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory()
    response = reviewer_client().post(
        answer_url(interrupt), {"decision": "approve"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("workflows:thread", args=[interrupt.thread_id])


@pytest.mark.parametrize("data", [{}, {"decision": "maybe"}])
def test_bad_form_is_400_and_writes_nothing(reviewer_client, interrupt_factory, data):
    interrupt = interrupt_factory()
    response = reviewer_client().post(answer_url(interrupt), data)
    assert response.status_code == 400
    assert "Choose Approve or Reject." in response.content.decode()
    assert not Decision.objects.exists() and not Run.objects.exists()
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING


def test_bad_form_over_htmx_returns_the_answer_card(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory()
    response = reviewer_client().post(answer_url(interrupt), {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    html = response.content.decode()
    assert html.lstrip().startswith('<article class="card answer-card" id="answer-card">')
    assert "Please correct the answer below." in html


def test_double_submission_second_gets_409_and_one_decision(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory()
    first, second = reviewer_client(), reviewer_client()
    assert first.post(answer_url(interrupt), {"decision": "approve"}).status_code == 302
    response = second.post(answer_url(interrupt), {"decision": "reject"})
    assert response.status_code == 409
    html = response.content.decode()
    assert f"Already answered by {first.user.username}" in html
    assert Decision.objects.count() == 1 and Run.objects.count() == 1
    assert Decision.objects.get().kind == "approve"


def test_same_reviewer_double_click_gets_409(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory()
    client = reviewer_client()
    client.post(answer_url(interrupt), {"decision": "approve"})
    assert client.post(answer_url(interrupt), {"decision": "approve"}).status_code == 409
    assert Decision.objects.count() == 1 and Run.objects.count() == 1


def test_answer_racing_another_gets_409(reviewer_client, interrupt_factory, monkeypatch):
    """Another reviewer's answer commits between this view's status check and the service's
    conditional update: the service refuses and nothing of this answer is written."""
    from reviews import services

    interrupt = interrupt_factory()
    other = reviewer_client().user
    real_answer = services.answer_interrupt

    def answered_meanwhile(**kwargs):
        Interrupt.objects.filter(pk=interrupt.pk).update(
            status=Interrupt.Status.RESOLVED, resume_value=False, resolved_by=other
        )
        return real_answer(**kwargs)

    monkeypatch.setattr(services, "answer_interrupt", answered_meanwhile)
    response = reviewer_client().post(answer_url(interrupt), {"decision": "approve"})
    assert response.status_code == 409
    assert f"Already answered by {other.username}" in response.content.decode()
    assert not Decision.objects.exists() and not Run.objects.exists()


def test_cancelled_interrupt_is_409(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory(status=Interrupt.Status.CANCELLED)
    response = reviewer_client().post(answer_url(interrupt), {"decision": "approve"})
    assert response.status_code == 409
    assert "cancelled" in response.content.decode()
    assert not Decision.objects.exists() and not Run.objects.exists()


def test_resolved_interrupt_page_shows_who_answered_and_what(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory()
    answerer = reviewer_client()
    answerer.post(answer_url(interrupt), {"decision": "reject"})
    html = reviewer_client().get(reverse("reviews:interrupt", args=[interrupt.pk])).content.decode()
    assert "Rejected" in html
    assert answerer.user.username in html
    assert 'name="decision"' not in html  # no form any more


# -- other answer forms --------------------------------------------------------------------------
def test_json_form_for_workflows_without_form_or_schema(
    reviewer_client, interrupt_factory, thread_factory
):
    interrupt = interrupt_factory(thread=thread_factory(workflow="unregistered-workflow"))
    client = reviewer_client()
    response = client.post(answer_url(interrupt), {"value": "{not json"})
    assert response.status_code == 400
    assert "This is not valid JSON" in response.content.decode()
    assert not Decision.objects.exists()

    response = client.post(answer_url(interrupt), {"value": '{"tone": "friendlier", "n": 2}'})
    assert response.status_code == 302
    decision = Decision.objects.get()
    assert (decision.kind, decision.value) == ("answer", {"tone": "friendlier", "n": 2})


SECTION_SCHEMA = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "title": "Approve this section"},
        "comment": {"type": "string", "title": "Comment"},
    },
    "required": ["approved"],
}


def test_schema_form_fields_and_value(reviewer_client, interrupt_factory, thread_factory):
    interrupt = interrupt_factory(
        thread=thread_factory(workflow="parallel-review"),
        value={"section": "Goals", "text": "Ship it"},
        response_schema=SECTION_SCHEMA,
    )
    client = reviewer_client()
    html = client.get(reverse("reviews:interrupt", args=[interrupt.pk])).content.decode()
    assert 'type="checkbox" name="approved"' in html
    assert 'name="comment"' in html
    response = client.post(answer_url(interrupt), {"approved": "on", "comment": "Looks good"})
    assert response.status_code == 302
    assert Decision.objects.get().value == {"approved": True, "comment": "Looks good"}


def test_value_the_schema_refuses_is_400_and_writes_nothing(
    reviewer_client, interrupt_factory, thread_factory
):
    """Arrays get the JSON form; the service validates against the schema."""
    schema = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    interrupt = interrupt_factory(
        thread=thread_factory(workflow="unregistered"), response_schema=schema
    )
    response = reviewer_client().post(answer_url(interrupt), {"value": json.dumps([])})
    assert response.status_code == 400
    assert "Invalid answer" in response.content.decode()
    assert not Decision.objects.exists() and not Run.objects.exists()
