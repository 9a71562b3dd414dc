"""Forms reviewers answer interrupts with.

Every answer form has ``resume_value()`` (what the run resumes with) and ``decision_kind()``
(``approve``/``reject``/``respond``/``edit``, for the audit log). Which form an interrupt gets is
decided by :func:`answer_form_class`:

1. the registered workflow's ``resume_form``, when it names one;
2. a form built from the interrupt's ``response_schema`` (a JSON Schema dict, e.g. from a
   pydantic model): a boolean becomes Approve/Reject buttons, an object's properties become
   fields, a scalar becomes one field;
3. otherwise a JSON textarea.

``buttons`` on a form class lists its submit buttons as ``(name, value, label, css_class)``;
the page renders them after the fields (``button_fields`` names the fields they submit).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

from django import forms

from workflows import registry

__all__ = [
    "AnswerForm",
    "ApproveRejectForm",
    "AuditFilterForm",
    "InboxFilterForm",
    "JsonAnswerForm",
    "ReviewFilterForm",
    "SchemaForm",
    "TextAnswerForm",
    "answer_form_class",
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

    def __init__(self, *args: Any, interrupt: Any = None, **kwargs: Any) -> None:
        self.interrupt = interrupt
        super().__init__(*args, **kwargs)

    def resume_value(self) -> Any:
        return dict(self.cleaned_data)

    def decision_kind(self) -> str:
        return "respond"


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
        text = self.cleaned_data["value"]
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                "This is not valid JSON: %(msg)s (line %(line)s, column %(col)s). "
                'Text must be quoted, e.g. "yes".',
                code="invalid_json",
                params={"msg": exc.msg, "line": exc.lineno, "col": exc.colno},
            ) from None

    def resume_value(self) -> Any:
        return self.cleaned_data["value"]


# -- forms built from a JSON Schema --------------------------------------------------------------


class SchemaForm(AnswerForm):
    """An answer form whose fields come from the JSON Schema in ``schema`` (set by subclasses).

    For an object schema the fields are its properties and the resume value is a dict (optional
    fields left empty are omitted); for a scalar schema there is one field, ``answer``, and the
    resume value is its value. When the interrupt's value is a dict with some of the properties,
    the form starts from those values: submitting them unchanged is an ``approve``, changing
    them an ``edit``.
    """

    schema: dict = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        root = self.schema
        schema, _ = _unwrap(root, root)
        self.is_object = _type_of(schema) == "object"
        self.prefilled: dict[str, Any] = {}
        if self.is_object:
            required = set(schema.get("required", ()))
            proposal = getattr(self.interrupt, "value", None)
            for name, prop in schema.get("properties", {}).items():
                field = _field_for(name, prop, root, required=name in required)
                if isinstance(proposal, dict) and name in proposal:
                    field.initial = _initial(field, proposal[name])
                    self.prefilled[name] = proposal[name]
                self.fields[name] = field
        else:
            label = schema.get("title") or "Your answer"
            self.fields["answer"] = _field_for("answer", schema, root, required=True, label=label)

    def resume_value(self) -> Any:
        if not self.is_object:
            return _jsonable(self.cleaned_data["answer"])
        value = {}
        for name, field_value in self.cleaned_data.items():
            if field_value in (None, "", []) and not self.fields[name].required:
                continue
            value[name] = _jsonable(field_value)
        return value

    def decision_kind(self) -> str:
        if not self.prefilled:
            return "respond"
        value = self.resume_value()
        changed = any(value.get(k) != v for k, v in self.prefilled.items())
        return "edit" if changed else "approve"


def schema_form_class(schema: dict) -> type[forms.Form] | None:
    """The answer form for a JSON Schema, or ``None`` when the schema is beyond a form
    (arrays, nested objects at the top level, unions)."""
    resolved, _ = _unwrap(schema, schema)
    kind = _type_of(resolved)
    if kind == "boolean" and "enum" not in resolved:
        return ApproveRejectForm
    is_object = kind == "object" and bool(resolved.get("properties"))
    is_scalar = "enum" in resolved or kind in ("string", "integer", "number")
    if not (is_object or is_scalar):
        return None
    name = str(resolved.get("title") or "Schema").replace(" ", "") + "AnswerForm"
    return type(name, (SchemaForm,), {"schema": schema, "__module__": __name__})


def _resolve(schema: dict, root: dict) -> dict:
    """Follow a local ``$ref`` (``#/$defs/Name``), as pydantic writes them."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 10:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema


def _unwrap(schema: dict, root: dict) -> tuple[dict, bool]:
    """``(schema, nullable)``: resolve refs and strip ``null`` from ``anyOf``/``type`` lists."""
    schema = _resolve(schema, root)
    nullable = False
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            non_null = [o for o in options if _resolve(o, root).get("type") != "null"]
            if len(non_null) < len(options):
                nullable = True
            if len(non_null) == 1:
                rest = {k: v for k, v in schema.items() if k != key}
                schema = {**_resolve(non_null[0], root), **rest}
    if isinstance(schema.get("type"), list):
        types = [t for t in schema["type"] if t != "null"]
        nullable = nullable or len(types) < len(schema["type"])
        schema = {**schema, "type": types[0] if len(types) == 1 else types}
    return schema, nullable


def _type_of(schema: dict) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    return None


def _label(name: str) -> str:
    return name.replace("_", " ").replace("-", " ").strip().capitalize()


def _field_for(
    name: str, prop: dict, root: dict, *, required: bool, label: str | None = None
) -> forms.Field:
    prop, nullable = _unwrap(prop, root)
    required = required and not nullable
    kind = _type_of(prop)
    common: dict[str, Any] = {
        "label": label or prop.get("title") or _label(name),
        "help_text": prop.get("description", ""),
        "required": required,
    }
    if "default" in prop:
        common["initial"] = prop["default"]
        common["required"] = False
    if "const" in prop:
        prop = {**prop, "enum": [prop["const"]]}

    if "enum" in prop:
        values = {str(v): v for v in prop["enum"]}
        choices = [(k, k) for k in values]
        if not common["required"]:
            choices = [("", "—")] + choices
        if "initial" in common:
            common["initial"] = str(common["initial"])
        return forms.TypedChoiceField(
            choices=choices, coerce=values.__getitem__, empty_value=None, **common
        )
    if kind == "boolean":
        common["required"] = False  # a checkbox: unticked is False, not missing
        return forms.BooleanField(**common)
    if kind == "integer":
        return forms.IntegerField(
            min_value=prop.get("minimum"), max_value=prop.get("maximum"), **common
        )
    if kind == "number":
        return forms.FloatField(
            min_value=prop.get("minimum"), max_value=prop.get("maximum"), **common
        )
    if kind == "string":
        fmt = prop.get("format")
        if fmt == "email":
            return forms.EmailField(**common)
        if fmt == "uri":
            return forms.URLField(**common)
        if fmt == "date":
            return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        max_length = prop.get("maxLength")
        short = max_length is not None and max_length <= 200
        widget = forms.TextInput() if short else forms.Textarea(attrs={"rows": 4})
        return forms.CharField(
            max_length=max_length, min_length=prop.get("minLength"), widget=widget, **common
        )
    if kind == "array":
        items, _ = _unwrap(prop.get("items", {}), root)
        if "enum" in items:
            return forms.TypedMultipleChoiceField(
                choices=[(str(v), str(v)) for v in items["enum"]],
                coerce={str(v): v for v in items["enum"]}.__getitem__,
                widget=forms.CheckboxSelectMultiple,
                **common,
            )
    # Arrays, nested objects, unions: JSON in a textarea.
    common["label"] = f"{common['label']} (JSON)"
    return forms.JSONField(widget=forms.Textarea(attrs={"rows": 4, "class": "mono"}), **common)


def _initial(field: forms.Field, value: Any) -> Any:
    if isinstance(field, forms.TypedChoiceField):
        return str(value)
    if isinstance(field, forms.TypedMultipleChoiceField) and isinstance(value, list):
        return [str(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


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
    if isinstance(interrupt.response_schema, dict):
        form_class = schema_form_class(interrupt.response_schema)
        if form_class is not None:
            return form_class
    return JsonAnswerForm


def build_answer_form(form_class: type[forms.Form], interrupt: Any, data: Any = None) -> forms.Form:
    """Instantiate ``form_class``; answer forms get the interrupt, a workflow's own form not."""
    if issubclass(form_class, AnswerForm):
        return form_class(data, interrupt=interrupt, prefix=None)
    return form_class(data)


def resume_value_of(form: forms.Form) -> Any:
    """The resume value of a valid form; a workflow's own form without ``resume_value()``
    resumes with its ``cleaned_data``."""
    method = getattr(form, "resume_value", None)
    return method() if callable(method) else dict(form.cleaned_data)


def decision_kind_of(form: forms.Form) -> str:
    method = getattr(form, "decision_kind", None)
    return method() if callable(method) else "respond"


def buttons_of(form: forms.Form) -> list[tuple[str | None, str | None, str, str]]:
    return getattr(form, "buttons", _SEND)


# -- filters of the inbox and the archive ---------------------------------------------------------


class ReviewFilterForm(forms.Form):
    """The archive's filters (a GET form): free-text search and workflow.

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workflow"].choices = [("", "All workflows")] + [
            (workflow.name, workflow.title) for workflow in registry.all_workflows()
        ]

    def filters(self) -> dict[str, str]:
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in self.fields}

    def querystring(self) -> str:
        """The valid, non-empty filters as a query string (for page links and the socket)."""
        return urlencode({name: value for name, value in self.filters().items() if value})

    def is_filtered(self) -> bool:
        """Whether any filter narrows the list (an order is not a filter)."""
        return any(value for name, value in self.filters().items() if name != "sort")


class InboxFilterForm(ReviewFilterForm):
    """The inbox's filters: the archive's, plus claims and order."""

    claim = forms.ChoiceField(
        label="Claims",
        required=False,
        choices=[("", "Anyone's"), ("mine", "Claimed by me"), ("unclaimed", "Unclaimed")],
    )
    sort = forms.ChoiceField(
        label="Order",
        required=False,
        choices=[("", "Oldest first"), ("newest", "Newest first")],
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
        users = get_user_model().objects.filter(review_decisions__isnull=False).distinct()
        self.fields["user"].choices = [("", "Every reviewer")] + [
            (str(user.pk), user.get_username())
            for user in users.order_by(get_user_model().USERNAME_FIELD)
        ]
        self.fields["kind"].choices = [("", "Every decision"), *Decision.Kind.choices]
