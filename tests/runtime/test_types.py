"""Types a program declares round-trip without ``register_type`` (issue 7, item 8): pydantic
models, dataclasses and enums named in a task's return annotation or in the entrypoint's input
or return annotation load back as their types after a resume, as on LangGraph; other classes
stay behind the allowlist. ``task(functools.partial(f, ...))``. The entrypoint's
``get_input_jsonschema`` / ``get_output_jsonschema`` / ``get_context_jsonschema``."""

# No ``from __future__ import annotations``: the annotations are the objects LangGraph reads
# with ``inspect.signature`` (it does not resolve strings).
import dataclasses
import enum
import functools
import logging
from typing import Annotated, Any, Optional

import pydantic
import pytest
from typing_extensions import TypedDict

from .lg import APIS, arun_both, attempt, cfg, run_both, same


# Classes no test registers: each is declared by an annotation of the program that uses it.
class Draft(pydantic.BaseModel):
    text: str
    words: int


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


@dataclasses.dataclass
class Score:
    value: int
    mood: Mood


@dataclasses.dataclass
class Wrapper:
    inner: Score


class Request(pydantic.BaseModel):
    topic: str


@dataclasses.dataclass
class Undeclared:
    a: int


class Settings(TypedDict):
    model: str
    temperature: float


def kinds(value: Any) -> Any:
    """The classes inside ``value`` (what a transcript compares: the libraries' own objects
    are equal across them)."""
    if isinstance(value, list):
        return [kinds(v) for v in value]
    if isinstance(value, dict):
        return {k: kinds(v) for k, v in value.items()}
    return type(value).__name__


def test_task_return_annotations_round_trip(saver_factory):
    def scenario(api, saver):
        runs = []

        @api.task
        def draft(topic: str) -> Draft:
            runs.append("draft")
            return Draft(text=f"about {topic}", words=2)

        @api.task
        def scores(n: int) -> list[Score]:
            runs.append("scores")
            return [Score(i, Mood.HAPPY) for i in range(n)]

        @api.task
        def maybe() -> Optional[dict[str, Wrapper]]:  # noqa: UP045 - the typing form too
            runs.append("maybe")
            return {"w": Wrapper(Score(7, Mood.SAD))}

        @api.task
        def mood() -> Annotated[Mood, "a mood"]:
            runs.append("mood")
            return Mood.SAD

        @api.entrypoint(checkpointer=saver)
        def wf(topic: str) -> dict:
            d, s = draft(topic).result(), scores(2).result()
            m, md = maybe().result(), mood().result()
            api.interrupt("continue?")
            return {"text": d.text, "draft": d, "scores": s, "maybe": m, "mood": md}

        c = cfg("t")
        wf.invoke("cats", c)
        result = wf.invoke(api.Command(resume=True), c)
        return [kinds(result), result["text"], result["maybe"]["w"].inner.value, runs]

    t = same(run_both(scenario, saver_factory))
    assert t == [
        {"text": "str", "draft": "Draft", "scores": ["Score", "Score"],
         "maybe": {"w": "Wrapper"}, "mood": "Mood"},
        "about cats", 7, ["draft", "scores", "maybe", "mood"],
    ]


def test_entrypoint_input_and_output_annotations_round_trip(saver_factory):
    """The input (``__start__``), the return value and ``previous`` are stored: their declared
    types come back from the checkpointer on resume and in the thread's next run."""

    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def wf(request: Request, previous: Score | None = None) -> api.entrypoint.final[str, Score]:
            answer = api.interrupt(f"write about {request.topic}?")
            seen = type(previous).__name__
            return api.entrypoint.final(value=f"{request.topic}:{answer}:{seen}",
                                        save=Score(1, Mood.HAPPY))

        c = cfg("t")
        wf.invoke(Request(topic="dogs"), c)
        first = wf.invoke(api.Command(resume="yes"), c)
        wf.invoke(Request(topic="cats"), c)
        second = wf.invoke(api.Command(resume="no"), c)
        return [first, second, kinds(wf.get_state(c).values)]

    assert same(run_both(scenario, saver_factory)) == ["dogs:yes:NoneType", "cats:no:Score", "str"]


