"""The agent requests of ``/work/shared/reference/agent-payloads.md``, exactly, and a test-only
Flowsite workflow that pauses with any of them and returns what it was resumed with.

The two ``per_call`` response schemas in ``payloads/`` are what langchain 1.5.2's
``HumanInTheLoopMiddleware(interrupt_mode="per_call")`` publishes for ``send_email`` (all four
decisions allowed) and ``delete_file`` (approve and reject); ``test_agent_requests.py`` checks
them against the installed langchain when it is there.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from workflows import DjangoSaver, entrypoint, interrupt, registry

HERE = Path(__file__).parent / "payloads"
EMAIL_ARGS = {"to": "alice@example.com", "subject": "Report", "body": "Here it is."}

# 1. HumanInTheLoopMiddleware, batched mode (the default); response_schema is None.
BATCHED = {
    "action_requests": [
        {
            "name": "send_email",
            "args": dict(EMAIL_ARGS),
            "description": "Tool execution requires approval\n\nTool: send_email\nArgs: {...}",
        },
        {"name": "delete_file", "args": {"path": "/tmp/report.txt"}, "description": "..."},
    ],
    "review_configs": [
        {
            "action_name": "send_email",
            "allowed_decisions": ["approve", "edit", "reject", "respond"],
        },
        {"action_name": "delete_file", "allowed_decisions": ["approve", "reject"]},
    ],
}

# 2. The same middleware with interrupt_mode="per_call".
PER_CALL = {
    "type": "tool_approval",
    "tool_call_id": "call_1",
    "name": "send_email",
    "args": dict(EMAIL_ARGS),
    "description": "Tool execution requires approval\n\nTool: send_email\nArgs: {...}",
}
PER_CALL_SCHEMA = json.loads((HERE / "per_call_send_email.json").read_text())
PER_CALL_DELETE = {
    "type": "tool_approval",
    "tool_call_id": "call_2",
    "name": "delete_file",
    "args": {"path": "/tmp/report.txt"},
    "description": (
        "Tool execution requires approval\n\nTool: delete_file\nArgs: {'path': '/tmp/report.txt'}"
    ),
}
PER_CALL_DELETE_SCHEMA = json.loads((HERE / "per_call_delete_file.json").read_text())

# 3. LangGraph's Agent Inbox HumanInterrupt: a list of requests.
INBOX = [
    {
        "action_request": {"action": "send_email", "args": dict(EMAIL_ARGS)},
        "config": {
            "allow_ignore": True,
            "allow_respond": True,
            "allow_edit": True,
            "allow_accept": True,
        },
        "description": "Please review the email before it is sent (markdown)",
    }
]


def fresh(payload: Any) -> Any:
    return copy.deepcopy(payload)


@entrypoint(checkpointer=DjangoSaver())
def agent_request(request: dict) -> dict:
    """Pause with ``request["value"]`` (and ``request["schema"]`` as the response schema), as
    an agent does, and return the resume value unchanged."""
    answer = interrupt(request["value"], response_schema=request.get("schema"))
    return {"resumed_with": answer}


WORKFLOW = "agent-request-test"
registry.register(WORKFLOW, agent_request, title="Agent request (test)")
