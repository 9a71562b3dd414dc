"""The public callables take exactly LangGraph 1.2.24's parameters (issue 7, item 2).

Signatures are compared programmatically with LangGraph's; an unknown keyword is a ``TypeError``
naming it (a deliberate difference: LangGraph swallows it in ``**kwargs``); deprecated keywords
work with LangGraph's warning class and message; options Flowsite cannot honour raise.
"""

from __future__ import annotations

import inspect
import warnings

import langgraph.func
import langgraph.pregel
import pytest

import workflows

from .lg import API_IDS, APIS, FLOWSITE, LANGGRAPH, attempt, cfg, run_both, same

PREGEL_METHODS = [
    "invoke", "ainvoke", "stream", "astream", "get_state", "aget_state", "get_state_history",
    "aget_state_history", "update_state", "aupdate_state", "bulk_update_state",
    "abulk_update_state", "with_config", "copy",
]


def params(fn) -> list[tuple[str, str]]:
    """``(name, kind)`` of each parameter, as ``inspect`` reports them."""
    return [(p.name, p.kind.name) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (workflows.task, langgraph.func.task),
        (workflows.entrypoint.__init__, langgraph.func.entrypoint.__init__),
        *[(getattr(workflows.Pregel, m), getattr(langgraph.pregel.Pregel, m))
          for m in PREGEL_METHODS],
    ],
    ids=["task", "entrypoint", *PREGEL_METHODS],
)
def test_same_parameters_as_langgraph(ours, theirs):
    assert params(ours) == params(theirs)


def test_same_defaults_as_langgraph():
    for name in ("invoke", "stream"):
        ours = inspect.signature(getattr(workflows.Pregel, name)).parameters
        theirs = inspect.signature(getattr(langgraph.pregel.Pregel, name)).parameters
        assert {k: p.default for k, p in ours.items()} == {k: p.default for k, p in theirs.items()}


def test_public_names_of_langgraph_exist():
    """What a ported program imports from ``langgraph.types``/``runtime``/``errors`` for the
    functional API is exported by ``workflows`` under the same name."""
    for name in ("TimeoutPolicy", "RetryPolicy", "StateUpdate", "Command", "Interrupt",
                 "RunControl", "Runtime", "GraphDrained", "NodeTimeoutError",
                 "UnknownInterruptError", "InvalidUpdateError", "EmptyInputError"):
        assert hasattr(workflows, name), name
    assert [f.name for f in __import__("dataclasses").fields(workflows.TimeoutPolicy)] == [
        "run_timeout", "idle_timeout", "refresh_on"
    ]


def _wf(api, saver=None):
    @api.entrypoint(checkpointer=saver)
    def wf(x):
        return x

    return wf


@pytest.mark.parametrize(
    "call",
    [
        lambda wf: wf.invoke(1, cfg("t"), retry_polcy=1),
        lambda wf: list(wf.stream(1, cfg("t"), retry_polcy=1)),
        lambda wf: FLOWSITE.task(retry_polcy=1),
        lambda wf: FLOWSITE.entrypoint(retry_polcy=1),
    ],
    ids=["invoke", "stream", "task", "entrypoint"],
)
def test_unknown_keyword_is_a_type_error(call):
    """Deliberate difference: LangGraph ignores ``retry_polcy=`` (a typo) silently."""
    wf = _wf(FLOWSITE, FLOWSITE.InMemorySaver())
    with pytest.raises(TypeError, match="unexpected keyword argument 'retry_polcy'"):
        call(wf)


async def test_unknown_keyword_async():
    wf = _wf(FLOWSITE, FLOWSITE.InMemorySaver())
    with pytest.raises(TypeError, match="ainvoke\\(\\) got an unexpected keyword argument 'x'"):
        await wf.ainvoke(1, cfg("t"), x=1)
    with pytest.raises(TypeError, match="astream\\(\\) got an unexpected keyword argument 'x'"):
        [c async for c in wf.astream(1, cfg("t"), x=1)]


