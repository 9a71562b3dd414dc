"""``interrupt(value, response_schema=...)`` (reference §1.11)."""

from __future__ import annotations

import pydantic
import pytest

from .lg import API_IDS, APIS, LANGGRAPH, attempt, cfg, run_both, same


class Review(pydantic.BaseModel):
    approved: bool
    comment: str = ""


DICT_SCHEMA = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}},
    "required": ["approved"],
}


def build(api, saver):
    @api.entrypoint(checkpointer=saver)
    def wf(kind: str) -> list:
        schema = Review if kind == "model" else DICT_SCHEMA
        answer = api.interrupt("review?", response_schema=schema)
        return [type(answer).__name__, answer]

    return wf


def test_model_schema(saver_factory):
    """The interrupt carries the model's JSON Schema; a valid resume value comes back as a model
    instance."""

    def scenario(api, saver):
        wf = build(api, saver)
        c = cfg("t")
        return [wf.invoke("model", c), wf.invoke(api.Command(resume={"approved": True}), c)]

    t = same(run_both(scenario, saver_factory))
    schema = dict(t[0]["__interrupt__"][0].fields)["response_schema"]
    assert schema == Review.model_json_schema()
    assert t[1] == ["Review", Review(approved=True)]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_invalid_resume_value_for_a_model_schema(api, saver_factory):
    """In both, an invalid value raises ``ValidationError``, nothing is saved and the interrupt
    stays pending. Deliberate difference: Flowsite checks the value against the interrupt's JSON
    Schema when the ``Command`` arrives (``jsonschema.ValidationError``, before the body re-runs);
    LangGraph validates with the model inside ``interrupt()`` (``pydantic.ValidationError``)."""
    wf = build(api, saver_factory(api))
    c = cfg("t")
    (pending,) = wf.invoke("model", c)["__interrupt__"]
    error = attempt(lambda: wf.invoke(api.Command(resume={"approved": "nope"}), c))
    assert error[:2] == ("raises", "ValidationError")
    assert [i.id for i in wf.get_state(c).interrupts] == [pending.id]
    if api is LANGGRAPH:
        assert "Input should be a valid boolean" in error[2]
    else:
        assert "'nope' is not of type 'boolean'" in error[2]
    assert wf.invoke(api.Command(resume={"approved": False}), c)[0] == "Review"


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_dict_schema(api, saver_factory):
    """Deliberate difference: with a plain JSON Schema dict LangGraph does not check the resume
    value; Flowsite validates it (``jsonschema``) and leaves the interrupt pending."""
    wf = build(api, saver_factory(api))
    c = cfg("t")
    (pending,) = wf.invoke("dict", c)["__interrupt__"]
    assert pending.response_schema == DICT_SCHEMA
    result = attempt(lambda: wf.invoke(api.Command(resume={"approved": "nope"}), c))
    if api is LANGGRAPH:
        assert result == ["dict", {"approved": "nope"}]
    else:
        assert result[:2] == ("raises", "ValidationError")
        assert wf.invoke(api.Command(resume={"approved": True}), c) == ["dict", {"approved": True}]
