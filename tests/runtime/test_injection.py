"""Injectable parameters and accessors (reference §1.10): ``config``, ``writer``, ``store``,
``previous``, ``runtime``; ``get_config()`` / ``get_stream_writer()`` / ``get_runtime()`` inside
bodies and tasks."""

from __future__ import annotations

import dataclasses

from workflows import register_type

from .lg import N, cfg, run_both, same


def visible(config: dict) -> dict:
    """The config keys a program may rely on (LangGraph adds private ``__pregel_*`` keys and
    ``callbacks``)."""
    return {
        "configurable": {k: v for k, v in config["configurable"].items() if not k.startswith("__")},
        "metadata": dict(config.get("metadata", {})),
    }


def test_config_of_body_and_tasks(saver_factory):
    def scenario(api, saver):
        @api.task
        def inner(x: int, config=None) -> dict:
            return visible(config)

        @api.task
        def outer(x: int) -> list:
            return [visible(api.get_config()), inner(x).result()]

        @api.entrypoint(checkpointer=saver)
        def wf(x: int, config=None) -> dict:
            return {"body": visible(config), "outer": outer(1).result(),
                    "second": inner(2).result()}

        config = {"configurable": {"thread_id": "t", "user": "u", "n": 3}, "metadata": {"m": "v"}}
        return [wf.invoke(1, config), wf.get_state(cfg("t")).config]

    t = same(run_both(scenario, saver_factory))
    result, state_config = t
    input_checkpoint = "<uuid:0>"
    body = result["body"]
    assert body["configurable"] == {
        "thread_id": "t", "user": "u", "n": 3, "checkpoint_ns": "wf:<uuid:1>",
        "checkpoint_id": None, "checkpoint_map": {"": input_checkpoint},
    }
    assert body["metadata"] == {
        "m": "v", "thread_id": "t", "langgraph_step": 0, "langgraph_node": "wf",
        "langgraph_triggers": ("__start__",), "langgraph_path": ("__pregel_pull", "wf"),
        "langgraph_checkpoint_ns": "wf:<uuid:1>",
    }
    outer_config, nested = result["outer"]
    assert outer_config["configurable"]["checkpoint_ns"] == "wf:<uuid:1>|outer:<uuid:2>"
    assert nested["configurable"]["checkpoint_map"] == {
        "": input_checkpoint, "wf:<uuid:1>": input_checkpoint,
        "wf:<uuid:1>|outer:<uuid:2>": input_checkpoint,
    }
    assert nested["metadata"]["langgraph_path"] == (
        "__pregel_push", ("__pregel_push", ("__pregel_pull", "wf"), 0, True), 0, True)
    assert result["second"]["metadata"]["langgraph_path"] == (
        "__pregel_push", ("__pregel_pull", "wf"), 1, True)
    assert result["second"]["metadata"]["langgraph_triggers"] == ("__pregel_push",)
    # the thread's own config is unchanged by all this
    assert state_config["configurable"]["checkpoint_ns"] == ""


def test_injected_writer_and_previous_in_tasks(saver_factory):
    def scenario(api, saver):
        @api.task
        def step(x: int, writer=None, previous=None) -> list:
            writer({"task_saw": previous})
            return [x, previous]

        @api.entrypoint(checkpointer=saver)
        def wf(x: int, writer=None, previous=None) -> list:
            writer({"body_saw": previous})
            return step(x).result()

        c = cfg("t")
        return [list(wf.stream(1, c, stream_mode=["custom", "updates"])),
                list(wf.stream(2, c, stream_mode="custom"))]

    t = same(run_both(scenario, saver_factory))
    assert t == [
        [("custom", {"body_saw": None}), ("custom", {"task_saw": None}),
         ("updates", {"step": [1, None]}), ("updates", {"wf": [1, None]})],
        [{"body_saw": [1, None]}, {"task_saw": [1, None]}],
    ]


def test_explicit_kwargs_override_injection(saver_factory):
    def scenario(api, saver):
        @api.task
        def step(x: int, previous=None) -> list:
            return [x, previous]

        @api.entrypoint(checkpointer=saver)
        def wf(x: int) -> list:
            return step(x, previous="explicit").result()

        return wf.invoke(1, cfg("t"))

    assert same(run_both(scenario, saver_factory)) == [1, "explicit"]


@register_type  # Flowsite rebuilds only allowlisted classes from a checkpoint (test_serde)
@dataclasses.dataclass
class Ctx:
    user: str


def test_runtime_context_and_store(saver_factory):
    def scenario(api, saver):
        @api.entrypoint(checkpointer=saver, context_schema=Ctx)
        def wf(x: int, runtime=None, store=None) -> list:
            return [x, runtime.context, runtime.previous, store]

        c = cfg("t")
        return [wf.invoke(1, c, context=Ctx(user="ann")), wf.invoke(2, c, context=Ctx(user="bob"))]

    t = same(run_both(scenario, saver_factory))
    ann, bob = N("Ctx", (("user", "ann"),)), N("Ctx", (("user", "bob"),))
    assert t == [[1, ann, None, None], [2, bob, [1, ann, None, None], None]]


def test_dict_context_is_coerced_into_the_context_schema():
    def scenario(api):
        @api.task
        def task_context(x: int, runtime=None):
            return runtime.context

        @api.entrypoint(context_schema=Ctx)
        def wf(x: int, runtime=None) -> list:
            return [runtime.context, task_context(x).result()]

        return [wf.invoke(1, context={"user": "ann"}), wf.invoke(1)]

    ann = N("Ctx", (("user", "ann"),))
    assert same(run_both(scenario)) == [[ann, ann], [None, None]]


def test_get_runtime_in_body_and_tasks(saver_factory):
    """``get_runtime()`` (``langgraph.runtime.get_runtime``; ``context_schema`` is for type hints
    only) is the ``runtime`` injectable of the running body or task, the same object: its
    ``context``, ``store`` and ``previous``, and its ``stream_writer`` emits ``custom`` chunks. A
    dict context is coerced into the ``context_schema``. Outside a run it raises (test_errors)."""

    def scenario(api, saver):
        store = object()

        def seen(runtime) -> list:
            r = api.get_runtime(Ctx)
            r.stream_writer({"user": r.context.user})
            return [r is runtime, r is api.get_runtime(), r.context, r.previous, r.store is store]

        @api.task
        def step(x: int, runtime=None) -> list:
            return seen(runtime)

        @api.task
        def plain(x: int) -> str:  # no runtime parameter: get_runtime() still works
            return api.get_runtime().context.user

        @api.entrypoint(checkpointer=saver, store=store, context_schema=Ctx)
        def wf(x: int, runtime=None) -> list:
            return [seen(runtime), step(x).result(), plain(x).result()]

        c = cfg("t")
        first = list(wf.stream(1, c, context=Ctx(user="ann"), stream_mode=["custom", "values"]))
        second = wf.invoke(2, c, context={"user": "bob"})
        return [first, second]

    t = same(run_both(scenario, saver_factory))
    ann, bob = N("Ctx", (("user", "ann"),)), N("Ctx", (("user", "bob"),))
    first_value = [[True, True, ann, None, True], [True, True, ann, None, True], "ann"]
    assert t == [
        [
            ("custom", {"user": "ann"}),
            ("custom", {"user": "ann"}),
            ("values", first_value),
        ],
        [[True, True, bob, first_value, True], [True, True, bob, first_value, True], "bob"],
    ]
