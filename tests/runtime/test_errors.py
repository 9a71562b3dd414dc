"""Errors a caller meets, with LangGraph's types and messages (reference §1.1, §1.4, §1.7, §1.9).

Where Flowsite deliberately differs, the test says so and asserts each library's behaviour.
"""

from __future__ import annotations

import inspect

import pytest

from .lg import API_IDS, APIS, FLOWSITE, LANGGRAPH, N, attempt, cfg, raised, run_both, same

NO_THREAD = (
    "raises",
    "ValueError",
    "Checkpointer requires one or more of the following 'configurable' keys: "
    "thread_id, checkpoint_ns, checkpoint_id",
)
OUTSIDE = ("raises", "RuntimeError", "Called get_config outside of a runnable context")


def build_ask(api, saver):
    @api.entrypoint(checkpointer=saver)
    def ask(x: str) -> str:
        return api.interrupt(f"{x}?")

    return ask


def test_missing_thread_id(saver_factory):
    def scenario(api, saver):
        wf = build_ask(api, saver)
        return [
            attempt(lambda: wf.invoke("x")),
            attempt(lambda: wf.invoke("x", {})),
            attempt(lambda: list(wf.stream("x", {"configurable": {}}))),
            attempt(lambda: wf.invoke("x", {"configurable": {"checkpoint_id": "1"}})),
            attempt(lambda: wf.get_state({"configurable": {}})),
        ]

    t = same(run_both(scenario, saver_factory))
    key_error = ("raises", "KeyError", "'thread_id'")
    assert t == [NO_THREAD, NO_THREAD, NO_THREAD, key_error, key_error]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
async def test_missing_thread_id_async(api, saver_factory):
    wf = build_ask(api, saver_factory(api))
    with pytest.raises(ValueError) as info:
        await wf.ainvoke("x")
    assert raised(info.value) == NO_THREAD


def test_without_checkpointer():
    """Command needs a checkpointer; an interrupt without one is reported but not resumable;
    get_state needs a checkpointer."""

    def scenario(api):
        @api.entrypoint()
        def wf(x: str) -> str:
            return api.interrupt(f"{x}?")

        return [
            attempt(lambda: wf.invoke(api.Command(resume=1))),
            attempt(lambda: wf.invoke(api.Command(resume=1), cfg("t"))),
            wf.invoke("x"),
            attempt(lambda: wf.get_state(cfg("t"))),
        ]

    t = same(run_both(scenario))
    no_saver = ("raises", "RuntimeError", "Cannot use Command(resume=...) without checkpointer")
    assert t[:2] == [no_saver, no_saver]
    assert t[2] == {"__interrupt__": [N("Interrupt", (("value", "x?"), ("id", "<intr:0>"),
                                                      ("response_schema", None)))]}
    assert t[3] == ("raises", "ValueError", "No checkpointer set")


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_command_resume_none(api, saver_factory):
    """Deliberate difference: ``Command(resume=None)`` (and ``Command()``) is a clear ValueError in
    Flowsite; LangGraph 1.2.24 crashes with ``UnboundLocalError: ... 'resume_is_map'``. ``False``
    and ``''`` remain valid resume values in both."""
    wf = build_ask(api, saver_factory(api))
    wf.invoke("x", cfg("t"))
    errors = [attempt(lambda: wf.invoke(api.Command(resume=None), cfg("t"))),
              attempt(lambda: wf.invoke(api.Command(), cfg("t")))]
    if api is LANGGRAPH:
        assert [e[:2] for e in errors] == [("raises", "UnboundLocalError")] * 2
        assert all("resume_is_map" in e[2] for e in errors)
    else:
        assert [e[:2] for e in errors] == [("raises", "ValueError")] * 2
        assert all("Command(resume=None) is not a valid resume value" in e[2] for e in errors)
    # the thread is still waiting and accepts a falsy resume value
    assert wf.invoke(api.Command(resume=""), cfg("t")) == ""
    wf.invoke("y", cfg("u"))
    assert wf.invoke(api.Command(resume=False), cfg("u")) is False


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_command_on_a_thread_without_checkpoint(api, saver_factory):
    """Deliberate difference: on a thread with no checkpoint, LangGraph 1.2.24 runs the
    entrypoint with the ``Command`` object itself as input (and the resume value answers the first
    interrupt); Flowsite raises ``EmptyInputError``."""
    seen = []

    @api.entrypoint(checkpointer=saver_factory(api))
    def wf(x):
        seen.append(type(x).__name__)
        return api.interrupt("q")

    result = attempt(lambda: wf.invoke(api.Command(resume=1), cfg("fresh")))
    if api is LANGGRAPH:
        assert (result, seen) == (1, ["Command"])
    else:
        assert result == ("raises", "EmptyInputError", "Thread 'fresh' has no checkpoint to resume")
        assert seen == []


