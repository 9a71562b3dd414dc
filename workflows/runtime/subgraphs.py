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
from typing import Any

__all__ = ["child_namespace", "referenced_subgraph"]

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
