"""Memory as tools the model can call: ``remember`` a note, ``recall`` what is stored."""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool

from agentlab.memory._agent_memory import AgentMemory

__all__ = ["memory_tools"]


def memory_tools(memory: AgentMemory) -> list[BaseTool]:
    """``remember(text)`` and ``recall(query)`` over ``memory``'s namespace. Both are
    read-only in approval terms: they change nothing outside the agent's own memory."""

    def remember(text: str) -> str:
        """Save a fact or note to long-term memory so later conversations can use it."""
        stored = memory.store.add(text, namespace=memory.namespace, kind="note")
        return f"Saved to memory: {stored.text}"

    def recall(query: str) -> str:
        """Search long-term memory for notes and past conversations about the query."""
        hits = memory.store.search(query, k=3, mode=memory.mode)
        if not hits:
            return "Nothing in memory matches."
        memory.store.touch(h.memory.id for h in hits)
        return "\n".join(f"- {' '.join(h.memory.text.split())}" for h in hits)

    return [StructuredTool.from_function(remember), StructuredTool.from_function(recall)]
