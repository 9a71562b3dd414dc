"""Agent requests answered natively: each of the three shapes of agent-payloads.md recognised,
answered through its form over HTTP, and the workflow resumed with exactly the value the agent
expects (the test workflow returns what it got back)."""

import pytest
from django.urls import reverse

from reviews.models import Decision
from tests.reviews.agent_payloads import (
    BATCHED,
    EMAIL_ARGS,
    INBOX,
    PER_CALL,
    PER_CALL_DELETE,
    PER_CALL_DELETE_SCHEMA,
    PER_CALL_SCHEMA,
    WORKFLOW,
    fresh,
)
from workflows import services
from workflows.execution import running
from workflows.agent_requests import ActionDecision, InvalidDecision, classify, decisions_of
from workflows.models import Interrupt, Thread

pytestmark = pytest.mark.django_db(transaction=True)


# -- recognising the shapes ------------------------------------------------------------------------
def test_batched_request_is_recognised_with_each_actions_decisions():
    request = classify(fresh(BATCHED))
    assert request.shape == "batched"
    assert [(a.name, a.args, a.allowed) for a in request.actions] == [
        ("send_email", EMAIL_ARGS, ("approve", "edit", "reject", "respond")),
        ("delete_file", {"path": "/tmp/report.txt"}, ("approve", "reject")),
    ]
    assert request.actions[0].description.startswith("Tool execution requires approval")


def test_per_call_request_takes_its_decisions_and_argument_schema_from_the_response_schema():
    request = classify(fresh(PER_CALL), fresh(PER_CALL_SCHEMA))
    assert request.shape == "per_call" and request.tool_call_id == "call_1"
    (action,) = request.actions
    assert action.allowed == ("approve", "edit", "reject", "respond")
    assert action.args_schema == PER_CALL_SCHEMA["$defs"]["send_email"]
    (delete,) = classify(fresh(PER_CALL_DELETE), fresh(PER_CALL_DELETE_SCHEMA)).actions
    assert (delete.allowed, delete.args_schema) == (("approve", "reject"), None)


def test_agent_inbox_request_maps_its_allow_flags():
    request = classify(fresh(INBOX))
    assert request.shape == "agent_inbox"
    assert request.actions[0].allowed == ("approve", "edit", "respond", "ignore")
    only_accept = fresh(INBOX)
    only_accept[0]["config"] = {
        "allow_accept": True,
        "allow_edit": False,
        "allow_respond": False,
        "allow_ignore": False,
    }
    assert classify(only_accept).actions[0].allowed == ("approve",)


@pytest.mark.parametrize(
    "value",
    [
        {"essay": "An essay", "action": "Please approve/reject the essay"},
        [1, 2],
        fresh(INBOX) * 2,  # Agent Inbox answers one request; two would leave one unanswered
        {"action_requests": [], "review_configs": []},
        {"action_requests": [{"name": "x", "args": {}}], "review_configs": []},
        {"type": "tool_approval", "name": 3},
        "some text",
        None,
    ],
)
def test_other_values_are_not_agent_requests(value):
    assert classify(value) is None


def test_resume_values_refuse_decisions_the_action_does_not_allow():
    request = classify(fresh(BATCHED))
    with pytest.raises(InvalidDecision, match=r"delete_file \(action 2\): Edit is not allowed"):
        request.resume_value([ActionDecision("approve"), ActionDecision("edit", args={})])
    with pytest.raises(InvalidDecision, match="needs one decision each"):
        request.resume_value([ActionDecision("approve")])
    with pytest.raises(InvalidDecision, match=r"send_email \(action 1\): Respond needs a message"):
        request.resume_value([ActionDecision("respond"), ActionDecision("approve")])


EDITED = {"to": "carol@corp.io", "subject": "Report", "body": "Attached."}


@pytest.mark.parametrize("payload, schema", [
    (BATCHED, None), (PER_CALL, PER_CALL_SCHEMA), (PER_CALL_DELETE, PER_CALL_DELETE_SCHEMA),
    (INBOX, None),
])
def test_decisions_are_read_back_from_the_resume_value_of_every_shape(payload, schema):
    """decisions_of is resume_value's inverse: every allowed decision of each action, sent
    and read back, is the same decision (the thread page shows answers from it)."""
    request = classify(fresh(payload), fresh(schema) if schema else None)
    examples = {
        "approve": ActionDecision("approve"),
        "edit": ActionDecision("edit", args=EDITED),
        "reject": ActionDecision("reject", message="Keep it."),
        "respond": ActionDecision("respond", message="Done already."),
        "ignore": ActionDecision("ignore"),
    }
    for kind in request.actions[0].allowed:
        decisions = [examples[kind]] + [examples[a.allowed[0]] for a in request.actions[1:]]
        assert decisions_of(request, request.resume_value(decisions)) == decisions


