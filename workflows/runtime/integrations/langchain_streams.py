"""The LangChain callback handlers behind ``stream_mode="messages"`` and ``"tools"``: LangGraph's
``StreamMessagesHandler`` (``langgraph/pregel/_messages.py``) and ``StreamToolCallHandler``
(``langgraph/pregel/_tools.py``) rewritten for Flowsite's stream (a run's
:class:`~workflows.runtime.stream.StreamOutput`). Imported with :mod:`.langchain`."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID, uuid4

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult
from langchain_core.tracers._streaming import _StreamingCallbackHandler

from ..types import GraphInterrupt

T = TypeVar("T")

TAG_NOSTREAM = "nostream"  # langgraph.constants: a model tagged so is not streamed
TAG_HIDDEN = "langsmith:hidden"
NS_SEP = "|"
PUSH = "__pregel_push"


def own_graph_only(stream: Any) -> Callable[[str, Any, tuple], None]:
    """``stream.emit`` for the handlers: a chunk from a subgraph (its namespace is neither empty
    nor the run's own) is left out unless the stream has ``subgraphs=True``, as LangGraph's
    handlers do (read when emitting: a child's namespace is set after its loop is built)."""

    def emit(mode: str, chunk: Any, ns: tuple) -> None:
        if ns and ns != stream.ns and not stream.subgraphs:
            return
        stream.emit(mode, chunk, ns)

    return emit


Meta = tuple[tuple[str, ...], dict[str, Any]]


def graph_namespace(metadata: dict[str, Any]) -> tuple[str, ...]:
    """Namespace of the graph a run belongs to, from its ``langgraph_*`` metadata (LangGraph's
    ``graph_namespace``): the checkpoint namespace without the task's own segment and one more
    per enclosing task call."""
    ns = tuple(str(metadata["langgraph_checkpoint_ns"]).split(NS_SEP))
    path = metadata.get("langgraph_path", ())
    drop = 1
    while len(path) == 4 and path[0] == PUSH and path[-1] is True:
        drop += 1
        path = path[1]
    return ns[:-drop]


def _user_tags(tags: Sequence[str] | None) -> list[str] | None:
    """``tags`` without the ``seq:step:*`` bookkeeping tags, or ``None``."""
    kept = [t for t in tags or () if not t.startswith("seq:step")]
    return kept or None


def _values(obj: Any) -> Sequence[Any]:
    """Top-level values of a dict, pydantic model or dataclass (LangGraph's ``_state_values``)."""
    if isinstance(obj, dict):
        return list(obj.values())
    if hasattr(type(obj), "model_fields") and hasattr(obj, "model_dump"):
        return [getattr(obj, k) for k in type(obj).model_fields]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [getattr(obj, f.name) for f in dataclasses.fields(obj)]
    return ()


def _items(value: Any) -> Sequence[Any]:
    """``value``'s items if it is a list-like (not a string), else ``(value,)``."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return value
    return (value,)


class StreamMessagesHandler(BaseCallbackHandler, _StreamingCallbackHandler):
    """``stream_mode="messages"`` (LangGraph's ``StreamMessagesHandler``): each token of a chat
    model run inside a body or task, as ``(AIMessageChunk, metadata)`` where ``metadata`` is the
    model run's (``langgraph_node`` names the task, ``langgraph_step``, ``langgraph_path``,
    ``langgraph_checkpoint_ns``, ``checkpoint_ns``, ``thread_id``, ``ls_*``, user ``tags``);
    a model that did not stream gives its whole message at its end, and a body or task that
    returns messages not streamed before gives them at its end (deduplicated by message id).
    Models tagged ``"nostream"`` are skipped."""

    run_inline = True  # called in the thread of the model, so chunks keep their order

    def __init__(self, emit: Callable[..., None]) -> None:
        self.emit = emit
        self.metadata: dict[UUID, Meta] = {}
        self.seen: set[Any] = set()

    def _emit(self, meta: Meta, message: BaseMessage, *, dedupe: bool = False) -> None:
        if dedupe and message.id in self.seen:
            return
        if message.id is None:
            message.id = str(uuid4())
        self.seen.add(message.id)
        self.emit("messages", (message, meta[1]), meta[0])

    def _emit_found(self, meta: Meta, response: Any) -> None:
        """Emit the messages in a body's or task's output: the output itself, the items of a
        list, or the values (and the items of list values) of a dict, model or dataclass."""
        if isinstance(response, BaseMessage):
            self._emit(meta, response, dedupe=True)
        elif isinstance(response, Sequence):
            for value in response:
                if isinstance(value, BaseMessage):
                    self._emit(meta, value, dedupe=True)
        else:
            for value in _values(response):
                for item in _items(value):
                    if isinstance(item, BaseMessage):
                        self._emit(meta, item, dedupe=True)

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        return output

    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        return output

    def on_chat_model_start(
        self, serialized: dict, messages: list, *, run_id: UUID,
        parent_run_id: UUID | None = None, tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None, **kwargs: Any,
    ) -> Any:
        if metadata and "langgraph_checkpoint_ns" in metadata and TAG_NOSTREAM not in (tags or ()):
            if (user_tags := _user_tags(tags)) is not None:
                metadata["tags"] = user_tags
            self.metadata[run_id] = (graph_namespace(metadata), metadata)

    def on_llm_new_token(
        self, token: str, *, chunk: ChatGenerationChunk | None = None, run_id: UUID,
        **kwargs: Any,
    ) -> Any:
        if isinstance(chunk, ChatGenerationChunk) and (meta := self.metadata.get(run_id)):
            self._emit(meta, chunk.message)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> Any:
        if meta := self.metadata.get(run_id):
            if response.generations and response.generations[0]:
                generation = response.generations[0][0]
                if isinstance(generation, ChatGeneration):
                    self._emit(meta, generation.message, dedupe=True)
        self.metadata.pop(run_id, None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> Any:
        self.metadata.pop(run_id, None)

    def on_chain_start(
        self, serialized: dict | None, inputs: Any, *, run_id: UUID,
        parent_run_id: UUID | None = None, tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None, **kwargs: Any,
    ) -> Any:
        if (
            metadata
            and "langgraph_checkpoint_ns" in metadata
            and kwargs.get("name") == metadata.get("langgraph_node")
            and TAG_HIDDEN not in (tags or ())
        ):
            self.metadata[run_id] = (graph_namespace(metadata), metadata)
            for value in _values(inputs):  # messages given to the task are not streamed again
                for item in _items(value):
                    if isinstance(item, BaseMessage) and item.id is not None:
                        self.seen.add(item.id)

    def on_chain_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> Any:
        if meta := self.metadata.pop(run_id, None):
            self._emit_found(meta, response)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> Any:
        self.metadata.pop(run_id, None)


class StreamToolsHandler(BaseCallbackHandler, _StreamingCallbackHandler):
    """``stream_mode="tools"`` (LangGraph's ``StreamToolCallHandler``): for each LangChain tool
    run inside a body or task, ``{"event": "tool-started", "tool_call_id", "tool_name",
    "input"}``, then ``{"event": "tool-finished", "tool_call_id", "output"}`` or
    ``{"event": "tool-error", "tool_call_id", "message"}`` (none for an interrupt: the tool runs
    again on resume). ``tool_call_id`` is the call's id, else the tool run's id."""

    run_inline = True

    def __init__(self, emit: Callable[..., None]) -> None:
        self.emit = emit
        self.calls: dict[UUID, tuple[tuple[str, ...], str]] = {}

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        return output

    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        return output

    def on_tool_start(
        self, serialized: dict[str, Any] | None, input_str: str, *, run_id: UUID,
        parent_run_id: UUID | None = None, tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if not metadata or TAG_NOSTREAM in (tags or ()):
            return
        ns = graph_namespace(metadata) if metadata.get("langgraph_checkpoint_ns") else ()
        call_id = kwargs.get("tool_call_id") or str(run_id)
        self.calls[run_id] = (ns, call_id)
        payload: dict[str, Any] = {
            "event": "tool-started",
            "tool_call_id": call_id,
            "tool_name": (serialized or {}).get("name") or kwargs.get("name") or "",
        }
        if inputs is not None:
            payload["input"] = inputs
        self.emit("tools", payload, ns)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> Any:
        if (call := self.calls.pop(run_id, None)) is not None:
            ns, call_id = call
            self.emit("tools", {"event": "tool-finished", "tool_call_id": call_id,
                                "output": output}, ns)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> Any:
        call = self.calls.pop(run_id, None)
        if call is not None and not isinstance(error, GraphInterrupt):
            ns, call_id = call
            self.emit("tools", {"event": "tool-error", "tool_call_id": call_id,
                                "message": str(error)}, ns)


__all__ = ["StreamMessagesHandler", "StreamToolsHandler", "graph_namespace", "own_graph_only"]
