"""``workflows.validation``: the bounds every input and answer is checked against."""

import json

import pytest
from django.core.exceptions import ValidationError

from workflows.validation import JSONValueField, check_json_value, loads


def code_of(call):
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.code


def test_depth_counts_containers_and_is_checked_without_recursion():
    check_json_value([[1]], max_depth=2)
    assert code_of(lambda: check_json_value([[[1]]], max_depth=2)) == "too_deep"
    deep: list = []
    for _ in range(100_000):  # far past Python's recursion limit
        deep = [deep]
    assert code_of(lambda: check_json_value(deep, max_depth=64)) == "too_deep"
    check_json_value("a" * 10, max_depth=0)  # a scalar has no depth


@pytest.mark.parametrize(
    "value, code, where",
    [
        ({"notes": ["ok", "a\x00b"]}, "null_characters", '["notes"][1]'),
        ({"k\x00": 1}, "null_characters", ""),
        ("\ud800", "surrogates", ""),
        ([{"x": "ok \udfff"}], "surrogates", '[0]["x"]'),
        ({"\udc80": 1}, "surrogates", ""),
    ],
)
def test_nul_characters_and_lone_surrogates_are_named_where_they_are(value, code, where):
    with pytest.raises(ValidationError) as info:
        check_json_value(value)
    assert info.value.code == code
    assert (f"(at {where})" in info.value.messages[0]) == bool(where)


def test_size_is_the_utf8_json_text():
    check_json_value(
        {"a": "é" * 10}, max_bytes=len(json.dumps({"a": "é" * 10}, ensure_ascii=False).encode())
    )
    assert code_of(lambda: check_json_value({"a": "é" * 10}, max_bytes=25)) == "too_large"
    check_json_value("x" * 10_000)  # no size limit unless given


@pytest.mark.parametrize(
    "text, code",
    [
        ("{", "invalid_json"),
        ("[" * 10_000 + "]" * 10_000, "too_deep"),  # json.loads itself would overflow
        ("[" * 900 + "]" * 900, "too_deep"),
        ('"\\ud800"', "surrogates"),
        ('"\\u0000"', "null_characters"),
    ],
)
def test_loads_turns_every_bad_text_into_a_validation_error(text, code):
    assert code_of(lambda: loads(text)) == code


def test_loads_refuses_text_over_max_bytes_before_parsing():
    assert code_of(lambda: loads('"' + "x" * 100 + '"', max_bytes=50)) == "too_large"
    assert loads('{"a": [1, 2]}', max_bytes=50) == {"a": [1, 2]}


def test_json_value_field_reports_errors_and_shows_refused_text_again():
    field = JSONValueField(max_bytes=100_000)
    assert field.clean('{"a": 1}') == {"a": 1}
    with pytest.raises(ValidationError) as info:
        field.clean("[" * 5000 + "]" * 5000)
    assert "nested too deeply" in info.value.messages[0]
    text = "[" * 900 + "]" * 900
    assert field.bound_data(text, None) == text  # as typed (InvalidJSONInput), not re-encoded
    assert field.prepare_value(field.bound_data(text, None)) == text
