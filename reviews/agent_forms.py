"""The answer form of an agent request (see :mod:`workflows.agent_requests`): one
:class:`ActionForm` per proposed tool call, gathered in a formset that one submit sends.

Each action form has a ``decision`` (radio buttons for exactly the decisions the action
allows), a ``message`` (for Reject and Respond) and, when Edit is allowed, the tool's
arguments as fields named ``args.<argument>``: built from the tool's argument schema when the
agent gave one (``review_configs[i].args_schema``, or ``$defs/<tool>`` of a ``per_call``
response schema), otherwise one field per proposed argument, prefilled, of the argument's type
(JSON only for nested values). Only the chosen decision's fields are validated; a ``per_call``
decision is validated against its response schema with each error shown on its field.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.formsets import BaseFormSet, ManagementForm, formset_factory

from workflows.agent_requests import (
    ActionDecision,
    AgentRequest,
    InvalidDecision,
    arg_diff,
    classify,
)

from . import schema_fields

__all__ = ["AgentAnswerForm", "ActionForm", "arg_diff", "inferred_schema"]

DECISION_LABELS = {
    "approve": ("Approve", "Run the tool as proposed."),
    "edit": ("Edit", "Change the arguments, then run it."),
    "reject": ("Reject", "Don't run it; the agent is told why."),
    "respond": ("Respond", "Don't run it; your message is its result."),
    "ignore": ("Ignore", "Skip this step."),
}


def inferred_schema(args: dict[str, Any]) -> dict:
    """A JSON Schema for proposed arguments that came without one: each argument's type as
    proposed (strings, integers, numbers, booleans); nested values and ``null`` are any JSON."""

    def of(value: Any) -> dict:
        if isinstance(value, bool):
            return {"type": "boolean"}
        if isinstance(value, int):
            return {"type": "integer"}
        if isinstance(value, float):
            return {"type": "number"}
        if isinstance(value, str):
            return {"type": "string"}
        return {}

    return {
        "type": "object",
        "properties": {name: of(value) for name, value in args.items()},
        "required": list(args),
    }


class ActionForm(forms.Form):
    """The decision on one action; ``decision()`` is the reviewer's :class:`ActionDecision`."""

    # Fields of the decisions not chosen are hidden, so the browser must not insist on them;
    # the server validates what the chosen decision uses.
    use_required_attribute = False

    def __init__(self, *args: Any, action: Any, request: AgentRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.action = action
        self.agent_request = request
        choices = [(kind, DECISION_LABELS[kind][0]) for kind in action.allowed]
        labels = [label for _, label in choices]
        allowed = " or ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels)
        self.fields["decision"] = forms.ChoiceField(
            label=f"What should happen with {action.name}?",
            choices=choices,
            widget=forms.RadioSelect(attrs={"class": "decision-radio"}),
            initial=action.allowed[0] if len(action.allowed) == 1 else None,
            error_messages={
                "required": f"Choose {allowed}.",
                "invalid_choice": f"%(value)s is not allowed for {action.name}; choose {allowed}.",
            },
        )
        if {"reject", "respond"} & set(action.allowed):
            self.fields["message"] = forms.CharField(
                label="Message to the agent",
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        self.args_node = None
        self.inferred = action.args_schema is None
        if "edit" in action.allowed:
            schema = action.args_schema or inferred_schema(action.args)
            self.args_node = schema_fields.build(
                self,
                schema,
                root=action.root or schema,
                base="args",
                initial=action.args,
                label="Arguments",
            )
            if self.inferred:  # an emptied text argument is sent as "", not dropped
                for node in schema_fields.walk(self.args_node):
                    if isinstance(node, schema_fields.FieldNode):
                        node.required = True
                        if isinstance(self.fields[node.name], forms.CharField):
                            self.fields[node.name].required = False

    # -- validation -------------------------------------------------------------------------------
    def _arg_fields(self) -> set[str]:
        return schema_fields.field_names(self.args_node) if self.args_node else set()

    def clean(self) -> dict[str, Any]:
        kind = self.cleaned_data.get("decision")
        ignored = self._arg_fields()
        if kind == "edit":
            ignored = schema_fields.skipped_fields(self.args_node, self)
        for name in ignored:  # fields the chosen decision does not use are not validated
            self._errors.pop(name, None)
        message = (self.cleaned_data.get("message") or "").strip()
        if kind == "respond" and not message:
            self.add_error(
                "message",
                "Respond needs a message: the agent gets it instead of the tool's result.",
            )
        if kind == "edit" and not (self._arg_fields() & set(self._errors)):
            args = self.edited_args()
            if args == self.action.args and "approve" in self.action.allowed:
                self.add_error(
                    "decision", "Nothing was changed: change an argument, or choose Approve."
                )
            elif self.action.args_schema is not None:
                schema = {**self.action.args_schema, **_defs(self.action.root)}
                schema_fields.add_schema_errors(self, self.args_node, schema, args)
        if kind and not self.errors and self.agent_request.response_schema is not None:
            self._check_response_schema()
        return self.cleaned_data

    def _check_response_schema(self) -> None:
        """``per_call``: the decision against its ``oneOf`` schema, errors on their fields."""
        request = self.agent_request
        try:
            value = request.resume_value([self.decision()])
        except InvalidDecision as exc:
            self.add_error(None, str(exc))
            return
        schema = request.response_schema
        index = _branch_index(schema, value.get("type"))
        fields = {("type",): "decision", ("message",): "message"}

        def local(path: tuple) -> tuple | None:
            return path[2:] if path[:2] == ("edited_action", "args") else None

        schema_fields.add_schema_errors(
            self,
            self.args_node or schema_fields.ObjectNode(path=(), label=""),
            schema,
            value,
            path_map=local,
            chosen={} if index is None else {(): index},
            field_map=lambda path: fields.get(path),
        )

    # -- the answer -------------------------------------------------------------------------------
    def edited_args(self) -> dict[str, Any]:
        value = schema_fields.value_of(self.args_node, self.cleaned_data)
        return value if isinstance(value, dict) else {}

    def decision(self) -> ActionDecision:
        kind = self.cleaned_data["decision"]
        message = (self.cleaned_data.get("message") or "").strip()
        if kind == "edit":
            return ActionDecision(kind=kind, args=self.edited_args())
        return ActionDecision(kind=kind, message=message if kind in ("reject", "respond") else "")

    def diff(self) -> dict[str, Any] | None:
        decision = self.decision()
        return arg_diff(self.action.args, decision.args) if decision.kind == "edit" else None

    # -- display ----------------------------------------------------------------------------------
    def decision_options(self) -> list[dict[str, Any]]:
        """The decision radio buttons with their labels and hints, for the template."""
        return [
            {
                "widget": widget,
                "kind": widget.data["value"],
                "hint": DECISION_LABELS[widget.data["value"]][1],
            }
            for widget in self["decision"]
        ]

    def error_list(self) -> list[tuple[str, str, str]]:
        """``[(where, message, field id)]``: every error, named by action and field."""
        out = []
        for name, errors in self.errors.items():
            bound = self[name] if name in self.fields else None
            where = self.action.label
            if bound is not None and name != "decision":
                where = f"{where} › {_field_label(bound)}"
            target = ""
            if bound is not None:  # radio buttons have no label target: the first button
                target = bound.id_for_label or (f"{bound.auto_id}_0" if bound.auto_id else "")
            for error in errors:
                out.append((where, error, target))
        return out


def _field_label(bound: Any) -> str:
    return str(bound.label).removesuffix(" (JSON)")


def _defs(root: dict | None) -> dict:
    if not root:
        return {}
    return {key: root[key] for key in ("$defs", "definitions") if key in root}


def _branch_index(schema: dict, kind: Any) -> int | None:
    for index, option in enumerate(schema.get("oneOf") or schema.get("anyOf") or ()):
        branch = schema_fields.resolve(option, schema)
        const = schema_fields.resolve(branch.get("properties", {}).get("type", {}), schema).get(
            "const"
        )
        if const == kind:
            return index
    return None


class AgentAnswerFormSet(BaseFormSet):
    """Every action of one agent request; ``resume_value()`` is the whole answer.

    The number of forms is the request's, never the client's (the management form is fixed),
    and every form must be answered (no empty extra forms).
    """

    takes_interrupt = True
    buttons = [(None, None, "Send decision", "")]
    button_fields = ()

    def __init__(
        self, data: Any = None, *, interrupt: Any, prefix: str | None = None, **kwargs: Any
    ) -> None:
        self.interrupt = interrupt
        request = classify(interrupt.value, interrupt.response_schema)
        if request is None:
            raise ValueError("This interrupt is not an agent request")
        self.agent_request = request
        super().__init__(data, prefix=prefix or "action", **kwargs)
        count = len(request.actions)
        if count > 1:
            self.buttons = [(None, None, f"Send {count} decisions", "")]

    def total_form_count(self) -> int:
        return len(self.agent_request.actions)

    def initial_form_count(self) -> int:
        return self.total_form_count()  # every action must be answered: none is "extra"

    @property
    def management_form(self) -> ManagementForm:
        count = self.total_form_count()
        form = ManagementForm(
            {f"{self.prefix}-TOTAL_FORMS": count, f"{self.prefix}-INITIAL_FORMS": count},
            auto_id=self.auto_id,
            prefix=self.prefix,
            renderer=self.renderer,
        )
        form.full_clean()
        return form

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        if index is None:
            raise TypeError("An agent request's answer has no empty form")
        return {"action": self.agent_request.actions[index], "request": self.agent_request}

    # -- the answer -------------------------------------------------------------------------------
    def decisions(self) -> list[ActionDecision]:
        return [form.decision() for form in self.forms]

    def resume_value(self) -> Any:
        return self.agent_request.resume_value(self.decisions())

    def decision_kind(self) -> str:
        kinds = {decision.kind for decision in self.decisions()}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def audit(self) -> dict[str, Any]:
        """What the audit log keeps besides the resume value: one entry per action (name,
        decision, message, the diff of an edit) and, for a single action, its diff."""
        actions = [
            {
                "name": form.action.name,
                "kind": decision.kind,
                "message": decision.message,
                "diff": form.diff(),
            }
            for form, decision in zip(self.forms, self.decisions(), strict=True)
        ]
        diffs = [action["diff"] for action in actions]
        return {"actions": actions, "diff": diffs[0] if len(actions) == 1 else None}

    def error_list(self) -> list[tuple[str, str, str]]:
        return [item for form in self.forms for item in form.error_list()] + [
            ("", str(error), "") for error in self.non_form_errors()
        ]


AgentAnswerForm = formset_factory(ActionForm, formset=AgentAnswerFormSet, extra=0)
