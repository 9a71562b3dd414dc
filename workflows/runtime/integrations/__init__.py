"""Optional integrations of the runtime with other libraries, each imported only when a program
uses that library.

``tracing_for(config, modes, stream)`` gives a run its LangChain hooks: the no-op
:data:`NO_TRACING` when the program does not use LangChain (``langchain_core`` never imported,
no ``config["callbacks"]``, no ``messages``/``tools`` stream mode), else a
``workflows.runtime.integrations.langchain.RunTracing``. The engine calls the same five methods
on either, so it has no LangChain code and ``import workflows`` needs no LangChain.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Awaitable, Callable
from typing import Any

# the stream modes only LangChain callbacks produce (chat model tokens, tool calls)
CALLBACK_MODES = ("messages", "tools")


class NoTracing:
    """The hooks of a run that does not use LangChain: each calls through."""

    active = False

    def start(self, input: Any) -> None:
        pass

    def end(self, output: Any) -> None:
        pass

    def error(self, exc: BaseException) -> None:
        pass

    def call(
        self, scope: Any, caller: Any, inputs: Callable[[], Any], fn: Callable[[], Any]
    ) -> Any:
        return fn()

    async def acall(
        self, scope: Any, caller: Any, inputs: Callable[[], Any], fn: Callable[[], Awaitable[Any]]
    ) -> Any:
        return await fn()


NO_TRACING = NoTracing()


def tracing_for(config: dict, modes: tuple[str, ...], stream: Any) -> Any:
    """The LangChain hooks of one run (see the module docstring); ``stream`` is the run's
    :class:`~workflows.runtime.stream.StreamOutput`, where ``messages``/``tools`` chunks go.

    Raises ``ImportError`` naming the ``agents`` extra when ``config["callbacks"]`` is given
    and ``langchain-core`` is not installed (callback handlers are LangChain objects).
    """
    wanted = bool(config.get("callbacks")) or any(mode in modes for mode in CALLBACK_MODES)
    if not wanted and "langchain_core" not in sys.modules:
        return NO_TRACING
    try:
        from .langchain import RunTracing
    except ImportError:
        if config.get("callbacks"):
            raise ImportError(
                'config["callbacks"] needs langchain-core: pip install "flowsite[agents]"'
            ) from None
        return NO_TRACING  # no LangChain, so no chat model can stream tokens or call tools
    return RunTracing(config, modes, stream)


def task_inputs(func: Callable, args: tuple, kwargs: dict) -> dict:
    """What a task's chain run records as inputs: its arguments by parameter name, defaults
    applied (LangGraph's ``_explode_args_trace_inputs``)."""
    try:
        signature = inspect.signature(func)
        bound = signature.bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        return {"args": args, "kwargs": kwargs}
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    arguments.pop("cls", None)
    for name, param in signature.parameters.items():
        if param.kind == inspect.Parameter.VAR_KEYWORD and name in arguments:
            arguments.update(arguments.pop(name))
    return arguments


__all__ = ["CALLBACK_MODES", "NO_TRACING", "NoTracing", "task_inputs", "tracing_for"]
