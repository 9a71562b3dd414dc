"""Answer forms: the approve/reject buttons, free text, JSON, and forms built from JSON Schema."""

from typing import Literal

import pytest
from pydantic import BaseModel, Field, TypeAdapter

from reviews.forms import (
    ApproveRejectForm,
    JsonAnswerForm,
    SchemaForm,
    TextAnswerForm,
    answer_form_class,
    build_answer_form,
    schema_form_class,
)


def valid(form):
    assert form.is_valid(), form.errors
    return form


def test_approve_reject():
    form = valid(ApproveRejectForm({"decision": "approve"}))
    assert (form.resume_value(), form.decision_kind()) == (True, "approve")
    form = valid(ApproveRejectForm({"decision": "reject"}))
    assert (form.resume_value(), form.decision_kind()) == (False, "reject")
    assert not ApproveRejectForm({}).is_valid()


def test_text_answer():
    form = valid(TextAnswerForm({"answer": "  Make it shorter.  "}))
    assert (form.resume_value(), form.decision_kind()) == ("Make it shorter.", "answer")
    assert not TextAnswerForm({"answer": ""}).is_valid()


@pytest.mark.parametrize(
    "text, value",
    [("true", True), ('"yes"', "yes"), ("[1, 2]", [1, 2]), ('{"a": null}', {"a": None})],
)
def test_json_answer(text, value):
    assert valid(JsonAnswerForm({"value": text})).resume_value() == value


def test_json_answer_error_is_clear():
    form = JsonAnswerForm({"value": "yes"})
    assert not form.is_valid()
    message = form.errors["value"][0]
    assert message.startswith("This is not valid JSON: Expecting value (line 1, column 1).")
    assert 'Text must be quoted, e.g. "yes".' in message


def test_boolean_schema_is_approve_reject():
    assert schema_form_class({"type": "boolean"}) is ApproveRejectForm


def test_object_schema_builds_typed_fields():
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 80},
            "body": {"type": "string", "description": "The new text"},
            "priority": {"type": "integer", "minimum": 1, "maximum": 5},
            "score": {"type": "number"},
            "publish": {"type": "boolean"},
            "tone": {"enum": ["formal", "casual"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["title", "priority"],
    }
    form_class = schema_form_class(schema)
    assert issubclass(form_class, SchemaForm)
    form = form_class(
        {
            "title": "Hi",
            "body": "",
            "priority": "3",
            "score": "0.5",
            "tone": "casual",
            "tags.0": "a",
        }
    )
    valid(form)
    assert form.resume_value() == {
        "title": "Hi",
        "priority": 3,
        "score": 0.5,
        "publish": False,
        "tone": "casual",
        "tags": ["a"],
    }
    assert form.decision_kind() == "answer"
    assert form.fields["body"].help_text == "The new text"

    bad = form_class({"title": "", "priority": "9"})
    assert not bad.is_valid()
    assert set(bad.errors) == {"title", "priority"}


def test_scalar_schemas_have_one_answer_field():
    form = valid(schema_form_class({"type": "integer", "title": "How many?"})({"answer": "4"}))
    assert form.resume_value() == 4
    assert form.fields["answer"].label == "How many?"
    form = valid(schema_form_class({"enum": [1, 2, 3]})({"answer": "2"}))
    assert form.resume_value() == 2  # coerced back to the enum's own value


def test_unsupported_schema_falls_back():
    assert schema_form_class({"type": "array", "items": {"type": "string"}}) is None


class Edit(BaseModel):
    title: str
    tone: Literal["formal", "casual"] = "formal"
    notes: str | None = None
    words: int = Field(ge=10, le=1000)


def test_pydantic_schema_with_optional_and_defaults():
    schema = TypeAdapter(Edit).json_schema()
    form = valid(
        schema_form_class(schema)({"title": "T", "tone": "casual", "notes": "", "words": "200"})
    )
    assert form.resume_value() == {"title": "T", "tone": "casual", "words": 200}
    Edit.model_validate(form.resume_value())  # what the runtime will do with it


class FakeThread:
    workflow = "not-registered"


class FakeInterrupt:
    thread = FakeThread()

    def __init__(self, value, schema):
        self.value = value
        self.response_schema = schema


def test_schema_form_starts_from_the_proposal_approve_or_edit():
    schema = {
        "type": "object",
        "properties": {"to": {"type": "string"}, "amount": {"type": "integer"}},
    }
    interrupt = FakeInterrupt({"to": "alice", "amount": 10, "reason": "refund"}, schema)
    form_class = answer_form_class(interrupt)
    unbound = build_answer_form(form_class, interrupt)
    assert unbound["to"].value() == "alice" and unbound["amount"].value() == 10

    same = valid(build_answer_form(form_class, interrupt, {"to": "alice", "amount": "10"}))
    assert same.decision_kind() == "approve"
    edited = valid(build_answer_form(form_class, interrupt, {"to": "alice", "amount": "12"}))
    assert (edited.decision_kind(), edited.resume_value()) == (
        "edit",
        {"to": "alice", "amount": 12},
    )


def test_form_choice(settings):
    from workflows import registry

    essay = FakeInterrupt({}, None)
    essay.thread = type("T", (), {"workflow": "essay-review"})()
    assert registry.get("essay-review").resume_form is ApproveRejectForm
    assert answer_form_class(essay) is ApproveRejectForm
    assert answer_form_class(FakeInterrupt({}, None)) is JsonAnswerForm
    assert answer_form_class(FakeInterrupt({}, {"type": "boolean"})) is ApproveRejectForm