def test_undeclared_classes_stay_behind_the_allowlist(saver_factory, caplog):
    """A class no annotation names loads as a dict of its fields, with a warning (LangGraph
    rebuilds any importable class, warning that it will stop doing so)."""

    @APIS[0].task
    def make() -> dict:
        return {"u": Undeclared(1)}

    @APIS[0].entrypoint(checkpointer=saver_factory(APIS[0]))
    def wf(x: int) -> Any:
        value = make().result()
        APIS[0].interrupt("q")
        return value

    with caplog.at_level(logging.WARNING, logger="workflows.serde"):
        wf.invoke(1, cfg("t"))
        assert wf.invoke(APIS[0].Command(resume=1), cfg("t")) == {"u": {"a": 1}}
    assert "test_types:Undeclared" in caplog.text


# -- functools.partial ------------------------------------------------------------------------
def add(a: int, b: int) -> int:
    return a + b


async def aadd(a: int, b: int) -> int:
    return a + b


def test_partial_task_name_call_and_replay(saver_factory):
    def scenario(api, saver):
        calls = []

        def counted(a: int, b: int) -> Draft:
            calls.append((a, b))
            return Draft(text="d", words=a + b)

        plus_ten = api.task(functools.partial(add, 10))
        named = api.task(name="named_partial")(functools.partial(counted, 1))

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> list:
            results = [plus_ten(x).result(), named(x).result()]
            api.interrupt("q")
            return [results[0], type(results[1]).__name__, results[1].words]

        c = cfg("t")
        first = list(wf.stream(x := 5, c, stream_mode="updates"))
        resumed = wf.invoke(api.Command(resume=True), c)
        return [[list(chunk) for chunk in first], resumed, calls, x]

    t = same(run_both(scenario, saver_factory))
    assert t == [[["add"], ["named_partial"], ["__interrupt__"]], [15, "Draft", 6], [(1, 5)], 5]


async def test_partial_async_task(saver_factory):
    async def scenario(api, saver):
        plus = api.task(functools.partial(aadd, 1))

        @api.entrypoint(checkpointer=saver)
        async def wf(x: int) -> int:
            return await plus(x)

        return await wf.ainvoke(2, cfg("t"))

    assert same(await arun_both(scenario, saver_factory)) == 3


# -- JSON Schemas -----------------------------------------------------------------------------
ANNOTATIONS = {
    "str": str,
    "dict": dict,
    "typeddict": Settings,
    "model": Draft,
    "optional_model": Optional[Draft],  # noqa: UP045
    "list_of_dataclasses": list[Score],
    "union": int | str,
}


@pytest.mark.parametrize("key", [*ANNOTATIONS, "none"])
def test_input_and_output_jsonschema(key):
    def scenario(api):
        if key == "none":
            def wf(x):
                return x
        else:
            annotation = ANNOTATIONS[key]

            def wf(x: annotation) -> annotation:  # type: ignore[valid-type]
                return x
        graph = api.entrypoint()(wf)
        return [graph.get_input_jsonschema(), graph.get_output_jsonschema()]

    t = same(run_both(scenario))
    if key == "str":
        assert t == [{"title": "LangGraphInput", "type": "string"},
                     {"title": "LangGraphOutput", "type": "string"}]
    if key == "model":
        assert t[0]["title"] == "Draft" and t[0]["required"] == ["text", "words"]
    if key == "none":
        assert t == [{"title": "LangGraphInput"}, {"title": "LangGraphOutput"}]


def test_output_jsonschema_of_final_and_context_jsonschema():
    def scenario(api):
        def wf(x: int) -> api.entrypoint.final[int, str]:
            return api.entrypoint.final(value=x, save=str(x))

        plain = api.entrypoint()(wf)
        typed = api.entrypoint(context_schema=Settings)(wf)
        modelled = api.entrypoint(context_schema=Request)(wf)
        data = api.entrypoint(context_schema=Score)(wf)
        return [plain.get_output_jsonschema(), plain.get_context_jsonschema(),
                typed.get_context_jsonschema(), modelled.get_context_jsonschema(),
                data.get_context_jsonschema(),
                attempt(api.entrypoint(context_schema=int)(wf).get_context_jsonschema)]

    t = same(run_both(scenario))
    assert t[0] == {"title": "LangGraphOutput", "type": "integer"}
    assert t[1] is None
    assert t[2]["properties"]["temperature"] == {"title": "Temperature", "type": "number"}
    assert t[5][:2] == ("raises", "ValueError")
