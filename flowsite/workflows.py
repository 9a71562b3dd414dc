"""The site's example workflows, registered for the dashboard.

``essay_review`` is the seed's essay example (LangGraph functional API overview) with a progress
message streamed from its task; ``streaming_essay_review`` is the same review with the essay
written by a chat model that streams its tokens (an ``async def`` entrypoint and task; the thread
page shows the text as it is written); ``parallel_review`` fans out one review per section, in
parallel, each its own interrupt with a JSON Schema for the answer; ``email-assistant`` is a
LangChain agent (``create_agent`` + ``HumanInTheLoopMiddleware``, a LangGraph graph: see
``flowsite/email_assistant.py``) whose tool calls a reviewer approves, edits or rejects.
"""

import logging

from django import forms

from reviews.forms import ApproveRejectForm
from workflows import DjangoSaver, entrypoint, get_stream_writer, interrupt, registry, task

from .chat_models import chat_model

checkpointer = DjangoSaver()
logger = logging.getLogger(__name__)


# -- essay review (the seed) ------------------------------------------------------------------
@task
def write_essay(topic: str) -> str:
    """Write an essay about ``topic``."""
    get_stream_writer()({"progress": f"Writing an essay about {topic}…"})
    return f"An essay about topic: {topic}"


@entrypoint(checkpointer=checkpointer)
def essay_review(topic: str) -> dict:
    """Write an essay and ask a human to review it."""
    essay = write_essay(topic).result()
    is_approved = interrupt(
        {
            # Any json-serializable payload provided to interrupt as argument.
            # It will be surfaced on the client side as an Interrupt when streaming data
            # from the workflow.
            "essay": essay,  # The essay we want reviewed.
            # We can add any additional information that we need.
            # For example, introduce a key called "action" with some instructions.
            "action": "Please approve/reject the essay",
        }
    )
    return {
        "essay": essay,  # The essay that was generated
        "is_approved": is_approved,  # Response from HIL
    }


# -- essay review, written by a streaming chat model ------------------------------------------
@task
async def write_essay_with_model(topic: str) -> str:
    """Have a chat model write an essay about ``topic``. Nothing else to do for streaming: the
    executor streams ``messages``, so its tokens reach the thread page as the model writes."""
    message = await chat_model(topic).ainvoke([("user", f"Write a short essay about {topic}.")])
    return message.content


@entrypoint(checkpointer=checkpointer)
async def streaming_essay_review(topic: str) -> dict:
    """Write an essay with a chat model and ask a human to review it."""
    essay = await write_essay_with_model(topic)
    is_approved = interrupt({"essay": essay, "action": "Please approve/reject the essay"})
    return {"essay": essay, "is_approved": is_approved}


class TopicForm(forms.Form):
    topic = forms.CharField(max_length=200, initial="cat", help_text="What the essay is about.")


# -- parallel review --------------------------------------------------------------------------
SECTION_ANSWER = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "title": "Approve this section"},
        "comment": {"type": "string", "title": "Note with your decision"},
    },
    "required": ["approved"],
}


@task
def review_section(title: str, text: str) -> dict:
    """Ask a reviewer about one section; each call is its own interrupt."""
    get_stream_writer()({"progress": f"Asking for a review of “{title}”"})
    answer = interrupt(
        {"section": title, "text": text, "action": "Approve the section or comment on it"},
        response_schema=SECTION_ANSWER,
    )
    return {"section": title, **answer}


@task
def summarize(reviews: list) -> str:
    approved = sum(1 for r in reviews if r["approved"])
    return f"{approved} of {len(reviews)} sections approved"


@entrypoint(checkpointer=checkpointer)
def parallel_review(document: dict) -> dict:
    """Review every section of ``document`` ({"title", "sections": [{"title", "text"}]}) at once."""
    futures = [review_section(s["title"], s["text"]) for s in document["sections"]]
    reviews = [f.result() for f in futures]
    return {"title": document["title"], "reviews": reviews, "summary": summarize(reviews).result()}


class DocumentForm(forms.Form):
    title = forms.CharField(max_length=200, initial="Launch plan")
    sections = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        initial="Goals: ship the dashboard\nRisks: reviewers are busy\nTimeline: two weeks",
        help_text="One section per line, as “Title: text”.",
    )

    def clean_sections(self) -> list[dict]:
        sections = []
        for line in self.cleaned_data["sections"].splitlines():
            if not line.strip():
                continue
            title, sep, text = line.partition(":")
            if not sep or not title.strip() or not text.strip():
                raise forms.ValidationError(f"“{line.strip()}” is not of the form “Title: text”.")
            sections.append({"title": title.strip(), "text": text.strip()})
        if not sections:
            raise forms.ValidationError("Give at least one section.")
        return sections


registry.register(
    "essay-review",
    essay_review,
    title="Essay review",
    description="Writes an essay on a topic and asks a reviewer to approve or reject it.",
    input_form=TopicForm,
    build_input=lambda data: data["topic"],
    resume_form=ApproveRejectForm,
)
registry.register(
    "streaming-essay-review",
    streaming_essay_review,
    title="Streaming essay review",
    description="A chat model writes the essay, token by token, live on the thread page; a "
    "reviewer approves or rejects it.",
    input_form=TopicForm,
    build_input=lambda data: data["topic"],
    resume_form=ApproveRejectForm,
)
registry.register(
    "parallel-review",
    parallel_review,
    title="Parallel section review",
    description="Asks for a review of every section of a document at once, in parallel.",
    input_form=DocumentForm,
    build_input=lambda data: {"title": data["title"], "sections": data["sections"]},
)


# -- email assistant: a LangChain agent (a LangGraph graph) with tool-call approvals ----------
class EmailRequestForm(forms.Form):
    request = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="What the assistant should do; it asks before sending or deleting anything.",
    )


def _register_email_assistant() -> None:
    try:
        from .email_assistant import EXAMPLE_REQUEST, agent_input, build_agent
    except ImportError as exc:  # the "agents" extra (langchain, langgraph) is not installed
        logger.warning("The email assistant example needs the agents extra: %s", exc)
        return
    EmailRequestForm.base_fields["request"].initial = EXAMPLE_REQUEST
    registry.register(
        "email-assistant",
        build_agent(),
        title="Email assistant",
        description="A LangChain agent that sends an email and deletes a file; a reviewer "
        "approves, edits or rejects each tool call first.",
        input_form=EmailRequestForm,
        build_input=lambda data: agent_input(data["request"]),
    )


_register_email_assistant()
