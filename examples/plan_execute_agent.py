"""Plan and execute on the demo tools: the plan, each step's result, then the answer.

    python examples/plan_execute_agent.py
    python examples/plan_execute_agent.py "How old will Project Falcon's leader be in 15 years?"

Needs the model (``agentlab models pull``).
"""

from __future__ import annotations

import sys
import uuid

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from agentlab import LlamaChatModel, load_settings
from agentlab.graphs import AgentSpec
from agentlab.graphs.plan_execute import build_plan_execute_agent, report
from agentlab.tools.demo import TOOLS

TASK = "What is the temperature in Tokyo in Fahrenheit?"


def main(argv: list[str]) -> int:
    task = argv[0] if argv else TASK
    model = LlamaChatModel.from_settings(load_settings())
    graph = build_plan_execute_agent(AgentSpec(model, TOOLS, checkpointer=InMemorySaver()))
    config: RunnableConfig = {"configurable": {"thread_id": uuid.uuid4().hex}}
    state = graph.invoke({"messages": [HumanMessage(task)]}, config)
    for number, step in enumerate(report(state).extra["plan"], 1):
        print(f"{number}. [{step['status']}] {step['step']} -> {step['result'] or '-'}")
    if state.get("error"):
        print(f"error: {state['error']}")
        return 1
    print(f"answer: {state['messages'][-1].text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
