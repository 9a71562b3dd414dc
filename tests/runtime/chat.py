"""LangChain pieces the LangChain tests share: langchain-core's fake streaming chat model
(``GenericFakeChatModel`` streams its message split on spaces), two tools, a recording tracer,
the programs the tests run on both libraries and transcript helpers."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import tool
from langchain_core.tracers.base import BaseTracer

TEXT = "the quick brown fox jumps over the lazy dog"  # 17 chunks: 9 words, 8 spaces


def chat_model(text: str = TEXT) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=text)]))


@tool
def shout(text: str) -> str:
    """Upper-case ``text``."""
    return text.upper()


@tool
def broken(text: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot {text}")


def message(msg: BaseMessage) -> dict:
    """A message as a transcript records it (its id is normalized with the others)."""
    return {"type": type(msg).__name__, "content": msg.content, "id": msg.id,
            "last": getattr(msg, "chunk_position", None)}


def messages(chunks: list) -> list:
    """``(message, metadata)`` chunks of ``stream_mode="messages"`` in transcript form."""
    return [(message(m), meta) for m, meta in chunks]


class Recorder(BaseTracer):
    """A tracer that records each run's start and end: name, type, parent's name, tags,
    metadata, inputs, outputs and error class (what LangSmith would show)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple] = []
        self.names: dict = {}

    def _persist_run(self, run) -> None:
        pass

    def _start_trace(self, run) -> None:
        super()._start_trace(run)
        self.names[run.id] = run.name
        self.events.append((
            "start", run.name, run.run_type, self.names.get(run.parent_run_id),
            sorted(run.tags or []), dict(run.extra.get("metadata", {})), run.inputs,
        ))

    def _end_trace(self, run) -> None:
        error = run.error.split("(")[0].split(":")[0] if run.error else None
        self.events.append(("end", run.name, run.outputs, error))
        super()._end_trace(run)


def sync_program(api, saver):
    @api.task
    def ask(question: str) -> str:
        return chat_model().invoke(question).content

    @api.entrypoint(checkpointer=saver)
    def wf(question: str) -> dict:
        said = chat_model("body speaks").invoke("x").content
        answer = ask(question).result()
        approved = api.interrupt("approve?")
        return {"said": said, "answer": answer, "approved": approved}

    return wf


def async_program(api, saver):
    @api.task
    async def ask(question: str) -> str:
        return (await chat_model().ainvoke(question)).content

    @api.entrypoint(checkpointer=saver)
    async def wf(question: str) -> dict:
        said = (await chat_model("body speaks").ainvoke("x")).content
        answer = await ask(question)
        approved = api.interrupt("approve?")
        return {"said": said, "answer": answer, "approved": approved}

    return wf


def subgraph_program(api, saver):
    @api.task
    def ask(question: str) -> str:
        return chat_model("child says hi").invoke(question).content

    @api.entrypoint(checkpointer=saver)
    def child(question: str) -> str:
        return ask(question).result()

    @api.task
    def delegate(question: str) -> str:
        return child.invoke(question)

    @api.entrypoint(checkpointer=saver)
    def parent(question: str) -> str:
        said = chat_model("parent").invoke("x").content
        return said + delegate(question).result() + child.invoke(question)

    return parent


def events_transcript(events: list) -> dict:
    """Events as (event, name, tags, parent names, data); the root run's ``on_chain_stream``
    events are listed apart: when they come relative to the others depends on when the caller's
    event loop hands on each chunk, in both libraries."""
    names: dict = {}
    rest, root_chunks = [], []
    for ev in events:
        names[ev["run_id"]] = ev["name"]
        data = {k: message(v) if isinstance(v, BaseMessage) else v
                for k, v in ev["data"].items()}
        if ev["event"] == "on_chain_stream" and not ev["parent_ids"]:
            root_chunks.append(data["chunk"])
            continue
        rest.append((ev["event"], ev["name"], sorted(ev["tags"]),
                     [names.get(p, "?") for p in ev["parent_ids"]], data,
                     sorted(ev["metadata"])))
    return {"events": rest, "root_chunks": root_chunks}
