"""Every bad input is a 4xx with a clear form error, and writes nothing (issue 9, item 6): JSON
nested too deep, lone surrogates, NUL characters and values over the size limits, in answers (the
JSON answer form, a schema form's JSON field, an agent request's JSON argument) and in workflow
inputs (start forms); a property test posts arbitrary JSON and strings: never a 5xx."""

import json
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from reviews.models import Decision
from workflows.models import Interrupt, Run, Thread

pytestmark = pytest.mark.django_db

DEEP_900 = "[" * 900 + "]" * 900
DEEP_10000 = '{"a":' * 10_000 + "1" + "}" * 10_000
BAD_JSON = {
    "nested 900 deep": (DEEP_900, "nested too deeply"),
    "nested 10,000 deep": (DEEP_10000, "nested too deeply"),
    "lone surrogate": ('"\\ud800"', "lone surrogate"),
    "lone surrogate in a key": ('{"\\udfff": 1}', "lone surrogate"),
    "NUL character": ('{"note": "a\\u0000b"}', "NUL characters"),
    "NUL in a key": ('{"a\\u0000": 1}', "NUL characters"),
}
AGENT_REQUEST = {
    "action_requests": [
        {"name": "configure", "args": {"options": {"retries": 1}}, "description": "Configure?"}
    ],
    "review_configs": [{"action_name": "configure", "allowed_decisions": ["approve", "edit"]}],
}


def answer_url(interrupt):
    return reverse("reviews:answer", args=[interrupt.pk])


@pytest.fixture
def pending(interrupt_factory, thread_factory):
    """``pending(kind)``: a pending interrupt answered with the JSON answer form (``json``), a
    schema form with one any-JSON field (``schema``) or an agent request's form (``agent``), and
    the POST data putting ``text`` where the JSON goes."""

    def make(kind):
        thread = thread_factory(workflow="unregistered-workflow")
        if kind == "json":
            return interrupt_factory(thread=thread), lambda text: {"value": text}
        if kind == "schema":
            schema = {"type": "object", "properties": {"data": {}}, "required": ["data"]}
            interrupt = interrupt_factory(thread=thread, value={}, response_schema=schema)
            return interrupt, lambda text: {"data": text}
        interrupt = interrupt_factory(thread=thread, value=AGENT_REQUEST)
        return interrupt, lambda text: {
            "action-0-decision": "edit",
            "action-0-args.options": text,
        }

    return make


def assert_nothing_written(interrupt):
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING
    assert not Decision.objects.exists() and not Run.objects.exists()


@pytest.mark.parametrize("kind", ["json", "schema", "agent"])
@pytest.mark.parametrize("case", list(BAD_JSON))
def test_a_bad_json_answer_is_a_form_error_and_writes_nothing(reviewer_client, pending, kind, case):
    text, message = BAD_JSON[case]
    interrupt, data = pending(kind)
    client = reviewer_client()
    assert client.get(reverse("reviews:interrupt", args=[interrupt.pk])).status_code == 200
    response = client.post(answer_url(interrupt), data(text))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert_nothing_written(interrupt)


@pytest.mark.parametrize("kind", ["json", "schema", "agent"])
def test_a_good_json_answer_still_goes_through(reviewer_client, pending, kind):
    interrupt, data = pending(kind)
    response = reviewer_client().post(answer_url(interrupt), data('{"retries": 2, "deep": [[1]]}'))
    assert response.status_code == 302
    assert Run.objects.filter(thread=interrupt.thread).count() == 1


def test_an_answer_over_the_size_limit_is_refused(reviewer_client, pending, settings):
    settings.FLOWSITE_MAX_ANSWER_BYTES = 1000
    interrupt, data = pending("json")
    response = reviewer_client().post(answer_url(interrupt), data(json.dumps("x" * 1001)))
    assert response.status_code == 400
    assert "This value is too large" in response.content.decode()
    assert_nothing_written(interrupt)