@pytest.mark.parametrize("resume", [
    None, True, "yes", {"decisions": [{"type": "approve"}]}, {"decisions": "approve"},
    {"decisions": [{"type": "approve"}, {"type": "launch"}]},
    {"decisions": [{"type": "edit", "edited_action": {"args": "x"}}, {"type": "approve"}]},
])
def test_answers_not_of_the_requests_shape_are_not_read_as_decisions(resume):
    assert decisions_of(classify(fresh(BATCHED)), resume) is None


def test_published_per_call_schemas_are_langchains():
    """The stored schemas are what the installed langchain publishes (skipped without it)."""
    pytest.importorskip("langchain.agents.middleware.human_in_the_loop")
    from langchain.agents.middleware.human_in_the_loop import _decision_schema
    from langchain_core.tools import tool
    from pydantic import TypeAdapter

    @tool
    def send_email(to: str, subject: str, body: str) -> str:
        """Send an email to a recipient."""
        return to

    every = ["approve", "edit", "reject", "respond"]
    assert (
        TypeAdapter(_decision_schema(every, "send_email", send_email)).json_schema()
        == PER_CALL_SCHEMA
    )
    assert (
        TypeAdapter(_decision_schema(["approve", "reject"], "delete_file")).json_schema()
        == PER_CALL_DELETE_SCHEMA
    )


# -- answered over HTTP, resumed exactly ----------------------------------------------------------
def paused(value, schema=None):
    run = services.start_run(workflow=WORKFLOW, input={"value": value, "schema": schema})
    running.execute_run(run.pk)
    return Interrupt.objects.pending().get(thread=run.thread)


def answer(client, interrupt, data):
    return client.post(reverse("reviews:answer", args=[interrupt.pk]), data)


def resumed_with(interrupt):
    running.execute_run(Decision.objects.get(interrupt=interrupt).run_id)
    thread = Thread.objects.get(pk=interrupt.thread_id)
    assert thread.status == Thread.Status.DONE, thread.error
    return thread.result["resumed_with"]


def email_fields(prefix="action-0", **changes):
    return {f"{prefix}-args.{k}": v for k, v in {**EMAIL_ARGS, **changes}.items()}


def test_batched_one_edit_and_one_reject_in_one_submit(reviewer_client):
    client = reviewer_client()
    interrupt = paused(fresh(BATCHED))
    page = client.get(reverse("reviews:interrupt", args=[interrupt.pk])).content.decode()
    assert 'value="edit"' in page and "Send 2 decisions" in page
    assert page.count('name="action-1-decision"') == 2  # delete_file: approve, reject only

    response = answer(
        client,
        interrupt,
        {
            "action-0-decision": "edit",
            **email_fields(subject="Monthly report"),
            "action-1-decision": "reject",
            "action-1-message": "Keep the report.",
        },
    )
    assert response.status_code == 302
    assert resumed_with(interrupt) == {
        "decisions": [
            {
                "type": "edit",
                "edited_action": {
                    "name": "send_email",
                    "args": {**EMAIL_ARGS, "subject": "Monthly report"},
                },
            },
            {"type": "reject", "message": "Keep the report."},
        ]
    }
    decision = Decision.objects.get()
    assert decision.kind == "mixed"
    assert [(a.position, a.name, a.kind, a.message, a.diff) for a in decision.actions.all()] == [
        (0, "send_email", "edit", "", {"subject": {"old": "Report", "new": "Monthly report"}}),
        (1, "delete_file", "reject", "Keep the report.", None),
    ]


def test_batched_all_approved(reviewer_client):
    client = reviewer_client()
    interrupt = paused(fresh(BATCHED))
    response = answer(
        client,
        interrupt,
        {
            "action-0-decision": "approve",
            **email_fields(),
            "action-1-decision": "approve",
        },
    )
    assert response.status_code == 302
    assert resumed_with(interrupt) == {"decisions": [{"type": "approve"}, {"type": "approve"}]}
    assert Decision.objects.get().kind == "approve"


