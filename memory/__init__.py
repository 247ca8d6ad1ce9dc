"""Memory: vector, keyword and hybrid search over stored memories, episodes with decay,
symbolic facts with history, offline embeddings, and knowledge (retrieval over the user's own
documents).

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
from agentlab.memory._knowledge import (
    AddReport,
    Chunking,
    DocumentInfo,
    KnowledgeBase,
    Passage,
    SearchQueries,
    rewrite_query,
)
from agentlab.memory._knowledge_tools import (
    CITE_REQUEST,
    NOT_FOUND,
    CitedPassage,
    cited_passages,
    format_passages,
    knowledge_tools,
)
from agentlab.memory._langgraph import MemoryBaseStore
from agentlab.memory._records import Hit, Memory
from agentlab.memory._store import MemoryFilter, MemoryStore, NewMemory
from agentlab.memory._text import MAX_MEMORY_CHARS
from agentlab.memory._tools import memory_tools

__all__ = [
    "CITE_REQUEST",
    "EPISODE",
    "MAX_MEMORY_CHARS",
    "NOT_FOUND",
    "RECALL_HEADING",
    "AddReport",
    "AgentMemory",
    "Chunking",
    "CitedPassage",
    "DocumentInfo",
    "Episode",
    "EpisodicMemory",
    "Fact",
    "FactStore",
    "Hit",
    "KnowledgeBase",
    "LlamaCppEmbeddings",
    "Memory",
    "MemoryBaseStore",
    "MemoryFilter",
    "MemoryStore",
    "MiniLMEmbeddings",
    "NewMemory",
    "Passage",
    "SearchQueries",
    "cited_passages",
    "embeddings_from_settings",
    "format_passages",
    "knowledge_tools",
    "memory_tools",
    "rewrite_query",
]
