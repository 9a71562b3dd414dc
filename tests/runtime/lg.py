"""Both implementations of the functional API as interchangeable namespaces, and the helpers the
differential tests use to compare what they observe.

A test defines its program once, as ``def build(api, saver): ...`` using only ``api.entrypoint``,
``api.task``, ``api.interrupt`` etc., runs it on ``FLOWSITE`` and on ``LANGGRAPH`` (the reference,
langgraph 1.2.24) and compares *transcripts*: lists of what the caller observed (chunks, results,
raised errors, state snapshots). ``normalize`` makes the two comparable:

* ``Interrupt``, ``StateSnapshot``, ``PregelTask``, ``GraphOutput``, other dataclasses and
  exceptions of either library become ``N(kind, fields)`` values, so they compare across
  libraries while keeping the container types around them (a ``tuple`` of interrupts in a stream
  chunk is not a ``list``);
* ids differ between the libraries (checkpoint ids are time-based, and task and interrupt ids are
  derived from them), so each distinct id becomes a placeholder numbered by first appearance:
  ``<intr:0>`` for 32-hex interrupt ids, ``<uuid:0>`` for checkpoint and task ids (also inside
  namespaces such as ``"wf:<uuid:1>"``). Equal ids get
  equal placeholders, so a transcript also pins *which* ids are stable across replays;
* ISO timestamps become ``<ts>``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
from collections.abc import Callable
from typing import Any

import langgraph.cache.memory as _lg_cache
import langgraph.checkpoint.memory as _lg_memory
import langgraph.config as _lg_config
import langgraph.errors as _lg_errors
import langgraph.func as _lg_func
import langgraph.runtime as _lg_runtime
import langgraph.types as _lg_types

import workflows as _fs


def _namespace(name: str, **members: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(name=name, **members)


FLOWSITE = _namespace(
    "flowsite",
    entrypoint=_fs.entrypoint,
    task=_fs.task,
    interrupt=_fs.interrupt,
    Command=_fs.Command,
    Interrupt=_fs.Interrupt,
    InMemorySaver=_fs.InMemorySaver,
    InMemoryCache=_fs.InMemoryCache,
    CachePolicy=_fs.CachePolicy,
    RetryPolicy=_fs.RetryPolicy,
    get_stream_writer=_fs.get_stream_writer,
    get_config=_fs.get_config,
    get_runtime=_fs.get_runtime,
    GraphOutput=_fs.GraphOutput,
    EmptyInputError=_fs.EmptyInputError,
)

LANGGRAPH = _namespace(
    "langgraph",
    entrypoint=_lg_func.entrypoint,
    task=_lg_func.task,
    interrupt=_lg_types.interrupt,
    Command=_lg_types.Command,
    Interrupt=_lg_types.Interrupt,
    InMemorySaver=_lg_memory.InMemorySaver,
    InMemoryCache=_lg_cache.InMemoryCache,
    CachePolicy=_lg_types.CachePolicy,
    RetryPolicy=_lg_types.RetryPolicy,
    get_stream_writer=_lg_config.get_stream_writer,
    get_config=_lg_config.get_config,
    get_runtime=_lg_runtime.get_runtime,
    GraphOutput=_lg_types.GraphOutput,
    EmptyInputError=_lg_errors.EmptyInputError,
)

APIS = [FLOWSITE, LANGGRAPH]
API_IDS = [api.name for api in APIS]

HEX32 = re.compile(r"^[0-9a-f]{32}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EMBEDDED_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ISO_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


@dataclasses.dataclass(frozen=True)
class N:
    """A library object in normalized form: ``kind`` is the class name, ``fields`` its data."""

    kind: str
    fields: tuple

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields)
        return f"{self.kind}({inner})"


class Normalizer:
    """Rewrites ids to first-appearance placeholders (one numbering per transcript)."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, str]] = {"intr": {}, "uuid": {}}

    def _placeholder(self, kind: str, value: str) -> str:
        table = self.seen[kind]
        if value not in table:
            table[value] = f"<{kind}:{len(table)}>"
        return table[value]

    def __call__(self, obj: Any) -> Any:
        if isinstance(obj, str):
            if HEX32.match(obj):
                return self._placeholder("intr", obj)
            if UUID.match(obj):
                return self._placeholder("uuid", obj)
            if ISO_TS.match(obj):
                return "<ts>"
            # namespaces such as "wf:<task id>|inner:<task id>"
            return EMBEDDED_UUID.sub(lambda m: self._placeholder("uuid", m.group()), obj)
        if isinstance(obj, (_fs.Interrupt, _lg_types.Interrupt)):
            return N(
                "Interrupt",
                (("value", self(obj.value)), ("id", self(obj.id)),
                 ("response_schema", self(obj.response_schema))),
            )
        # other dataclasses, e.g. LangGraph's GraphOutput
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return N(
                type(obj).__name__,
                tuple((f.name, self(getattr(obj, f.name))) for f in dataclasses.fields(obj)),
            )
        if isinstance(obj, BaseException):
            return N(type(obj).__name__, (("args", self(obj.args)),))
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # NamedTuples of both libraries
            return N(type(obj).__name__, tuple((f, self(getattr(obj, f))) for f in obj._fields))
        if isinstance(obj, dict):
            return {self(k): self(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self(v) for v in obj)
        return obj


def normalize(obj: Any) -> Any:
    """``obj`` with library objects, ids and timestamps made comparable (see module doc)."""
    return Normalizer()(obj)


def raised(exc: BaseException) -> tuple[str, str]:
    """What a transcript records for an error: its class name and message."""
    return ("raises", type(exc).__name__, str(exc))


def attempt(fn: Callable[[], Any]) -> Any:
    """``fn()``'s result, or ``raised(exc)`` if it raises."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the transcript records it
        return raised(exc)


async def aattempt(fn: Callable[[], Any]) -> Any:
    try:
        return await fn()
    except Exception as exc:  # noqa: BLE001
        return raised(exc)


def interrupt_ids(obj: Any) -> list[str]:
    """Ids of every ``Interrupt`` inside ``obj`` (raw, not normalized), in order."""
    found: list[str] = []

    def walk(o: Any) -> None:
        if isinstance(o, (_fs.Interrupt, _lg_types.Interrupt)):
            found.append(o.id)
        elif isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)

    walk(obj)
    return found


def run_both(scenario: Callable[..., Any], saver_factory: Callable | None = None) -> dict[str, Any]:
    """Run ``scenario(api)`` (or ``scenario(api, saver)``) on both libraries.

    Returns ``{"flowsite": transcript, "langgraph": transcript}``, both normalized.
    """
    out = {}
    for api in APIS:
        args = (api, saver_factory(api)) if saver_factory else (api,)
        out[api.name] = normalize(scenario(*args))
    return out


async def arun_both(
    scenario: Callable[..., Any], saver_factory: Callable | None = None
) -> dict[str, Any]:
    """``run_both`` for a scenario that may be a coroutine function."""
    out = {}
    for api in APIS:
        args = (api, saver_factory(api)) if saver_factory else (api,)
        result = scenario(*args)
        if inspect.isawaitable(result):
            result = await result
        out[api.name] = normalize(result)
    return out


def same(results: dict[str, Any]) -> Any:
    """Assert both transcripts are equal; return the (normalized) transcript."""
    assert results["flowsite"] == results["langgraph"], (
        f"\nflowsite:  {results['flowsite']!r}\nlanggraph: {results['langgraph']!r}"
    )
    return results["flowsite"]


async def collect(aiterable: Any) -> list:
    return [chunk async for chunk in aiterable]


def cfg(thread_id: str, **configurable: Any) -> dict:
    return {"configurable": {"thread_id": thread_id, **configurable}}


__all__ = [
    "API_IDS",
    "APIS",
    "FLOWSITE",
    "LANGGRAPH",
    "N",
    "aattempt",
    "arun_both",
    "attempt",
    "cfg",
    "collect",
    "interrupt_ids",
    "normalize",
    "raised",
    "run_both",
    "same",
]