def test_batched_respond_and_reject_without_message(reviewer_client):
    client = reviewer_client()
    interrupt = paused(fresh(BATCHED))
    response = answer(
        client,
        interrupt,
        {
            "action-0-decision": "respond",
            "action-0-message": "Sent it myself.",
            "action-1-decision": "reject",
            "action-1-message": "  ",
        },
    )
    assert response.status_code == 302
    assert resumed_with(interrupt) == {
        "decisions": [{"type": "respond", "message": "Sent it myself."}, {"type": "reject"}]
    }


@pytest.mark.parametrize(
    "data, field, message",
    [
        (
            {"action-0-decision": "approve"},
            "action-1-decision",
            "delete_file (action 2)</strong>: Choose Approve or Reject.",
        ),
        (
            {"action-0-decision": "approve", "action-1-decision": "edit"},
            "action-1-decision",
            "delete_file (action 2)</strong>: edit is not allowed for delete_file; "
            "choose Approve or Reject.",
        ),
        (
            {"action-0-decision": "respond", "action-1-decision": "approve"},
            "action-0-message",
            "send_email (action 1) › Message to the agent</strong>: Respond needs a message",
        ),
        (
            {"action-0-decision": "edit", **email_fields(), "action-1-decision": "approve"},
            "action-0-decision",
            "send_email (action 1)</strong>: Nothing was changed: "
            "change an argument, or choose Approve.",
        ),
    ],
)
def test_invalid_combinations_name_the_action_and_write_nothing(
    reviewer_client, data, field, message
):
    client = reviewer_client()
    interrupt = paused(fresh(BATCHED))
    response = answer(
        client, interrupt, {"action-TOTAL_FORMS": "1", **data}
    )  # a forged count changes nothing
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert f'href="#id_{field}' in html  # the summary links to the field
    assert not Decision.objects.exists()
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING


def test_batched_args_schema_shapes_the_fields_and_names_the_bad_one(reviewer_client):
    value = fresh(BATCHED)
    value["review_configs"][0]["args_schema"] = {
        "type": "object",
        "properties": {
            "to": {"type": "string", "format": "email", "title": "Recipient"},
            "subject": {"type": "string", "maxLength": 20},
            "body": {"type": "string"},
            "copies": {"type": "integer", "minimum": 1, "default": 1},
        },
        "required": ["to", "subject", "body"],
    }
    client = reviewer_client()
    interrupt = paused(value)
    page = client.get(reverse("reviews:interrupt", args=[interrupt.pk])).content.decode()
    assert (
        'type="email" name="action-0-args.to"' in page
        and 'type="number" name="action-0-args.copies"' in page
    )

    bad = {
        "action-0-decision": "edit",
        **email_fields(subject="x" * 30, to="not-an-address"),
        "action-0-args.copies": "0",
        "action-1-decision": "approve",
    }
    html = answer(client, interrupt, bad).content.decode()
    assert "send_email (action 1) › Recipient</strong>: Enter a valid email address." in html
    assert (
        "send_email (action 1) › Subject</strong>: Ensure this value has at most 20 characters"
        in html
    )
    assert (
        "send_email (action 1) › Copies</strong>: Ensure this value is greater than or equal to 1."
        in html
    )
    assert not Decision.objects.exists()

    good = {
        **bad,
        "action-0-args.to": "bob@example.com",
        "action-0-args.subject": "Report",
        "action-0-args.copies": "2",
    }
    assert answer(client, interrupt, good).status_code == 302
    assert resumed_with(interrupt)["decisions"][0] == {
        "type": "edit",
        "edited_action": {
            "name": "send_email",
            "args": {**EMAIL_ARGS, "to": "bob@example.com", "copies": 2},
        },
    }


def test_inferred_fields_keep_types_and_nested_values_are_json(reviewer_client):
    value = fresh(BATCHED)
    value["action_requests"][0]["args"] = {
        "to": "alice@example.com",
        "urgent": True,
        "retries": 3,
        "headers": {"X-Tag": "report"},
    }
    client = reviewer_client()
    interrupt = paused(value)
    page = client.get(reverse("reviews:interrupt", args=[interrupt.pk])).content.decode()
    assert 'type="checkbox" name="action-0-args.urgent"' in page and "Headers (JSON)" in page
    response = answer(
        client,
        interrupt,
        {
            "action-0-decision": "edit",
            "action-0-args.to": "",
            "action-0-args.retries": "4",
            "action-0-args.headers": '{"X-Tag": "monthly"}',
            "action-1-decision": "approve",
        },
    )
    assert response.status_code == 302
    assert resumed_with(interrupt)["decisions"][0]["edited_action"]["args"] == {
        "to": "",
        "urgent": False,
        "retries": 4,
        "headers": {"X-Tag": "monthly"},
    }
    assert Decision.objects.get().actions.get(position=0).diff == {
        "to": {"old": "alice@example.com", "new": ""},
        "urgent": {"old": True, "new": False},
        "retries": {"old": 3, "new": 4},
        "headers": {"old": {"X-Tag": "report"}, "new": {"X-Tag": "monthly"}},
    }


