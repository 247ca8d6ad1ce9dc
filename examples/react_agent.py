"""ReAct on the demo tools: the tool calls with their results, then the answer.

    python examples/react_agent.py
    python examples/react_agent.py "Convert 42 kilometers to miles."

Needs the model (``agentlab models pull``).
"""

from __future__ import annotations

import sys
import uuid

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from agentlab import LlamaChatModel, load_settings
from agentlab.graphs import AgentSpec
from agentlab.graphs.react import build_react_agent
from agentlab.tools.demo import TOOLS

TASK = "What is the weather like in Oslo right now?"


def main(argv: list[str]) -> int:
    task = argv[0] if argv else TASK
    model = LlamaChatModel.from_settings(load_settings())
    graph = build_react_agent(AgentSpec(model, TOOLS, checkpointer=InMemorySaver()))
    config: RunnableConfig = {"configurable": {"thread_id": uuid.uuid4().hex}}
    state = graph.invoke({"messages": [HumanMessage(task)]}, config)
    for message in state["messages"]:
        if isinstance(message, AIMessage) and message.tool_calls:
            call = message.tool_calls[0]
            print(f"call {call['name']}({call['args']})")
        elif isinstance(message, ToolMessage):
            print(f"  -> {message.text}")
    if state.get("error"):
        print(f"error: {state['error']}")
        return 1
    print(f"answer: {state['messages'][-1].text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
