"""Entrypoints called inside another entrypoint's run: subgraphs, as in LangGraph.

When ``child.invoke()`` (``stream``, ``ainvoke``, ``astream``) is called from the body or a task
of a running entrypoint, the child runs as LangGraph runs a subgraph:

* on the parent's thread and checkpointer (the child's own ``checkpointer=`` is not used;
  ``checkpointer=False`` runs it without one), its checkpoints stored under the namespace of the
  calling body or task (``"parent:<task id>"``, ``"parent:<id>|call_child:<id>"``), and a second
  call from the same body or task under ``"<that namespace>|1"``, and so on;
* its checkpoints' metadata name the enclosing checkpoints (``"parents": {ns: checkpoint_id}``);
* an interrupt inside it stops the child and raises out of the call, so the calling body or task
  records it and the parent pauses; the parent's ``Command(resume=...)`` answers it: the answer
  is handed to the child when the re-run parent calls it again, and the child goes on from its
  own checkpoint (its finished tasks replayed, not re-run);
* with ``subgraphs=True`` (or ``version="v2"``), the parent's stream also yields the child's
  chunks under its namespace tuple.

``get_state(subgraphs=True)`` finds a child the way LangGraph does: by the ``Pregel`` values the
entrypoint's function refers to (its closure, the globals it names and attribute chains on
them), not by what ran.
"""

from __future__ import annotations

import dis
from types import CodeType, FunctionType
from typing import TYPE_CHECKING, Any

from .types import GraphInterrupt

if TYPE_CHECKING:
    from .loop import PregelLoop
    from .scope import Scope

__all__ = [
    "SubgraphInterrupt",
    "apply_answers",
    "child_namespace",
    "interrupt_writes",
    "nest",
    "referenced_subgraph",
    "run_nested",
    "task_state",
    "with_checkpoint_map",
]

# values that cannot hold a graph (looked up by exact type, as LangGraph does)
_LEAF_TYPES = frozenset(
    {int, float, complex, bool, str, bytes, bytearray, list, tuple, dict, set, frozenset,
     type(None)}
)


def _function_nonlocals(func: Any) -> list[Any]:
    """The values ``func`` reaches from outside its own scope: every closure cell, the globals
    its code names and each value along an attribute path it loads (LangGraph's
    ``get_function_nonlocals``; over-approximates as that does)."""
    func = getattr(func, "__func__", func)
    wrapped = getattr(func, "__wrapped__", None)
    if callable(wrapped):
        func = getattr(wrapped, "__func__", wrapped)
    if not isinstance(func, FunctionType):
        return []
    code = func.__code__
    cells: dict[str, Any] = {}
    for name, cell in zip(code.co_freevars, func.__closure__ or (), strict=False):
        try:
            cells[name] = cell.cell_contents
        except ValueError:  # an empty cell: a recursive def not bound yet
            continue
    values: list[Any] = list(cells.values())
    global_ns = func.__globals__
    globals_ = {name: global_ns[name] for name in code.co_names if name in global_ns}
    if all(type(v) in _LEAF_TYPES for v in (*cells.values(), *globals_.values())):
        return values
    codes: list[CodeType] = [code]
    for c in codes:
        codes.extend(k for k in c.co_consts if isinstance(k, CodeType))
        value: Any = None
        for instruction in dis.get_instructions(c):
            if instruction.opname == "LOAD_GLOBAL":
                value = globals_.get(instruction.argval)
            elif instruction.opname == "LOAD_DEREF":
                value = cells.get(instruction.argval)
            elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                value = getattr(value, instruction.argval, None)
            else:
                value = None
                continue
            if value is not None:
                values.append(value)
    return values


def referenced_subgraph(func: Any) -> Any:
    """The first entrypoint (``Pregel``) ``func`` refers to, or ``None``; entrypoints with
    ``checkpointer=False`` do not count (as LangGraph's ``find_subgraph_pregel``)."""
    from .func import Pregel

    for value in _function_nonlocals(func):
        if isinstance(value, Pregel) and value.checkpointer is not False:
            return value
    return None


def child_namespace(caller_ns: str, index: int) -> str:
    """The checkpoint namespace of the ``index``-th subgraph call (from 0) of the body or task
    whose namespace is ``caller_ns``: the caller's own, then ``"<caller_ns>|<index>"``."""
    return caller_ns if index == 0 else f"{caller_ns}|{index}"


# -- running a child inside a parent's run ------------------------------------------------------
class SubgraphInterrupt(GraphInterrupt):
    """The interrupts of a child run, raised out of its ``invoke`` (``stream``, ...) into the
    body or task that called it, so that one records them (with a ``__subgraph__`` write naming
    their ids: their answers belong to the child) and the parent pauses."""


def interrupt_writes(gi: GraphInterrupt) -> list[tuple[str, Any]]:
    """The pending writes recording ``gi`` on the body or task it stopped: ``__interrupt__``,
    and ``__subgraph__`` (the ids answered by a child) when it came from a child."""
    writes: list[tuple[str, Any]] = [("__interrupt__", list(gi.interrupts))]
    if isinstance(gi, SubgraphInterrupt):
        writes.append(("__subgraph__", [intr.id for intr in gi.interrupts]))
    return writes


