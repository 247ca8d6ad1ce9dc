"""A supervisor and two specialists on the demo tools: the researcher looks facts up (lookup,
get_weather), the analyst computes (calculator, convert_units).

    python examples/team_agent.py
    python examples/team_agent.py "How far is the Helix trail in miles?"

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
from agentlab.graphs.multi_agent import build_multi_agent, default_team, report
from agentlab.tools.demo import TOOLS

TASK = (
    "Look up the founding year of Norwind Labs and compute how many years ago that was from 2026."
)


def main(argv: list[str]) -> int:
    task = argv[0] if argv else TASK
    model = LlamaChatModel.from_settings(load_settings())
    team = default_team(TOOLS)
    for member in team:
        print(f"{member.name}: {', '.join(tool.name for tool in member.tools)}")
    graph = build_multi_agent(AgentSpec(model, TOOLS, checkpointer=InMemorySaver()), team=team)
    config: RunnableConfig = {"configurable": {"thread_id": uuid.uuid4().hex}}
    state = graph.invoke({"messages": [HumanMessage(task)]}, config)
    extra = report(state).extra
    for number, name in enumerate(extra["route"], 1):
        print(f"hand-off {number}: {name}")
    for name, text in extra["reports"].items():
        print(f"  {name} reported: {text}")
    if state.get("error"):
        print(f"error: {state['error']}")
        return 1
    print(f"answer: {state['messages'][-1].text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
