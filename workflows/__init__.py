"""Flowsite's durable workflows: LangGraph's functional API on Django.

``from workflows import entrypoint, task, interrupt, Command, InMemorySaver, DjangoSaver`` works
without Django settings; ``DjangoSaver`` (and the Django app's parts) load on first use, as do
``DjangoCache`` (task and entrypoint caching on Django's cache framework) and
``LangGraphDjangoSaver`` (a LangGraph checkpointer on the same models; needs langgraph).
"""

from .runtime import *  # noqa: F403
from .runtime import __all__ as _runtime_all

__all__ = [*_runtime_all, "DjangoCache", "DjangoSaver", "LangGraphDjangoSaver"]


def __getattr__(name: str):
    if name == "DjangoSaver":
        from .checkpointer import DjangoSaver

        return DjangoSaver
    if name == "DjangoCache":
        from .cache import DjangoCache

        return DjangoCache
    if name == "LangGraphDjangoSaver":
        from .langgraph_saver import LangGraphDjangoSaver

        return LangGraphDjangoSaver
    raise AttributeError(f"module 'workflows' has no attribute {name!r}")