def test_deprecated_keywords_warn_as_langgraph(saver_factory):
    """``entrypoint(config_schema=, retry=)``, ``task(retry=)`` and ``stream/invoke(
    checkpoint_during=)`` work, with LangGraph's warning classes, messages and caller line."""

    def scenario(api, saver):
        calls = []
        policy = api.RetryPolicy(initial_interval=0, jitter=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")

            @api.task(retry=policy)
            def flaky(x):
                calls.append(x)
                if len(calls) < 2:
                    raise ConnectionError("once")
                return x

            @api.entrypoint(checkpointer=saver, config_schema=dict, retry=policy)
            def wf(x, runtime):
                return [flaky(x).result(), runtime.context]

            result = wf.invoke(1, cfg("t"), context={"k": 1}, checkpoint_during=False)
            chunks = list(wf.stream(2, cfg("u"), checkpoint_during=True))
        return [
            result, chunks, calls, wf.get_state(cfg("t")).values,
            [(type(w.message).__name__, str(w.message), type(w.message).__mro__[2].__name__,
              w.filename == __file__) for w in caught],
        ]

    t = same(run_both(scenario, saver_factory))
    assert t[4][0] == (
        "LangGraphDeprecatedSinceV05",
        "`retry` is deprecated and will be removed. Please use `retry_policy` instead. "
        "Deprecated in LangGraph V0.5 to be removed in V2.0.",
        "DeprecationWarning", True,
    )
    assert [w[0] for w in t[4]] == [
        "LangGraphDeprecatedSinceV05", "LangGraphDeprecatedSinceV10",
        "LangGraphDeprecatedSinceV05", "LangGraphDeprecatedSinceV10",
        "LangGraphDeprecatedSinceV10",
    ]


def test_checkpoint_during_and_durability_together():
    def scenario(api):
        with pytest.warns(DeprecationWarning, match="checkpoint_during"):
            return attempt(lambda: _wf(api).invoke(1, checkpoint_during=True, durability="sync"))

    assert same(run_both(scenario))[:2] == ("raises", "ValueError")


@pytest.mark.parametrize(
    "option",
    [{"output_keys": "x"}, {"interrupt_before": ["wf"]}, {"interrupt_after": "*"}],
    ids=["output_keys", "interrupt_before", "interrupt_after"],
)
def test_options_of_state_graphs_are_refused(option):
    """Not silently ignored: these name channels and nodes of a ``StateGraph``."""
    wf = _wf(FLOWSITE, FLOWSITE.InMemorySaver())
    with pytest.raises(NotImplementedError, match=next(iter(option))):
        wf.invoke(1, cfg("t"), **option)


def test_print_mode_and_debug(capsys):
    """``print_mode`` prints chunks of those modes as LangGraph does (``[mode]`` in bold, then
    the chunk's repr); ``debug=True`` prints ``updates`` and ``values``; what is returned or
    streamed is unchanged."""
    out = {}
    for api in APIS:
        wf = _wf(api, api.InMemorySaver())
        streamed = list(wf.stream(1, cfg("t"), print_mode=["updates"], stream_mode="values"))
        printed = capsys.readouterr().out
        result = wf.invoke(2, cfg("t"), debug=True)
        out[api.name] = [streamed, printed, result, capsys.readouterr().out]
    assert out["flowsite"] == out["langgraph"]
    assert out["flowsite"][1] == "\x1b[1m[updates]\x1b[0m {'wf': 1}\n"


def test_with_config_and_copy(saver_factory):
    def scenario(api, saver):
        wf = _wf(api, saver)
        bound = wf.with_config({"configurable": {"thread_id": "bound"}}, tags=["a"])
        renamed = wf.copy({"name": "other"})
        return [
            bound.config, bound.invoke(4), wf.get_state(cfg("bound")).values,
            bound.invoke(5, {"configurable": {"thread_id": "own"}}),
            wf.get_state(cfg("own")).values, renamed.name, renamed.checkpointer is saver,
            list(renamed.stream(1, cfg("r"))),
        ]

    assert same(run_both(scenario, saver_factory))[:3] == [
        {"configurable": {"thread_id": "bound"}, "tags": ["a"]}, 4, 4
    ]


def test_update_state_and_bulk_update_state(saver_factory):
    """As LangGraph for an entrypoint: ``as_node`` is the entrypoint (or ``__input__``: a
    pending run with that input), another node is ``InvalidUpdateError``; a fresh thread's
    first update is step 0; ``bulk_update_state`` writes one checkpoint per superstep."""

    def scenario(api, saver):
        state_update = (workflows if api is FLOWSITE else __import__(
            "langgraph.types", fromlist=["x"])).StateUpdate

        @api.entrypoint(checkpointer=saver)
        def wf(x, previous=None):
            return [x, previous]

        c, fresh = cfg("t"), cfg("fresh")
        out = [wf.invoke(1, c)]
        for kwargs in ({"as_node": "wf"}, {"as_node": "other"}, {"task_id": "abc"}):
            out.append(attempt(lambda kw=kwargs: wf.update_state(c, 5, **kw) and None))
            snap = wf.get_state(c)
            out.append([snap.values, snap.metadata, snap.next])
        out.append(wf.update_state(fresh, 9) and wf.get_state(fresh).metadata)
        b = cfg("bulk")
        out.append(attempt(lambda: wf.bulk_update_state(b, [[state_update(7)],
                                                            [state_update(8, "wf")]]) and None))
        out.append([s.metadata for s in wf.get_state_history(b)])
        out.append(wf.invoke(3, b))
        for supersteps in ([[state_update(1), state_update(2)]], [], [[]]):
            out.append(attempt(lambda s=supersteps: wf.bulk_update_state(b, s)))
        out.append(wf.update_state(c, 6, as_node="__input__") and None)
        snap = wf.get_state(c)
        out.append([snap.values, snap.metadata, snap.next])
        out.append(wf.invoke(None, c))
        return out

    same(run_both(scenario, saver_factory))


async def test_async_state_methods(saver_factory):
    out = {}
    for api in APIS:
        wf = _wf(api, saver_factory(api))
        c = cfg("t")
        await wf.ainvoke(1, c)
        await wf.aupdate_state(c, 2)
        await wf.abulk_update_state(c, [[(3, None, None)]])
        snap = await wf.aget_state(c)
        history = [s.values async for s in wf.aget_state_history(c, limit=2)]
        out[api.name] = [snap.values, history]
    assert out["flowsite"] == out["langgraph"] == [3, [3, 2]]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_sync_methods_refuse_an_async_entrypoint(api):
    @api.entrypoint()
    async def wf(x):
        return x

    with pytest.raises(TypeError, match="No synchronous function provided"):
        wf.invoke(1)
    assert LANGGRAPH  # both libraries raise the same error


def test_durability_without_a_checkpointer_warns():
    def scenario(api):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = _wf(api).invoke(1, durability="exit")
        return [result, [(type(w.message).__name__, str(w.message)) for w in caught]]

    assert same(run_both(scenario)) == [
        1, [("UserWarning", "`durability` has no effect when no checkpointer is present.")]
    ]
