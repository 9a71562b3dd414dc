"""The seed's essay workflow (``flowsite.workflows.essay_review``: a task, then an interrupt) for
LangGraph's Agent Server (``langgraph dev``, ``bench/roundtrip.py``); the server gives it its
checkpointer. The task streams the same progress message as Flowsite's."""

from langgraph.config import get_stream_writer
from langgraph.func import entrypoint, task
from langgraph.types import interrupt


@task
def write_essay(topic: str) -> str:
    get_stream_writer()({"progress": f"Writing an essay about {topic}…"})
    return f"An essay about topic: {topic}"


@entrypoint()
def essay_review(topic: str) -> dict:
    essay = write_essay(topic).result()
    is_approved = interrupt({"essay": essay, "action": "Please approve/reject the essay"})
    return {"essay": essay, "is_approved": is_approved}
