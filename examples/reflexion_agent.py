"""Reflexion on the demo tools: a failed trial leaves a lesson, and the next trial reads it.

    python examples/reflexion_agent.py
    python examples/reflexion_agent.py "How many employees does Norwind Labs have?" 340

The first argument is the task, the others are strings a right answer must contain. Needs the
model (``agentlab models pull``).
"""

from __future__ import annotations

import sys
import uuid

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from agentlab import LlamaChatModel, load_settings
from agentlab.graphs import AgentSpec
from agentlab.graphs.reflexion import build_reflexion_agent, expect_all
from agentlab.tools.demo import TOOLS

TASK = "What is 347 times 29?"
EXPECT = ["10063"]


def main(argv: list[str]) -> int:
    task, expect = (argv[0], argv[1:]) if argv else (TASK, EXPECT)
    model = LlamaChatModel.from_settings(load_settings())
    graph = build_reflexion_agent(
        AgentSpec(model, TOOLS, checkpointer=InMemorySaver()),
        checker=expect_all(*expect),
        max_trials=3,
    )
    config: RunnableConfig = {"configurable": {"thread_id": uuid.uuid4().hex}}
    state = graph.invoke({"messages": [HumanMessage(task)]}, config)
    for number, trial in enumerate(state["trials"], 1):
        verdict = "passed" if trial["passed"] else f"failed: {trial['feedback']}"
        print(f"trial {number}: {trial['answer'] or '(no answer)'} -> {verdict}")
        if trial["reflection"]:
            print(f"  lesson: {trial['reflection']}")
    if state.get("error"):
        print(f"error: {state['error']}")
        return 1
    print(f"answer: {state['messages'][-1].text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
