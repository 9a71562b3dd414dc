"""``DjangoCache``: LangGraph's ``BaseCache`` on Django's cache framework, for
``entrypoint(cache=DjangoCache())`` (task and entrypoint results shared by every process that
uses the same cache backend, e.g. Redis or Memcached; the local-memory backend is per process).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from xxhash import xxh3_64_hexdigest

from .runtime.cache import BaseCache, FullKey, Namespace

__all__ = ["DjangoCache"]


class DjangoCache(BaseCache):
    """A ``BaseCache`` stored in ``django.core.cache.caches[alias]``.

    Each value is kept as its serialized ``(type, bytes)`` pair under
    ``"<prefix>:<generation>:<namespace generation>:<namespace digest>:<key>"`` with Django's
    ``timeout`` set to the entry's ``ttl`` (seconds; ``None``: no expiry). Django's cache API
    has no "delete by prefix", so ``clear`` moves generations instead: ``clear([ns])`` bumps
    that namespace's generation, ``clear()`` the cache's own, and older entries are never read
    again (the backend evicts them by its own rules).

    ``alias``: the ``CACHES`` entry (``"default"``); ``prefix``: the key prefix
    (``"workflows"``), so several caches can share a backend. Raises Django's
    ``InvalidCacheBackendError`` on first use when ``alias`` is not configured.
    """

    def __init__(
        self, alias: str = "default", *, prefix: str = "workflows", serde: Any = None
    ) -> None:
        super().__init__(serde=serde)
        self.alias = alias
        self.prefix = prefix

    @property
    def backend(self) -> Any:
        from django.core.cache import caches

        return caches[self.alias]

    @staticmethod
    def _ns(ns: Namespace) -> str:
        """A short, key-safe name of a namespace (memcached allows 250 characters, no spaces)."""
        return xxh3_64_hexdigest("|".join(ns).encode())

    def _generation(self, name: str) -> int:
        """The current generation stored under ``name`` (created as 0)."""
        key = f"{self.prefix}:gen:{name}"
        value = self.backend.get(key)
        if value is None:
            self.backend.add(key, 0, timeout=None)
            value = self.backend.get(key, 0)
        return value

    def _key(self, ns: Namespace, key: str, root: int) -> str:
        name = self._ns(ns)
        return f"{self.prefix}:{root}:{self._generation(f'{root}:{name}')}:{name}:{key}"

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        if not keys:
            return {}
        root = self._generation("")
        names = {self._key(tuple(ns), key, root): (tuple(ns), key) for ns, key in keys}
        found = self.backend.get_many(list(names))
        return {names[name]: self.serde.loads_typed(tuple(data)) for name, data in found.items()}

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        return await asyncio.to_thread(self.get, keys)

    def set(self, pairs: Mapping[FullKey, tuple[Any, int | None]]) -> None:
        root = self._generation("")
        for (ns, key), (value, ttl) in pairs.items():
            self.backend.set(self._key(tuple(ns), key, root), self.serde.dumps_typed(value),
                             timeout=ttl)

    async def aset(self, pairs: Mapping[FullKey, tuple[Any, int | None]]) -> None:
        await asyncio.to_thread(self.set, pairs)

    def _bump(self, name: str) -> None:
        key = f"{self.prefix}:gen:{name}"
        self.backend.add(key, 0, timeout=None)
        try:
            self.backend.incr(key)
        except ValueError:  # evicted between add and incr
            self.backend.set(key, 1, timeout=None)

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        if namespaces is None:
            self._bump("")
            return
        root = self._generation("")
        for ns in namespaces:
            self._bump(f"{root}:{self._ns(tuple(ns))}")

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        await asyncio.to_thread(self.clear, namespaces)
