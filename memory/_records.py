"""The records memory hands out: stored memories and search hits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Hit", "Memory"]


@dataclass(frozen=True)
class Memory:
    """One stored memory. ``kind`` says what it is ("fact", "note", "episode", ...);
    ``namespace`` whose it is (a user, a team, an agent)."""

    id: str
    text: str
    namespace: str
    kind: str
    created: float  # unix time
    importance: float  # 0..1
    last_accessed: float
    access_count: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A memory found by a search, with its fused score and its rank in each retriever."""

    memory: Memory
    score: float
    dense_rank: int | None = None
    sparse_rank: int | None = None
