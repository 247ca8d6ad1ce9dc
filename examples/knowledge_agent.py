"""Ask the example handbook a question: add its documents to a knowledge base, then let an agent
search them and answer with citations.

    python examples/knowledge_agent.py
    python examples/knowledge_agent.py "How much can I spend per night on a hotel in Porto?"

Needs the model (``agentlab models pull``). The documents go into the collection "handbook" of
the knowledge base in ``$AGENTLAB_HOME/knowledge``; a second run finds them unchanged.
"""

from __future__ import annotations

import sys
from contextlib import closing
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agentlab import build_agent, load_settings
from agentlab.memory import KnowledgeBase

HANDBOOK = Path(__file__).resolve().parent / "knowledge" / "handbook"
TASK = "Which floor is the Lisbon office on, and how late can I book a parking space there?"


def main(argv: list[str]) -> int:
    task = argv[0] if argv else TASK
    settings = load_settings(knowledge="handbook")
    with closing(KnowledgeBase.from_settings(settings)) as kb:
        report = kb.add([HANDBOOK], collection="handbook")
    print(f"added {len(report.added)}, replaced {len(report.replaced)}, "
          f"unchanged {len(report.unchanged)}, skipped {report.skipped}")  # fmt: skip
    graph = build_agent("react", settings=settings, checkpointer=None)
    state = graph.invoke({"messages": [HumanMessage(task)]})
    for message in state["messages"]:
        if isinstance(message, AIMessage) and message.tool_calls:
            call = message.tool_calls[0]
            print(f"call {call['name']}({call['args']})")
        elif isinstance(message, ToolMessage):
            print("  -> " + message.text[:300].replace("\n", "\n     ") + " ...")
    print(f"answer: {state['messages'][-1].text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
