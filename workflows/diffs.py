"""What changed between two JSON values, leaf by leaf (the checkpoint history's diffs and the
audit of a fork's edited state)."""

from __future__ import annotations

from typing import Any

__all__ = ["MISSING", "value_changes"]

MISSING = object()  # a value that is not there


def value_changes(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """What changed from ``old`` to ``new``, leaf by leaf: ``[{"path", "kind", "old", "new"}]``
    with ``kind`` ``added``/``removed``/``changed``; dicts compare by key, lists by position.
    ``MISSING`` stands for a value that is not there."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in [*old, *(k for k in new if k not in old)]:
            sub = f"{path}.{key}" if path else str(key)
            changes += value_changes(old.get(key, MISSING), new.get(key, MISSING), sub)
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for i in range(max(len(old), len(new))):
            changes += value_changes(
                old[i] if i < len(old) else MISSING,
                new[i] if i < len(new) else MISSING,
                f"{path}[{i}]",
            )
        return changes
    if old is MISSING and new is MISSING:
        return []
    if old is MISSING:
        if isinstance(new, dict | list) and new:
            return value_changes({} if isinstance(new, dict) else [], new, path)
        return [{"path": path, "kind": "added", "old": None, "new": new}]
    if new is MISSING:
        return [{"path": path, "kind": "removed", "old": old, "new": None}]
    if old == new and type(old) is type(new):
        return []
    return [{"path": path, "kind": "changed", "old": old, "new": new}]
