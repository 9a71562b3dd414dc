"""Agent requests: what LangChain and LangGraph agents put in an interrupt, recognised, the
exact resume value each one expects, and (:func:`decisions_of`) the decisions read back from it.

Pure functions of JSON data (no Django, no langchain), so both the thread page (``workflows``)
and the review page (``reviews``, which imports them from here) read agent requests the same way.

:func:`classify` turns an interrupt's value and response schema into an :class:`AgentRequest`
(or ``None`` for anything else). Three shapes are recognised, as langchain 1.5.2 and langgraph
1.2.24 produce them:

``batched``
    LangChain's ``HumanInTheLoopMiddleware`` (default mode): ``{"action_requests": [{"name",
    "args", "description"}], "review_configs": [{"action_name", "allowed_decisions",
    "args_schema"?}]}``. Resumed with ``{"decisions": [<one per action, in order>]}``.
``per_call``
    The same middleware with ``interrupt_mode="per_call"``: ``{"type": "tool_approval",
    "tool_call_id", "name", "args", "description"}`` whose response schema is a ``oneOf`` of
    the allowed decisions (discriminated by their ``type`` const; a single allowed decision is
    that decision's plain object schema). Resumed with one decision object.
``agent_inbox``
    LangGraph's (deprecated) Agent Inbox ``HumanInterrupt``: a one-element list ``[{
    "action_request": {"action", "args"}, "config": {"allow_accept", "allow_edit",
    "allow_respond", "allow_ignore"}, "description"}]``. Resumed with a one-element list of a
    ``HumanResponse``: ``{"type": "accept"|"edit"|"response"|"ignore", "args": ...}``.

Decisions use the middleware's words: ``approve``, ``edit``, ``reject``, ``respond``, plus
``ignore`` (Agent Inbox only; its ``accept`` is ``approve`` and ``response`` is ``respond``).
A middleware decision is ``{"type": "approve"}``, ``{"type": "edit", "edited_action": {"name",
"args"}}``, ``{"type": "reject", "message"?}`` or ``{"type": "respond", "message"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DECISIONS",
    "Action",
    "AgentRequest",
    "ActionDecision",
    "InvalidDecision",
    "arg_diff",
    "classify",
    "decisions_of",
    "resolve",
]

Shape = Literal["batched", "per_call", "agent_inbox"]
DECISIONS = ("approve", "edit", "reject", "respond", "ignore")
_MIDDLEWARE_DECISIONS = ("approve", "edit", "reject", "respond")
_INBOX_FLAGS = {
    "allow_accept": "approve",
    "allow_edit": "edit",
    "allow_respond": "respond",
    "allow_ignore": "ignore",
}
_MAX_REF_DEPTH = 12
_INBOX_TYPES = {"approve": "accept", "edit": "edit", "respond": "response", "ignore": "ignore"}


class InvalidDecision(ValueError):
    """A decision its action does not allow, or one missing what it needs (a respond without
    a message, an edit without arguments). The message names the action."""


@dataclass(frozen=True)
class Action:
    """One proposed tool call to review.

    ``index`` is its position in the request (0-based); ``allowed`` the decisions the agent
    accepts for it, in :data:`DECISIONS` order; ``args_schema`` the JSON Schema of its
    arguments when the agent gave one (``root`` holds the ``$defs`` its refs point into);
    ``description`` is Markdown.
    """

    index: int
    name: str
    args: dict[str, Any]
    description: str
    allowed: tuple[str, ...]
    args_schema: dict | None = None
    root: dict | None = None

    @property
    def label(self) -> str:
        """How errors name it: ``send_email (action 1)``."""
        return f"{self.name} (action {self.index + 1})"


@dataclass(frozen=True)
class ActionDecision:
    """A reviewer's decision on one action: ``kind`` in :data:`DECISIONS`, ``args`` for an
    edit (the full new arguments), ``message`` for reject (optional) and respond."""

    kind: str
    args: dict[str, Any] | None = None
    message: str = ""


@dataclass(frozen=True)
class AgentRequest:
    """A recognised agent request: its ``shape``, its ``actions`` and, for ``per_call``, the
    response schema the answer is validated against."""

    shape: Shape
    actions: tuple[Action, ...]
    response_schema: dict | None = None
    tool_call_id: str = ""

    def check(self, decisions: list[ActionDecision]) -> None:
        """Raise :class:`InvalidDecision` unless there is one allowed, complete decision per
        action."""
        if len(decisions) != len(self.actions):
            raise InvalidDecision(
                f"This request has {len(self.actions)} action(s) and needs one decision each, "
                f"got {len(decisions)}."
            )
        for action, decision in zip(self.actions, decisions, strict=True):
            if decision.kind not in action.allowed:
                allowed = ", ".join(k.capitalize() for k in action.allowed)
                raise InvalidDecision(
                    f"{action.label}: {decision.kind.capitalize() or 'No decision'} is not "
                    f"allowed; choose {allowed}."
                )
            if decision.kind == "respond" and not decision.message.strip():
                raise InvalidDecision(f"{action.label}: Respond needs a message.")
            if decision.kind == "edit" and not isinstance(decision.args, dict):
                raise InvalidDecision(f"{action.label}: Edit needs the new arguments.")

    def resume_value(self, decisions: list[ActionDecision]) -> Any:
        """The value to resume the interrupt with, exactly as the agent expects it (see the
        module docstring). Raises :class:`InvalidDecision` (see :meth:`check`)."""
        self.check(decisions)
        if self.shape == "agent_inbox":
            return [_inbox_response(self.actions[0], decisions[0])]
        answers = [_middleware_decision(a, d) for a, d in zip(self.actions, decisions, strict=True)]
        if self.shape == "per_call":
            return answers[0]
        return {"decisions": answers}


def _middleware_decision(action: Action, decision: ActionDecision) -> dict[str, Any]:
    if decision.kind == "edit":
        return {"type": "edit", "edited_action": {"name": action.name, "args": decision.args}}
    if decision.kind == "respond":
        return {"type": "respond", "message": decision.message}
    if decision.kind == "reject" and decision.message.strip():
        return {"type": "reject", "message": decision.message}
    return {"type": decision.kind}


def _inbox_response(action: Action, decision: ActionDecision) -> dict[str, Any]:
    kind = _INBOX_TYPES[decision.kind]
    if decision.kind == "edit":
        return {"type": kind, "args": {"action": action.name, "args": decision.args}}
    if decision.kind == "respond":
        return {"type": kind, "args": decision.message}
    return {"type": kind, "args": None}


def decisions_of(request: AgentRequest, resume: Any) -> list[ActionDecision] | None:
    """The reviewer's decisions read back from ``resume``, the value ``request`` was resumed
    with (the inverse of :meth:`AgentRequest.resume_value`): one :class:`ActionDecision` per
    action, in order, or ``None`` when ``resume`` is not an answer of the request's shape.
    Never raises."""
    if request.shape == "agent_inbox":
        answers = resume if isinstance(resume, list) and len(resume) == 1 else None
    elif request.shape == "per_call":
        answers = [resume]
    else:
        answers = resume.get("decisions") if isinstance(resume, dict) else None
    if not isinstance(answers, list) or len(answers) != len(request.actions):
        return None
    try:
        decisions = [_decision(answer, request.shape) for answer in answers]
    except (KeyError, TypeError):  # an edit without (object) arguments
        return None
    return None if None in decisions else decisions  # type: ignore[return-value]


def _decision(answer: Any, shape: str) -> ActionDecision | None:
    if not isinstance(answer, dict) or not isinstance(answer.get("type"), str):
        return None
    kind, args = answer["type"], answer.get("args")
    if shape == "agent_inbox":
        kind = {"accept": "approve", "response": "respond"}.get(kind, kind)
        if kind == "edit":
            return ActionDecision("edit", args=_args(args["args"]))
        return ActionDecision(kind, message=_text(args)) if kind in DECISIONS else None
    if kind == "edit":
        return ActionDecision("edit", args=_args(answer["edited_action"]["args"]))
    if kind in _MIDDLEWARE_DECISIONS:
        return ActionDecision(kind, message=_text(answer.get("message")))
    return None


def arg_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Field-level diff of two argument dicts: ``{name: {"old": ..., "new": ...}}`` for every
    argument that changed (an added one has no ``"old"``, a removed one no ``"new"``)."""
    diff: dict[str, dict[str, Any]] = {}
    for name in [*old, *(k for k in new if k not in old)]:
        if name in old and name in new and old[name] == new[name]:
            continue
        change = {}
        if name in old:
            change["old"] = old[name]
        if name in new:
            change["new"] = new[name]
        diff[name] = change
    return diff


