"""Forms reviewers answer interrupts with.

Every answer form has ``resume_value()`` (what the run resumes with), ``decision_kind()``
(a ``reviews.Decision.Kind``: ``approve``/``edit``/``reject``/``respond``/``ignore`` for a
decision on a proposal, ``answer`` for a plain answer, ``mixed`` for a batch of different
decisions) and ``audit()`` (the diff of an edit, the decision on each action of an agent
request), for the audit log. Which form an interrupt gets is decided by
:func:`answer_form_class`:

1. the registered workflow's ``resume_form``, when it names one;
2. for an agent request (LangChain's ``HumanInTheLoopMiddleware``, batched or ``per_call``, or
   an Agent Inbox ``HumanInterrupt``; see :mod:`workflows.agent_requests`), the agent answer
   formset of :mod:`reviews.agent_forms`: one decision per proposed tool call;
3. a form built from the interrupt's ``response_schema`` (a JSON Schema dict, e.g. from a
   pydantic model; see :mod:`reviews.schema_fields`): a boolean becomes Approve/Reject
   buttons, objects, tagged unions and arrays become fields, a scalar becomes one field;
4. otherwise a JSON textarea.

``buttons`` on a form class lists its submit buttons as ``(name, value, label, css_class)``;
the page renders them after the fields (``button_fields`` names the fields they submit).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import Exists, OuterRef

from workflows import registry, validation
from workflows.agent_requests import classify

from . import schema_fields
from .agent_forms import AgentAnswerForm, arg_diff
from .models import Comment

__all__ = [
    "AnswerForm",
    "ApproveRejectForm",
    "AuditFilterForm",
    "CommentForm",
    "InboxFilterForm",
    "JsonAnswerForm",
    "ReassignForm",
    "ReviewFilterForm",
    "SchemaForm",
    "TextAnswerForm",
    "answer_form_class",
    "audit_of",
    "build_answer_form",
    "buttons_of",
    "decision_kind_of",
    "resume_value_of",
    "schema_form_class",
]

_SEND = [(None, None, "Send answer", "")]


class AnswerForm(forms.Form):
    """Base of the answer forms: knows its interrupt, its resume value and decision kind."""

    buttons: list[tuple[str | None, str | None, str, str]] = _SEND
    button_fields: tuple[str, ...] = ()
    takes_interrupt = True  # build_answer_form passes interrupt=

    def __init__(self, *args: Any, interrupt: Any = None, **kwargs: Any) -> None:
        self.interrupt = interrupt
        super().__init__(*args, **kwargs)

    def resume_value(self) -> Any:
        return dict(self.cleaned_data)

    def decision_kind(self) -> str:
        return "answer"

    def audit(self) -> dict[str, Any]:
        return {}


class ApproveRejectForm(AnswerForm):
    """Two submit buttons named ``decision``: Approve resumes with ``True``, Reject ``False``."""

    button_fields = ("decision",)  # rendered as the buttons, not as a field
    buttons = [
        ("decision", "approve", "Approve", "approve"),
        ("decision", "reject", "Reject", "reject secondary"),
    ]

    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject")],
        error_messages={
            "required": "Choose Approve or Reject.",
            "invalid_choice": "Choose Approve or Reject.",
        },
    )

    def resume_value(self) -> bool:
        return self.cleaned_data["decision"] == "approve"

    def decision_kind(self) -> str:
        return self.cleaned_data["decision"]


class TextAnswerForm(AnswerForm):
    """A free-text answer: the run resumes with the string."""

    answer = forms.CharField(
        label="Your answer", widget=forms.Textarea(attrs={"rows": 5, "autofocus": True})
    )

    def resume_value(self) -> str:
        return self.cleaned_data["answer"]


class JsonAnswerForm(AnswerForm):
    """Any JSON value; the run resumes with the parsed value."""

    value = forms.CharField(
        label="Resume value (JSON)",
        help_text='Any JSON value: true, 42, "some text", ["a", "b"] or {"key": "value"}.',
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono", "spellcheck": "false"}),
        strip=True,
    )

    def clean_value(self) -> Any:
        return validation.loads(self.cleaned_data["value"], max_bytes=validation.max_answer_bytes())

    def resume_value(self) -> Any:
        return self.cleaned_data["value"]


# -- forms built from a JSON Schema --------------------------------------------------------------


class SchemaForm(AnswerForm):
    """An answer form whose fields come from the JSON Schema in ``schema`` (set by subclasses),
    through :mod:`reviews.schema_fields`: objects (nested ones as groups), ``oneOf``/``anyOf``
    told apart by a ``const`` (pick a branch, then fill its fields), arrays (one field per
    item), ``$ref``/``$defs``; anything else is one JSON field.

    The resume value is the object (optional fields left empty are omitted), or for a scalar
    schema the value of its one field, ``answer``. It is validated against the schema with
    ``jsonschema``, and each error is shown on the field it is about. When the interrupt's
    value is a dict with some of the properties, the form starts from those values: submitting
    them unchanged is an ``approve``, changing them an ``edit`` (with its diff).
    """

    schema: dict = {}
    use_required_attribute = False  # branches not chosen are hidden; the server validates

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        root = self.schema
        resolved, _ = schema_fields.unwrap(root, root)
        properties = (
            resolved.get("properties") if schema_fields.type_of(resolved) == "object" else None
        )
        is_union = schema_fields.discriminated(resolved, root) is not None
        self.is_object = bool(properties)
        proposal = getattr(self.interrupt, "value", None)
        self.prefilled: dict[str, Any] = {}
        initial: Any = schema_fields.MISSING
        if self.is_object and isinstance(proposal, dict):
            self.prefilled = {k: v for k, v in proposal.items() if k in properties}
            initial = self.prefilled
        self.node = schema_fields.build(
            self,
            root,
            base="" if (self.is_object or is_union) else "answer",
            initial=initial,
            label=None
            if (self.is_object or is_union)
            else (resolved.get("title") or "Your answer"),
        )

    def clean(self) -> dict[str, Any]:
        for name in schema_fields.skipped_fields(self.node, self):  # branches not chosen
            self._errors.pop(name, None)
        if not self._errors:
            schema_fields.add_schema_errors(self, self.node, self.schema, self.resume_value())
        return self.cleaned_data

    def resume_value(self) -> Any:
        value = schema_fields.value_of(self.node, self.cleaned_data)
        if value is schema_fields.MISSING:
            return {} if self.is_object else None
        return value

    def decision_kind(self) -> str:
        if not self.prefilled:
            return "answer"
        return "edit" if self.diff() else "approve"

    def diff(self) -> dict[str, Any] | None:
        value = self.resume_value()
        if not self.prefilled or not isinstance(value, dict):
            return None
        return (
            arg_diff(self.prefilled, {k: v for k, v in value.items() if k in self.prefilled})
            or None
        )

    def audit(self) -> dict[str, Any]:
        return {"diff": self.diff()}


def schema_form_class(schema: dict) -> type[forms.Form] | None:
    """The answer form for a JSON Schema, or ``None`` when the schema is beyond a form
    (a top-level array or untagged union, or ``{}``: any value)."""
    resolved, _ = schema_fields.unwrap(schema, schema)
    kind = schema_fields.type_of(resolved)
    if kind == "boolean" and "enum" not in resolved:
        return ApproveRejectForm
    is_object = kind == "object" and bool(resolved.get("properties"))
    is_union = schema_fields.discriminated(resolved, schema) is not None
    is_scalar = "enum" in resolved or "const" in resolved or kind in ("string", "integer", "number")
    if not (is_object or is_union or is_scalar):
        return None
    name = str(resolved.get("title") or "Schema").replace(" ", "") + "AnswerForm"
    return type(name, (SchemaForm,), {"schema": schema, "__module__": __name__})


# -- choosing and using a form ----------------------------------------------------------------


def answer_form_class(interrupt: Any) -> type[forms.Form]:
    """The form class reviewers answer ``interrupt`` with (see the module docstring)."""
    try:
        workflow = registry.get(interrupt.thread.workflow)
    except registry.UnknownWorkflow:
        workflow = None
    resume_form = getattr(workflow, "resume_form", None)
    if resume_form is not None:
        return resume_form
    if classify(interrupt.value, interrupt.response_schema) is not None:
        return AgentAnswerForm
    if isinstance(interrupt.response_schema, dict):
        form_class = schema_form_class(interrupt.response_schema)
        if form_class is not None:
            return form_class
    return JsonAnswerForm


def build_answer_form(form_class: type[forms.Form], interrupt: Any, data: Any = None) -> forms.Form:
    """Instantiate ``form_class``; answer forms get the interrupt, a workflow's own form not."""
    if getattr(form_class, "takes_interrupt", False):
        return form_class(data, interrupt=interrupt)
    return form_class(data)