@pytest.mark.parametrize(
    "data, expected, kind",
    [
        ({"action-0-decision": "approve"}, {"type": "approve"}, "approve"),
        (
            {"action-0-decision": "edit", **email_fields(body="Here it is, at last.")},
            {
                "type": "edit",
                "edited_action": {
                    "name": "send_email",
                    "args": {**EMAIL_ARGS, "body": "Here it is, at last."},
                },
            },
            "edit",
        ),
        ({"action-0-decision": "reject"}, {"type": "reject"}, "reject"),
        (
            {"action-0-decision": "reject", "action-0-message": "Not now."},
            {"type": "reject", "message": "Not now."},
            "reject",
        ),
        (
            {"action-0-decision": "respond", "action-0-message": "Done already."},
            {"type": "respond", "message": "Done already."},
            "respond",
        ),
    ],
)
def test_per_call_resumes_with_one_decision_object(reviewer_client, data, expected, kind):
    client = reviewer_client()
    interrupt = paused(fresh(PER_CALL), fresh(PER_CALL_SCHEMA))
    assert answer(client, interrupt, data).status_code == 302
    assert resumed_with(interrupt) == expected
    decision = Decision.objects.get()
    assert (decision.kind, decision.value) == (kind, expected)
    if kind == "edit":
        assert decision.diff == {"body": {"old": "Here it is.", "new": "Here it is, at last."}}


def test_per_call_fields_come_from_the_tools_schema_and_errors_name_them(reviewer_client):
    client = reviewer_client()
    interrupt = paused(fresh(PER_CALL), fresh(PER_CALL_SCHEMA))
    page = client.get(reverse("reviews:interrupt", args=[interrupt.pk])).content.decode()
    assert '<label for="id_action-0-args.subject">Subject</label>' in page  # the schema's title
    response = answer(client, interrupt, {"action-0-decision": "edit", **email_fields(to="")})
    assert response.status_code == 400
    assert (
        "send_email (action 1) › To</strong>: This field is required." in response.content.decode()
    )
    assert not Decision.objects.exists()


def test_per_call_with_approve_and_reject_only(reviewer_client):
    client = reviewer_client()
    interrupt = paused(fresh(PER_CALL_DELETE), fresh(PER_CALL_DELETE_SCHEMA))
    page = client.get(reverse("reviews:interrupt", args=[interrupt.pk])).content.decode()
    assert 'value="edit"' not in page and 'value="respond"' not in page
    assert (
        answer(
            client, interrupt, {"action-0-decision": "respond", "action-0-message": "x"}
        ).status_code
        == 400
    )
    assert (
        answer(
            client, interrupt, {"action-0-decision": "reject", "action-0-message": "Keep it."}
        ).status_code
        == 302
    )
    assert resumed_with(interrupt) == {"type": "reject", "message": "Keep it."}


@pytest.mark.parametrize(
    "data, expected, kind",
    [
        ({"action-0-decision": "approve"}, [{"type": "accept", "args": None}], "approve"),
        ({"action-0-decision": "ignore"}, [{"type": "ignore", "args": None}], "ignore"),
        (
            {"action-0-decision": "respond", "action-0-message": "Make it shorter."},
            [{"type": "response", "args": "Make it shorter."}],
            "respond",
        ),
        (
            {"action-0-decision": "edit", **email_fields(subject="Q3 report")},
            [
                {
                    "type": "edit",
                    "args": {
                        "action": "send_email",
                        "args": {**EMAIL_ARGS, "subject": "Q3 report"},
                    },
                }
            ],
            "edit",
        ),
    ],
)
def test_agent_inbox_resumes_with_a_one_element_list(reviewer_client, data, expected, kind):
    client = reviewer_client()
    interrupt = paused(fresh(INBOX))
    assert answer(client, interrupt, data).status_code == 302
    assert resumed_with(interrupt) == expected
    assert Decision.objects.get().kind == kind


