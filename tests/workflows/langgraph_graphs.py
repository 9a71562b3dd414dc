"""A small LangGraph ``StateGraph`` shared by the tests of LangGraph graphs on the dashboard:
``draft`` writes an AI message, ``review`` interrupts with it and stores the answer's
``approved``."""

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt


class Review(MessagesState):
    approved: bool


def review_graph(checkpointer=None):
    def draft(state):
        return {"messages": [AIMessage("Draft: cats are great")]}

    def review(state):
        decision = interrupt({"draft": state["messages"][-1].content, "action": "Approve?"})
        return {"approved": decision["approved"]}

    builder = StateGraph(Review)
    builder.add_node("draft", draft)
    builder.add_node("review", review)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", END)
    return builder.compile(checkpointer=checkpointer)
