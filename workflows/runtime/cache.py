"""Caching of task and entrypoint results: LangGraph's ``CachePolicy``, ``BaseCache`` and
``InMemoryCache`` (``langgraph.types``, ``langgraph.cache.base``, ``langgraph.cache.memory``),
with the same names and shapes.

As in LangGraph's functional API:

* a policy takes effect only on an entrypoint with ``cache=``: ``task(cache_policy=...)`` for
  one task, ``entrypoint(cache_policy=...)`` for the entrypoint itself and every task it runs
  that has no policy of its own;
* the key of a call is ``((CACHE_NS_WRITES, "<module>.<qualname>"), xxh3_128(key_func(*args,
  **kwargs)))`` for a task, with the entrypoint's name added to the namespace for the
  entrypoint (whose ``key_func`` gets the input);
* what is cached is the call's writes (``[("__return__", value)]`` for a task,
  ``[("__end__", value), ("__previous__", save)]`` for the entrypoint), only when it finished:
  an error or an interrupt is not cached;
* a hit is not executed: its writes are stored as pending writes of the run's checkpoint (so a
  resume replays them, as for a task that ran), its ``updates`` chunk carries
  ``"__metadata__": {"cached": True}`` and no ``tasks`` result is streamed;
* a task call already answered by the checkpoint's pending writes (a replay) never asks the
  cache.
"""

from __future__ import annotations

import datetime
import logging
import pickle
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from xxhash import xxh3_128_hexdigest

from .pool import in_event_loop, worker_pool
from .serde import JsonPlusSerializer

__all__ = [
    "CACHE_NS_WRITES",
    "BaseCache",
    "CacheKey",
    "CachePolicy",
    "FullKey",
    "InMemoryCache",
    "Namespace",
    "default_cache_key",
]

logger = logging.getLogger("workflows.runtime")

CACHE_NS_WRITES = "__pregel_ns_writes"
ValueT = TypeVar("ValueT")
KeyFuncT = TypeVar("KeyFuncT", bound=Callable[..., str | bytes])
Namespace = tuple[str, ...]
FullKey = tuple[Namespace, str]


def _freeze(obj: Any, depth: int = 10) -> Hashable:
    """A hashable, order-independent form of ``obj`` (LangGraph's ``_freeze``): mappings become
    sorted item tuples, sequences tuples, arrays ``(type name, bytes, shape)``."""
    if isinstance(obj, Hashable) or depth <= 0:
        return obj
    if isinstance(obj, Mapping):
        return tuple(sorted((k, _freeze(v, depth - 1)) for k, v in obj.items()))
    if isinstance(obj, Sequence):
        return tuple(_freeze(x, depth - 1) for x in obj)
    if hasattr(obj, "tobytes"):
        return (type(obj).__name__, obj.tobytes(), getattr(obj, "shape", None))
    return obj


def default_cache_key(*args: Any, **kwargs: Any) -> str | bytes:
    """The default ``key_func``: a pickle (protocol 5) of the frozen arguments, as LangGraph's
    ``default_cache_key``; equal dicts in another key order give the same key."""
    return pickle.dumps((_freeze(args), _freeze(kwargs)), protocol=5, fix_imports=False)


@dataclass(kw_only=True, slots=True, frozen=True)
class CachePolicy(Generic[KeyFuncT]):
    """How a task's or entrypoint's results are cached (LangGraph's ``CachePolicy``).

    ``key_func(*args, **kwargs) -> str | bytes`` makes the key of a call from its arguments
    (an entrypoint's from its input); ``ttl`` is the entry's time to live in seconds (``None``:
    it never expires).
    """

    key_func: KeyFuncT = default_cache_key  # type: ignore[assignment]
    ttl: int | None = None


class CacheKey(NamedTuple):
    """Where one call's writes are cached: ``ns`` (namespace), ``key`` (32-hex xxh3 digest of
    the ``key_func`` result) and ``ttl`` (seconds or ``None``)."""

    ns: Namespace
    key: str
    ttl: int | None


def identifier(func: Callable) -> str:
    """``"<module>.<qualname>"`` of a function, or ``"__dynamic__"`` (LangGraph's
    ``identifier``), the second part of a cache namespace."""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    module = getattr(func, "__module__", None)
    if name is None or module is None:
        return "__dynamic__"
    return f"{module}.{name}"


def task_namespace(func: Callable) -> Namespace:
    """The cache namespace of a task's calls (what ``task.clear_cache(cache)`` clears)."""
    return (CACHE_NS_WRITES, identifier(func))


def entrypoint_namespace(func: Callable, name: str) -> Namespace:
    """The cache namespace of an entrypoint's runs (what ``entrypoint.clear_cache()`` clears)."""
    return (CACHE_NS_WRITES, identifier(func), name)


def cache_key(ns: Namespace, policy: CachePolicy, args: tuple, kwargs: dict) -> CacheKey:
    """The ``CacheKey`` of one call under ``policy``; ``key_func``'s errors propagate."""
    key = policy.key_func(*args, **kwargs)
    return CacheKey(ns, xxh3_128_hexdigest(key.encode() if isinstance(key, str) else key),
                    policy.ttl)