def test_answered_request_page_shows_each_decision(reviewer_client):
    client = reviewer_client()
    interrupt = paused(fresh(BATCHED))
    answer(
        client,
        interrupt,
        {
            "action-0-decision": "edit",
            **email_fields(subject="Monthly report"),
            "action-1-decision": "reject",
            "action-1-message": "Keep the report.",
        },
    )
    page = client.get(reverse("reviews:interrupt", args=[interrupt.pk])).content.decode()
    assert '<span class="decision decision-edit">Edited</span>' in page
    assert "<del>Report</del>" in page and "<ins>Monthly report</ins>" in page
    assert "“Keep the report.”" in page


def test_per_call_schema_errors_land_on_the_argument_field(reviewer_client):
    """A rule only jsonschema checks (a pattern), on the argument its path names."""
    schema = fresh(PER_CALL_SCHEMA)
    schema["$defs"]["send_email"]["properties"]["to"]["pattern"] = "@example\\.com$"
    client = reviewer_client()
    interrupt = paused(fresh(PER_CALL), schema)
    response = answer(
        client, interrupt, {"action-0-decision": "edit", **email_fields(to="bob@else.org")}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "send_email (action 1) › To</strong>: &#x27;bob@else.org&#x27; does not match" in html
    assert 'href="#id_action-0-args.to"' in html
    assert not Decision.objects.exists()


def test_descriptions_are_markdown_sanitised(reviewer_client):
    value = fresh(INBOX)
    value[0]["description"] = (
        "**Check** the `to` field.\n\n<script>alert(1)</script>"
        "[docs](javascript:alert(2)) <img src=x onerror=alert(3)>"
    )
    client = reviewer_client()
    interrupt = paused(value)
    html = client.get(reverse("reviews:interrupt", args=[interrupt.pk])).content.decode()
    assert "<strong>Check</strong> the <code>to</code> field." in html
    assert "<script>alert(1)" not in html and "javascript:" not in html and "onerror" not in html


def test_arguments_named_like_dict_methods_are_shown_and_diffed(reviewer_client):
    value = fresh(INBOX)
    value[0]["action_request"]["args"] = {"items": ["tea"], "keys": "k1", "values": 2}
    client = reviewer_client()
    interrupt = paused(value)
    page = client.get(reverse("reviews:interrupt", args=[interrupt.pk]))
    assert page.status_code == 200
    assert "<dt>Items</dt>" in page.content.decode()
    data = {
        "action-0-decision": "edit",
        "action-0-args.items": '["tea", "jam"]',
        "action-0-args.keys": "k1",
        "action-0-args.values": "2",
    }
    assert answer(client, interrupt, data).status_code == 302
    html = client.get(reverse("reviews:interrupt", args=[interrupt.pk])).content.decode()
    assert '<span class="diff-where">items</span>' in html


@pytest.mark.parametrize("payload, schema, resume, label, message", [
    (PER_CALL, PER_CALL_SCHEMA, {"type": "respond", "message": "Sent it myself."},
     "Responded", "“Sent it myself.”"),
    (INBOX, None, [{"type": "ignore", "args": None}], "Ignored", None),
])
def test_thread_page_shows_a_single_call_request_and_its_decision(
    reviewer_client, payload, schema, resume, label, message
):
    """per_call and Agent Inbox requests read on the thread page as their one tool call."""
    interrupt = paused(fresh(payload), fresh(schema) if schema else None)
    client = reviewer_client()
    url = reverse("workflows:thread", args=[interrupt.thread_id])
    page = client.get(url).content.decode()
    assert "The agent wants to run a tool call: send_email" in page
    assert page.count('<li class="agent-call">') == 1

    services.resume_run(interrupt=interrupt, value=resume)
    page = client.get(url).content.decode()
    answered = page[page.index(f'<li id="event-resume-{interrupt.interrupt_id}"'):]
    assert f'<span class="decision decision-{resume_kind(resume)}">{label}</span>' in answered
    assert message is None or message in answered
    # the review and answer events (the thread's input holds the payload too)
    events = page[page.index(f'<li id="event-interrupt-{interrupt.interrupt_id}"'):
                  page.index('id="live-blocks"')]
    for raw in ("tool_approval", "Tool call id", "action_request", "Allow accept", "<dt>Type</dt>"):
        assert raw not in events


def resume_kind(resume):
    kind = resume[0]["type"] if isinstance(resume, list) else resume["type"]
    return {"accept": "approve", "response": "respond"}.get(kind, kind)