def nest(loop: PregelLoop, caller: Scope, config: dict | None) -> None:
    """Make ``loop`` (just built) the run of a child called by ``caller``: the caller's thread,
    checkpointer, durability, cache, pending answers and checkpoint writer; its namespace; its
    chunks forwarded to the parent's stream when that has ``subgraphs=True``."""
    parent = caller.loop
    loop.caller = caller
    loop.saver = None if loop.graph.checkpointer is False else parent.saver
    loop.serde = loop.saver.serde if loop.saver is not None else None
    loop.durability = parent.durability
    loop.storage = parent.storage if loop.saver is not None else None
    loop.answers = parent.answers
    loop.cache = parent.cache
    base = caller.config
    configurable = {**base["configurable"], **_own_keys(config)}
    configurable["checkpoint_ns"] = child_namespace(caller.ns, next(caller.subgraph_calls))
    configurable.pop("checkpoint_id", None)
    metadata = {k: v for k, v in base.get("metadata", {}).items() if not k.startswith("langgraph_")}
    loop.config = {**base, "configurable": configurable, "metadata": metadata}
    stream = loop.stream
    stream.ns = tuple(configurable["checkpoint_ns"].split("|"))
    outer = parent.stream
    if outer.subgraphs:
        local_modes, local_sink = stream.modes, stream.sink

        def sink(mode: str, chunk: Any, ns: tuple) -> None:
            if mode in local_modes:
                local_sink(mode, chunk, ns)
            if mode in outer.modes:
                outer.sink(mode, chunk, ns)

        stream.sink = sink
        stream.modes = tuple(dict.fromkeys((*local_modes, *outer.modes)))
        stream.debug = "debug" in stream.modes
        stream.subgraphs = True  # its own children's chunks go up too
        loop.modes = stream.modes
    if loop.context is None:
        loop.context = parent.context


def _own_keys(config: dict | None) -> dict:
    """The caller-given ``configurable`` keys a child keeps (not the thread or checkpoint)."""
    given = (config or {}).get("configurable") or {}
    return {k: v for k, v in given.items()
            if k not in ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")}


def run_nested(loop: PregelLoop, input: Any) -> None:
    """Run a child: no lease of the thread (its parent holds it); when the parent is resuming
    and the child's namespace holds a checkpoint, the child goes on from there (a pending run
    resumed with the answers for it, a finished one returns its value without running);
    otherwise it starts on ``input``. An interrupt raises :class:`SubgraphInterrupt`."""
    saver = loop.saver
    saved = loop.storage.io(saver.get_tuple, loop.config) if saver is not None else None
    loop.saved = saved
    if saved is not None and loop.caller.loop.resuming:
        loop.load_writes(saved)
        if "__start__" not in saved.checkpoint["channel_values"]:
            loop._nothing_to_run(saved)
            return
        loop.adopt(saved)
        loop.resuming = True
        loop._emit_resumed_checkpoint(saved)
        mine = {intr.id: (task_id, intr) for task_id, intr in loop.pending_interrupts()}
        apply_answers(loop, {i: v for i, v in loop.answers.items() if i in mine}, mine)
    else:
        loop._start(input, source="input")
    loop.execute()
    if loop.status == "interrupted":
        raise SubgraphInterrupt(loop.interrupts, task_id=loop.caller.task_id)


def apply_answers(loop: PregelLoop, answers: dict[str, Any], by_id: dict[str, tuple]) -> None:
    """Record ``answers`` (interrupt id -> resume value) for the interrupts ``by_id`` (id ->
    ``(task_id, Interrupt)``) of ``loop``'s pending run: an interrupt of its own gets the value
    appended to its task's ``__resume__`` list; one that came up from a child is kept in
    ``loop.answers`` for the child (shared by the whole run), which takes it when the re-run body
    calls it again. Both are cleared from ``__interrupt__``. Values are checked against the
    interrupt's JSON Schema and the serializer before anything is written."""
    batch = []
    for intr_id, value in answers.items():
        task_id, intr = by_id[intr_id]
        if intr.response_schema is not None:
            import jsonschema

            jsonschema.validate(value, intr.response_schema)
        slot = loop.writes.get(task_id, {})
        for_child = intr_id in (slot.get("__subgraph__") or ())
        if for_child:
            loop.serde.dumps(value)
            writes = [("__interrupt__", [])]
        else:
            resume_list = [*slot.get("__resume__", ()), value]
            loop.serde.dumps(resume_list)  # TypeError before anything is written
            writes = [("__resume__", resume_list), ("__interrupt__", [])]
        batch.append((task_id, writes, intr_id, value, for_child))
    for task_id, writes, intr_id, value, for_child in batch:
        if for_child:
            loop.answers[intr_id] = value
        else:
            loop.answers.pop(intr_id, None)
        loop.write(task_id, writes)


def with_checkpoint_map(config: dict | None, parents: dict) -> dict | None:
    """A child's checkpoint config as LangGraph shows it: ``checkpoint_map`` holds the
    enclosing checkpoints (``parents``) and this one (its namespace -> its id)."""
    if config is None or not parents:
        return config
    configurable = config["configurable"]
    return {**config, "configurable": {
        **configurable,
        "checkpoint_map": {**parents, configurable.get("checkpoint_ns", ""):
                           configurable.get("checkpoint_id")},
    }}


def task_state(graph: Any, saver: Any, config: dict, entry_id: str, *, recurse: bool) -> Any:
    """``PregelTask.state`` of an entrypoint's task in a snapshot or ``checkpoints`` chunk, as
    LangGraph: ``None`` unless the entrypoint's function refers to a child entrypoint; then the
    child's config (``{"configurable": {"thread_id", "checkpoint_ns"}}``), or with ``recurse``
    the child's own ``StateSnapshot`` (``get_state(subgraphs=True)``)."""
    child = graph.subgraph
    if child is None:
        return None
    ns = config["configurable"].get("checkpoint_ns", "")
    task_ns = f"{graph.node_name}:{entry_id}"
    child_config = {"configurable": {
        "thread_id": config["configurable"]["thread_id"],
        "checkpoint_ns": f"{ns}|{task_ns}" if ns else task_ns,
    }}
    if not recurse:
        return child_config
    return child.state(saver, child_config, subgraphs=True)
