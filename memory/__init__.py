"""Memory: vector, keyword and hybrid search over stored memories, episodes with decay,
symbolic facts with history, and offline embeddings.

    memory = AgentMemory.from_settings(load_settings())
    memory.store.add("The staging database is db-7; Priya owns it.", kind="fact")
    memory.store.search("who runs the pre-production DB?", k=3)
"""

from agentlab.memory._agent_memory import RECALL_HEADING, AgentMemory
from agentlab.memory._embeddings import (
    LlamaCppEmbeddings,
    MiniLMEmbeddings,
    embeddings_from_settings,
)
from agentlab.memory._episodic import EPISODE, Episode, EpisodicMemory
from agentlab.memory._facts import Fact, FactStore
from agentlab.memory._langgraph import MemoryBaseStore
from agentlab.memory._records import Hit, Memory
from agentlab.memory._store import MemoryFilter, MemoryStore, NewMemory
from agentlab.memory._text import MAX_MEMORY_CHARS
from agentlab.memory._tools import memory_tools

__all__ = [
    "EPISODE",
    "MAX_MEMORY_CHARS",
    "RECALL_HEADING",
    "AgentMemory",
    "Episode",
    "EpisodicMemory",
    "Fact",
    "FactStore",
    "Hit",
    "LlamaCppEmbeddings",
    "Memory",
    "MemoryBaseStore",
    "MemoryFilter",
    "MemoryStore",
    "MiniLMEmbeddings",
    "NewMemory",
    "embeddings_from_settings",
    "memory_tools",
]
