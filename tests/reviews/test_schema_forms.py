"""Forms built from real JSON Schemas (reviews.schema_fields through SchemaForm): tagged unions,
$ref/$defs, nested objects, arrays, and jsonschema's errors shown on the field they are about."""

import pytest
from django.http import QueryDict
from django.template.loader import render_to_string

from reviews.forms import SchemaForm, schema_form_class
from tests.reviews.agent_payloads import EMAIL_ARGS, PER_CALL_SCHEMA, fresh

ADDRESS = {
    "type": "object",
    "title": "Address",
    "properties": {
        "city": {"type": "string", "maxLength": 50},
        "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
    },
    "required": ["city"],
}
ORDER = {
    "$defs": {"Address": ADDRESS},
    "type": "object",
    "properties": {
        "customer": {"type": "string", "maxLength": 80},
        "ship_to": {"$ref": "#/$defs/Address"},
        "quantities": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
        "notes": {"type": "array", "items": {"type": "string", "maxLength": 80}},
        "stops": {"type": "array", "items": {"$ref": "#/$defs/Address"}},
    },
    "required": ["customer", "ship_to", "quantities"],
}


def form_for(schema, data=None, **kwargs):
    form_class = schema_form_class(schema)
    assert issubclass(form_class, SchemaForm)
    return form_class(data, **kwargs)


def valid(form):
    assert form.is_valid(), form.errors
    return form


def test_per_call_schema_is_a_choice_of_decision_then_its_fields():
    form = form_for(fresh(PER_CALL_SCHEMA))
    radio = form.fields["type"]
    assert [key for key, _ in radio.choices] == ["approve", "edit", "reject", "respond"]
    # Each branch has its own fields; the edit branch follows $ref to the tool's arguments,
    # and the tool's name is fixed (a const), not a field.
    assert {"@reject.message", "@respond.message", "@edit.edited_action.args.to"} <= set(
        form.fields
    )
    assert "@edit.edited_action.name" not in form.fields

    edit = valid(
        form_for(
            fresh(PER_CALL_SCHEMA),
            {
                "type": "edit",
                **{f"@edit.edited_action.args.{k}": v for k, v in EMAIL_ARGS.items()},
                "@respond.message": "",  # another branch's empty required field is not validated
            },
        )
    )
    assert edit.resume_value() == {
        "type": "edit",
        "edited_action": {"name": "send_email", "args": EMAIL_ARGS},
    }

    reject = valid(
        form_for(fresh(PER_CALL_SCHEMA), {"type": "reject", "@edit.edited_action.args.to": ""})
    )
    assert reject.resume_value() == {"type": "reject"}
    respond = form_for(fresh(PER_CALL_SCHEMA), {"type": "respond"})
    assert not respond.is_valid()
    assert respond.errors == {"@respond.message": ["This field is required."]}
    assert not form_for(fresh(PER_CALL_SCHEMA), {}).is_valid()


def test_nested_objects_refs_and_arrays_make_the_value():
    data = QueryDict(mutable=True)
    data.update({"customer": "ACME", "ship_to.city": "Lyon", "ship_to.zip": ""})
    data.setlist("quantities[]", ["0", "2"])  # the page's item markers, in order
    data.update({"quantities.0": "3", "quantities.2": "5"})
    data.setlist("stops[]", ["0"])
    data.update({"stops.0.city": "Dijon", "stops.0.zip": "21000"})
    form = valid(form_for(ORDER, data))
    assert form.resume_value() == {
        "customer": "ACME",
        "ship_to": {"city": "Lyon"},
        "quantities": [3, 5],  # an optional array left empty ("notes") is omitted
        "stops": [{"city": "Dijon", "zip": "21000"}],
    }


def test_array_items_without_markers_are_read_from_their_fields():
    form = valid(
        form_for(
            ORDER,
            {"customer": "ACME", "ship_to.city": "Lyon", "quantities.1": "2", "quantities.0": "1"},
        )
    )
    assert form.resume_value()["quantities"] == [1, 2]


def test_unbound_form_starts_from_the_proposal_and_array_templates_are_not_fields():
    class Interrupt:
        value = {"customer": "ACME", "ship_to": {"city": "Lyon"}, "quantities": [1, 4]}

    form = form_for(ORDER, interrupt=Interrupt())
    assert form["ship_to.city"].value() == "Lyon"
    assert [form[f"quantities.{i}"].value() for i in (0, 1)] == [1, 4]
    assert not any("__index__" in name for name in form.fields)
    html = render_to_string("includes/form_fields.html", {"form": form})
    # Each item has its marker; a new item's fields exist only in the <template> the page clones.
    assert html.count('name="quantities[]"') == 3  # two items and the template's
    assert 'name="quantities.__index__"' in html.split("<template data-template>")[1]
    assert "<legend>Ship to" in html  # the property's name, not its $ref's title (Address)


@pytest.mark.parametrize(
    "data, errors",
    [
        (
            {"customer": "ACME", "ship_to.city": "Lyon", "ship_to.zip": "75"},
            {"ship_to.zip": ["'75' does not match '^[0-9]{5}$'"], "quantities": None},
        ),
        (
            {"customer": "ACME", "ship_to.city": "", "quantities.0": "0"},
            {
                "ship_to.city": ["This field is required."],
                "quantities.0": ["Ensure this value is greater than or equal to 1."],
            },
        ),
    ],
)
def test_errors_name_the_field_they_are_about(data, errors):
    form = form_for(ORDER, data)
    assert not form.is_valid()
    for name, messages in errors.items():
        if messages is None:  # an empty required array: on the form, naming it
            assert any("Quantities" in error for error in form.non_field_errors()), form.errors
        else:
            assert form.errors[name] == messages


def test_jsonschema_only_rules_are_checked_and_mapped_to_fields():
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            "window": {
                "type": "object",
                "properties": {"start": {"type": "integer"}, "end": {"type": "integer"}},
                "required": ["start"],
                "minProperties": 2,
            },
        },
    }
    form = form_for(schema, {"tags.0": "a", "tags.1": "a", "window.start": "1"})
    assert not form.is_valid()
    assert "has non-unique elements" in form.errors["tags.0"][0]
    assert "window.start" in form.errors  # an object-level rule lands on its first field


def test_anyof_with_const_discriminator_and_nullable_refs():
    schema = {
        "$defs": {
            "Email": {
                "type": "object",
                "properties": {
                    "kind": {"const": "email"},
                    "address": {"type": "string", "format": "email"},
                },
                "required": ["kind", "address"],
            },
            "Phone": {
                "type": "object",
                "properties": {"kind": {"const": "phone"}, "number": {"type": "string"}},
                "required": ["kind", "number"],
            },
        },
        "type": "object",
        "properties": {
            "contact": {"anyOf": [{"$ref": "#/$defs/Email"}, {"$ref": "#/$defs/Phone"}]},
            "backup": {"anyOf": [{"$ref": "#/$defs/Phone"}, {"type": "null"}], "default": None},
        },
        "required": ["contact"],
    }
    form = valid(
        form_for(
            schema,
            {
                "contact.kind": "phone",
                "contact.@phone.number": "+33 1",
                "contact.@email.address": "junk",
            },
        )
    )
    assert form.resume_value() == {"contact": {"kind": "phone", "number": "+33 1"}}
    bad = form_for(schema, {"contact.kind": "email", "contact.@email.address": "junk"})
    assert not bad.is_valid()
    assert bad.errors["contact.@email.address"] == ["Enter a valid email address."]