def resume_value_of(form: forms.Form) -> Any:
    """The resume value of a valid form; a workflow's own form without ``resume_value()``
    resumes with its ``cleaned_data``."""
    method = getattr(form, "resume_value", None)
    return method() if callable(method) else dict(form.cleaned_data)


def decision_kind_of(form: forms.Form) -> str:
    """The ``Decision.Kind`` of a valid form's answer; ``answer`` for a workflow's own form."""
    method = getattr(form, "decision_kind", None)
    return method() if callable(method) else "answer"


def audit_of(form: forms.Form) -> dict[str, Any]:
    """What the audit log records besides the kind and value: ``diff`` and ``actions``."""
    method = getattr(form, "audit", None)
    return method() if callable(method) else {}


def buttons_of(form: forms.Form) -> list[tuple[str | None, str | None, str, str]]:
    return getattr(form, "buttons", _SEND)


class CommentForm(forms.Form):
    """A reviewer's comment on an item (``reviews.services.add_comment``): plain text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "comment_%s")  # beside the answer form's fields
        super().__init__(*args, **kwargs)

    body = forms.CharField(
        label="Comment",
        max_length=Comment.MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "A note for the other reviewers…"}),
        error_messages={"required": "Write a comment first."},
    )

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        validation.check_json_value(body)  # no NUL character, no lone surrogate
        return body


# -- filters of the inbox and the archive ---------------------------------------------------------


class ReviewFilterForm(forms.Form):
    """The archive's filters (a GET form): free-text search and workflow (of those ``viewer``
    may see).

    ``filters()`` is what the selectors take: the fields that validated, so one bad value in a
    hand-edited URL is reported (``errors``) without dropping the others.
    """

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search the requests…"}),
    )
    workflow = forms.ChoiceField(label="Workflow", required=False)

    def __init__(self, *args: Any, viewer: Any = None, **kwargs: Any) -> None:
        """``viewer``: the user whose lists these filter; the workflow choices are the
        workflows they may see (``RegisteredWorkflow.can_view``: ``view_permission``), so a
        hidden workflow's name is neither offered nor accepted. ``None``: every workflow."""
        super().__init__(*args, **kwargs)
        self.fields["workflow"].choices = [("", "All workflows")] + [
            (workflow.name, workflow.title)
            for workflow in registry.all_workflows()
            if viewer is None or workflow.can_view(viewer)
        ]

    def filters(self) -> dict[str, str]:
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in self.fields}

    def querystring(self) -> str:
        """The valid, non-empty filters as a query string (for page links and the socket)."""
        return urlencode({name: value for name, value in self.filters().items() if value})

    def is_filtered(self) -> bool:
        """Whether any filter narrows the list (an order is not a filter, nor a tab)."""
        return any(
            value for name, value in self.filters().items() if name not in ("sort", "assigned")
        )


