"""The email assistant example: a LangChain agent whose tool calls a reviewer approves, edits or
rejects from the dashboard.

``build_agent()`` is ``langchain.agents.create_agent`` with two tools, ``send_email`` and
``delete_file``, behind ``HumanInTheLoopMiddleware``: every ``send_email`` call may be approved,
edited, rejected or answered; a ``delete_file`` call only approved or rejected. The agent is a
compiled LangGraph graph on ``LangGraphDjangoSaver``, so its threads, checkpoints and pending
tool approvals live in the dashboard's tables.

The chat model is offline by default (no API key): :class:`ScriptedAgentModel`, langchain-core's
``GenericFakeChatModel`` answering from the conversation instead of a fixed list: to the
user's request it proposes one ``send_email`` and one ``delete_file`` call (the address and the
path taken from the request), and once the tools have answered it sums up what they did.
``FLOWSITE_CHAT_MODEL=provider:model`` (e.g. ``openai:gpt-4o-mini``) switches to a real model
through ``langchain.chat_models.init_chat_model`` (its package and API key must be installed).

The tools do nothing outside this process (it is a demo): each returns what it did, which the
final answer and the thread page show, so a reviewer sees the effect of an approval, an edit or
a rejection.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool

from workflows.langgraph_saver import LangGraphDjangoSaver

DEFAULT_TO = "alice@example.com"
DEFAULT_PATH = "/tmp/report.txt"
EXAMPLE_REQUEST = f"Email the quarterly report to {DEFAULT_TO}, then delete {DEFAULT_PATH}."
# what HumanInTheLoopMiddleware puts before the result of a call a reviewer edited
EDITED_MARK = "Tool response:"
SYSTEM_PROMPT = (
    "You are an email assistant. Do what the user asks with your tools: send_email to send "
    "an email, delete_file to delete a file. Then tell the user what was done."
)


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to ``to`` with ``subject`` and ``body`` (plain text)."""
    return f"Email sent to {to} with subject “{subject}”."


@tool
def delete_file(path: str) -> str:
    """Delete the file at ``path``."""
    return f"File {path} deleted."


def _proposal(request: str) -> AIMessage:
    """The tool calls the scripted model proposes for a user's request."""
    address = re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", request)
    path = re.search(r"(?<![\w@])/[\w./-]*\w", request)
    to = address.group(0) if address else DEFAULT_TO
    target = path.group(0) if path else DEFAULT_PATH
    return AIMessage(
        content=f"I will email {to} and delete {target}, once a reviewer agrees.",
        tool_calls=[
            {"name": "send_email", "id": "call_send_email", "args": {
                "to": to, "subject": "Quarterly report",
                "body": "Hello,\n\nhere is the quarterly report you asked for.\n\nBest regards",
            }},
            {"name": "delete_file", "id": "call_delete_file", "args": {"path": target}},
        ],
    )


def _summary(results: list[ToolMessage], order: list[str]) -> AIMessage:
    """The scripted model's final answer: one line per tool result (in the order the calls were
    proposed, ``order`` being their ids), refusals included; an edited call's result without
    the middleware's note to the model."""
    lines = []
    for message in sorted(results, key=lambda m: order.index(m.tool_call_id)
                          if m.tool_call_id in order else len(order)):
        text = str(message.content)
        edited = EDITED_MARK in text
        text = text.rsplit(EDITED_MARK, 1)[-1].strip()
        note = " (as edited by the reviewer)" if edited else ""
        lines.append(f"- {message.name}: {text}{note}")
    return AIMessage(content="Here is what happened:\n" + "\n".join(lines))


class ScriptedAgentModel(GenericFakeChatModel):
    """``GenericFakeChatModel`` that answers from the conversation: tool calls for the user's
    latest request, then a summary of the tool results that followed. Streams its text word by
    word (``stream_mode="messages"``) and its tool calls as one chunk."""

    messages: Iterator[AIMessage | str] = iter(())  # unused: answers come from the conversation

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedAgentModel:
        return self  # the script knows its two tools

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        last_request = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        turn = messages[last_request:]
        results = [m for m in turn if isinstance(m, ToolMessage)]
        order = [c["id"] for m in turn if isinstance(m, AIMessage) for c in m.tool_calls]
        reply = (_summary(results, order) if results
                 else _proposal(str(messages[last_request].content)))
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        reply = self._generate(messages).generations[0].message
        if not reply.tool_calls:
            yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)
            return
        for token in re.split(r"(\s)", reply.content):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token, id=reply.id))
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="", id=reply.id, chunk_position="last",
            tool_call_chunks=[
                {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                for i, c in enumerate(reply.tool_calls)
            ],
        ))


def chat_model() -> Any:
    """The agent's chat model: ``FLOWSITE_CHAT_MODEL`` through ``init_chat_model``, else the
    offline :class:`ScriptedAgentModel`."""
    configured = os.environ.get("FLOWSITE_CHAT_MODEL", "").strip()
    if configured:
        from langchain.chat_models import init_chat_model

        return init_chat_model(configured)
    return ScriptedAgentModel()


def build_agent(checkpointer: Any = None) -> Any:
    """The email assistant: ``create_agent`` + ``HumanInTheLoopMiddleware`` on
    ``LangGraphDjangoSaver`` (or ``checkpointer``)."""
    return create_agent(
        chat_model(),
        tools=[send_email, delete_file],
        system_prompt=SYSTEM_PROMPT,
        middleware=[HumanInTheLoopMiddleware(interrupt_on={
            "send_email": True,  # approve, edit, reject or respond
            "delete_file": {"allowed_decisions": ["approve", "reject"]},
        })],
        checkpointer=checkpointer or LangGraphDjangoSaver(),
        name="email_assistant",
    )


def agent_input(request: str) -> dict:
    """The agent's input for a user's request text."""
    return {"messages": [{"role": "user", "content": request}]}