def test_a_form_whose_value_is_too_large_is_refused_by_the_service(
    reviewer_client, pending, settings
):
    """The size of the resume value, not only of the text: a schema form's several fields."""
    settings.FLOWSITE_MAX_ANSWER_BYTES = 50
    interrupt, data = pending("schema")
    response = reviewer_client().post(answer_url(interrupt), data(json.dumps(["y" * 20] * 3)))
    assert response.status_code == 400
    assert "This value is too large" in response.content.decode()
    assert_nothing_written(interrupt)


# -- workflow inputs (start forms) ----------------------------------------------------------------
def start(client, name, fields):
    data = {f"{name}-{key}": value for key, value in fields.items()}
    return client.post(reverse("workflows:start", args=[name]), data)


@pytest.mark.parametrize(
    "name, fields",
    [
        ("essay-review", {"topic": "cats\x00"}),
        ("parallel-review", {"title": "Plan", "sections": "Goals: a\x00b"}),
        ("parallel-review", {"title": "Plan\x00", "sections": "Goals: ship"}),
    ],
)
def test_a_nul_character_in_a_start_form_is_a_form_error(reviewer_client, name, fields):
    response = start(reviewer_client(), name, fields)
    assert response.status_code == 400
    assert "Null characters are not allowed." in response.content.decode()
    assert not Thread.objects.exists() and not Run.objects.exists()


def test_a_workflow_input_over_the_size_limit_is_refused(reviewer_client, settings):
    settings.FLOWSITE_MAX_INPUT_BYTES = 10_000
    sections = "Goals: " + "x" * 10_000
    response = start(reviewer_client(), "parallel-review", {"title": "Plan", "sections": sections})
    assert response.status_code == 400
    assert "This value is too large" in response.content.decode()
    assert not Thread.objects.exists() and not Run.objects.exists()


def test_a_lone_surrogate_sent_as_bytes_is_never_stored(reviewer_client):
    """Form data is UTF-8: each byte of a lone surrogate's encoding decodes to U+FFFD."""
    body = urlencode({"essay-review-topic": "cat\ud800".encode("utf-8", "surrogatepass")})
    response = reviewer_client().post(
        reverse("workflows:start", args=["essay-review"]),
        body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 302
    assert Thread.objects.get().input == "cat" + "\ufffd" * 3


# -- never a 5xx ----------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
json_texts = st.one_of(
    json_values.map(json.dumps),  # with lone surrogates, NUL, NaN and Infinity among them
    st.integers(1, 3_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3_000).map(lambda n: '{"k":' * n + "0" + "}" * n),
    st.text(),
)
any_strings = st.text(st.characters(codec=None), max_size=300)  # lone surrogates too
PROPERTY = hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def post_raw(client, url, fields):
    """POST form data with arbitrary strings: each one's UTF-8 bytes, lone surrogates included
    (as a browser or a script may send)."""
    body = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()})
    return client.post(url, body, content_type="application/x-www-form-urlencoded")


@PROPERTY
@given(kind=st.sampled_from(["json", "schema", "agent"]), text=json_texts)
def test_property_any_json_answer_is_never_a_server_error(reviewer_client, pending, kind, text):
    interrupt, data = pending(kind)
    response = post_raw(reviewer_client(), answer_url(interrupt), data(text))
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 400:
        assert_interrupt_untouched(interrupt)


def assert_interrupt_untouched(interrupt):
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING
    assert not Run.objects.filter(thread=interrupt.thread).exists()


@PROPERTY
@given(
    name=st.sampled_from(["essay-review", "parallel-review"]),
    title=any_strings,
    text=st.one_of(any_strings, json_texts),
)
def test_property_any_start_input_is_never_a_server_error(reviewer_client, name, title, text):
    fields = {"topic": text} if name == "essay-review" else {"title": title, "sections": text}
    before = Thread.objects.count()
    response = post_raw(
        reviewer_client(),
        reverse("workflows:start", args=[name]),
        {f"{name}-{key}": value for key, value in fields.items()},
    )
    assert response.status_code in (302, 400), response.status_code
    assert Thread.objects.count() == before + (response.status_code == 302)