class InboxFilterForm(ReviewFilterForm):
    """The inbox's filters: the archive's, plus assignment (the tabs), claims and order."""

    assigned = forms.ChoiceField(
        label="Assigned",
        required=False,
        choices=[("", "Everyone's"), ("me", "Assigned to me"), ("groups", "My groups")],
        widget=forms.HiddenInput,
    )
    claim = forms.ChoiceField(
        label="Claims",
        required=False,
        choices=[("", "Anyone's"), ("mine", "Claimed by me"), ("unclaimed", "Unclaimed")],
    )
    sort = forms.ChoiceField(
        label="Order",
        required=False,
        choices=[("", "Oldest first"), ("newest", "Newest first"), ("due", "Due first")],
    )


class AuditFilterForm(ReviewFilterForm):
    """The audit log's filters: who, which workflow, which decision (no free-text search)."""

    q = None
    user = forms.ChoiceField(label="Reviewer", required=False)
    kind = forms.ChoiceField(label="Decision", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from django.contrib.auth import get_user_model

        from .models import Decision

        super().__init__(*args, **kwargs)
        # reviewers with a decision: one index probe per user (decision_user_recent), not a
        # read of every decision
        users = get_user_model().objects.filter(
            Exists(Decision.objects.filter(user=OuterRef("pk")))
        )
        self.fields["user"].choices = [("", "Every reviewer")] + [
            (str(user.pk), user.get_username())
            for user in users.order_by(get_user_model().USERNAME_FIELD)
        ]
        if Decision.objects.filter(user__isnull=True).exists():  # the system decided too
            self.fields["user"].choices += [("system", Decision.By.DEADLINE.label)]
        self.fields["kind"].choices = [("", "Every decision"), *Decision.Kind.choices]


class ReassignForm(forms.Form):
    """Staff's reassignment of an item: whom to (usernames and ``group:<name>``, separated by
    commas or spaces; empty: nobody) and why. ``assignees()`` is ``(usernames, group names)``."""

    assignees = forms.CharField(
        label="Assign to",
        required=False,
        max_length=1000,
        help_text="Usernames and group:<name>, separated by commas. Empty: nobody.",
        widget=forms.TextInput(attrs={"placeholder": "alice, group:editors", "autocomplete": "off"}),
    )
    reason = forms.CharField(label="Reason", required=False, max_length=200)

    def clean_assignees(self) -> list[str]:
        names = self.cleaned_data["assignees"].replace(",", " ").split()
        return list(dict.fromkeys(names))

    def assignees_split(self) -> tuple[list[str], list[str]]:
        names = self.cleaned_data["assignees"]
        groups = [n.removeprefix("group:") for n in names if n.startswith("group:")]
        return [n for n in names if not n.startswith("group:")], [g for g in groups if g]