def resolve(schema: Any, root: dict) -> dict:
    """Follow local ``$ref``s (``#/$defs/Name``), as pydantic writes them; siblings of the
    ``$ref`` override the target's keys. An unresolvable reference gives ``{}`` (any value)."""
    for _ in range(_MAX_REF_DEPTH):
        if not isinstance(schema, dict) or "$ref" not in schema:
            break
        ref = schema["$ref"]
        target: Any = root
        if isinstance(ref, str) and ref.startswith("#"):
            for part in ref[1:].split("/")[1:]:
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part, {}) if isinstance(target, dict) else {}
        else:
            target = {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema if isinstance(schema, dict) else {}


# -- recognising the shapes ----------------------------------------------------------------------
def classify(value: Any, response_schema: Any = None) -> AgentRequest | None:
    """The agent request in an interrupt's ``value`` (with its ``response_schema``, a JSON
    Schema dict or ``None``), or ``None`` when it is none of the three shapes. Never raises:
    a malformed request is simply not recognised (and gets the generic answer form)."""
    try:
        if isinstance(value, dict) and "action_requests" in value:
            return _batched(value)
        if isinstance(value, dict) and value.get("type") == "tool_approval":
            return _per_call(value, response_schema)
        if isinstance(value, list):
            return _agent_inbox(value)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return None


def _args(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("arguments must be an object")
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _batched(value: dict) -> AgentRequest | None:
    requests, configs = value["action_requests"], value.get("review_configs", [])
    if not isinstance(requests, list) or not requests or not isinstance(configs, list):
        return None
    by_name = {c["action_name"]: c for c in configs if isinstance(c, dict)}
    actions = []
    for index, request in enumerate(requests):
        name = request["name"]
        if not isinstance(name, str):
            return None
        # As the middleware builds it: configs[i] is requests[i]'s; fall back to the name.
        config = (
            configs[index]
            if index < len(configs) and configs[index].get("action_name") == name
            else by_name.get(name)
        )
        if config is None:
            return None
        allowed = tuple(
            d for d in _MIDDLEWARE_DECISIONS if d in config.get("allowed_decisions", ())
        )
        if not allowed:
            return None
        schema = config.get("args_schema")
        actions.append(
            Action(
                index=index,
                name=name,
                args=_args(request.get("args", {})),
                description=_text(request.get("description")),
                allowed=allowed,
                args_schema=schema if isinstance(schema, dict) else None,
                root=schema if isinstance(schema, dict) else None,
            )
        )
    return AgentRequest(shape="batched", actions=tuple(actions))


def _branches(schema: dict) -> list[dict]:
    options = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(options, list):
        return [resolve(option, schema) for option in options]
    return [schema]


def _per_call(value: dict, schema: Any) -> AgentRequest | None:
    name = value["name"]
    if not isinstance(name, str):
        return None
    allowed_set: set[str] = set()
    args_schema = None
    if isinstance(schema, dict):
        for branch in _branches(schema):
            kind = resolve(branch.get("properties", {}).get("type", {}), schema).get("const")
            if kind in _MIDDLEWARE_DECISIONS:
                allowed_set.add(kind)
            if kind == "edit":
                edited = resolve(branch["properties"].get("edited_action", {}), schema)
                args = resolve(edited.get("properties", {}).get("args", {}), schema)
                if args.get("properties"):
                    args_schema = args
    else:
        allowed_set = set(_MIDDLEWARE_DECISIONS)  # no schema: the middleware's default, True
    allowed = tuple(d for d in _MIDDLEWARE_DECISIONS if d in allowed_set)
    if not allowed:
        return None
    action = Action(
        index=0,
        name=name,
        args=_args(value.get("args", {})),
        description=_text(value.get("description")),
        allowed=allowed,
        args_schema=args_schema,
        root=schema if args_schema is not None else None,
    )
    return AgentRequest(
        shape="per_call",
        actions=(action,),
        response_schema=schema if isinstance(schema, dict) else None,
        tool_call_id=_text(value.get("tool_call_id")),
    )


def _agent_inbox(value: list) -> AgentRequest | None:
    # Agent Inbox answers one request (value[0]) with a one-element list; so do we, and
    # only when there is exactly one, so that no request goes unanswered silently.
    if len(value) != 1 or not isinstance(value[0], dict):
        return None
    request = value[0]
    action_request, config = request["action_request"], request["config"]
    name = action_request["action"]
    if not isinstance(name, str) or not isinstance(config, dict):
        return None
    allowed = tuple(decision for flag, decision in _INBOX_FLAGS.items() if config.get(flag) is True)
    allowed = tuple(d for d in DECISIONS if d in allowed)
    if not allowed:
        return None
    action = Action(
        index=0,
        name=name,
        args=_args(action_request.get("args", {})),
        description=_text(request.get("description")),
        allowed=allowed,
    )
    return AgentRequest(shape="agent_inbox", actions=(action,))
