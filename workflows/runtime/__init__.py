"""Plain-Python runtime of LangGraph's functional API (no Django import)."""

from .checkpoint import BaseCheckpointSaver, CheckpointTuple, InMemorySaver
from .context import get_config, get_runtime, get_store, get_stream_writer, interrupt
from .func import Pregel, entrypoint, task
from .serde import JsonPlusSerializer, register_type
from .types import (
    Command,
    EmptyInputError,
    GraphInterrupt,
    GraphOutput,
    Interrupt,
    NodeTimeoutError,
    NondeterminismError,
    PregelTask,
    RetryPolicy,
    StateSnapshot,
    ThreadBusyError,
)

MemorySaver = InMemorySaver  # LangGraph's older name

__all__ = [
    "BaseCheckpointSaver",
    "CheckpointTuple",
    "Command",
    "EmptyInputError",
    "GraphInterrupt",
    "GraphOutput",
    "InMemorySaver",
    "Interrupt",
    "JsonPlusSerializer",
    "MemorySaver",
    "NodeTimeoutError",
    "NondeterminismError",
    "Pregel",
    "PregelTask",
    "RetryPolicy",
    "StateSnapshot",
    "ThreadBusyError",
    "entrypoint",
    "get_config",
    "get_runtime",
    "get_store",
    "get_stream_writer",
    "interrupt",
    "register_type",
    "task",
]