def cacheable(writes: Sequence[tuple[str, Any]]) -> bool:
    """Whether a call's writes may be cached: not an error, not an interrupt (a hit skips the
    call, so a cached error would never raise again)."""
    return not any(channel in ("__interrupt__", "__error__") for channel, _ in writes)


class BaseCache(ABC, Generic[ValueT]):
    """Interface of a cache (LangGraph's ``langgraph.cache.base.BaseCache``).

    Keys are ``(namespace, key)`` pairs (``FullKey``); values are serialized with ``serde``
    (Flowsite's ``JsonPlusSerializer`` unless given), so a cache holds only what a checkpointer
    could store. ``set`` takes ``{full_key: (value, ttl_seconds_or_None)}``; ``clear(None)``
    empties the cache, ``clear([ns, ...])`` the given namespaces.
    """

    serde: Any = JsonPlusSerializer()

    def __init__(self, *, serde: Any = None) -> None:
        self.serde = serde or self.serde

    @abstractmethod
    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        """The cached values of those ``keys`` that are present and not expired."""

    @abstractmethod
    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        """``get`` for async code."""

    @abstractmethod
    def set(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        """Store each value under its key with its time to live (seconds, ``None``: forever)."""

    @abstractmethod
    async def aset(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        """``set`` for async code."""

    @abstractmethod
    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Delete the values of ``namespaces`` (all values when ``None``)."""

    @abstractmethod
    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """``clear`` for async code."""


class InMemoryCache(BaseCache[ValueT]):
    """A cache in this process's memory (LangGraph's ``InMemoryCache``); thread-safe. Expired
    entries are dropped when read."""

    def __init__(self, *, serde: Any = None) -> None:
        super().__init__(serde=serde)
        self._cache: dict[Namespace, dict[str, tuple[str, bytes, float | None]]] = {}
        self._lock = threading.RLock()

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        with self._lock:
            now = datetime.datetime.now(datetime.UTC).timestamp()
            values: dict[FullKey, ValueT] = {}
            for ns, key in keys:
                ns = tuple(ns)
                entry = self._cache.get(ns, {}).get(key)
                if entry is None:
                    continue
                kind, data, expiry = entry
                if expiry is None or now < expiry:
                    values[(ns, key)] = self.serde.loads_typed((kind, data))
                else:
                    del self._cache[ns][key]
            return values

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        return self.get(keys)

    def set(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        with self._lock:
            now = datetime.datetime.now(datetime.UTC)
            for (ns, key), (value, ttl) in pairs.items():
                expiry = None
                if ttl is not None:
                    expiry = (now + datetime.timedelta(seconds=ttl)).timestamp()
                entry = (*self.serde.dumps_typed(value), expiry)
                self._cache.setdefault(tuple(ns), {})[key] = entry

    async def aset(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        self.set(pairs)

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        with self._lock:
            if namespaces is None:
                self._cache.clear()
            else:
                for ns in namespaces:
                    self._cache.pop(tuple(ns), None)

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        self.clear(namespaces)


# -- the run's side (called by the loop and the task runner) -------------------------------------
def _io(fn: Callable, *args: Any) -> Any:
    """Call the cache off an event loop thread (a Django cache backend may use the ORM, which
    refuses loop threads)."""
    if in_event_loop():
        return worker_pool().submit(fn, *args).result()
    return fn(*args)


def _lookup(loop: Any, key: CacheKey) -> dict | None:
    found = _io(loop.cache.get, [(key.ns, key.key)]).get((key.ns, key.key))
    return dict(found) if found is not None else None


def task_lookup(loop: Any, task: Any, args: tuple, kwargs: dict) -> tuple[CacheKey | None, Any]:
    """``(key, cached result or None)`` of a task call about to execute: ``(None, None)``
    without a cache on the entrypoint or a policy on the task (or the entrypoint)."""
    policy = task.cache_policy or loop.graph.cache_policy
    if loop.cache is None or policy is None:
        return None, None
    key = cache_key(task_namespace(task.func), policy, args, kwargs)
    found = _lookup(loop, key)
    return key, (found["__return__"] if found is not None and "__return__" in found else None)


def entry_lookup(loop: Any) -> tuple[Any, Any] | None:
    """The cached ``(value, save)`` of the entrypoint's run on its input, or ``None`` (then
    ``loop.entry_cache_key`` is where its result will be stored)."""
    graph = loop.graph
    if loop.cache is None or graph.cache_policy is None:
        return None
    key = cache_key(entrypoint_namespace(graph.func, graph.node_name), graph.cache_policy,
                    (loop.input,), {})
    found = _lookup(loop, key)
    if found is not None and "__end__" in found:
        return found["__end__"], found.get("__previous__")
    loop.entry_cache_key = key
    return None


def store(loop: Any, key: CacheKey | None, writes: list[tuple[str, Any]]) -> None:
    """Cache ``writes`` (a finished call's) under ``key``; a value the cache's serializer
    refuses is logged and not cached (the run goes on, as in LangGraph, which caches in the
    background)."""
    if key is None or loop.cache is None or not cacheable(writes):
        return
    try:
        _io(loop.cache.set, {(key.ns, key.key): (writes, key.ttl)})
    except TypeError:
        logger.warning("not cached: %s", key.ns[1], exc_info=True)
