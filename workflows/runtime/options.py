"""Keyword options of the public callables: LangGraph's deprecated names (with its warning
classes and messages) and refusal of anything else.

LangGraph swallows unknown keywords in ``**kwargs`` (``task(retry_polcy=...)`` is silently
ignored there); Flowsite raises ``TypeError`` naming them, as Python does for a misspelt
argument, so a typo cannot silently change what a program does.
"""

from __future__ import annotations

import warnings
from typing import Any

from .types import LangGraphDeprecatedSinceV05, LangGraphDeprecatedSinceV10

__all__ = ["pop_deprecated", "refuse_unknown"]

_DEPRECATED = {
    # keyword: (its replacement, LangGraph's warning class)
    "retry": ("retry_policy", LangGraphDeprecatedSinceV05),
    "config_schema": ("context_schema", LangGraphDeprecatedSinceV10),
    "checkpoint_during": ("durability", LangGraphDeprecatedSinceV10),
}


def pop_deprecated(kwargs: dict, name: str, *, stacklevel: int = 3) -> Any:
    """Remove the deprecated keyword ``name`` from ``kwargs`` and return its value (``None`` when
    absent), warning as LangGraph does, e.g. ``LangGraphDeprecatedSinceV05("`retry` is
    deprecated and will be removed. Please use `retry_policy` instead.")``."""
    if name not in kwargs:
        return None
    replacement, category = _DEPRECATED[name]
    warnings.warn(
        f"`{name}` is deprecated and will be removed. Please use `{replacement}` instead.",
        category=category,
        stacklevel=stacklevel,
    )
    return kwargs.pop(name)


def refuse_unknown(function: str, kwargs: dict) -> None:
    """``TypeError("<function>() got an unexpected keyword argument 'x'")`` for the first key
    left in ``kwargs`` (Python's own message)."""
    if kwargs:
        key = next(iter(kwargs))
        raise TypeError(f"{function}() got an unexpected keyword argument {key!r}")