def test_invoke_none_on_a_fresh_thread(saver_factory):
    def scenario(api, saver):
        wf = build_ask(api, saver)
        return attempt(lambda: wf.invoke(None, cfg("fresh")))

    t = same(run_both(scenario, saver_factory))
    assert t == ("raises", "EmptyInputError", "Received no input for __start__")


def test_task_and_interrupt_outside_a_run():
    def scenario(api):
        @api.task
        def double(x: int) -> int:
            return 2 * x

        @api.task
        async def adouble(x: int) -> int:
            return 2 * x

        return [
            attempt(lambda: double(1)),
            attempt(lambda: adouble(1)),
            attempt(lambda: api.interrupt("q")),
            attempt(api.get_stream_writer),
            attempt(api.get_config),
            attempt(api.get_runtime),
        ]

    assert same(run_both(scenario)) == [OUTSIDE] * 6


def test_decoration_time_errors():
    def scenario(api):
        def gen(x):
            yield x

        async def agen(x):
            yield x

        return [
            attempt(lambda: api.entrypoint()(lambda: 1)),
            attempt(lambda: api.entrypoint(checkpointer=api.InMemorySaver())(lambda: 1)),
            attempt(lambda: api.entrypoint()(gen)),
            attempt(lambda: api.entrypoint()(agen)),
        ]

    t = same(run_both(scenario))
    no_param = ("raises", "ValueError", "Entrypoint function must have at least one parameter")
    no_gen = (
        "raises", "NotImplementedError", "Generators are not supported in the Functional API."
    )
    assert t == [no_param, no_param, no_gen, no_gen]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_generator_task(api):
    """Deliberate difference: LangGraph accepts ``@task`` on a generator function (its result
    would be a generator object, which cannot be checkpointed); Flowsite rejects it at decoration
    time with the entrypoint's error."""

    def gen(x):
        yield x

    result = attempt(lambda: api.task(gen))
    if api is LANGGRAPH:
        assert not isinstance(result, tuple)
    else:
        assert result == (
            "raises", "NotImplementedError", "Generators are not supported in the Functional API."
        )


def test_async_entrypoint_through_sync_api(saver_factory):
    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        async def async_ep(x: int) -> int:
            return x

        return [attempt(lambda: async_ep.invoke(1, cfg("t"))),
                attempt(lambda: list(async_ep.stream(1, cfg("t"))))]

    message = (
        'No synchronous function provided to "async_ep".\nEither initialize with a synchronous '
        "function or invoke via the async API (ainvoke, astream, etc.)"
    )
    assert same(run_both(scenario, saver_factory)) == [("raises", "TypeError", message)] * 2


def test_async_task_in_sync_entrypoint(saver_factory):
    def scenario(api, saver):
        @api.task
        async def atask(x: int) -> int:
            return x

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            return atask(x).result()

        return attempt(lambda: wf.invoke(1, cfg("t")))

    t = same(run_both(scenario, saver_factory))
    assert t == ("raises", "RuntimeError", "In an sync context async tasks cannot be called")


def test_error_in_body_reaches_the_caller(saver_factory):
    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> int:
            raise KeyError(f"missing {x}")

        return [attempt(lambda: wf.invoke(1, cfg("t"))),
                attempt(lambda: list(wf.stream(1, cfg("u"))))]

    t = same(run_both(scenario, saver_factory))
    assert t == [("raises", "KeyError", "'missing 1'")] * 2


def test_get_state_of_unknown_thread(saver_factory):
    def scenario(api, saver):
        wf = build_ask(api, saver)
        return [wf.get_state(cfg("nope")), list(wf.get_state_history(cfg("nope")))]

    t = same(run_both(scenario, saver_factory))
    assert t[0] == N("StateSnapshot", (
        ("values", {}), ("next", ()), ("config", {"configurable": {"thread_id": "nope"}}),
        ("metadata", None), ("created_at", None), ("parent_config", None), ("tasks", ()),
        ("interrupts", ()),
    ))
    assert t[1] == []


def test_helpers_cover_both_libraries():
    """Guard: the namespaces really are the two libraries."""
    assert inspect.getmodule(FLOWSITE.entrypoint).__name__.startswith("workflows")
    assert inspect.getmodule(LANGGRAPH.entrypoint).__name__.startswith("langgraph")
