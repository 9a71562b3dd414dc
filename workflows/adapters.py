"""How the executor runs a registered workflow: a Flowsite ``@entrypoint`` or a LangGraph graph.

One small interface, :class:`WorkflowAdapter`: the workflow bound to its Django checkpointer,
streamed (``stream`` / ``astream``) for a run's input or resume command, its state, and the
readable JSON of its values for the dashboard. :func:`adapter_for` picks the implementation:

* :class:`FlowsiteAdapter`: a Flowsite entrypoint on ``DjangoSaver``, resumed with
  ``workflows.Command``, values shown through the runtime serializer's ``to_display``;
* :class:`LangGraphAdapter`: a compiled LangGraph graph (``StateGraph(...).compile()``,
  ``create_agent(...)``, ``langgraph.func.entrypoint``) on ``LangGraphDjangoSaver``, resumed
  with ``langgraph.types.Command`` (LangGraph takes any other object as new input, and the
  reviewer's answer would be lost), values shown through ``workflows.langgraph_values``.

LangGraph is imported only for a LangGraph graph, so this module loads without it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

__all__ = [
    "FlowsiteAdapter", "LangGraphAdapter", "WorkflowAdapter", "adapter_for", "check_workflow",
    "is_langgraph_graph",
]


def is_langgraph_graph(obj: Any) -> bool:
    """Whether ``obj`` is a compiled LangGraph graph (a ``langgraph.pregel.Pregel``: what
    ``StateGraph.compile()``, ``create_agent`` and ``langgraph.func.entrypoint`` return)."""
    if "langgraph.pregel" not in sys.modules:  # nothing of LangGraph loaded: cannot be one
        return False
    from langgraph.pregel import Pregel

    return isinstance(obj, Pregel)


def is_flowsite_workflow(obj: Any) -> bool:
    """Whether ``obj`` is a Flowsite ``@entrypoint`` (``workflows.runtime.func.Pregel``)."""
    from .runtime.func import Pregel

    return isinstance(obj, Pregel)


class WorkflowAdapter:
    """A registered workflow as the executor runs it.

    ``graph`` is the workflow bound to its Django checkpointer; ``stream`` / ``astream`` /
    ``get_state`` are the graph's own (``stream(input, config, stream_mode=[...])`` yields
    ``(mode, chunk)`` pairs for a list of modes). Subclasses give :meth:`resume_command` and
    :meth:`display`.
    """

    def __init__(self, graph: Any) -> None:
        self.graph = graph

    @property
    def name(self) -> str:
        return getattr(self.graph, "name", None) or "workflow"

    def resume_command(self, answers: dict[str, Any]) -> Any:
        """The input resuming the graph with ``answers`` (``{interrupt_id: value}``)."""
        raise NotImplementedError

    def display(self, value: Any) -> Any:
        """``value`` (state, task result, interrupt value) as plain JSON for the dashboard."""
        raise NotImplementedError

    def display_chunk(self, mode: str, chunk: Any) -> Any:
        """JSON-able form of a stream chunk (interrupts as ``{"id", "value"}`` dicts)."""
        if mode == "updates" and isinstance(chunk, dict) and "__interrupt__" in chunk:
            return {"__interrupt__": [
                {"id": intr.id, "value": self.display(intr.value)}
                for intr in chunk["__interrupt__"]
            ]}
        return self.display(chunk)

    def stream(self, input: Any, config: dict, *, stream_mode: Any) -> Iterator[Any]:
        return self.graph.stream(input, config, stream_mode=stream_mode)

    def astream(
        self, input: Any, config: dict, *, stream_mode: Any, control: Any = None
    ) -> AsyncIterator[Any]:
        """``control``: a :meth:`run_control` to drain the run (``None``: none)."""
        if control is None:
            return self.graph.astream(input, config, stream_mode=stream_mode)
        return self.graph.astream(input, config, stream_mode=stream_mode, control=control)

    def run_control(self) -> Any:
        """A new ``RunControl`` of the graph's library (``request_drain()`` stops the run at its
        step boundary, raising :attr:`drained`)."""
        raise NotImplementedError

    drained: type[BaseException] = Exception
    """The ``GraphDrained`` exception of the graph's library."""

    def get_state(self, config: dict) -> Any:
        return self.graph.get_state(config)

    async def aget_state(self, config: dict) -> Any:
        return await self.graph.aget_state(config)


class FlowsiteAdapter(WorkflowAdapter):
    """A Flowsite ``@entrypoint``, run on ``DjangoSaver`` (unless it already has one)."""

    def __init__(self, entrypoint: Any) -> None:
        from .checkpointer import DjangoSaver

        saver = entrypoint.checkpointer
        if not isinstance(saver, DjangoSaver):
            saver = DjangoSaver()
            entrypoint = entrypoint.copy({"checkpointer": saver})
        super().__init__(entrypoint)
        self._serde = saver.serde

    def resume_command(self, answers: dict[str, Any]) -> Any:
        from .runtime import Command

        return Command(resume=answers)

    def run_control(self) -> Any:
        from .runtime import RunControl

        return RunControl()

    @property
    def drained(self) -> type[BaseException]:
        from .runtime import GraphDrained

        return GraphDrained

    def display(self, value: Any) -> Any:
        return self._serde.to_display(value)


class LangGraphAdapter(WorkflowAdapter):
    """A compiled LangGraph graph, run on ``LangGraphDjangoSaver`` (unless it already has one)."""

    def __init__(self, graph: Any) -> None:
        from .langgraph_saver import LangGraphDjangoSaver

        if not isinstance(graph.checkpointer, LangGraphDjangoSaver):
            graph = graph.copy({"checkpointer": LangGraphDjangoSaver()})
        super().__init__(graph)

    def resume_command(self, answers: dict[str, Any]) -> Any:
        from langgraph.types import Command

        return Command(resume=answers)

    def run_control(self) -> Any:
        from langgraph.runtime import RunControl

        return RunControl()

    @property
    def drained(self) -> type[BaseException]:
        from langgraph.errors import GraphDrained

        return GraphDrained

    def display(self, value: Any) -> Any:
        from .langgraph_values import to_display

        return to_display(value)


def check_workflow(obj: Any) -> type[WorkflowAdapter]:
    """The adapter class for ``obj``. Raises ``TypeError`` for anything that is neither a
    Flowsite ``@entrypoint`` nor a compiled LangGraph graph."""
    if is_flowsite_workflow(obj):
        return FlowsiteAdapter
    if is_langgraph_graph(obj):
        return LangGraphAdapter
    raise TypeError(
        "A workflow must be a Flowsite @entrypoint or a compiled LangGraph graph "
        f"(StateGraph.compile(), create_agent, langgraph.func.entrypoint), got {type(obj).__name__}"
    )


def adapter_for(workflow: Any) -> WorkflowAdapter:
    """The adapter of a registered workflow (``registry.RegisteredWorkflow``) or of a graph.
    Raises ``TypeError`` as :func:`check_workflow`."""
    graph = getattr(workflow, "entrypoint", workflow)
    return check_workflow(graph)(graph)
