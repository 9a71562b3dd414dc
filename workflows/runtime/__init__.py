"""Plain-Python runtime of LangGraph's functional API (no Django import)."""

from .cache import BaseCache, CachePolicy, InMemoryCache
from .checkpoint import BaseCheckpointSaver, CheckpointTuple, InMemorySaver
from .context import get_config, get_runtime, get_store, get_stream_writer, interrupt
from .func import Pregel, entrypoint, task
from .scope import RunControl, Runtime
from .serde import JsonPlusSerializer, register_type
from .types import (
    Command,
    EmptyInputError,
    GraphDrained,
    GraphInterrupt,
    GraphOutput,
    Interrupt,
    InvalidUpdateError,
    LangGraphDeprecatedSinceV05,
    LangGraphDeprecatedSinceV10,
    LangGraphDeprecationWarning,
    NodeTimeoutError,
    NondeterminismError,
    PregelTask,
    RetryPolicy,
    StateSnapshot,
    StateUpdate,
    ThreadBusyError,
    TimeoutPolicy,
    UnknownInterruptError,
)

MemorySaver = InMemorySaver  # LangGraph's older name

__all__ = [
    "BaseCache",
    "BaseCheckpointSaver",
    "CachePolicy",
    "CheckpointTuple",
    "Command",
    "EmptyInputError",
    "GraphDrained",
    "GraphInterrupt",
    "GraphOutput",
    "InMemoryCache",
    "InMemorySaver",
    "Interrupt",
    "InvalidUpdateError",
    "JsonPlusSerializer",
    "LangGraphDeprecatedSinceV05",
    "LangGraphDeprecatedSinceV10",
    "LangGraphDeprecationWarning",
    "MemorySaver",
    "NodeTimeoutError",
    "NondeterminismError",
    "Pregel",
    "PregelTask",
    "RetryPolicy",
    "RunControl",
    "Runtime",
    "StateSnapshot",
    "StateUpdate",
    "ThreadBusyError",
    "TimeoutPolicy",
    "UnknownInterruptError",
    "entrypoint",
    "get_config",
    "get_runtime",
    "get_store",
    "get_stream_writer",
    "interrupt",
    "register_type",
    "task",
]
